package eval

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// testEnv is an engine-like environment.
func testEnv() map[string]any {
	return map[string]any{
		"data": map[string]any{
			"n":     1,
			"f":     2.5,
			"s":     `say "hi" <b>`,
			"arr":   []any{3, 1, 2},
			"obj":   map[string]any{"k": "v"},
			"empty": nil,
		},
		"steps": map[string]any{
			"fetch": map[string]any{"output": map[string]any{"total": 10}, "status": "succeeded", "attempts": 1, "error": nil},
			"a.b":   map[string]any{"output": 5, "status": "succeeded", "attempts": 2, "error": nil},
		},
		"deps":   map[string]any{"fetch": map[string]any{"total": 10}},
		"params": map[string]any{"currency": "EUR", "min": 10},
		"run":    map[string]any{"id": "run-1", "workflow": "wf", "attempt": 1},
	}
}

// wantInvalid checks that err is a *weft.Error with code invalid whose
// message holds every substring.
func wantInvalid(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	var we *weft.Error
	if !errors.As(err, &we) || we.Code != weft.CodeInvalid {
		t.Fatalf("error %v (%T): want a *weft.Error with code invalid", err, err)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{"data.n + 1", 2},
		{"data.n * 2.5", 2.5},
		{"data.f * 2", 5}, // 5.0 normalizes to 5
		{"7 % 3", 1},
		{"data.n / 2", 0.5},
		{"data.s", `say "hi" <b>`},
		{"data.s + '!'", `say "hi" <b>!`},
		{"'a' + 'b'", "ab"},
		{"upper(params.currency)", "EUR"},
		{"data.arr", []any{3, 1, 2}},
		{"sort(data.arr)", []any{1, 2, 3}},
		{"len(data.arr) > 2", true},
		{"data.obj.k", "v"},
		{"data.missing", nil},
		{"data.empty ?? 'default'", "default"},
		{"steps.fetch.output.total", 10},
		{`steps["a.b"].attempts`, 2},
		{"deps.fetch.total >= params.min", true},
		{"run.id", "run-1"},
		{"filter(data.arr, # > 1)", []any{3, 2}},
		{"map(data.arr, # * 10)", []any{30, 10, 20}},
		{"sum(data.arr)", 6},
		{"string(data.n)", "1"},
		{"string(data.f)", "2.5"},
		{"string(nil)", ""},
		{"string(data.obj)", `{"k":"v"}`},
		{"toJSON(data.obj)", `{"k":"v"}`},
		{"toJSON(data.s)", `"say \"hi\" <b>"`},
		{`fromJSON('{"a": 2.0, "b": [1.5]}')`, map[string]any{"a": 2, "b": []any{1.5}}},
		{"split('a,b,c', ',')", []any{"a", "b", "c"}},
		{"join(['a', 'b'], '-')", "a-b"},
		{"replace('aaa', 'a', 'bb')", "bbbbbb"},
		{"repeat('ab', 3)", "ababab"},
		{"concat([1], [2, 3])", []any{1, 2, 3}},
		{"flatten([[1], [2, [3]]])", []any{1, 2, 3}},
		{"toBase64('hi')", "aGk="},
		{"2 in data.arr", true},
		{"'k' in data.obj", true},
		{"let x = data.n; x + 1", 2},
		{"data.n > 0 ? 'pos' : 'neg'", "pos"},
		{"keys(data.obj)", []any{"k"}},
		{"max(data.arr)", 3},
		{"reduce(data.arr, #acc + #, 0)", 6},
		{"upper(trim('  ab ')) + lower('C')", "ABc"},
		{"trimPrefix('abc', 'a') + trimSuffix('abc', 'c') + fromBase64('aGk=')", "bcabhi"},
		{"indexOf(data.s, 'hi') + lastIndexOf('aXa', 'a')", 7},
		{"data.s contains 'hi' && data.s startsWith 'say' && data.s endsWith '>'", true},
		{"data.s matches '^say' && !(data.s matches 'x')", true},
		{"data.s matches params.currency", false},
		{"data.missing matches 'x'", false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			x, err := Compile(tt.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x.Eval(testEnv())
			if err != nil {
				t.Fatal(err)
			}
			got, err = Normalize(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if x.String() != tt.src {
				t.Errorf("String() = %q", x.String())
			}
		})
	}
}

func TestEvalDoesNotModifyEnv(t *testing.T) {
	env := testEnv()
	x, err := Compile("data.s + '!'", nil) // metered: the meter goes in a copy
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Eval(env); err != nil {
		t.Fatal(err)
	}
	if len(env) != 5 {
		t.Errorf("env has %d keys after Eval, want 5", len(env))
	}
	if _, err := x.Eval(nil); err == nil {
		t.Error("nil env: want an error (data is nil)")
	}
	y, err := Compile("1 + 2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := y.Eval(nil); err != nil || v != 3 {
		t.Errorf("Eval(nil) = %v, %v", v, err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src  string
		opts *Options
		subs []string
	}{
		{"", nil, []string{"empty"}},
		{"   ", nil, []string{"empty"}},
		{"1 +", nil, []string{"unexpected token EOF", "(column 3)"}},
		{"data.n +* 2", nil, []string{"unexpected token", "(column 9)"}},
		{"\n\n  x +* 2", &Options{AllowUndefined: true}, []string{"(line 3, column 6)"}},
		{"foo + 1", nil, []string{"unknown name foo", "(column 1)"}},
		{"'a' + 1", nil, []string{"mismatched types string and int"}},
		{"repeat(1, 2)", nil, []string{"repeat"}},
		{"timezone('UTC')", nil, []string{"unknown name timezone"}},
		{"date('2024-01-01', '2006-01-02', 'Europe/Paris')", nil, []string{"time zone"}},
		{strings.Repeat("1 + ", 600) + "1", nil, []string{"more than 1000 nodes"}},
		{strings.Repeat("1 + ", 60) + "1", &Options{MaxNodes: 50}, []string{"more than 50 nodes"}},
		{strings.Repeat(" ", 5000) + "1", nil, []string{"5001 bytes", "limit of 4096"}},
		{"1 + 1", &Options{MaxBytes: 3}, []string{"5 bytes", "limit of 3"}},
	}
	for _, tt := range tests {
		t.Run(shorten(tt.src, 30), func(t *testing.T) {
			_, err := Compile(tt.src, tt.opts)
			wantInvalid(t, err, tt.subs...)
		})
	}
}

func TestAllowUndefined(t *testing.T) {
	opts := &Options{Vars: []string{"data", "item"}, AllowUndefined: true}
	x, err := Compile("n > 5 && item == nil && data.n == n", opts)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := x.EvalBool(map[string]any{"n": 6, "data": map[string]any{"n": 6}})
	if err != nil || !ok {
		t.Errorf("EvalBool = %v, %v", ok, err)
	}
	if _, err := Compile("n > 5", &Options{Vars: []string{"data"}}); err == nil {
		t.Error("strict: want unknown name n")
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		src  string
		subs []string
	}{
		{"data.s + 1", []string{"invalid operation: string + int", "(column 8)"}},
		{"steps.nope.output", []string{"cannot fetch output from <nil>"}},
		{"repeat(data.s, -1)", []string{"repeat", "0 or more"}},
		{"join([1, 2])", []string{"join", "not a string"}},
		{"fromJSON('{')", []string{"fromJSON"}},
		{"data.arr[10]", []string{"out of range"}},
		{"'a' matches ('(' + data.s)", []string{"matches: error parsing regexp: missing closing )"}},
		{"data.n matches 'a'", []string{"matches: expected a string, got the number 1"}},
		{"upper(data.n)", []string{"upper: argument 1 must be a string, got the number 1"}},
		{"'a' matches repeat('(', 10000)", []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			x, err := Compile(tt.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = x.Eval(testEnv())
			wantInvalid(t, err, tt.subs...)
		})
	}
}

func TestEvalBool(t *testing.T) {
	tests := []struct {
		src  string
		want bool
		err  string
	}{
		{"data.n == 1", true, ""},
		{"data.n > 1", false, ""},
		{"data.n", false, "expected true or false, got the number 1"},
		{"data.s", false, "expected true or false, got the string"},
		{"data.s + data.s", false, "expected true or false, got a string"},
		{"'yes'", false, `expected true or false, got the string "yes"`},
		{"data.missing", false, "expected true or false, got null"},
		{"data.arr", false, "expected true or false, got an array"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			x, err := Compile(tt.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x.EvalBool(testEnv())
			if tt.err != "" {
				wantInvalid(t, err, tt.err)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"data.n", []string{}},
		{"steps.fetch.output", []string{"fetch"}},
		{`steps["a.b"].output`, []string{"a.b"}},
		{`steps['a.b'].output + deps.c.x + deps["d"] + steps.fetch.status`, []string{"a.b", "c", "d", "fetch"}},
		{"steps.b.output + steps.a.output + steps.b.attempts", []string{"a", "b"}},
		{"steps?.x?.output", []string{"x"}},
		{"$env.steps.y.output + $env['deps']['z']", []string{"y", "z"}},
		{"values(deps)", []string{}},
		{"steps[params.name]", []string{}},
		{"map([1], steps.m.output)", []string{"m"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			x, err := Compile(tt.src, &Options{AllowUndefined: true})
			if err != nil {
				t.Fatal(err)
			}
			got := x.Refs()
			if got == nil {
				got = []string{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Refs() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBudgets checks that expressions that would allocate or loop without
// bound fail quickly with a budget error.
func TestBudgets(t *testing.T) {
	big := make([]any, 200_000)
	for i := range big {
		big[i] = i
	}
	env := map[string]any{"data": map[string]any{"big": big, "s": strings.Repeat("x", 100_000)}}
	tests := []string{
		"repeat('x', 1000000000)",
		"repeat('x', 2000000)",
		"repeat(repeat('x', 999999), 999999)",
		"len(repeat(repeat('x', 1000), 1000))",
		"let a = repeat('x', 1000); let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; " +
			"let g = f + f; let h = g + g; let i = h + h; let j = i + i; len(j + j)",
		"reduce(1..100, #acc + data.s, '')",
		"1..2000000",
		"len(map(data.big, map(data.big, #)))",
		"count(data.big, # in data.big)",
		"replace(repeat('x', 1000), '', repeat('y', 1000))",
		"join(map(1..1000, repeat('x', 1000)), repeat('y', 1000))",
		"let a = [data.s, data.s]; let b = [a, a]; let c = [b, b]; let d = [c, c]; len(toJSON([d, d]))",
		"let a = [data.s, data.s]; let b = [a, a]; let c = [b, b]; let d = [c, c]; len(string([d, d, d, d]))",
		"let a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; let b = map(a, a); let c = map(b, b); let d = map(c, c); let e = map(d, d); len(flatten(map(e, e)))",
		"reduce(1..40, concat(#acc, #acc), [1])",
		"len(split(repeat(data.s, 9), ''))",
		"toBase64(toBase64(toBase64(toBase64(toBase64(toBase64(toBase64(toBase64(toBase64(data.s)))))))))",
		"len(map(1..999, upper(data.s)))",
		"count(1..999999, data.s contains 'zz')",
		"count(1..999999, indexOf(data.s, 'zz') > 0)",
		"'aaaa' matches repeat('a*', 400000)",
		"count(1..999999, data.s matches 'x+y+z+')",
		"count(1..999, data.s matches repeat('a', 100) + string(#))",
	}
	for _, src := range tests {
		t.Run(shorten(src, 40), func(t *testing.T) {
			x, err := Compile(src, nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = x.Eval(env)
			wantInvalid(t, err, "memory budget")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestBudgetOption(t *testing.T) {
	x, err := Compile("len(repeat('x', 5000))", &Options{MemoryBudget: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := x.Eval(nil); err != nil || v != 5000 {
		t.Errorf("within budget: %v, %v", v, err)
	}
	y, err := Compile("len(repeat('x', 20000))", &Options{MemoryBudget: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = y.Eval(nil)
	wantInvalid(t, err, "memory budget of 10000 units")
}

func TestConcurrentEval(t *testing.T) {
	x, err := Compile("join(map(data.arr, string(# * data.n)), ',') + '!'", nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				env := map[string]any{"data": map[string]any{"arr": []any{1, 2}, "n": g*1000 + i}}
				v, err := x.Eval(env)
				want := fmt.Sprintf("%d,%d!", g*1000+i, 2*(g*1000+i))
				if err != nil || v != want {
					t.Errorf("got %v, %v; want %s", v, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
