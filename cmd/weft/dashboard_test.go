package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeDashboard: weft serve serves the dashboard at / without the
// token (the page asks for it), its modules under /ui/, and leaves it out
// with --no-dashboard; the API still needs the token.
func TestServeDashboard(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	token := []string{envAPIToken + "=s3cret-token"}
	srv := startServer(t, token, "--store", "memory")
	if code, body := get(srv.url + "/"); code != 200 || !strings.Contains(body, `<script type="module" src="/ui/js/app.js">`) {
		t.Errorf("GET /: %d, want 200 and the dashboard page; got %.200s", code, body)
	}
	if code, body := get(srv.url + "/ui/js/dag.js"); code != 200 || !strings.Contains(body, "export class DAG") {
		t.Errorf("GET /ui/js/dag.js: %d, want 200 and the module", code)
	}
	if code, _ := get(srv.url + "/api/v1/runs"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/runs without the token: %d, want 401", code)
	}

	off := startServer(t, token, "--store", "memory", "--no-dashboard")
	for _, path := range []string{"/", "/ui/js/app.js"} {
		if code, _ := get(off.url + path); code != http.StatusNotFound {
			t.Errorf("--no-dashboard: GET %s: %d, want 404", path, code)
		}
	}
}
