package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestToValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`1`, 1},
		{`-7`, -7},
		{`2.0`, 2},
		{`2e3`, 2000},
		{`1.5`, 1.5},
		{`-0.0`, 0},
		{`9007199254740993`, 9007199254740993},   // exact as an int64 literal
		{`9007199254740993.0`, 9007199254740992}, // 2^53: still exact
		{`1e16`, 1e16},                           // beyond 2^53: float64
		{`123456789012345678901234567890`, 1.2345678901234568e29},
		{`{"a": [1, 2.5, "x", null, true]}`, map[string]any{"a": []any{1, 2.5, "x", nil, true}}},
		{``, nil},
		{`  `, nil},
		{`null`, nil},
	}
	for _, tt := range tests {
		got, err := ToValue(json.RawMessage(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{`{`, `1 2`, `[1,]`, `1e400`} {
		_, err := ToValue(json.RawMessage(bad))
		wantInvalid(t, err)
	}
}

func TestFromValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, `null`},
		{2.0, `2`},
		{-0.0, `0`},
		{math.Copysign(0, -1), `0`},
		{1.5, `1.5`},
		{1e21, `1e+21`},
		{1e20, `100000000000000000000`},
		{1e-7, `1e-7`},
		{int64(3), `3`},
		{uint8(4), `4`},
		{float32(0.5), `0.5`},
		{"<a&b>", `"<a&b>"`},
		{"q\"\\\n\t\x01\u2028\u2029", `"q\"\\\n\t\u0001\u2028\u2029"`},
		{"\xff", `"\ufffd"`},
		{map[string]any{"b": 1, "a": []any{true, nil}}, `{"a":[true,null],"b":1}`},
		{[]string{"x", "y"}, `["x","y"]`},
		{[]int{1, 2}, `[1,2]`},
		{map[string]int{"z": 1}, `{"z":1}`},
		{json.RawMessage(` { "a" : 1 } `), `{"a":1}`},
		{json.Number("2.0"), `2`},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), `"2024-01-02T03:04:05Z"`},
		{90 * time.Minute, `"1h30m0s"`},
		{[]byte("hi"), `"hi"`},
		{struct {
			A int `json:"a"`
		}{1}, `{"a":1}`},
	}
	for _, tt := range tests {
		got, err := FromValue(tt.in)
		if err != nil {
			t.Errorf("%#v: %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%#v: got %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), []any{math.Inf(-1)}, map[int]int{1: 1}, func() {}, make(chan int)} {
		_, err := FromValue(bad)
		wantInvalid(t, err)
	}
}

func TestFromValueMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", "tab\there", "ctl\x00\x1f\x7f", "emoji 🎉", "bad \xc3\x28 utf8", "\u2028", "<>&", `\"`}
	for _, s := range strs {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(b.String(), "\n")
		got, err := FromValue(s)
		if err != nil || string(got) != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
	for _, f := range []float64{0, 1, -1, 0.1, 1e-6, 1e-7, 123456789.125, 1e20, 1e21, 5e-324, math.MaxFloat64} {
		want, _ := json.Marshal(f)
		got, err := FromValue(f)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := map[string]any{"a": []string{"x"}, "b": 3.0, "c": int64(2), "d": []any{1.0, "s"}}
	got, err := Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{"x"}, "b": 3, "c": 2, "d": []any{1, "s"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
	if in["b"] != 3.0 {
		t.Error("Normalize modified its input")
	}
	same := map[string]any{"a": []any{1, "x"}}
	got, _ = Normalize(same)
	if reflect.ValueOf(got).Pointer() != reflect.ValueOf(same).Pointer() {
		t.Error("a value already normalized was copied")
	}
	if _, err := Normalize([]any{math.NaN()}); err == nil {
		t.Error("NaN: no error")
	}
}

func TestStringify(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"a\"b", "a\"b"},
		{2.0, "2"},
		{0.25, "0.25"},
		{true, "true"},
		{[]any{1, "x"}, `[1,"x"]`},
		{map[string]any{"k": nil}, `{"k":null}`},
	}
	for _, tt := range tests {
		got, err := Stringify(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%#v: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
