package workflow

import (
	"errors"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

const locateJSON = `{
  "id": "w",
  "steps": {
    "a.b": {"type": "input"},
    "fetch": {
      "type": "process",
      "depends_on": ["a.b", "nope"],
      "input": {"é": "ü", "x": [1, {"y": 2}]}
    }
  }
}`

const locateYAML = `id: w
defaults: &d
  type: process
  retry: {max_retries: 2}
steps:
  'a.b': {type: input}
  fetch:
    <<: *d
    depends_on:
      - a.b
      - nope
    input: {é: ü, x: [1, {y: 2}]}
  "q\"k": !!map
    type: input
  again: *d
`

func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name, doc, path string
		line, col       int
	}{
		{"json root", locateJSON, "$", 1, 1},
		{"json member", locateJSON, "$.id", 2, 3},
		{"json quoted key", locateJSON, `$.steps["a.b"]`, 4, 5},
		{"json inside quoted key", locateJSON, `$.steps["a.b"].type`, 4, 13},
		{"json element", locateJSON, "$.steps.fetch.depends_on[1]", 7, 29},
		{"json characters", locateJSON, `$.steps.fetch.input.x[1].y`, 8, 37},
		{"json missing field", locateJSON, "$.steps.fetch.retry", 5, 5},
		{"json missing element", locateJSON, "$.steps.fetch.depends_on[7]", 7, 7},
		{"json missing step", locateJSON, `$.steps["x y"].type`, 3, 3},
		{"yaml root", locateYAML, "$", 1, 1},
		{"yaml member", locateYAML, "$.steps", 5, 1},
		{"yaml quoted key", locateYAML, `$.steps["a.b"].type`, 6, 11},
		{"yaml double-quoted key and tag", locateYAML, `$.steps["q\"k"].type`, 14, 5},
		{"yaml element", locateYAML, "$.steps.fetch.depends_on[1]", 11, 9},
		{"yaml characters", locateYAML, "$.steps.fetch.input.x[1].y", 12, 27},
		{"yaml merged key", locateYAML, "$.steps.fetch.retry.max_retries", 4, 11},
		{"yaml alias", locateYAML, "$.steps.again.type", 3, 3},
		{"yaml missing field", locateYAML, "$.steps.fetch.timeout", 7, 3},
		{"malformed path", locateJSON, "$.steps..x", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, col, ok := Locate([]byte(tc.doc), tc.path)
			if !ok || line != tc.line || col != tc.col {
				t.Errorf("Locate(%s) = %d:%d %v, want %d:%d", tc.path, line, col, ok, tc.line, tc.col)
			}
		})
	}
	for _, doc := range []string{"", "{", "id: [", "\xff: 1"} {
		if line, col, ok := Locate([]byte(doc), "$.id"); ok && doc != "{" {
			t.Errorf("Locate in %q = %d:%d, want not found", doc, line, col)
		}
	}
}

// at returns the text of doc from a position on.
func at(doc string, p Position) string {
	lines := strings.Split(doc, "\n")
	if p.Line < 1 || p.Line > len(lines) {
		return "?"
	}
	r := []rune(lines[p.Line-1])
	if p.Column < 1 || p.Column > len(r)+1 {
		return "?"
	}
	return string(r[p.Column-1:])
}

func TestLocateErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		doc    string
		want   map[string]string // by problem path: what the text at its position starts with
	}{
		{"json problems", FormatJSON, `{"id": "w", "steps": {
  "a": {"type": "input", "depends_on": ["zz"], "colour": 1},
  "b": {"depends_on": ["a"]},
  "c": {"type": "input"},
  "c": {"type": "input"}
}}`, map[string]string{"$.steps.a.depends_on[0]": `"zz"`, "$.steps.a.colour": `"colour"`, "$.steps.b.type": `"b"`, "$.steps.c": `"c": {"type": "input"}`}},
		{"json syntax", FormatJSON, `{"id": "é", "steps": {"a": {"type": "input",}}}`, map[string]string{"$.steps.a": `}}}`}},
		{"json truncated", FormatJSON, "{\"id\": \"w\",\n \"steps\": {\"a\": ", map[string]string{"$.steps.a": ""}},
		{"yaml problems", FormatYAML, `id: w
steps:
  a:
    type: input
    depends_on: [zz]
    colour: 1
  b:
    depends_on: [a]
`, map[string]string{"$.steps.a.depends_on[0]": "zz]", "$.steps.a.colour": "colour", "$.steps.b.type": "b:"}},
		{"yaml duplicate", FormatYAML, "id: w\nsteps:\n  a: {type: input}\n  a: {type: input}\n", map[string]string{"$.steps.a": "a: {type: input}"}},
		{"yaml syntax", FormatYAML, "id: w\nsteps:\n  a: {type: input\n  b: [\n", map[string]string{"$": ""}},
		{"yaml too deep", FormatYAML, "id: w\nsteps:\n" + strings.Repeat("  ", 1) + strings.Repeat("[", 200) + "\n", map[string]string{"$": "["}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &Options{Format: tc.format}
			_, err := Parse([]byte(tc.doc), opts)
			var ve weft.ValidationErrors
			if !errors.As(err, &ve) {
				t.Fatalf("Parse: %v", err)
			}
			pos := LocateErrors([]byte(tc.doc), opts, ve)
			if len(pos) != len(ve) || len(ve) != len(tc.want) {
				t.Fatalf("%d positions for %d problems, want %d: %v", len(pos), len(ve), len(tc.want), ve)
			}
			for i, p := range pos {
				if !p.Known() {
					t.Errorf("%v: no position", ve[i])
					continue
				}
				got := at(tc.doc, p)
				want, ok := tc.want[ve[i].Path]
				if !ok {
					t.Errorf("unexpected problem %v", ve[i])
				}
				if !strings.HasPrefix(got, want) {
					t.Errorf("%v: at %d:%d is %q, want %q", ve[i], p.Line, p.Column, got, want)
				}
			}
		})
	}
}

