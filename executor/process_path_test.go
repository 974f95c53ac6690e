package executor

import (
	"reflect"
	"strings"
	"testing"
)

func TestProcParsePath(t *testing.T) {
	k := func(s string) procSeg { return procSeg{key: s} }
	ix := func(i int) procSeg { return procSeg{index: i, isIndex: true} }
	tests := []struct {
		in    string
		want  procPath
		canon string
		err   string
	}{
		{"a", procPath{k("a")}, "a", ""},
		{"a.b[0].c", procPath{k("a"), k("b"), ix(0), k("c")}, "a.b[0].c", ""},
		{"a[-1]", procPath{k("a"), ix(-1)}, "a[-1]", ""},
		{"[0]", procPath{ix(0)}, "[0]", ""},
		{"[2][3]", procPath{ix(2), ix(3)}, "[2][3]", ""},
		{"$", procPath{}, "$", ""},
		{"$.a", procPath{k("a")}, "a", ""},
		{"$[1].a", procPath{ix(1), k("a")}, "[1].a", ""},
		{"$price", procPath{k("$price")}, "$price", ""},
		{`a["b.c"].d`, procPath{k("a"), k("b.c"), k("d")}, `a["b.c"].d`, ""},
		{`["$"]`, procPath{k("$")}, `["$"]`, ""},
		{`[""]`, procPath{k("")}, `[""]`, ""},
		{`a["x\"]y"]`, procPath{k("a"), k(`x"]y`)}, `a["x\"]y"]`, ""},
		{"first name.last-name", procPath{k("first name"), k("last-name")}, "first name.last-name", ""},
		{"é.ü", procPath{k("é"), k("ü")}, "é.ü", ""},
		{"", nil, "", "empty field path"},
		{".a", nil, "", `unexpected '.' at byte 0`},
		{"a.", nil, "", "empty key at byte 2"},
		{"a..b", nil, "", "empty key at byte 2"},
		{"$.", nil, "", "empty key at byte 2"},
		{"$a.b[", nil, "", "missing ']'"},
		{"a]", nil, "", `unexpected ']' at byte 1`},
		{"a[x]", nil, "", `expected an index or a quoted key in [] at byte 1, found "x"`},
		{"a[]", nil, "", "expected an index"},
		{"a[01]", nil, "", "expected an index"},
		{"a[+1]", nil, "", "expected an index"},
		{"a[-0]", nil, "", "expected an index"},
		{"a[99999999999]", nil, "", "expected an index"},
		{`a["b"`, nil, "", "missing ']'"},
		{`a["b]`, nil, "", "unterminated quoted key"},
		{`a["\x"]`, nil, "", "bad quoted key"},
		{"a[0]b", nil, "", `unexpected 'b' at byte 4`},
		{`a["b"]c`, nil, "", `unexpected 'c' at byte 6`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := procParsePath(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if s := got.String(); s != tt.canon {
				t.Errorf("String() = %q, want %q", s, tt.canon)
			}
		})
	}
}

func TestProcGetSetDelete(t *testing.T) {
	orig := map[string]any{"a": map[string]any{"b": []any{1, map[string]any{"c": "x"}}}, "n": 1}
	p := func(s string) procPath {
		pp, err := procParsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		return pp
	}
	if v, ok := procGet(orig, p("a.b[1].c")); !ok || v != "x" {
		t.Errorf("get = %v, %v", v, ok)
	}
	if v, ok := procGet(orig, p("a.b[-2]")); !ok || v != 1 {
		t.Errorf("get -2 = %v, %v", v, ok)
	}
	for _, miss := range []string{"x", "a.x", "a.b[2]", "a.b[-3]", "n.x", "n[0]", "a[0]", "[0]"} {
		if v, ok := procGet(orig, p(miss)); ok {
			t.Errorf("get %s = %v, want missing", miss, v)
		}
	}
	if v, ok := procGet(orig, p("$")); !ok || !reflect.DeepEqual(v, orig) {
		t.Error("get $")
	}

	set, err := procSet(orig, p("a.b[1].c"), "y")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := procGet(set, p("a.b[1].c")); v != "y" {
		t.Errorf("after set: %v", v)
	}
	if v, _ := procGet(orig, p("a.b[1].c")); v != "x" {
		t.Error("set modified the original")
	}
	set, err = procSet(nil, p("x.y.z"), 1)
	if err != nil || !reflect.DeepEqual(set, map[string]any{"x": map[string]any{"y": map[string]any{"z": 1}}}) {
		t.Errorf("set on nil: %v, %v", set, err)
	}
	for _, bad := range []string{"n.x", "a.b[5]", "a[0]", "a.b[0].c"} {
		if _, err := procSet(orig, p(bad), 1); err == nil {
			t.Errorf("set %s: no error", bad)
		}
	}

	del, found := procDelete(orig, p("a.b[0]"))
	if !found || !reflect.DeepEqual(del, map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": "x"}}}, "n": 1}) {
		t.Errorf("delete: %v, %v", del, found)
	}
	if len(orig["a"].(map[string]any)["b"].([]any)) != 2 {
		t.Error("delete modified the original")
	}
	del, found = procDelete(orig, p("a.b[1].c"))
	if !found || !reflect.DeepEqual(del, map[string]any{"a": map[string]any{"b": []any{1, map[string]any{}}}, "n": 1}) {
		t.Errorf("delete nested: %v", del)
	}
	for _, miss := range []string{"$", "x", "a.x", "a.b[9]", "n.x", "a.b[0].c", "[0]"} {
		if _, found := procDelete(orig, p(miss)); found {
			t.Errorf("delete %s: found", miss)
		}
	}
}

func FuzzProcParsePath(f *testing.F) {
	for _, s := range []string{"a", "a.b[0].c", "$", "$.a[-1]", `a["b.c"]`, "[0][1]", "a..b", `["\u00e9\n"]`, "$price", "a[", `a["`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := procParsePath(s)
		if err != nil {
			if !strings.Contains(err.Error(), "field path") {
				t.Fatalf("error %q does not say it is about a field path", err)
			}
			return
		}
		canon := p.String()
		q, err := procParsePath(canon)
		if err != nil {
			t.Fatalf("%q: canonical form %q does not parse: %v", s, canon, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("%q: %#v, canonical %q gives %#v", s, p, canon, q)
		}
		if q.String() != canon {
			t.Fatalf("%q: canonical form not stable: %q then %q", s, canon, q.String())
		}
		// Paths work on any value without panicking.
		v := map[string]any{"a": []any{1, map[string]any{"b": "c"}}}
		procGet(v, p)
		_, _ = procSet(v, p, 1)
		procDelete(v, p)
	})
}
