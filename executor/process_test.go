package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/eval"
)

var (
	_ weft.Executor       = (*Process)(nil)
	_ weft.InputValidator = (*Process)(nil)
)

// procExec runs a process step with the given input and flowing data.
func procExec(t *testing.T, p *Process, input, data string) (string, error) {
	t.Helper()
	step := &weft.StepContext{RunID: "r", StepID: "s", Type: "process", Attempt: 1, Params: json.RawMessage(`{"factor": 3, "name": "ada"}`)}
	if input != "" {
		step.Input = json.RawMessage(input)
	}
	if data != "" {
		step.Data = json.RawMessage(data)
	}
	out, err := p.Execute(context.Background(), step)
	if err == nil && !json.Valid(out) {
		t.Fatalf("invalid JSON output %q", out)
	}
	return string(out), err
}

// procWantErr checks err: code invalid (unless code says otherwise) and
// every substring in the message.
func procWantErr(t *testing.T, err error, code weft.Code, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", subs)
	}
	var we *weft.Error
	if !errors.As(err, &we) {
		t.Fatalf("error %v is a %T, want *weft.Error", err, err)
	}
	if got := weft.ErrorCode(err); got != code {
		t.Errorf("code %q, want %q (%v)", got, code, err)
	}
	if code == weft.CodeInvalid && weft.IsRetryable(err) {
		t.Errorf("error %v is retryable", err)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestProcessSeed(t *testing.T) {
	out, err := procExec(t, NewProcess(nil),
		`{"rules": [{"type": "transform", "field": "message", "operation": "uppercase"}]}`, `{"message": "hello"}`)
	if err != nil || out != `{"message":"HELLO"}` {
		t.Errorf("got %s, %v", out, err)
	}
}

func TestProcessPassThrough(t *testing.T) {
	p := &Process{} // the zero value works
	tests := []struct{ input, data, want string }{
		{"", `{"value": 1}`, `{"value":1}`},
		{`{}`, ` [1, 2] `, `[1,2]`},
		{`{"rules": []}`, `"x"`, `"x"`},
		{`{"rules": null}`, `{"b": 1, "a": 2}`, `{"b":1,"a":2}`},
		{"", "", `null`},
		{`{"data": {"z": 1}}`, `{"value": 1}`, `{"z":1}`},
		{`{"data": null}`, `{"value": 1}`, `null`},
	}
	for _, tt := range tests {
		out, err := procExec(t, p, tt.input, tt.data)
		if err != nil || out != tt.want {
			t.Errorf("input %s data %s: got %s, %v; want %s", tt.input, tt.data, out, err, tt.want)
		}
	}
}

func TestProcessTransform(t *testing.T) {
	tests := []struct {
		op    string
		extra string // more rule fields
		in    string // the value of field v
		want  string // the new value of v, or the error substring after "error: "
	}{
		{"uppercase", "", `"héllo"`, `"HÉLLO"`},
		{"uppercase", "", `1`, `error: field "v": uppercase needs a string, found a number`},
		{"lowercase", "", `"ABC"`, `"abc"`},
		{"trim", "", `"  a b \n"`, `"a b"`},
		{"title", "", `"hello wORLD o'neil mc-donald"`, `"Hello World O'neil Mc-Donald"`},
		{"reverse", "", `"abé"`, `"éba"`},
		{"reverse", "", `[1, 2, 3]`, `[3,2,1]`},
		{"reverse", "", `{}`, `error: reverse needs a string or an array, found an object`},
		{"length", "", `"héllo"`, `5`},
		{"length", "", `[1, 2]`, `2`},
		{"length", "", `{"a": 1}`, `1`},
		{"length", "", `true`, `error: length needs a string, an array or an object, found a boolean`},
		{"to_number", "", `" 42 "`, `42`},
		{"to_number", "", `"4.50"`, `4.5`},
		{"to_number", "", `"1e3"`, `1000`},
		{"to_number", "", `"-0.25"`, `-0.25`},
		{"to_number", "", `true`, `1`},
		{"to_number", "", `7.5`, `7.5`},
		{"to_number", "", `"NaN"`, `error: to_number: "NaN" is not a number`},
		{"to_number", "", `"0x10"`, `error: is not a number`},
		{"to_number", "", `"12abc"`, `error: to_number: "12abc" is not a number`},
		{"to_number", "", `null`, `error: to_number needs a string, a number or a boolean, found null`},
		{"to_string", "", `1`, `"1"`},
		{"to_string", "", `2.50`, `"2.5"`},
		{"to_string", "", `true`, `"true"`},
		{"to_string", "", `null`, `""`},
		{"to_string", "", `{"b": [1], "a": "<x>"}`, `"{\"a\":\"<x>\",\"b\":[1]}"`},
		{"to_bool", "", `" Yes "`, `true`},
		{"to_bool", "", `"off"`, `false`},
		{"to_bool", "", `""`, `false`},
		{"to_bool", "", `0`, `false`},
		{"to_bool", "", `0.5`, `true`},
		{"to_bool", "", `null`, `false`},
		{"to_bool", "", `"maybe"`, `error: to_bool: "maybe" is not true or false`},
		{"to_bool", "", `[]`, `error: to_bool needs`},
		{"round", "", `178.6208`, `179`},
		{"round", "", `2.5`, `3`},
		{"round", "", `-2.5`, `-3`},
		{"round", `, "digits": 2`, `3.14159`, `3.14`},
		{"round", `, "digits": 1`, `0.05`, `0.1`},
		{"round", `, "digits": -2`, `1250`, `1300`},
		{"round", `, "digits": 2`, `7`, `7`},
		{"round", "", `"1.5"`, `error: round needs a number, found a string`},
		{"abs", "", `-3`, `3`},
		{"abs", "", `-3.5`, `3.5`},
		{"floor", "", `-3.5`, `-4`},
		{"floor", "", `3`, `3`},
		{"ceil", "", `3.2`, `4`},
		{"ceil", "", `"x"`, `error: ceil needs a number`},
		{"split", "", `"a,b,,c"`, `["a","b","","c"]`},
		{"split", `, "separator": " | "`, `"a | b"`, `["a","b"]`},
		{"split", `, "separator": ""`, `"aé"`, `["a","é"]`},
		{"split", "", `[1]`, `error: split needs a string, found an array`},
		{"join", "", `["a", 1, null, true, {"k": 2}]`, `"a,1,,true,{\"k\":2}"`},
		{"join", `, "separator": ""`, `["a", "b"]`, `"ab"`},
		{"join", "", `"ab"`, `error: join needs an array, found a string`},
		{"sort", "", `[3, 1.5, 2]`, `[1.5,2,3]`},
		{"sort", "", `["b", "B", "a"]`, `["B","a","b"]`},
		{"sort", "", `[true, false]`, `[false,true]`},
		{"sort", "", `[]`, `[]`},
		{"sort", "", `[1, "a"]`, `error: sort: mixed types: item 0 is a number, item 1 a string`},
		{"sort", "", `[1, null]`, `error: sort: item 1 is null`},
		{"sort", "", `[{"a": 1}]`, `error: sort: item 0 is an object`},
		{"unique", "", `[1, "1", 1.0, {"a": [1]}, {"a": [1]}, null, null]`, `[1,"1",{"a":[1]},null]`},
		{"unique", "", `{}`, `error: unique needs an array`},
		{"json_parse", "", `"{\"a\": [1, 2.0]}"`, `{"a":[1,2]}`},
		{"json_parse", "", `"{"`, `error: json_parse: the string is not valid JSON`},
		{"json_parse", "", `" "`, `error: json_parse: the string is empty`},
		{"json_stringify", "", `{"b": 1, "a": "é<"}`, `"{\"a\":\"é<\",\"b\":1}"`},
		{"json_stringify", "", `"x"`, `"\"x\""`},
		{"sha256", "", `"abc"`, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
		{"sha256", "", `1`, `error: sha256 needs a string, found a number`},
		{"base64_encode", "", `"héllo"`, `"aMOpbGxv"`},
		{"base64_decode", "", `"aMOpbGxv"`, `"héllo"`},
		{"base64_decode", "", `"aGk"`, `"hi"`},
		{"base64_decode", "", `"_-8"`, `error: not UTF-8`},
		{"base64_decode", "", `"!!"`, `error: base64_decode: the string is not base64`},
	}
	p := NewProcess(nil)
	for _, tt := range tests {
		t.Run(tt.op+" "+tt.in+tt.extra, func(t *testing.T) {
			input := fmt.Sprintf(`{"rules": [{"type": "transform", "field": "v", "operation": %q%s}]}`, tt.op, tt.extra)
			out, err := procExec(t, p, input, `{"v": `+tt.in+`, "other": 0}`)
			if msg, ok := strings.CutPrefix(tt.want, "error: "); ok {
				procWantErr(t, err, weft.CodeInvalid, "rules[0] (transform): ", msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"other":0,"v":` + tt.want + `}`; out != want {
				t.Errorf("got  %s\nwant %s", out, want)
			}
		})
	}
}

func TestProcessRules(t *testing.T) {
	data := `{"n": 7, "name": "ada", "tags": ["b", "a"], "items": [
		{"id": 1, "price": 9.5, "cat": "x", "qty": 2},
		{"id": 2, "price": 3, "cat": "y"},
		{"id": 3, "price": 12, "cat": "x", "qty": null},
		{"id": 4, "price": 3, "cat": "z", "qty": 5}
	], "nested": {"a": {"b": [10, 20]}}}`
	tests := []struct {
		name  string
		rules string
		want  string // a JSON value, or "error: ..." (substring)
		data  string // optional: replaces data
	}{
		{"set value", `{"type": "set", "field": "x", "value": {"k": [1, 2.0]}}`, `$.x={"k":[1,2]}`, ""},
		{"set expr fields by name", `{"type": "set", "field": "x", "expr": "n * params.factor + len(name)"}`, `$.x=24`, ""},
		{"set expr data", `{"type": "set", "field": "x", "expr": "data.nested.a.b[1] / 4"}`, `$.x=5`, ""},
		{"set expr float", `{"type": "set", "field": "x", "expr": "n / 2"}`, `$.x=3.5`, ""},
		{"set nested creates", `{"type": "set", "field": "a.b.c", "value": 1}`, `$.a={"b":{"c":1}}`, ""},
		{"set index", `{"type": "set", "field": "nested.a.b[-1]", "value": 0}`, `$.nested={"a":{"b":[10,0]}}`, ""},
		{"set quoted key", `{"type": "set", "field": "m[\"x.y\"]", "value": 1}`, `$.m={"x.y":1}`, ""},
		{"set root", `{"type": "set", "field": "$", "expr": "len(items)"}`, `4`, ""},
		{"set index out of range", `{"type": "set", "field": "tags[5]", "value": 1}`, `error: rules[0] (set): field "tags[5]": index 5 is out of range: the array has 2 items`, ""},
		{"set into a number", `{"type": "set", "field": "n.x", "value": 1}`, `error: rules[0] (set): field "n.x": cannot set key "x" in a number`, ""},
		{"set expr error", `{"type": "set", "field": "x", "expr": "name + 1"}`, `error: rules[0] (set): invalid operation: string + int`, ""},
		{"set expr NaN", `{"type": "set", "field": "x", "expr": "0 / 0"}`, `error: rules[0] (set): NaN is not a JSON number`, ""},
		{"rename", `{"type": "rename", "field": "name", "to": "who.name"}`, `$.who={"name":"ada"}`, ""},
		{"rename removes", `{"type": "rename", "field": "name", "to": "x"}, {"type": "set", "field": "y", "expr": "name == nil"}`, `$.y=true`, ""},
		{"rename missing", `{"type": "rename", "field": "nope", "to": "x"}`, `error: rules[0] (rename): field "nope" not found (set "optional": true`, ""},
		{"rename optional", `{"type": "rename", "field": "nope", "to": "x", "optional": true}, {"type": "set", "field": "y", "expr": "x == nil"}`, `$.y=true`, ""},
		{"copy", `{"type": "copy", "field": "nested.a", "to": "c"}, {"type": "set", "field": "c.b", "value": 1}`, `$.nested={"a":{"b":[10,20]}}`, ""},
		{"copy result", `{"type": "copy", "field": "nested.a", "to": "c"}, {"type": "set", "field": "c.b", "value": 1}`, `$.c={"b":1}`, ""},
		{"delete", `{"type": "delete", "field": "nested.a.b[0]"}`, `$.nested={"a":{"b":[20]}}`, ""},
		{"delete missing", `{"type": "delete", "field": "x.y"}`, `error: rules[0] (delete): field "x.y" not found`, ""},
		{"delete optional", `{"type": "delete", "field": "x.y", "optional": true}`, `$.n=7`, ""},
		{"filter", `{"type": "filter", "field": "items", "condition": "item.price > 5 && index < 10"}, {"type": "map", "field": "items", "expr": "item.id"}`, `$.items=[1,3]`, ""},
		{"filter uses fields", `{"type": "filter", "field": "items", "condition": "item.id < n - 4"}, {"type": "map", "field": "items", "expr": "item.id"}`, `$.items=[1,2]`, ""},
		{"filter not bool", `{"type": "filter", "field": "items", "condition": "item.qty"}`, `error: rules[0] (filter): item 0: expected true or false, got the number 2`, ""},
		{"filter not array", `{"type": "filter", "field": "name", "condition": "true"}`, `error: rules[0] (filter): field "name" is a string, not an array`, ""},
		{"filter missing", `{"type": "filter", "field": "nope", "condition": "true"}`, `error: rules[0] (filter): field "nope" not found`, ""},
		{"filter optional", `{"type": "filter", "field": "nope", "condition": "true", "optional": true}`, `$.n=7`, ""},
		{"filter root array", `{"type": "filter", "field": "$", "condition": "item % 2 == 0"}`, `[2,4]`, `[1, 2, 3, 4]`},
		{"map", `{"type": "map", "field": "tags", "expr": "upper(item) + string(index)"}`, `$.tags=["B0","A1"]`, ""},
		{"map objects", `{"type": "map", "field": "items", "expr": "{'id': item.id, 'total': item.price * (item.qty ?? 1)}"}, {"type": "delete", "field": "items[0]"}`, `$.items=[{"id":2,"total":3},{"id":3,"total":12},{"id":4,"total":15}]`, ""},
		{"map error", `{"type": "map", "field": "tags", "expr": "item + 1"}`, `error: rules[0] (map): item 0: invalid operation: string + int`, ""},
		{"sort key asc stable", `{"type": "sort", "field": "items", "key": "price"}, {"type": "map", "field": "items", "expr": "item.id"}`, `$.items=[2,4,1,3]`, ""},
		{"sort key desc stable", `{"type": "sort", "field": "items", "key": "price", "order": "desc"}, {"type": "map", "field": "items", "expr": "item.id"}`, `$.items=[3,1,2,4]`, ""},
		{"sort strings", `{"type": "sort", "field": "items", "key": "cat", "order": "desc"}, {"type": "map", "field": "items", "expr": "item.id"}`, `$.items=[4,2,1,3]`, ""},
		{"sort no key", `{"type": "sort", "field": "tags"}`, `$.tags=["a","b"]`, ""},
		{"sort missing key", `{"type": "sort", "field": "items", "key": "qty"}`, `error: rules[0] (sort): field "items": item 1 has no "qty"`, ""},
		{"sort mixed", `{"type": "sort", "field": "$", "key": "k"}`, `error: rules[0] (sort): field "$": sort: mixed types: item 0 is a number, item 1 a string`, `[{"k": 1}, {"k": "1"}]`},
		{"aggregate sum", `{"type": "aggregate", "field": "items", "operation": "sum", "key": "price", "target": "total"}`, `$.total=27.5`, ""},
		{"aggregate sum ints", `{"type": "aggregate", "field": "items", "operation": "sum", "key": "qty", "target": "total"}`, `$.total=7`, ""},
		{"aggregate avg", `{"type": "aggregate", "field": "items", "operation": "avg", "key": "qty", "target": "stats.avg"}`, `$.stats={"avg":3.5}`, ""},
		{"aggregate min", `{"type": "aggregate", "field": "items", "operation": "min", "key": "price", "target": "m"}`, `$.m=3`, ""},
		{"aggregate max strings", `{"type": "aggregate", "field": "items", "operation": "max", "key": "cat", "target": "m"}`, `$.m="z"`, ""},
		{"aggregate count", `{"type": "aggregate", "field": "items", "operation": "count", "target": "c"}`, `$.c=4`, ""},
		{"aggregate count key", `{"type": "aggregate", "field": "items", "operation": "count", "key": "qty", "target": "c"}`, `$.c=2`, ""},
		{"aggregate no key", `{"type": "aggregate", "field": "nested.a.b", "operation": "avg", "target": "c"}`, `$.c=15`, ""},
		{"aggregate empty", `{"type": "aggregate", "field": "e", "operation": "max", "target": "m"}, {"type": "aggregate", "field": "e", "operation": "sum", "target": "s"}`, `{"e":[],"m":null,"s":0}`, `{"e": []}`},
		{"aggregate not numbers", `{"type": "aggregate", "field": "items", "operation": "sum", "key": "cat", "target": "s"}`, `error: rules[0] (aggregate): field "items": sum: item 0 is a string, not a number`, ""},
		{"aggregate mixed min", `{"type": "aggregate", "field": "$", "operation": "min", "target": "m"}`, `error: min: mixed types: item 0 is a number, item 2 a string`, `[1, null, "a"]`},
		{"validate ok", `{"type": "validate", "condition": "n > 5", "message": "n too small"}`, `$.n=7`, ""},
		{"validate fails", `{"type": "set", "field": "x", "value": 1}, {"type": "validate", "condition": "n > 50", "message": "n too small"}`, `error: rules[1] (validate): n too small`, ""},
		{"validate default message", `{"type": "validate", "condition": "n > 50"}`, `error: rules[0] (validate): condition is false: n > 50`, ""},
		{"validate not bool", `{"type": "validate", "condition": "name"}`, `error: rules[0] (validate): expected true or false, got the string "ada"`, ""},
		{"validate item nil", `{"type": "validate", "condition": "item == nil && index == nil"}`, `$.n=7`, ""},
		{"fields not object", `{"type": "transform", "field": "a", "operation": "trim"}`, `error: rules[0] (transform): field "a" not found: the working value is a string, not an object`, `"x"`},
		{"reserved names win", `{"type": "set", "field": "x", "expr": "data.data + params.factor"}`, `$.x=4`, `{"data": 1, "params": 2}`},
		{"order of rules", `{"type": "set", "field": "a", "value": 1}, {"type": "set", "field": "b", "expr": "a + 1"}, {"type": "set", "field": "a", "expr": "b * 10"}`, `{"a":20,"b":2}`, `{}`},
	}
	p := NewProcess(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.data
			if d == "" {
				d = data
			}
			out, err := procExec(t, p, `{"rules": [`+tt.rules+`]}`, d)
			if msg, ok := strings.CutPrefix(tt.want, "error: "); ok {
				procWantErr(t, err, weft.CodeInvalid, msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path, want, ok := strings.Cut(tt.want, "="); ok && strings.HasPrefix(path, "$.") {
				var obj map[string]json.RawMessage
				if err := json.Unmarshal([]byte(out), &obj); err != nil {
					t.Fatal(err)
				}
				if got := string(obj[path[2:]]); got != want {
					t.Errorf("%s = %s, want %s (output %s)", path, got, want, out)
				}
				return
			}
			if out != tt.want {
				t.Errorf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}

func TestProcessInputData(t *testing.T) {
	out, err := procExec(t, NewProcess(nil),
		`{"data": {"a": 1}, "rules": [{"type": "set", "field": "b", "expr": "a + 1"}]}`, `{"ignored": true}`)
	if err != nil || out != `{"a":1,"b":2}` {
		t.Errorf("got %s, %v", out, err)
	}
}

func TestProcessRunTimeInputErrors(t *testing.T) {
	tests := []struct {
		input string
		subs  []string
	}{
		{`[1]`, []string{"process step: input: expected an object, found an array"}},
		{`{"rule": []}`, []string{`process step: input.rule: unknown field "rule"`, `did you mean "rules"?`}},
		{`{"rules": {}}`, []string{"process step: input.rules: expected an array of rules, found an object"}},
		{`{"rules": [{"type": "transform", "field": "v", "operation": "upcase"}]}`,
			[]string{`rules[0] (transform): operation: unknown operation "upcase" for a transform rule`}},
		{`{"rules": [{"type": "set", "field": "v", "value": 1}, {"type": "transfrom"}]}`,
			[]string{`rules[1] (transfrom): type: unknown rule type "transfrom" (did you mean "transform"?)`}},
		{`{"rules": [{"type": "filter", "field": "v", "condition": "item >"}]}`,
			[]string{`rules[0] (filter): condition: unexpected token EOF (column 6)`}},
		{`{"rules": [{"type": "map", "field": "v[", "expr": "1"}, {"type": "delete"}]}`,
			[]string{`rules[0] (map): field: field path "v[": missing ']'`, `; rules[1] (delete): field: a delete rule needs "field"`}},
		{`{"rules": [{"type": "sort", "field": "v", "ordre": "asc"}]}`,
			[]string{`rules[0] (sort): ordre: unknown field "ordre" in a sort rule (did you mean "order"?)`}},
	}
	p := NewProcess(nil)
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			_, err := procExec(t, p, tt.input, `{"v": "x"}`)
			procWantErr(t, err, weft.CodeInvalid, tt.subs...)
		})
	}
}

func TestProcessValidateInput(t *testing.T) {
	type problem struct{ path, code, msg, sugg string }
	tests := []struct {
		name  string
		input string
		want  []problem
	}{
		{"ok", `{"rules": [{"type": "transform", "field": "message", "operation": "uppercase"}]}`, nil},
		{"empty", ``, nil},
		{"no rules", `{"data": {"a": 1}}`, nil},
		{"all types ok", `{"rules": [
			{"type": "transform", "field": "a", "operation": "round", "digits": 2, "optional": true},
			{"type": "transform", "field": "a", "operation": "split", "separator": ";"},
			{"type": "set", "field": "b", "value": null},
			{"type": "set", "field": "b", "expr": "a + 1"},
			{"type": "rename", "field": "a", "to": "c"},
			{"type": "copy", "field": "c", "to": "d[\"x.y\"]"},
			{"type": "delete", "field": "c"},
			{"type": "filter", "field": "l", "condition": "item > n"},
			{"type": "map", "field": "l", "expr": "item * 2"},
			{"type": "sort", "field": "l", "key": "a.b", "order": "desc"},
			{"type": "aggregate", "field": "l", "operation": "avg", "key": "x", "target": "avg"},
			{"type": "validate", "condition": "len(l) > 0", "message": "empty"}]}`, nil},
		{"templates skipped", `{"rules": [
			{"type": "filter", "field": "{{ params.f }}", "condition": "item > {{ params.min }}"},
			{"type": "transform", "field": "a", "operation": "{{ params.op }}"},
			"{{ params.rule }}",
			{"type": "{{ params.type }}", "whatever": 1}]}`, nil},
		{"rules template", `{"rules": "{{ params.rules }}"}`, nil},
		{"not an object", `"x"`, []problem{{"$", weft.VType, "expected an object, found a string", ""}}},
		{"unknown input field", `{"rules": [], "dat": 1}`, []problem{{"$.dat", weft.VUnknownField, `unknown field "dat" in a process step's input`, `did you mean "data"?`}}},
		{"rules not array", `{"rules": 3}`, []problem{{"$.rules", weft.VType, "expected an array of rules, found a number", ""}}},
		{"rule not object", `{"rules": [[]]}`, []problem{{"$.rules[0]", weft.VType, `expected a rule (an object with a "type"), found an array`, ""}}},
		{"no type", `{"rules": [{"field": "a"}]}`, []problem{{"$.rules[0].type", weft.VRequired, "missing rule type", `set "type" to one of transform, set, rename, copy, delete, filter, map, sort, aggregate, validate`}}},
		{"type not string", `{"rules": [{"type": 1}]}`, []problem{{"$.rules[0].type", weft.VType, "expected a string, found a number", ""}}},
		{"unknown type", `{"rules": [{"type": "fitler"}]}`, []problem{{"$.rules[0].type", weft.VInvalidValue, `unknown rule type "fitler"`, `did you mean "filter"?`}}},
		{"unknown field", `{"rules": [{"type": "transform", "field": "a", "operation": "trim", "operaton": "x"}]}`,
			[]problem{{"$.rules[0].operaton", weft.VUnknownField, `unknown field "operaton" in a transform rule`, `did you mean "operation"?`}}},
		{"unknown field no suggestion", `{"rules": [{"type": "delete", "field": "a", "zzzzzz": 1}]}`,
			[]problem{{"$.rules[0].zzzzzz", weft.VUnknownField, `unknown field "zzzzzz" in a delete rule`, "known fields: type, field, optional"}}},
		{"missing fields", `{"rules": [{"type": "aggregate", "field": "a"}]}`, []problem{
			{"$.rules[0].operation", weft.VRequired, `an aggregate rule needs "operation"`, ""},
			{"$.rules[0].target", weft.VRequired, `an aggregate rule needs "target"`, ""}}},
		{"bad operation", `{"rules": [{"type": "transform", "field": "a", "operation": "uppercse"}, {"type": "aggregate", "field": "a", "operation": "mean", "target": "t"}]}`, []problem{
			{"$.rules[0].operation", weft.VInvalidValue, `unknown operation "uppercse" for a transform rule`, `did you mean "uppercase"?`},
			{"$.rules[1].operation", weft.VInvalidValue, `unknown operation "mean" for an aggregate rule`, "one of sum, avg, min, max, count"}}},
		{"bad path", `{"rules": [{"type": "delete", "field": "a..b"}, {"type": "copy", "field": "a", "to": ""}]}`, []problem{
			{"$.rules[0].field", weft.VInvalidValue, `field path "a..b": empty key at byte 2`, ""},
			{"$.rules[1].to", weft.VInvalidValue, "empty field path", ""}}},
		{"field not string", `{"rules": [{"type": "delete", "field": ["a"]}]}`, []problem{{"$.rules[0].field", weft.VType, "expected a string, found an array", ""}}},
		{"bad expressions", `{"rules": [{"type": "filter", "field": "a", "condition": "item >"}, {"type": "set", "field": "b", "expr": "len()"}]}`, []problem{
			{"$.rules[0].condition", weft.VExpression, "unexpected token EOF (column 6)", ""},
			{"$.rules[1].expr", weft.VExpression, "", ""}}},
		{"set both", `{"rules": [{"type": "set", "field": "b", "value": 1, "expr": "2"}]}`, []problem{{"$.rules[0].expr", weft.VInvalidValue, `a set rule takes "value" or "expr", not both`, ""}}},
		{"set neither", `{"rules": [{"type": "set", "field": "b"}]}`, []problem{{"$.rules[0].value", weft.VRequired, `a set rule needs "value" or "expr"`, ""}}},
		{"bad order", `{"rules": [{"type": "sort", "field": "a", "order": "descending"}]}`, []problem{{"$.rules[0].order", weft.VInvalidValue, `unknown order "descending"`, `use "asc" or "desc"`}}},
		{"bad digits", `{"rules": [{"type": "transform", "field": "a", "operation": "round", "digits": 1.5}, {"type": "transform", "field": "a", "operation": "round", "digits": 99}, {"type": "transform", "field": "a", "operation": "round", "digits": "2"}]}`, []problem{
			{"$.rules[0].digits", weft.VInvalidValue, "digits is 1.5: expected an integer from -15 to 15", ""},
			{"$.rules[1].digits", weft.VInvalidValue, "digits is 99: expected an integer from -15 to 15", ""},
			{"$.rules[2].digits", weft.VType, "expected an integer, found a string", ""}}},
		{"misplaced options", `{"rules": [{"type": "transform", "field": "a", "operation": "trim", "digits": 1, "separator": ","}]}`, []problem{
			{"$.rules[0].digits", weft.VInvalidValue, "digits applies to operation round only, not trim", ""},
			{"$.rules[0].separator", weft.VInvalidValue, "separator applies to operations split and join only, not trim", ""}}},
		{"optional not bool", `{"rules": [{"type": "delete", "field": "a", "optional": "yes"}]}`, []problem{{"$.rules[0].optional", weft.VType, "expected true or false, found a string", ""}}},
		{"optional on validate", `{"rules": [{"type": "validate", "condition": "true", "optional": true}]}`, []problem{{"$.rules[0].optional", weft.VUnknownField, `unknown field "optional" in a validate rule`, "known fields: type, condition, message"}}},
		{"delete root", `{"rules": [{"type": "delete", "field": "$"}, {"type": "rename", "field": "$", "to": "x"}]}`, []problem{
			{"$.rules[0].field", weft.VInvalidValue, "cannot delete the whole working value", ""},
			{"$.rules[1].field", weft.VInvalidValue, "cannot rename the whole working value", ""}}},
		{"many rules, all reported", `{"rules": [{"type": "x"}, {"type": "set", "field": "a", "value": 1}, {"type": "map", "field": "a"}]}`, []problem{
			{"$.rules[0].type", weft.VInvalidValue, `unknown rule type "x"`, "one of transform, set, rename, copy, delete, filter, map, sort, aggregate, validate"},
			{"$.rules[2].expr", weft.VRequired, `a map rule needs "expr"`, ""}}},
	}
	p := NewProcess(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.ValidateInput(json.RawMessage(tt.input))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Code != w.code || (w.msg != "" && g.Message != w.msg) || (w.msg != "" && g.Suggestion != w.sugg) {
					t.Errorf("problem %d:\n got %q %q %q %q\nwant %q %q %q %q", i, g.Path, g.Code, g.Message, g.Suggestion, w.path, w.code, w.msg, w.sugg)
				}
			}
		})
	}
}

func TestProcessCacheAndConcurrency(t *testing.T) {
	p := NewProcess(nil)
	input := `{"rules": [{"type": "filter", "field": "l", "condition": "item % k == 0"}, {"type": "aggregate", "field": "l", "operation": "count", "target": "c"}]}`
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := g%4 + 1
				out, err := procExec(t, p, input, fmt.Sprintf(`{"k": %d, "l": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "i": %d}`, k, i))
				want := fmt.Sprintf(`{"c":%d,"i":%d,"k":%d,"l":`, 12/k, i, k)
				if err != nil || !strings.HasPrefix(out, want) {
					t.Errorf("got %s, %v; want %s...", out, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	p.mu.Lock()
	n := len(p.cache)
	p.mu.Unlock()
	if n != 1 {
		t.Errorf("cache holds %d expressions, want 1", n)
	}
	// The cache is bounded.
	for i := range procCacheMax + 10 {
		if _, err := p.compile(fmt.Sprintf("item > %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.cache) > procCacheMax {
		t.Errorf("cache holds %d expressions, more than %d", len(p.cache), procCacheMax)
	}
}

func TestProcessOptions(t *testing.T) {
	p := NewProcess(&eval.Options{MemoryBudget: 1000, MaxBytes: 20})
	_, err := procExec(t, p, `{"rules": [{"type": "set", "field": "x", "expr": "repeat('x', 2000)"}]}`, `{}`)
	procWantErr(t, err, weft.CodeInvalid, "rules[0] (set): ", "memory budget of 1000")
	got := p.ValidateInput(json.RawMessage(`{"rules": [{"type": "set", "field": "x", "expr": "1 + 1 + 1 + 1 + 1 + 1 + 1"}]}`))
	if len(got) != 1 || got[0].Code != weft.VExpression || !strings.Contains(got[0].Message, "limit of 20") {
		t.Errorf("got %v", got)
	}
}

func TestProcessCanceled(t *testing.T) {
	p := NewProcess(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Execute(ctx, &weft.StepContext{
		Input: json.RawMessage(`{"rules": [{"type": "set", "field": "x", "value": 1}]}`),
		Data:  json.RawMessage(`{}`),
	})
	procWantErr(t, err, weft.CodeCanceled, "canceled")
}

func TestProcessBadData(t *testing.T) {
	p := NewProcess(nil)
	_, err := procExec(t, p, `{"rules": [{"type": "set", "field": "x", "value": 1}]}`, `{"a": 1e999}`)
	procWantErr(t, err, weft.CodeInvalid, "process step: the working value: number 1e999 is out of range")
	_, err = procExec(t, p, `{"rules": [{"type": "set", "field": "x", "value": 1}]}`, `{bad`)
	procWantErr(t, err, weft.CodeInvalid, "process step: the working value")
}
