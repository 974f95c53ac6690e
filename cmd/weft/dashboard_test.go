package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeDashboard: weft serve serves the dashboard at / without the
// token (the page asks for it), its modules under /ui/, and leaves it out
// with --no-dashboard; the API still needs the token; requests are counted
// in /metrics by route.
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
	// The requests are counted by route and status.
	m := scrape(t, srv.url, "s3cret-token")
	for series, least := range map[string]float64{
		`weft_http_requests_total{code="200",route="dashboard"}`:        2,
		`weft_http_requests_total{code="401",route="GET /api/v1/runs"}`: 1,
		`weft_http_request_duration_seconds_count{route="dashboard"}`:   2,
		`weft_http_event_streams`:                                       0,
	} {
		if v, ok := m[series]; !ok || v < least {
			t.Errorf("/metrics: %s = %v (present %v), want at least %v", series, v, ok, least)
		}
	}

	off := startServer(t, token, "--store", "memory", "--no-dashboard")
	for _, path := range []string{"/", "/ui/js/app.js"} {
		if code, _ := get(off.url + path); code != http.StatusNotFound {
			t.Errorf("--no-dashboard: GET %s: %d, want 404", path, code)
		}
	}
}
