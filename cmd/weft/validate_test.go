package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// invalidDocs lists testdata/invalid/*.json, sorted.
func invalidDocs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("testdata/invalid: %v, %d files", err, len(files))
	}
	return files
}

func TestValidateGolden(t *testing.T) {
	files := append([]string{"../../examples/seed_basic.json", "../../examples/seed_parallel.json"}, invalidDocs(t)...)
	files = append(files, "testdata/missing.json")

	r := cli(t, append([]string{"validate"}, files...)...)
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d", r.code, exitUsage)
	}
	golden(t, "validate.stdout", r.stdout)
	golden(t, "validate.stderr", r.stderr)

	r = cli(t, append([]string{"validate", "--json"}, files...)...)
	if r.code != exitUsage || r.stderr != "" {
		t.Errorf("--json: exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "validate.json", r.stdout)
}

// TestValidateEachInvalidDoc checks that every document in
// testdata/invalid is refused on its own, in both modes, with nothing on
// the other stream.
func TestValidateEachInvalidDoc(t *testing.T) {
	for _, file := range invalidDocs(t) {
		r := cli(t, "validate", file)
		if r.code != exitUsage || r.stdout != "" || !strings.HasPrefix(r.stderr, file+": $") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", file, r.code, r.stdout, r.stderr)
		}
		r = cli(t, "validate", "--json", file)
		if r.code != exitUsage || r.stderr != "" || !strings.HasPrefix(r.stdout, "[\n  {\n    \"file\": \""+file+"\",\n") {
			t.Errorf("%s --json: exit %d, stdout %q, stderr %q", file, r.code, r.stdout, r.stderr)
		}
	}
}

func TestValidate(t *testing.T) {
	const basic, parallel = "../../examples/seed_basic.json", "../../examples/seed_parallel.json"
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"one valid", []string{basic}, exitOK,
			basic + ": ok (2 steps)\n", ""},
		{"two valid", []string{basic, parallel}, exitOK,
			basic + ": ok (2 steps)\n" + parallel + ": ok (6 steps)\n", ""},
		{"valid json", []string{"--json", basic, parallel}, exitOK,
			"[]\n", ""},
		{"json flag after the files", []string{basic, "--json"}, exitOK,
			"[]\n", ""},
		{"invalid", []string{"testdata/invalid/cycle.json"}, exitUsage,
			"", "testdata/invalid/cycle.json: $.steps.fetch.depends_on: dependency cycle: fetch -> store -> parse -> fetch (remove one of these dependencies)\n"},
		{"valid then invalid", []string{basic, "testdata/invalid/unknown_dependency.json"}, exitUsage,
			basic + ": ok (2 steps)\n",
			"testdata/invalid/unknown_dependency.json: $.steps.process_data.depends_on[0]: step \"process_data\" depends on \"colect_data\", which is not a step of this workflow (did you mean \"collect_data\"?)\n"},
		{"missing file", []string{"testdata/missing.json"}, exitUsage,
			"", "testdata/missing.json: cannot read: no such file or directory\n"},
		{"missing file json", []string{"--json", "testdata/missing.json"}, exitUsage,
			`[
  {
    "file": "testdata/missing.json",
    "path": "$",
    "code": "unreadable",
    "message": "cannot read: no such file or directory",
    "suggestion": ""
  }
]
`, ""},
		{"directory", []string{"testdata"}, exitUsage,
			"", "testdata: cannot read: is a directory\n"},
		{"missing file among valid ones", []string{basic, "testdata/missing.json", parallel}, exitUsage,
			basic + ": ok (2 steps)\n" + parallel + ": ok (6 steps)\n", "testdata/missing.json: cannot read: no such file or directory\n"},
		{"max-steps", []string{"--max-steps", "5", parallel, basic}, exitUsage,
			basic + ": ok (2 steps)\n", parallel + ": $.steps: more than 5 steps (split the workflow or raise the step limit)\n"},
		{"max-steps at the limit", []string{"--max-steps=6", parallel}, exitOK,
			parallel + ": ok (6 steps)\n", ""},
		{"max-bytes", []string{"--max-bytes", "356", basic}, exitUsage,
			"", basic + ": $: the document is 357 bytes, more than the limit of 356 (split the workflow or raise the document size limit)\n"},
		{"max-bytes at the limit", []string{"--max-bytes", "357", basic}, exitOK,
			basic + ": ok (2 steps)\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli(t, append([]string{"validate"}, tt.args...)...).expect(t, tt.code, tt.stdout, tt.stderr)
		})
	}
}