func TestLocateDuplicateKeyJSON(t *testing.T) {
	doc := "{\"id\": \"w\", \"id\": \"v\",\n\"steps\": {\"a\": {\"type\": \"input\"}}}"
	_, err := Parse([]byte(doc), &Options{Format: FormatJSON})
	var ve weft.ValidationErrors
	if !errors.As(err, &ve) || len(ve) != 1 || ve[0].Code != weft.VDuplicateKey {
		t.Fatalf("Parse: %v", err)
	}
	if p := LocateErrors([]byte(doc), nil, ve)[0]; p != (Position{1, 13}) {
		t.Errorf("duplicate id at %+v, want 1:13", p)
	}
}

func TestLocateByteOrderMarkAndCR(t *testing.T) {
	if line, col, _ := Locate([]byte("\uFEFF{\"id\": 1}"), "$.id"); line != 1 || col != 2 {
		t.Errorf("after a BOM: %d:%d, want 1:2", line, col)
	}
	if line, col, _ := Locate([]byte("id: w\r\nsteps:\r\n  a: 1\r\n"), "$.steps.a"); line != 3 || col != 3 {
		t.Errorf("CRLF: %d:%d, want 3:3", line, col)
	}
}

func TestParsePath(t *testing.T) {
	for _, p := range []string{"$", "$.a", `$.steps["a.b"].depends_on[12]`, `$["é\n"][0][1].x-y_z`, `$.a["]"]`} {
		segs, ok := parsePath(p)
		if !ok || renderPath(segs) != p {
			t.Errorf("parsePath(%s) = %v %v, renders %s", p, segs, ok, renderPath(segs))
		}
	}
	for _, p := range []string{"", "x", "$.", "$..a", `$["a"`, `$["a]`, "$[x]", "$[-1]", "$[1", "$a"} {
		if _, ok := parsePath(p); ok {
			t.Errorf("parsePath(%q) ok", p)
		}
	}
}

func TestDeclaredID(t *testing.T) {
	for doc, want := range map[string]string{
		`{"id": "w", "steps": {"a": {"type": "nope"}}}`: "w",
		`{"steps": {}, "id": "x y"}`:                    "x y",
		`{"id": "w", "steps": {`:                        "w",
		`{"id": 3}`:                                     "",
		"id: y\nsteps: {a: {type: nope}}\n":             "y",
		"id: [":                                         "",
	} {
		if got := DeclaredID([]byte(doc), nil); got != want {
			t.Errorf("DeclaredID(%q) = %q, want %q", doc, got, want)
		}
	}
}

// FuzzLocate checks that LocateErrors never panics and places problems
// inside the document.
func FuzzLocate(f *testing.F) {
	seedExamples(f, ".json", ".yaml")
	for _, s := range []string{locateJSON, locateYAML, "{", "a: &x [*x]", "<<: *y", "a: {<<: [*a, *b]}", `{"a": [1, {"b": }]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatJSON, FormatYAML} {
			opts := &Options{Format: format}
			_, err := Parse(data, opts)
			var ve weft.ValidationErrors
			errors.As(err, &ve)
			ve = append(ve, weft.ValidationError{Path: "$.steps.a.depends_on[0]"}, weft.ValidationError{Path: `$["<<"].x`})
			lines := newLineIndex(trimBOM(data), format == FormatYAML)
			for i, p := range LocateErrors(data, opts, ve) {
				if p.Known() && (p.Line > len(lines) || p.Column < 1) {
					t.Fatalf("%v: position %d:%d outside a document of %d lines", ve[i], p.Line, p.Column, len(lines))
				}
			}
		}
	})
}

// BenchmarkLocateErrors measures placing the problems of a 10,000-step
// document with one unknown step type in ten: JSON, and YAML (the same
// document, which the YAML parser reads as a flow mapping).
func BenchmarkLocateErrors(b *testing.B) {
	doc := layeredDocument(100, 100, 3)
	n := 0
	doc = []byte(replaceEvery(string(doc), `"type": "process"`, 10, func() string { n++; return `"type": "prcess"` }))
	for _, format := range []Format{FormatJSON, FormatYAML} {
		b.Run([]string{FormatJSON: "json", FormatYAML: "yaml"}[format], func(b *testing.B) {
			opts := &Options{Format: format}
			_, err := Parse(doc, opts)
			var ve weft.ValidationErrors
			if !errors.As(err, &ve) || len(ve) != n {
				b.Fatalf("%d problems, want %d: %v", len(ve), n, err)
			}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				pos := LocateErrors(doc, opts, ve)
				if !pos[len(pos)-1].Known() {
					b.Fatal("not placed")
				}
			}
		})
	}
}

// replaceEvery replaces every k-th occurrence of old in s with what repl
// returns.
func replaceEvery(s, old string, k int, repl func() string) string {
	parts := strings.Split(s, old)
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if i%k == 0 {
				b.WriteString(repl())
			} else {
				b.WriteString(old)
			}
		}
		b.WriteString(p)
	}
	return b.String()
}
