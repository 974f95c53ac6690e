package eval

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"number kept", `"{{ data.n + 1 }}"`, `2`},
		{"float kept", `"{{ data.f }}"`, `2.5`},
		{"integral float", `"{{ data.f * 2 }}"`, `5`},
		{"string kept", `"{{ params.currency }}"`, `"EUR"`},
		{"bool kept", `"{{ data.n == 1 }}"`, `true`},
		{"null kept", `"{{ data.missing }}"`, `null`},
		{"array kept", `"{{ data.arr }}"`, `[3,1,2]`},
		{"object kept", `"{{ data.obj }}"`, `{"k":"v"}`},
		{"whitespace around", "\" \\t {{ data.n }}\\n \"", `1`},
		{"no spaces", `"{{data.n}}"`, `1`},
		{"interpolated", `"n={{ data.n }}, f={{ data.f }}"`, `"n=1, f=2.5"`},
		{"interpolated string", `"cur: {{ params.currency }}"`, `"cur: EUR"`},
		{"interpolated null", `"[{{ data.missing }}]"`, `"[]"`},
		{"interpolated bool", `"ok={{ true }}"`, `"ok=true"`},
		{"interpolated array", `"a={{ data.arr }}"`, `"a=[3,1,2]"`},
		{"interpolated object", `"o={{ data.obj }}"`, `"o={\"k\":\"v\"}"`},
		{"quotes escaped", `"s={{ data.s }}"`, `"s=say \"hi\" <b>"`},
		{"quotes kept whole", `"{{ data.s }}"`, `"say \"hi\" <b>"`},
		{"newline escaped", `"a{{ '\\n' }}b"`, `"a\nb"`},
		{"two exprs", `"{{ data.n }}{{ data.n }}"`, `"11"`},
		{"nested", `{"a": {"b": ["x", "{{ data.n }}", {"c": "{{ data.arr[0] }}"}]}, "d": [1, 2]}`,
			`{"a":{"b":["x",1,{"c":3}]},"d":[1,2]}`},
		{"key order kept", `{"z": "{{ data.n }}", "a": 1, "m": [ 1 , 2 ]}`, `{"z":1,"a":1,"m":[1,2]}`},
		{"keys not templated", `{"{{ data.n }}": "{{ data.n }}"}`, `{"{{ data.n }}":1}`},
		{"braces inside", `"{{ {'a': {'b': 1}} }}"`, `{"a":{"b":1}}`},
		{"braces in strings", `"{{ '}}' + '{' }}"`, `"}}{"`},
		{"literal braces", `"{{ '{{' }} x }}"`, `"{{ x }}"`},
		{"escaped braces in JSON", `"\u007b{ data.n }}"`, `1`},
		{"steps", `"{{ steps.fetch.output.total }} / {{ steps['a.b'].output }}"`, `"10 / 5"`},
		{"unicode", `"é {{ 'ü' }} \u2028"`, `"é ü \u2028"`},
	}
	env := testEnv()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, errs := CompileTemplate(json.RawMessage(tt.in), nil)
			if errs != nil {
				t.Fatal(errs)
			}
			if tmpl.Static() {
				t.Fatal("Static() = true")
			}
			got, err := tmpl.Render(env)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}

