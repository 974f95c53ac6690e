package eval

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// fuzzSlow is how long one fuzzed input may take: budgets must bound the
// work of any expression.
const fuzzSlow = 5 * time.Second

// fuzzOpts keeps fuzzed evaluations small.
var fuzzOpts = &Options{MemoryBudget: 100_000, MaxResultBytes: 1 << 20}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{
		`{"a": "{{ data.n + 1 }}", "b": ["x {{ data.s }} y", {"c": "{{ steps['a.b'].output }}"}]}`,
		`"{{ {'a': {'b': 1}} }}"`,
		`"{{ '{{' }} }}"`,
		`{"x": "a {{ data.n"}`,
		`["{{ }}", "{{ nope }}", "{{ 1 + }}"]`,
		`"\u007b{ 1 }}"`,
		`{"a": `,
		`12`,
		`"{{ repeat('x', 99999) }}"`,
	} {
		f.Add([]byte(s))
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > fuzzSlow {
				t.Fatalf("%q took %v", raw, d)
			}
		}()
		tmpl, errs := CompileTemplate(raw, fuzzOpts)
		if errs != nil {
			if tmpl != nil {
				t.Fatal("template and errors")
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Path, "$") || e.Code == "" || e.Message == "" {
					t.Fatalf("bad problem %+v", e)
				}
			}
			return
		}
		if !json.Valid(raw) && len(strings.TrimSpace(string(raw))) > 0 {
			t.Fatalf("invalid JSON accepted: %q", raw)
		}
		out, err := tmpl.Render(env)
		if err != nil {
			if weft.ErrorCode(err) != weft.CodeInvalid || !strings.HasPrefix(err.Error(), "$") {
				t.Fatalf("render error %v: want code invalid and a path", err)
			}
			return
		}
		if tmpl.Static() {
			if string(out) != string(raw) {
				t.Fatal("static template changed")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON rendered: %q from %q", out, raw)
		}
	})
}

func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"data.n + 1", "data.s + '!'", `steps["a.b"].output`, "filter(data.arr, # > 1)",
		"repeat('x', 1000)", "let a = [data.s]; toJSON([a, a])", "1..10", "data.f / 0",
		"reduce(data.arr, #acc + #, 0)", "split('a,b', ',')", "1 +", "map(data.arr, string(#))",
	} {
		f.Add(s)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > fuzzSlow {
				t.Fatalf("%q took %v", src, d)
			}
		}()
		x, err := Compile(src, fuzzOpts)
		if err != nil {
			var we *weft.Error
			if !errors.As(err, &we) || we.Code != weft.CodeInvalid || we.Message == "" {
				t.Fatalf("compile error %v (%T): want *weft.Error code invalid", err, err)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%q: %v", src, err)
			}
			return
		}
		v, err := x.Eval(env)
		if err != nil {
			if weft.ErrorCode(err) != weft.CodeInvalid || strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%q: eval error %v: want code invalid", src, err)
			}
			return
		}
		if b, err := FromValue(v); err == nil && !json.Valid(b) {
			t.Fatalf("FromValue gave invalid JSON %q", b)
		}
		_, _ = Stringify(v)
	})
}
