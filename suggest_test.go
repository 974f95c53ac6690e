package weft

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"depends_on", "timeout", "type", "input", "max_retries"}
	for _, tt := range []struct{ name, want string }{
		{"dependson", "depends_on"}, {"timout", "timeout"}, {"tpye", "type"}, {"TYPE", "type"},
		{"inputs", "input"}, {"max_retry", "max_retries"}, {"xyz", ""}, {"descriptionxx", ""},
	} {
		if got := Closest(tt.name, known); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := DidYouMean("timout", known); got != `did you mean "timeout"?` {
		t.Errorf("DidYouMean = %q", got)
	}
}
