package workflow

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/weft-dev/weft"
)

// yamlConversionCases are YAML documents and their exact JSON form.
var yamlConversionCases = []struct {
	name, yaml, json string
}{
	{"mapping", "a: 1\nb: two\n", `{"a":1,"b":"two"}`},
	{"key order", "z: 1\na: 2\nm: 3\n", `{"z":1,"a":2,"m":3}`},
	{"nested", "a:\n  b:\n    - 1\n    - [2, 3]\n    - {c: d}\n  e: []\n  f: {}\n",
		`{"a":{"b":[1,[2,3],{"c":"d"}],"e":[],"f":{}}}`},
	{"nested sequences", "- - a\n  - b\n- - - c\n", `[["a","b"],[["c"]]]`},
	{"sequence of mappings", "steps:\n  - id: a\n    n: 1\n  - id: b\n", `{"steps":[{"id":"a","n":1},{"id":"b"}]}`},
	{"sequence at key indentation", "a:\n- x\n- y\nb: 1\n", `{"a":["x","y"],"b":1}`},
	{"flow", `{a: [1, {b: null}], "c": 'x', d: [ ]}`, `{"a":[1,{"b":null}],"c":"x","d":[]}`},
	{"literal block", "lit: |\n  line1\n   indented\n  line2\n", `{"lit":"line1\n indented\nline2\n"}`},
	{"folded block", "fold: >\n  a\n  b\n\n  c\n", `{"fold":"a b\nc\n"}`},
	{"chomping", "strip: |-\n  x\n\nkeep: |+\n  y\n\nclip: |\n  z\n\n", `{"strip":"x","keep":"y\n\n","clip":"z\n"}`},
	{"multi-line plain", "a: one\n  two\n\n  three\n", `{"a":"one two\nthree"}`},
	{"integers", "- 0\n- -12\n- +7\n- 0755\n- 0o17\n- 0x1F\n- 0xffffffffffffffff\n- 99999999999999999999\n- -0\n",
		`[0,-12,7,755,15,31,18446744073709551615,99999999999999999999,0]`},
	{"floats", "- 1.5\n- .5\n- 1.\n- -1.5e3\n- 1e5\n- +2.5E-3\n- 007.10\n- 1e-400\n",
		`[1.5,0.5,1.0,-1.5e3,1e5,2.5e-3,7.10,1e-400]`},
	{"not numbers", "- 0b101\n- 1_000\n- 0x_1\n- -0x1F\n- 1.2.3\n- 12abc\n- 0o8\n- .\n- '12'\n",
		`["0b101","1_000","0x_1","-0x1F","1.2.3","12abc","0o8",".","12"]`},
	{"double quoted escapes", `a: "tab\there \"q\" \\ \/ \u00e9 \U0001F600 \x41 \0\a\e \N\_\L"`,
		`{"a":"tab\there \"q\" \\ / é 😀 A \u0000\u0007\u001b ` + "\u0085\u00a0" + `\u2028"}`},
	{"single quoted", "a: 'it''s <b>&amp; \\n'\n", `{"a":"it's <b>&amp; \\n"}`},
	{"unicode", "héllo: \"wörld ✓ 日本\"\n", `{"héllo":"wörld ✓ 日本"}`},
	{"quoted multi-line", "a: \"one\n  two\"\nb: 'x\n\n  y'\n", `{"a":"one two","b":"x\ny"}`},
	{"null", "a: null\nb: ~\nc:\nd: Null\ne: NULL\nf: [~, null]\n", `{"a":null,"b":null,"c":null,"d":null,"e":null,"f":[null,null]}`},
	{"booleans", "- true\n- True\n- TRUE\n- false\n- False\n- FALSE\n- yes\n- no\n- on\n- off\n- y\n- tRUE\n",
		`[true,true,true,false,false,false,"yes","no","on","off","y","tRUE"]`},
	{"timestamps are strings", "t: 2001-12-14t21:59:43.10-05:00\nd: 2002-12-14\n", `{"t":"2001-12-14t21:59:43.10-05:00","d":"2002-12-14"}`},
	{"keys as written", "1: a\n007: b\ntrue: c\n\"q r\": d\n1.50: e\n", `{"1":"a","007":"b","true":"c","q r":"d","1.50":"e"}`},
	{"anchors and aliases", "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nlist: [*b, *b]\n",
		`{"base":{"x":1,"y":[1,2]},"copy":{"x":1,"y":[1,2]},"list":[{"x":1,"y":[1,2]},{"x":1,"y":[1,2]}]}`},
	{"scalar anchor", "a: &v hello\nb: *v\nc: [*v]\n", `{"a":"hello","b":"hello","c":["hello"]}`},
	{"anchor redefined", "a: &x 1\nb: *x\nc: &x 2\nd: *x\n", `{"a":1,"b":1,"c":2,"d":2}`},
	{"alias key", "k: &k name\n*k : 1\n", `{"k":"name","name":1}`},
	{"anchored key", "&k a: 1\nb: *k\n", `{"a":1,"b":"a"}`},
	{"merge", "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n  z: 4\n", `{"base":{"x":1,"y":2},"c":{"x":1,"y":3,"z":4}}`},
	{"merge list", "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2, v: 2}\nc:\n  w: 0\n  <<: [*a, *b]\n  z: 3\n",
		`{"a":{"x":1,"y":1},"b":{"y":2,"z":2,"v":2},"c":{"w":0,"x":1,"y":1,"v":2,"z":3}}`},
	{"merge chain", "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n", `{"a":{"x":1},"b":{"x":1,"y":2},"c":{"x":1,"y":2,"z":3}}`},
	{"merge inline", "c:\n  <<: {x: 1, y: 2}\n  y: 3\n", `{"c":{"x":1,"y":3}}`},
	{"merge explicit first", "d: &d {x: 1}\nc:\n  x: 0\n  <<: *d\n", `{"d":{"x":1},"c":{"x":0}}`},
	{"quoted << is a key", "\"<<\": 1\n", `{"<<":1}`},
	{"tags", "a: !!str 123\nb: !!int \"42\"\nc: !!float 1\nd: !!bool \"true\"\ne: !!null ~\nf: !!map {x: 1}\ng: !!seq [1]\nh: !!str true\ni: !!float .5\n",
		`{"a":"123","b":42,"c":1,"d":true,"e":null,"f":{"x":1},"g":[1],"h":"true","i":0.5}`},
	{"non-specific and verbatim tags", "a: ! 12\nb: !<tag:yaml.org,2002:str> 5\nc: !<tag:yaml.org,2002:int> '5'\nd: !!null ''\n",
		`{"a":"12","b":"5","c":5,"d":null}`},
	{"block scalar key", "? |\n  block key\n: 1\n", `{"block key\n":1}`},
	{"top-level merge", "<<: {a: 1, b: 1}\nb: 2\n", `{"a":1,"b":2}`},
	{"anchored block mapping", "a: &x\n  b: 1\nc: *x\nd: [&z {}, *z]\n", `{"a":{"b":1},"c":{"b":1},"d":[{},{}]}`},
	{"surrogate pair escape", "\"\\ud83d\\ude00\": 1\n", `{"😀":1}`},
	{"tagged anchor", "a: &x !!str 1\nb: !!str &y 2\nc: [*x, *y]\n", `{"a":"1","b":"2","c":["1","2"]}`},
	{"top-level scalar", "42\n", `42`},
	{"top-level sequence", "- a\n- b\n", `["a","b"]`},
	{"comments", "# head\na: 1 # trailing\n# between\nb: [1, # inside\n  2]\n# end\n", `{"a":1,"b":[1,2]}`},
	{"document markers", "---\na: 1\n...\n", `{"a":1}`},
	{"yaml directive", "%YAML 1.2\n---\na: 1\n", `{"a":1}`},
	{"byte order mark", "\ufeffa: 1\n", `{"a":1}`},
	{"crlf", "a: 1\r\nb: x\r\n", `{"a":1,"b":"x"}`},
	{"json is yaml", `{"id": "x", "steps": {"a": {"type": "input", "depends_on": []}}}`, `{"id":"x","steps":{"a":{"type":"input","depends_on":[]}}}`},
	{"html not escaped", "a: <script>&</script>\n", `{"a":"<script>&</script>"}`},
}

