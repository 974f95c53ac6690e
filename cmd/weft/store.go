package main

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/postgres"
	"github.com/weft-dev/weft/sqlite"
)

// envStore is the environment variable that gives --store its default.
const envStore = "WEFT_STORE"

// durableLease is the lease of steps run against a durable store by the
// CLI: short, so that a run interrupted by a crash is resumed (weft runs
// resume) within seconds; heartbeats renew it every third.
const durableLease = 4 * time.Second

// openStore opens the store named by spec: "memory" (nothing kept),
// "sqlite:PATH" (a database file, created when missing) or a PostgreSQL
// URL "postgres://USER@HOST:PORT/DB?..." (shared by many processes; see
// postgresSpec for the store's parameters). It returns the store, a function that closes it, and
// whether it is durable. A malformed spec is a usage error; a database that
// cannot be opened is an error that says why. Neither holds the URL's
// password.
func openStore(spec string) (weft.Store, func() error, bool, error) {
	switch {
	case spec == "" || spec == "memory":
		return inmem.New(), func() error { return nil }, false, nil
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" {
			return nil, nil, false, usagef("--store %q: expected sqlite:PATH, such as sqlite:weft.db", spec)
		}
		s, err := sqlite.Open(path, nil)
		if err != nil {
			return nil, nil, false, &storeOpenError{err}
		}
		return s, s.Close, true, nil
	case strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://"):
		dsn, opts, err := postgresSpec(spec)
		if err != nil {
			return nil, nil, false, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := postgres.Open(ctx, dsn, opts)
		if err != nil {
			return nil, nil, false, &storeOpenError{err}
		}
		return s, func() error { s.Close(); return nil }, true, nil
	}
	return nil, nil, false, usagef("--store %q: expected memory, sqlite:PATH or postgres://USER@HOST/DB", redacted(spec))
}

// postgresSpec splits a PostgreSQL --store URL into the DSN pgx reads and
// the store's options, given as parameters of the URL that PostgreSQL does
// not know: weft_schema (default weft), weft_max_conns (10), weft_writers
// (2) and weft_max_batch (64), see postgres.Options.
func postgresSpec(spec string) (dsn string, opts *postgres.Options, err error) {
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		return "", nil, usagef("--store %s: expected a URL such as postgres://USER@HOST:5432/DB?sslmode=disable", redacted(spec))
	}
	q := u.Query()
	opts = &postgres.Options{Schema: q.Get("weft_schema")}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"weft_max_conns", &opts.MaxConns}, {"weft_writers", &opts.Writers}, {"weft_max_batch", &opts.MaxBatch}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return "", nil, usagef("--store: %s=%q: expected a whole number of 1 or more", p.name, v)
			}
			*p.dst = n
		}
		q.Del(p.name)
	}
	q.Del("weft_schema")
	u.RawQuery = q.Encode()
	return u.String(), opts, nil
}

// redacted returns spec with the password of a URL replaced by xxxxx, for
// messages and logs.
func redacted(spec string) string {
	if u, err := url.Parse(spec); err == nil && u.User != nil {
		return u.Redacted()
	}
	if strings.Contains(spec, "@") {
		return "(a store URL that could not be read)"
	}
	return spec
}

// storeFlag registers --store on cmd with the given default, overridden by
// $WEFT_STORE.
func storeFlag(cmd *cobra.Command, dst *string, def, usage string) {
	if v := os.Getenv(envStore); v != "" {
		def = v
	}
	cmd.Flags().StringVar(dst, "store", def, usage+" (default from $"+envStore+")")
}

// storeOpenError is a store that could not be opened (as opposed to a
// malformed --store).
type storeOpenError struct{ err error }

func (e *storeOpenError) Error() string { return e.err.Error() }
func (e *storeOpenError) Unwrap() error { return e.err }
