package executor

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

// Output to files: what is written under the output directory, and the
// paths refused.

func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	o := newTestOutput(t, Config{OutputDir: dir})
	tests := []struct {
		input, file, want string
	}{
		{`{"destination": "file", "path": "out.json"}`, "out.json", "{\"a\":1}\n"},
		{`{"destination": "file", "path": "reports/2025/day.json", "data": [1, 2]}`, "reports/2025/day.json", "[1,2]\n"},
		{`{"destination": "file", "path": "./notes.txt", "format": "text", "data": "plain"}`, "notes.txt", "plain"},
		{`{"destination": "file", "path": "r.md", "template": "# Report\n"}`, "r.md", "# Report\n"},
	}
	for _, tt := range tests {
		out, err := o.Execute(context.Background(), outputStep(tt.input))
		if err != nil {
			t.Fatalf("%s: %v", tt.input, err)
		}
		if len(out) == 0 {
			t.Errorf("%s: empty output", tt.input)
		}
		got, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: file %s = %q (%v), want %q", tt.input, tt.file, got, err, tt.want)
		}
	}

	// Replacement is atomic: a reader holding the old file keeps reading
	// the old content in full, and no temporary file is left behind.
	old, err := os.Open(filepath.Join(dir, "out.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := o.Execute(context.Background(), outputStep(`{"destination": "file", "path": "out.json", "data": {"b": 2}}`)); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(old); string(b) != "{\"a\":1}\n" {
		t.Errorf("the old file was changed in place: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.json")); string(b) != "{\"b\":2}\n" {
		t.Errorf("new content = %q", b)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestOutputFileRefused(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, input, want string
	}{
		{"absolute path", dir, `{"destination": "file", "path": "/etc/passwd"}`, "is absolute"},
		{"parent element", dir, `{"destination": "file", "path": "../x.json"}`, `has a ".." element`},
		{"inner parent element", dir, `{"destination": "file", "path": "a/../../x.json"}`, `has a ".." element`},
		{"directory", dir, `{"destination": "file", "path": "a/"}`, "names a directory"},
		{"no path", dir, `{"destination": "file"}`, `destination "file" needs a path`},
		{"no output directory", "", `{"destination": "file", "path": "x.json"}`, "no output directory configured (--output-dir)"},
		{"symlink out of the directory", dir, `{"destination": "file", "path": "escape/x.json"}`, "escape/x.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOutput(t, Config{OutputDir: tt.dir})
			_, err := o.Execute(context.Background(), outputStep(tt.input))
			outputWantCode(t, err, weft.CodeInvalid, false)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a file was written outside the output directory: %v", entries)
	}
}