func TestStaticTemplate(t *testing.T) {
	for _, in := range []string{
		`{"a": 1,  "b": [true, null, "x { y } z"]}`,
		`"plain"`,
		`12`,
		"  [ ]  ",
		`{"{{ key }}": 1}`,
		``,
	} {
		tmpl, errs := CompileTemplate(json.RawMessage(in), nil)
		if errs != nil {
			t.Fatalf("%s: %v", in, errs)
		}
		if !tmpl.Static() {
			t.Errorf("%s: Static() = false", in)
		}
		got, err := tmpl.Render(nil)
		if err != nil || string(got) != in {
			t.Errorf("%s: Render = %s, %v; want the input as is", in, got, err)
		}
		if len(tmpl.Refs()) != 0 {
			t.Errorf("%s: Refs = %v", in, tmpl.Refs())
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want weft.ValidationErrors
	}{
		{"syntax", `{"a": `, weft.ValidationErrors{{Path: "$", Code: weft.VSyntax}}},
		{"bad expression", `{"rules": [{"value": "{{ 1 + }}"}]}`,
			weft.ValidationErrors{{Path: "$.rules[0].value", Code: weft.VExpression, Message: "{{ 1 + }}: unexpected token EOF (column 3)"}}},
		{"unknown name", `{"a b": ["{{ nope }}"]}`,
			weft.ValidationErrors{{Path: `$["a b"][0]`, Code: weft.VExpression, Message: "{{ nope }}: unknown name nope (column 1)"}}},
		{"unterminated", `{"x": "a {{ data.n"}`,
			weft.ValidationErrors{{Path: "$.x", Code: weft.VExpression, Message: `unterminated "{{" at byte 2: no matching "}}"`}}},
		{"unterminated string", `{"x": "{{ 'abc }}"}`,
			weft.ValidationErrors{{Path: "$.x", Code: weft.VExpression, Message: `unterminated "{{" at byte 0: no matching "}}"`}}},
		{"empty", `{"x": "{{ }}"}`,
			weft.ValidationErrors{{Path: "$.x", Code: weft.VExpression, Message: `empty expression "{{}}" at byte 0`}}},
		{"all reported", `["{{ a1 }}", {"k": "x {{ 2 + }} {{ b2 }}"}]`, weft.ValidationErrors{
			{Path: "$[0]", Code: weft.VExpression, Message: "{{ a1 }}: unknown name a1 (column 1)"},
			{Path: "$[1].k", Code: weft.VExpression, Message: "{{ 2 + }}: unexpected token EOF (column 3)"},
			{Path: "$[1].k", Code: weft.VExpression, Message: "{{ b2 }}: unknown name b2 (column 1)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, errs := CompileTemplate(json.RawMessage(tt.in), nil)
			if tmpl != nil {
				t.Error("template returned with errors")
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("got %v, want %v", errs, tt.want)
			}
			for i, e := range errs {
				w := tt.want[i]
				if e.Path != w.Path || e.Code != w.Code || (w.Message != "" && e.Message != w.Message) {
					t.Errorf("problem %d: got %+v, want %+v", i, e, w)
				}
			}
		})
	}
}

func TestTemplateMaxBytes(t *testing.T) {
	long := `"{{ ` + strings.Repeat("1 + ", 30) + `1 }}"`
	_, errs := CompileTemplate(json.RawMessage(long), &Options{MaxBytes: 50})
	if len(errs) != 1 || errs[0].Code != weft.VExpression || !strings.Contains(errs[0].Message, "limit of 50") {
		t.Errorf("got %v", errs)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		in   string
		subs []string
	}{
		{`{"a": {"b": "{{ data.s + 1 }}"}}`, []string{"$.a.b: {{ data.s + 1 }}: invalid operation: string + int"}},
		{`["x", "n={{ steps.nope.output }}"]`, []string{"$[1]: {{ steps.nope.output }}: cannot fetch output"}},
		{`"{{ 1 / 0 }}"`, []string{"$: {{ 1 / 0 }}: +Inf is not a JSON number"}},
		{`"x{{ 0 / 0 }}"`, []string{"NaN is not a JSON number"}},
		{`"{{ repeat('x', 2000000) }}"`, []string{"$:", "memory budget"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, errs := CompileTemplate(json.RawMessage(tt.in), nil)
			if errs != nil {
				t.Fatal(errs)
			}
			_, err := tmpl.Render(testEnv())
			wantInvalid(t, err, tt.subs...)
		})
	}
}

func TestRenderMaxResultBytes(t *testing.T) {
	// Values that share parts: small in memory, large as JSON.
	src := `"{{ let a = [repeat('x', 1000), repeat('y', 1000)]; let b = [a, a, a, a]; let c = [b, b, b, b]; [c, c, c, c] }}"`
	tmpl, errs := CompileTemplate(json.RawMessage(src), &Options{MaxResultBytes: 20_000})
	if errs != nil {
		t.Fatal(errs)
	}
	_, err := tmpl.Render(nil)
	wantInvalid(t, err, "larger than 20000 bytes")

	tmpl, errs = CompileTemplate(json.RawMessage(`{"a": "{{ data.s }}", "b": "`+strings.Repeat("z", 100)+`"}`), &Options{MaxResultBytes: 50})
	if errs != nil {
		t.Fatal(errs)
	}
	_, err = tmpl.Render(testEnv())
	wantInvalid(t, err, "larger than 50 bytes")
}

func TestTemplateRefs(t *testing.T) {
	in := `{"a": "{{ steps.b.output }}", "c": ["x {{ deps['a.b'] }} {{ steps.b.status }}"], "d": {"e": "{{ steps.a.output }}"}}`
	tmpl, errs := CompileTemplate(json.RawMessage(in), nil)
	if errs != nil {
		t.Fatal(errs)
	}
	if got, want := tmpl.Refs(), []string{"a", "a.b", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Refs = %q, want %q", got, want)
	}
}

func TestSplitTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want []segment
		err  string
	}{
		{"a {{ x }} b", []segment{{text: "a "}, {text: "x", expr: true}, {text: " b"}}, ""},
		{"{{x}}{{y}}", []segment{{text: "x", expr: true}, {text: "y", expr: true}}, ""},
		{"{{ {'a': 1} }}", []segment{{text: "{'a': 1}", expr: true}}, ""},
		{"{{ {'a': {'b': 1}}}}", []segment{{text: "{'a': {'b': 1}}", expr: true}}, ""},
		{"{{ x }}}", []segment{{text: "x", expr: true}, {text: "}"}}, ""},
		{"{{ `}}` }}", []segment{{text: "`}}`", expr: true}}, ""},
		{`{{ "\"}}" }}`, []segment{{text: `"\"}}"`, expr: true}}, ""},
		{"}} {{ x }}", []segment{{text: "}} "}, {text: "x", expr: true}}, ""},
		{"{{", nil, "unterminated"},
		{"a {{ b } }", nil, "unterminated"},
		{"{{}}", nil, "empty"},
	}
	for _, tt := range tests {
		got, err := splitTemplate(tt.in)
		if tt.err != "" {
			if !strings.Contains(err, tt.err) {
				t.Errorf("%q: error %q, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != "" || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v %q, want %+v", tt.in, got, err, tt.want)
		}
	}
}
