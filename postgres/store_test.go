package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/postgres"
	"github.com/weft-dev/weft/storetest"
)

// envDSN names the environment variable that holds the DSN of the test
// database, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envDSN = "WEFT_TEST_POSTGRES_DSN"

// dsn returns the test database's DSN. Without one the test is skipped,
// except in CI (CI=true), where a missing database is a failure.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(envDSN)
	if d == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", envDSN)
		}
		t.Skipf("%s is not set: no PostgreSQL to test against", envDSN)
	}
	return d
}

// newSchema returns the name of a schema no test uses, dropped (with all
// it holds) when the test ends, after the stores opened in it are closed.
func newSchema(t testing.TB) string {
	t.Helper()
	d := dsn(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "weft_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, d)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openIn opens a store in schema and closes it when the test ends.
func openIn(t testing.TB, schema string, opts *postgres.Options) *postgres.Store {
	t.Helper()
	o := postgres.Options{}
	if opts != nil {
		o = *opts
	}
	o.Schema = schema
	s, err := postgres.Open(context.Background(), dsn(t), &o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// open opens a store in a schema of its own.
func open(t testing.TB, opts *postgres.Options) *postgres.Store {
	t.Helper()
	return openIn(t, newSchema(t), opts)
}

func TestConformance(t *testing.T) {
	dsn(t)
	storetest.Run(t, func(t *testing.T) weft.Store { return open(t, nil) })
}

// TestConformanceUnbatched runs the suite with every Claim and Finish in
// a transaction of its own, by one writer.
func TestConformanceUnbatched(t *testing.T) {
	dsn(t)
	if testing.Short() {
		t.Skip("the suite again, with other options")
	}
	storetest.Run(t, func(t *testing.T) weft.Store {
		return open(t, &postgres.Options{Writers: 1, MaxBatch: 1, MaxConns: 3})
	})
}
