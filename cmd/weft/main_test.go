package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// result is what one in-process run of the CLI gave.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the CLI in-process with args. Tests run with the package
// directory as working directory, so paths are relative to cmd/weft.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	return cliCtx(t.Context(), args...)
}

func cliCtx(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// expect checks the exit code and both outputs exactly.
func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	if r.stdout != stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, stdout)
	}
	if r.stderr != stderr {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, stderr)
	}
}

// golden compares got with testdata/golden/name, or rewrites the file
// with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/weft -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cmd/weft -update if the change is intended)\n%s", path, firstDiff(got, string(want)))
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + quote(gl, i < len(g)) + "\n  want: " + quote(wl, i < len(w))
		}
	}
	return "(no line differs)"
}

func quote(s string, present bool) string {
	if !present {
		return "(end of output)"
	}
	return strconv.Quote(s)
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no args", nil,
			"weft: missing command: expected one of plan, run, runs, serve, submit, validate, version, worker\nRun 'weft --help' for usage.\n"},
		{"unknown command", []string{"frobnicate"},
			"weft: unknown command \"frobnicate\": expected one of plan, run, runs, serve, submit, validate, version, worker\nRun 'weft --help' for usage.\n"},
		{"misspelt command", []string{"valdate", "x.json"},
			"weft: unknown command \"valdate\" (did you mean \"validate\"?)\nRun 'weft --help' for usage.\n"},
		{"unknown root flag", []string{"--bogus"},
			"weft: unknown flag: --bogus\nRun 'weft --help' for usage.\n"},
		{"help on an unknown command", []string{"help", "nope"},
			"weft: unknown command \"nope\": expected one of plan, run, runs, serve, submit, validate, version, worker\nRun 'weft --help' for usage.\n"},
		{"validate without files", []string{"validate"},
			"weft: no FILE given: validate needs at least one workflow file\nRun 'weft validate --help' for usage.\n"},
		{"validate unknown flag", []string{"validate", "--bogus", "../../examples/seed_basic.json"},
			"weft: unknown flag: --bogus\nRun 'weft validate --help' for usage.\n"},
		{"validate unknown shorthand", []string{"validate", "-x", "../../examples/seed_basic.json"},
			"weft: unknown shorthand flag: 'x' in -x\nRun 'weft validate --help' for usage.\n"},
		{"max-steps zero", []string{"validate", "--max-steps", "0", "../../examples/seed_basic.json"},
			"weft: invalid argument \"0\" for \"--max-steps\" flag: expected a whole number of 1 or more\nRun 'weft validate --help' for usage.\n"},
		{"max-bytes not a number", []string{"validate", "--max-bytes=10MB", "../../examples/seed_basic.json"},
			"weft: invalid argument \"10MB\" for \"--max-bytes\" flag: expected a whole number of 1 or more\nRun 'weft validate --help' for usage.\n"},
		{"max-steps missing value", []string{"validate", "../../examples/seed_basic.json", "--max-steps"},
			"weft: flag needs an argument: --max-steps\nRun 'weft validate --help' for usage.\n"},
		{"plan without file", []string{"plan"},
			"weft: no FILE given: plan needs one workflow file\nRun 'weft plan --help' for usage.\n"},
		{"plan two files", []string{"plan", "../../examples/seed_basic.json", "../../examples/seed_parallel.json"},
			"weft: too many arguments: plan takes one FILE, got 2\nRun 'weft plan --help' for usage.\n"},
		{"plan unknown format", []string{"plan", "--format", "xml", "../../examples/seed_basic.json"},
			"weft: unknown format \"xml\": expected one of text, json, dot, mermaid\nRun 'weft plan --help' for usage.\n"},
		{"plan unknown format before reading the file", []string{"plan", "-f", "svg", "testdata/missing.json"},
			"weft: unknown format \"svg\": expected one of text, json, dot, mermaid\nRun 'weft plan --help' for usage.\n"},
		{"plan unknown flag", []string{"plan", "--json", "../../examples/seed_basic.json"},
			"weft: unknown flag: --json\nRun 'weft plan --help' for usage.\n"},
		{"version with an argument", []string{"version", "now"},
			"weft: unexpected argument \"now\": version takes none\nRun 'weft version --help' for usage.\n"},
		{"version unknown flag", []string{"version", "--short"},
			"weft: unknown flag: --short\nRun 'weft version --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli(t, tt.args...).expect(t, exitUsage, "", tt.stderr)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := cli(t, args...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("weft %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"Usage:\n  weft [command]\n\nAvailable Commands:\n", "\n  plan        Show the plan", "\n  validate    Check workflow documents", "\n  version     Print the version"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("weft %v: help lacks %q:\n%s", args, want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "completion") {
			t.Errorf("weft %v: help lists the completion command:\n%s", args, r.stdout)
		}
	}
	for _, args := range [][]string{{"plan", "--help"}, {"help", "plan"}} {
		r := cli(t, args...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("weft %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"Usage:\n  weft plan FILE [flags]\n", "  -f, --format format   output format: text, json, dot, mermaid (default \"text\")\n",
			"      --max-bytes N     refuse documents of more than N bytes (default 10485760)\n",
			"      --max-steps N     refuse workflows of more than N steps (default 100000)\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("weft %v: help lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
}

func TestRecoverInternal(t *testing.T) {
	var stderr bytes.Buffer
	code := func() (code int) {
		defer recoverInternal(&stderr, &code)
		panic("boom\nat line 2")
	}()
	if code != exitInternal || stderr.String() != "weft: internal error: boom\\nat line 2\n" {
		t.Errorf("code %d, stderr %q", code, stderr.String())
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

func TestWriteFailure(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "../../examples/seed_basic.json"},
		{"validate", "../../examples/seed_basic.json"},
		{"validate", "--json", "../../examples/seed_basic.json"},
		{"version"},
		{"run", "../../examples/seed_basic.json"},
		{"run", "--json", "../../examples/seed_basic.json"},
		{"run", "--quiet", "../../examples/seed_basic.json"},
	} {
		var stderr bytes.Buffer
		code := run(t.Context(), args, failingWriter{}, &stderr)
		if code != exitInternal || stderr.String() != "weft: cannot write output: no space left on device\n" {
			t.Errorf("weft %v: code %d, stderr %q", args, code, stderr.String())
		}
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cliCtx(ctx, "validate", "../../examples/seed_basic.json").expect(t, exitInterrupted, "", "weft: interrupted\n")
}
