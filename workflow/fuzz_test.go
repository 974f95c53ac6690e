package workflow

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

// seedExamples adds every file in ../examples with one of the extensions.
func seedExamples(f *testing.F, exts ...string) {
	files, err := os.ReadDir("../examples")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range files {
		for _, ext := range exts {
			if strings.HasSuffix(e.Name(), ext) {
				data, err := os.ReadFile(filepath.Join("../examples", e.Name()))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(data)
			}
		}
	}
}

// checkProblems fails the test unless err is nil or ValidationErrors whose
// every entry has a path, a code and a message.
func checkProblems(t *testing.T, def *Definition, err error) {
	t.Helper()
	if err == nil {
		if def == nil || def.Workflow == nil || def.Graph == nil {
			t.Fatal("no error and no definition")
		}
		return
	}
	var ve weft.ValidationErrors
	if !errors.As(err, &ve) || len(ve) == 0 {
		t.Fatalf("error is not ValidationErrors: %v", err)
	}
	for _, e := range ve {
		if !strings.HasPrefix(e.Path, "$") || e.Code == "" || e.Message == "" {
			t.Fatalf("problem without path, code or message: %+v", e)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	seedExamples(f, ".json")
	for _, s := range []string{`{}`, `[]`, `{"id":"a","steps":{"a":{"type":"input","depends_on":["a"]}}}`,
		`{"id":"a","steps":{"a":{"type":"input","input":{"x":[1,2,{"y":null}]}}}}`, `{"id":"\ud800"}`, "\xef\xbb\xbf{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := Parse(data, &Options{Format: FormatJSON})
		checkProblems(t, def, err)
		if err == nil && !json.Valid(trimBOM(data)) {
			t.Fatalf("accepted a document encoding/json finds invalid: %q", data)
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	seedExamples(f, ".json", ".yaml")
	for _, s := range []string{"id: a\nsteps:\n  a: {type: input}\n", "a: &x [*x]", "{", "- - -", "x: !!binary aGk="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := Parse(data, &Options{Format: FormatYAML})
		checkProblems(t, def, err)
	})
}
