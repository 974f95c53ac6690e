package main

import (
	"strings"
	"testing"
)

func TestStoreURLPasswordsStayHidden(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--store", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", "../../examples/seed_basic.json"},
		{"runs", "list", "--store", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2"},
		{"worker", "--store", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2"},
		{"worker", "--store", "postgres://u:hunter2@%zz/db"},
		{"run", "--store", "mysql://u:hunter2@host/db", "../../examples/seed_basic.json"},
	} {
		r := cli(t, args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "weft: ") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if strings.Contains(r.stderr+r.stdout, "hunter2") {
			t.Errorf("%v: the password is shown: %s", args, r.stderr)
		}
	}
}

func TestWorkerUsage(t *testing.T) {
	t.Setenv(envStore, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"worker"}, "worker needs a shared store"},
		{[]string{"worker", "--store", "memory"}, "a worker needs a store other processes share"},
		{[]string{"worker", "--store", "sqlite:x.db", "--metrics-addr", "0.0.0.0:9090"}, "reachable from other machines"},
		{[]string{"worker", "--store", "sqlite:x.db", "--concurrency", "0"}, "expected a whole number of 1 or more"},
		{[]string{"worker", "--store", "sqlite:x.db", "--lease", "1ms"}, "--lease 1ms: expected 100ms or more"},
		{[]string{"worker", "--store", "sqlite:x.db", "--pools", "ai=x"}, "--pools"},
		{[]string{"worker", "extra"}, "unknown command"},
	} {
		r := cli(t, tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to hold %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestPostgresSpec(t *testing.T) {
	dsn, opts, err := postgresSpec("postgres://u@h:5432/db?sslmode=disable&weft_schema=s1&weft_max_conns=20&weft_writers=3&weft_max_batch=128")
	if err != nil {
		t.Fatal(err)
	}
	if dsn != "postgres://u@h:5432/db?sslmode=disable" || opts.Schema != "s1" || opts.MaxConns != 20 || opts.Writers != 3 || opts.MaxBatch != 128 {
		t.Fatalf("dsn %q, options %+v", dsn, opts)
	}
	for _, bad := range []string{"postgres://u@h/db?weft_writers=0", "postgres://u@h/db?weft_max_batch=x", "postgres:///db"} {
		if _, _, err := postgresSpec(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