// TestBadInput feeds documents built to hurt and expects each to be
// refused quickly with exit 2 and one clear line, never a panic.
func TestBadInput(t *testing.T) {
	step := func(id string) string { return `{"id": "bad", "steps": {"` + id + `": {"type": "input"}}}` }
	long := strings.Repeat("a", 129)
	tests := []struct {
		name  string
		file  string
		write func(path string) error
		line  string // the line after "FILE: "
		code  string // the problem code of validate --json
	}{
		{"not an object", "array.json", content(`[1]`),
			"$: expected an object (the workflow document), found an array", "type"},
		{"empty steps", "empty_steps.json", content(`{"id": "bad", "steps": {}}`),
			"$.steps: a workflow needs at least one step", "empty"},
		{"step id with spaces", "space.json", content(step("my step")),
			`$.steps["my step"]: step id "my step" has characters outside [A-Za-z0-9_.-] (try "my_step")`, "invalid_id"},
		{"workflow id with spaces", "space_workflow.json", content(`{"id": "my workflow", "steps": {"a": {"type": "input"}}}`),
			`$.id: workflow id "my workflow" has characters outside [A-Za-z0-9_.-] (try "my_workflow")`, "invalid_id"},
		{"id over 128 bytes", "long_id.json", content(step(long)),
			"$.steps." + long + ": step id is 129 bytes, more than 128 (try \"" + long[:128] + "\")", "invalid_id"},
		{"depends_on as a string", "depends_on_string.json",
			content(`{"id": "bad", "steps": {"a": {"type": "input"}, "b": {"type": "process", "depends_on": "a"}}}`),
			`$.steps.b.depends_on: expected an array of step ids, found a string (write "depends_on": ["a", "b"])`, "type"},
		{"10,000-deep nesting in input", "deep.json",
			content(`{"id": "bad", "steps": {"a": {"type": "input", "input": {"data": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}}}`),
			"$.steps.a.input.data" + strings.Repeat("[0]", 124) + ": nesting deeper than 128 levels (flatten the data or raise the depth limit)", "too_deep"},
		{"50 MB document", "huge.json", hugeDocument(50 << 20),
			"$: the document is 52428800 bytes, more than the limit of 10485760 (split the workflow or raise the document size limit)", "limit_exceeded"},
		{"invalid UTF-8", "latin1.json", content("{\"id\": \"bad\", \"steps\": {\"a\": {\"type\": \"input\", \"description\": \"caf\xe9\"}}}"),
			"$.steps.a.description: invalid UTF-8 byte 0xe9 at offset 66 (save the document as UTF-8)", "invalid_utf8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := tt.write(path); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := cli(t, "validate", path)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			r.expect(t, exitUsage, "", path+": "+tt.line+"\n")

			r = cli(t, "validate", "--json", path)
			if r.code != exitUsage || r.stderr != "" || strings.Count(r.stdout, `"code"`) != 1 || !strings.Contains(r.stdout, `"code": "`+tt.code+`"`) {
				t.Errorf("--json: exit %d, stderr %q, stdout:\n%s\nwant one problem with code %q", r.code, r.stderr, r.stdout, tt.code)
			}
		})
	}
}

func content(s string) func(string) error {
	return func(path string) error { return os.WriteFile(path, []byte(s), 0o644) }
}

// hugeDocument writes a well-formed workflow of size bytes, most of them in
// one step's input.
func hugeDocument(size int) func(string) error {
	return func(path string) error {
		head := `{"id": "huge", "steps": {"a": {"type": "input", "input": {"data": "`
		tail := `"}}}}`
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		_, err = f.WriteString(head)
		for n := size - len(head) - len(tail); n > 0 && err == nil; n -= len(chunk) {
			_, err = f.Write(chunk[:min(n, len(chunk))])
		}
		if err == nil {
			_, err = f.WriteString(tail)
		}
		return errors.Join(err, f.Close())
	}
}

// TestYAML checks YAML documents: a plain one is valid, and an anchor bomb
// (9 levels of 9 aliases each, billions of nodes once expanded) is refused
// quickly with one line. It needs the YAML reader, workflow/yaml.go.
func TestYAML(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "basic.yaml")
	if err := os.WriteFile(plain, []byte(`id: simple_workflow
steps:
  collect_data:
    type: input
    input: {data: {message: hello}}
    depends_on: []
  process_data:
    type: process
    input:
      rules: [{type: transform, field: message, operation: uppercase}]
    depends_on: [collect_data]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "validate", plain)
	r.expect(t, exitOK, plain+": ok (2 steps)\n", "")
	if r.code != exitOK {
		t.Log("a plain YAML workflow is refused: is workflow/yaml.go in?")
	}

	bomb := filepath.Join(dir, "bomb.yaml")
	if err := os.WriteFile(bomb, []byte(anchorBomb(9, 9)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate", bomb}, {"plan", bomb}} {
		done := make(chan result, 1)
		go func() { done <- cli(t, args...) }()
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("weft %s: the anchor bomb was not refused within 10s", args[0])
		}
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != exitUsage || r.stdout != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], bomb+": $") ||
			strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("weft %s on an anchor bomb: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and one line %q",
				args[0], r.code, r.stdout, r.stderr, bomb+": $…")
		}
	}
}

// anchorBomb returns a YAML workflow whose input holds a billion-laughs
// bomb: levels lists of aliases, each of width aliases to the previous
// list.
func anchorBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("id: bomb\nsteps:\n  a:\n    type: input\n    input:\n      data:\n")
	b.WriteString("        l0: &l0 [" + strings.TrimSuffix(strings.Repeat("lol, ", width), ", ") + "]\n")
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "        l%d: &l%d [%s]\n", l, l, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", l-1), width), ", "))
	}
	return b.String()
}
