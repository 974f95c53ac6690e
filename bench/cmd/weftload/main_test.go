package main

import (
	"strings"
	"testing"
)

// TestLoadSmall runs the load program on a small load: it must accept
// every submission and find every run succeeded.
func TestLoadSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weft and starts weft serve")
	}
	var out strings.Builder
	if err := run(&out, 300, 10, 4, "sqlite", ""); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"accepted        300 runs", "every run checked", "server peak RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
