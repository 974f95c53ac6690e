package executor

import (
	"slices"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

func TestNewRegistry(t *testing.T) {
	reg, err := NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Types(); !slices.Equal(got, weft.BuiltinTypes) {
		t.Fatalf("Types() = %v, want %v", got, weft.BuiltinTypes)
	}
	for _, name := range []string{"input", "output", "ai"} {
		exec, err := reg.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := exec.(weft.InputValidator); !ok {
			t.Errorf("%s does not validate its input", name)
		}
	}

	if _, err := NewRegistry(&Config{AllowHosts: []string{"10.0.0.0/8", "*.internal"}}); err == nil ||
		!strings.Contains(err.Error(), `"*.internal"`) {
		t.Errorf("NewRegistry with a malformed allow-list entry: %v, want an error naming it", err)
	}
}

func TestStepInputSuggest(t *testing.T) {
	known := []string{"destination", "format", "url", "data"}
	tests := map[string]string{
		"destnation": `did you mean "destination"?`,
		"FORMAT":     `did you mean "format"?`,
		"uri":        `did you mean "url"?`,
		"dat":        `did you mean "data"?`,
		"xyz":        "",
		"templates":  "",
	}
	for name, want := range tests {
		if got := stepInputSuggest(name, known); got != want {
			t.Errorf("stepInputSuggest(%q) = %q, want %q", name, got, want)
		}
	}
}
