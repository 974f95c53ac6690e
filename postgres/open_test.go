package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft/postgres"
)

// TestOpenHidesPassword: Open with a DSN that cannot be used returns an
// error that does not contain the DSN's password, whatever the DSN's form
// and whatever failed (parsing, connecting).
func TestOpenHidesPassword(t *testing.T) {
	const secret = "Sup3r-S3cret_pw"
	for _, d := range []string{
		"postgres://weft:" + secret + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=5",
		"postgres://weft:" + secret + "@127.0.0.1:notaport/test?sslmode=disable",
		"postgres://weft:" + secret + "@127.0.0.1:1/test?sslmode=disable&pool_max_conns=nope",
		"host=127.0.0.1 port=1 user=weft password=" + secret + " dbname=test sslmode=disable connect_timeout=5",
		"host=127.0.0.1 port=1 user=weft password='" + secret + "' dbname=test sslmode=bogus",
	} {
		s, err := postgres.Open(context.Background(), d, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", strings.ReplaceAll(d, secret, "xxxxx"))
			continue
		}
		t.Logf("Open: %v", err)
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open's error holds the password: %v", err)
		}
	}
}

// TestMigrationRefusesNewer: a schema at a version newer than this weft's
// is refused with an error that says to upgrade.
func TestMigrationRefusesNewer(t *testing.T) {
	schema := newSchema(t)
	s := openIn(t, schema, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema}.Sanitize()+`.schema_version SET version = $1`,
		postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(ctx, dsn(t), &postgres.Options{Schema: schema})
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema: no error")
	}
	if !strings.Contains(err.Error(), "upgrade weft") {
		t.Errorf("Open of a newer schema: %v; want it to say to upgrade weft", err)
	}
}

// TestConcurrentOpen: processes opening one new schema at once take
// turns: each succeeds, and the schema is migrated once.
func TestConcurrentOpen(t *testing.T) {
	schema := newSchema(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn(t), &postgres.Options{Schema: schema})
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	if v := queryInt(t, `SELECT version FROM `+pgx.Identifier{schema}.Sanitize()+`.schema_version`); v != int64(postgres.SchemaVersion()) {
		t.Errorf("schema version %d; want %d", v, postgres.SchemaVersion())
	}
}
