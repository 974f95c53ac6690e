package ui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft/httpapi/ui"
)

// TestJSUnits runs the dashboard modules' unit tests (testdata/unit.js) in
// Chromium: the event rule, the layout, the SSE parser, formatting.
func TestJSUnits(t *testing.T) {
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	mux.Handle("/unit/", http.StripPrefix("/unit/", http.FileServer(http.Dir("testdata"))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := browser(t)
	navigate(t, ctx, srv.URL+"/unit/unit.html")
	type result struct {
		Checks   int      `json:"checks"`
		Failures []string `json:"failures"`
	}
	res := waitJS[*result](t, ctx, 20*time.Second, "the unit tests to finish", `window.__unit || null`)
	if res.Checks < 40 {
		t.Errorf("only %d checks ran", res.Checks)
	}
	if len(res.Failures) > 0 {
		t.Errorf("%d of %d checks failed:\n%s", len(res.Failures), res.Checks, strings.Join(res.Failures, "\n"))
	}
}