func TestYAMLToJSON(t *testing.T) {
	lim := weft.Limits{}.WithDefaults()
	for _, tc := range yamlConversionCases {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := yamlToJSON([]byte(tc.yaml), lim)
			if len(errs) > 0 {
				t.Fatalf("yamlToJSON(%q): unexpected errors: %v", tc.yaml, errs)
			}
			if string(got) != tc.json {
				t.Errorf("yamlToJSON(%q)\n got %s\nwant %s", tc.yaml, got, tc.json)
			}
			if !json.Valid(got) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

// yamlSeeds are the seed workflows, written in YAML, and the JSON files they
// must equal.
var yamlSeeds = []struct {
	file, yaml string
}{
	{"seed_basic.json", `# The basic seed workflow.
id: simple_workflow
steps:
  collect_data:
    type: input
    input:
      data:
        message: hello
    depends_on: []
  process_data:
    type: process
    input:
      rules:
        - type: transform
          field: message
          operation: uppercase
    depends_on:
      - collect_data
`},
	{"seed_parallel.json", `id: parallel_workflow
steps:
  input_a: &input
    type: input
    input: {data: {value: 1}}
    depends_on: []
  input_b:
    <<: *input
    input: {data: {value: 2}}
  process_a: {type: process, depends_on: [input_a]}
  process_b: {type: process, depends_on: [input_b]}
  ai_analysis:
    type: ai
    input:
      prompt: "Analyze data"
    depends_on: [process_a, process_b]
  output:
    type: output
    depends_on: [ai_analysis]
`},
}

func TestYAMLSeedWorkflows(t *testing.T) {
	lim := weft.Limits{}.WithDefaults()
	for _, tc := range yamlSeeds {
		t.Run(tc.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", "examples", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, errs := yamlToJSON([]byte(tc.yaml), lim)
			if len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(want, &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// yamlNested returns n nested flow collections: open repeated, then "1", then
// close repeated.
func yamlNested(open, close string, n int) string {
	return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

// yamlAnchorBomb returns the "billion laughs": levels anchors, each a sequence
// of width aliases to the previous one.
func yamlAnchorBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 \"lol\"\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("l")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &l")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < width; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// yamlErrorCase is a document and the problems it must produce.
type yamlErrorCase struct {
	name string
	yaml string
	lim  weft.Limits // zero: the defaults
	want []weft.ValidationError
}

// yamlErrorCases are documents with problems. A want Message is a substring
// of the real one.
var yamlErrorCases = []yamlErrorCase{
	{name: "duplicate top-level key", yaml: "a: 1\nb: 2\na: 3\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VDuplicateKey, Message: `duplicate key "a" (first at line 1)`}}},
	{name: "duplicate key in a step", yaml: "id: x\nsteps:\n  a:\n    type: input\n    type: process\n",
		want: []weft.ValidationError{{Path: "$.steps.a.type", Code: weft.VDuplicateKey, Message: `duplicate key "type" (first at line 4)`}}},
	{name: "duplicate key in flow mapping", yaml: "a: {b: 1, \"b\": 2}\n",
		want: []weft.ValidationError{{Path: "$.a.b", Code: weft.VDuplicateKey, Message: `duplicate key "b" (first at line 1)`}}},
	{name: "duplicate odd key", yaml: "a.b: 1\n'a.b': 2\n",
		want: []weft.ValidationError{{Path: `$["a.b"]`, Code: weft.VDuplicateKey}}},
	{name: "every duplicate", yaml: "a: 1\na: 2\nb: [{c: 1, c: 2}]\na: 3\n",
		want: []weft.ValidationError{
			{Path: "$.a", Code: weft.VDuplicateKey, Message: "(first at line 1)"},
			{Path: "$.b[0].c", Code: weft.VDuplicateKey},
			{Path: "$.a", Code: weft.VDuplicateKey, Message: "(first at line 1)"},
		}},
	{name: "duplicate merge key", yaml: "a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n",
		want: []weft.ValidationError{{Path: `$.b["<<"]`, Code: weft.VDuplicateKey}}},
	{name: "mapping as key", yaml: "m: &m {x: 1}\n*m : 1\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "a mapping key must be a scalar, found a mapping"}}},
	{name: "sequence as key", yaml: "s: &s [1]\nx:\n  *s : 1\n",
		want: []weft.ValidationError{{Path: "$.x", Code: weft.VType, Message: "found a sequence"}}},
	{name: "invalid UTF-8", yaml: "a: b\xffc\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VInvalidUTF8, Message: "offset 4"}}},
	{name: "syntax error", yaml: "a: 1\nb: c: d\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "line 2, column 4: mapping value is not allowed in this context"}}},
	{name: "unclosed flow", yaml: "a: [1, 2\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "line 1, column 4: "}}},
	{name: "tab indentation", yaml: "a:\n\tb: 1\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "line 2, column 1: "}}},
	{name: "two documents", yaml: "a: 1\n---\nb: 2\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "expected one YAML document, found 2"}}},
	{name: "three documents", yaml: "--- 1\n--- 2\n--- 3\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "expected one YAML document, found 3"}}},
	{name: "TAG directive", yaml: "%TAG ! tag:example.com,2000:\n---\na: !x 1\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "%TAG directive is not supported"}}},
	{name: "unknown tag", yaml: "a: !foo x\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType, Message: `unsupported YAML tag "!foo"`}}},
	{name: "unknown tag on a mapping", yaml: "a: !custom {b: 1}\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType, Message: `unsupported YAML tag "!custom"`}}},
	{name: "unknown tag on a sequence", yaml: "a:\n  b: !!omap\n    - 1\n",
		want: []weft.ValidationError{{Path: "$.a.b", Code: weft.VType, Message: `unsupported YAML tag "!!omap"`}}},
	{name: "binary tag", yaml: "steps:\n  s: !!binary aGk=\n",
		want: []weft.ValidationError{{Path: "$.steps.s", Code: weft.VType, Message: `unsupported YAML tag "!!binary"`}}},
	{name: "bad int", yaml: "a: !!int abc\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType, Message: `"abc" is not a valid !!int value`}}},
	{name: "bad bool", yaml: "a: !!bool yes\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType}}},
	// goccy checks the shape of !!map, !!seq and scalar tags itself.
	{name: "map tag on a sequence", yaml: "a: !!map [1]\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VSyntax, Message: "line 1, column 9: could not find map"}}},
	{name: "infinity", yaml: "a: .inf\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType, Message: ".inf is not representable in JSON"}}},
	{name: "infinities and nan", yaml: "b: [1, -.Inf, +.INF, .nan]\n",
		want: []weft.ValidationError{
			{Path: "$.b[1]", Code: weft.VType}, {Path: "$.b[2]", Code: weft.VType}, {Path: "$.b[3]", Code: weft.VType, Message: ".nan"},
		}},
	{name: "float out of range", yaml: "a: 1e400\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType, Message: "out of range"}}},
	{name: "hex out of range", yaml: "a: 0x10000000000000000\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VType, Message: "64 bits"}}},
	{name: "unknown alias", yaml: "a: *nope\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VSyntax, Message: `unknown alias "nope"`}}},
	{name: "alias before anchor", yaml: "a: *x\nb: &x 1\n",
		want: []weft.ValidationError{{Path: "$.a", Code: weft.VSyntax}}},
	{name: "recursive alias", yaml: "a: &x [1, *x]\n",
		want: []weft.ValidationError{{Path: "$.a[1]", Code: weft.VInvalidValue, Message: "recursive"}}},
	{name: "merge of a scalar", yaml: "a: &s 1\nb:\n  <<: *s\n",
		want: []weft.ValidationError{{Path: `$.b["<<"]`, Code: weft.VType, Message: "merge key"}}},
	{name: "merge list with a scalar", yaml: "a: &a {x: 1}\nb:\n  <<: [*a, 2]\n",
		want: []weft.ValidationError{{Path: `$.b["<<"][1]`, Code: weft.VType}}},
	{name: "every problem", yaml: "a: .inf\nb: !foo x\nc: 1\nc: 2\nd: [*u]\n",
		want: []weft.ValidationError{
			{Path: "$.a", Code: weft.VType}, {Path: "$.b", Code: weft.VType},
			{Path: "$.c", Code: weft.VDuplicateKey}, {Path: "$.d[0]", Code: weft.VSyntax},
		}},
	{name: "empty", yaml: "",
		want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "expected an object, found nothing"}}},
	{name: "only a comment", yaml: "# nothing here\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "expected an object, found nothing"}}},
	{name: "only a document marker", yaml: "---\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "expected an object, found nothing"}}},
	{name: "anchor bomb", yaml: yamlAnchorBomb(9, 9),
		want: []weft.ValidationError{{Path: "$", Code: weft.VLimit, Message: "YAML aliases expand beyond 10485760 bytes of JSON"}}},
	{name: "merge bomb", yaml: func() string {
		var b strings.Builder
		b.WriteString("a: &a {k: \"" + strings.Repeat("x", 1000) + "\"}\nl:\n")
		for i := 0; i < 2000; i++ {
			b.WriteString("  - <<: *a\n")
		}
		return b.String()
	}(), lim: weft.Limits{MaxDocumentBytes: 1 << 20},
		want: []weft.ValidationError{{Path: "$", Code: weft.VLimit, Message: "aliases expand beyond 1048576 bytes"}}},
	{name: "document too large", yaml: "a: 12345678901234567890\n", lim: weft.Limits{MaxDocumentBytes: 10},
		want: []weft.ValidationError{{Path: "$", Code: weft.VLimit, Message: "the document is 24 bytes, more than the limit of 10"}}},
	{name: "JSON too large", yaml: `a: "\0\0\0\0\0"`, lim: weft.Limits{MaxDocumentBytes: 20},
		want: []weft.ValidationError{{Path: "$", Code: weft.VLimit, Message: "more than 20 bytes once converted to JSON"}}},
	{name: "10,000 nested flow sequences", yaml: yamlNested("[", "]", 10000),
		want: []weft.ValidationError{{Path: "$", Code: weft.VTooDeep, Message: "nesting deeper than 128 levels (line 1, column 257)"}}},
	{name: "10,000 unclosed flow sequences", yaml: strings.Repeat("[", 10000),
		want: []weft.ValidationError{{Path: "$", Code: weft.VTooDeep}}},
	{name: "10,000 nested flow mappings", yaml: yamlNested("{a: ", "}", 10000),
		want: []weft.ValidationError{{Path: "$", Code: weft.VTooDeep}}},
	{name: "10,000 nested block sequences", yaml: strings.Repeat("- ", 10000) + "x\n",
		want: []weft.ValidationError{{Path: "$", Code: weft.VTooDeep, Message: "(line 1, column 513)"}}},
	{name: "deep block mappings", yaml: func() string {
		var b strings.Builder
		for i := 0; i < 300; i++ {
			b.WriteString(strings.Repeat(" ", i) + "k:\n")
		}
		return b.String()
	}(), want: []weft.ValidationError{{Path: "$", Code: weft.VTooDeep, Message: "(line 257, column 257)"}}},
	{name: "one level too deep", yaml: yamlNested("[", "]", 129),
		want: []weft.ValidationError{{Path: "$" + strings.Repeat("[0]", 128), Code: weft.VTooDeep, Message: "nesting deeper than 128 levels"}}},
	{name: "too deep in a mapping", yaml: "a:\n  b: " + yamlNested("[", "]", 3) + "\n", lim: weft.Limits{MaxDepth: 4},
		want: []weft.ValidationError{{Path: "$.a.b[0][0]", Code: weft.VTooDeep}}},
	{name: "too deep through an alias", yaml: "a: &a [[[1]]]\nb: [[[*a]]]\n", lim: weft.Limits{MaxDepth: 5},
		want: []weft.ValidationError{{Path: "$.b[0][0][0][0]", Code: weft.VTooDeep}}},
	{name: "too deep through a merge", yaml: "a: &a {x: [[1]]}\nb:\n  c:\n    <<: *a\n", lim: weft.Limits{MaxDepth: 4},
		want: []weft.ValidationError{{Path: "$.b.c.x[0]", Code: weft.VTooDeep}}},
}

func TestYAMLToJSONErrors(t *testing.T) {
	for _, tc := range yamlErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			out, errs := yamlToJSON([]byte(tc.yaml), tc.lim.WithDefaults())
			if out != nil {
				t.Errorf("output %q, want none", out)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				g := errs[i]
				if g.Path != w.Path || g.Code != w.Code || !strings.Contains(g.Message, w.Message) {
					t.Errorf("problem %d: got %s %q %q, want %s %q containing %q", i, g.Path, g.Code, g.Message, w.Path, w.Code, w.Message)
				}
				if strings.ContainsAny(g.Message, "\n\x1b") {
					t.Errorf("problem %d: message %q is not one plain line", i, g.Message)
				}
			}
		})
	}
}

func TestYAMLSyntaxErrorMessage(t *testing.T) {
	// The whole message, to see that goccy's source excerpt is gone.
	_, errs := yamlToJSON([]byte("a: 1\nb: c: d\n"), weft.Limits{}.WithDefaults())
	want := weft.ValidationErrors{{Path: "$", Code: weft.VSyntax, Message: "line 2, column 4: mapping value is not allowed in this context"}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("got %#v, want %#v", errs, want)
	}
}

func TestYAMLAliasesWithinLimit(t *testing.T) {
	// 4 levels of 9 aliases: 6,561 × "lol", about 45 KB: allowed.
	out, errs := yamlToJSON([]byte(yamlAnchorBomb(4, 9)), weft.Limits{}.WithDefaults())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := bytes.Count(out, []byte(`"lol"`)); n != 1+9+81+729+6561 {
		t.Errorf("%d copies of lol, want %d", n, 1+9+81+729+6561)
	}
	// The same with a limit just below the output size is refused.
	lim := weft.Limits{MaxDocumentBytes: int64(len(out) - 1)}.WithDefaults()
	if _, errs := yamlToJSON([]byte(yamlAnchorBomb(4, 9)), lim); len(errs) != 1 || errs[0].Code != weft.VLimit {
		t.Errorf("limit %d: got %v, want one %s", lim.MaxDocumentBytes, errs, weft.VLimit)
	}
	lim.MaxDocumentBytes = int64(len(out))
	if _, errs := yamlToJSON([]byte(yamlAnchorBomb(4, 9)), lim); len(errs) > 0 {
		t.Errorf("limit %d (the exact size): %v", lim.MaxDocumentBytes, errs)
	}
}

func TestYAMLNestingScan(t *testing.T) {
	// Documents whose real depth is 3: the scan must never count more.
	for _, src := range []string{
		"a:\n  b:\n    c: 1\n",
		"- - - x\n",
		"a: [[1]]\n",
		"- a: [1]\n",
		"a: 'x [[[[[[ y'\nb: \"[[[[[[\"\nc: x [[[[[[[\nd: |\n  [[[[[[[[\n  {{{{{{{{\ne: >\n  [[[[[[[\n",
		"a: x # [[[[[[[[\nb: [1, 2] # [[[[[[[[\n# [[[[[[[[[[\n",
		"a: one\n  [[[[[[[[[[\n  two\n",
		"--- |\n[[[[[[[[[\n[[[[[[[\n",
		"a: [\"[[[[\", '[[[[', x'y, \"]]]]\"]\n",
		"{\"a\":\"[[[[[[\"}\n",
		"a: [b, 'c]]], [[[[', d]\n",
		"a:\n- b: 1\n- c\nd:\n  - [e]\n",
		"? a\n: [[1]]\n",
		"a:\r\n  b:\r\n    - c\r\n",
		"0:\n- 0\r0:\n   0:", // a lone CR is a line break
	} {
		if line, col, deep := yamlNestingExceeds([]byte(src), 3); deep {
			t.Errorf("%q: scan says deeper than 3 at %d:%d", src, line, col)
		}
	}
	// Documents of depth 4.
	for _, src := range []string{
		"- - - - x\n",
		"a: [[[1]]]\n",
		"a:\n  b:\n    c:\n      d: 1\n",
		"- a:\n    - b: [1]\n",
		"a: {b: {c: {d: 1}}}\n",
		"a: !!seq &x [[[1]]]\n",
		"[\n[\n[\n[\n]]]]\n",
		"a:\n- b: [1]\n",
	} {
		if _, _, deep := yamlNestingExceeds([]byte(src), 3); !deep {
			t.Errorf("%q: scan says not deeper than 3", src)
		}
	}
}

// FuzzYAMLToJSON checks that no input makes yamlToJSON panic, that its JSON
// is valid and within limits, that its problems are well-formed, and that
// the nesting scan never refuses a document that is not too deep.
func FuzzYAMLToJSON(f *testing.F) {
	for _, tc := range yamlConversionCases {
		f.Add([]byte(tc.yaml))
	}
	for _, tc := range yamlErrorCases {
		if len(tc.yaml) < 4096 {
			f.Add([]byte(tc.yaml))
		}
	}
	for _, tc := range yamlSeeds {
		f.Add([]byte(tc.yaml))
	}
	f.Add([]byte(yamlAnchorBomb(3, 3)))
	f.Add([]byte("a: &a {x: [1]}\nb: {<<: [*a], y: *a}\n"))
	lim := weft.Limits{MaxDocumentBytes: 1 << 16, MaxDepth: 8}.WithDefaults()
	f.Fuzz(func(t *testing.T, src []byte) {
		out, errs := yamlToJSON(src, lim)
		if len(errs) == 0 {
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %q", out)
			}
			if int64(len(out)) > lim.MaxDocumentBytes {
				t.Fatalf("%d bytes of JSON, limit %d", len(out), lim.MaxDocumentBytes)
			}
		} else if out != nil {
			t.Fatalf("output %q with problems %v", out, errs)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Path, "$") || e.Code == "" || e.Message == "" {
				t.Fatalf("malformed problem %#v", e)
			}
			if strings.Contains(e.Message, "internal error") || strings.ContainsAny(e.Message, "\n\x1b") {
				t.Fatalf("bad message %#v", e)
			}
		}
		// The scan is a lower bound of the real depth: when it refuses a
		// document at depth 3, converting it with a depth limit of 3 must
		// find it too deep too (or fail for another reason first).
		if !utf8.Valid(src) {
			return
		}
		src = bytes.TrimPrefix(src, []byte("\uFEFF"))
		if _, _, deep := yamlNestingExceeds(src, 3); !deep {
			return
		}
		file, err := yamlParse(src)
		if err != nil {
			return
		}
		_, errs = yamlConvertFile(file, weft.Limits{MaxDocumentBytes: 1 << 16, MaxDepth: 3}.WithDefaults())
		for _, e := range errs {
			early := e.Path == rootPath && (strings.HasPrefix(e.Message, "expected") || strings.Contains(e.Message, "directive"))
			if e.Code == weft.VTooDeep || e.Code == weft.VLimit || early {
				return
			}
		}
		t.Fatalf("the scan finds %q deeper than 3, the conversion does not: %v", src, errs)
	})
}
