package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/httpapi"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, &options{token: "s3cret-token"})
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"missing", "", 401},
		{"wrong", "Bearer nope", 401},
		{"wrong scheme", "Basic s3cret-token", 401},
		{"prefix of the token", "Bearer s3cret", 401},
		{"right", "Bearer s3cret-token", 200},
		{"right, lower-case scheme", "bearer s3cret-token", 200},
	} {
		for _, path := range []string{"/api/v1/runs", "/api/v1/workflows", "/metrics", "/readyz", "/api/v1/openapi.json"} {
			a := h.do("GET", path, "", nil, "Authorization", tc.header)
			if path == "/metrics" && tc.status == 200 {
				// No metrics handler configured: past auth, 404.
				a.wantError(t, 404, httpapi.CodeNotFound)
				continue
			}
			if a.status != tc.status {
				t.Errorf("%s: GET %s: %d, want %d", tc.name, path, a.status, tc.status)
			}
			if tc.status == 401 {
				a.wantError(t, 401, httpapi.CodeUnauthorized)
				if a.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: no WWW-Authenticate", tc.name)
				}
				if strings.Contains(string(a.body), "s3cret-token") {
					t.Errorf("%s: the answer holds the token", tc.name)
				}
			}
		}
	}
	if a := h.do("GET", "/healthz", "", nil, "Authorization", ""); a.status != 200 {
		t.Errorf("healthz without a token: %d", a.status)
	}
}

func TestMetricsPublic(t *testing.T) {
	h := newHarness(t, &options{token: "t", api: func(c *httpapi.Config) {
		c.MetricsPublic = true
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("weft_up 1\n")) })
	}})
	a := h.do("GET", "/metrics", "", nil, "Authorization", "")
	if a.status != 200 || string(a.body) != "weft_up 1\n" {
		t.Fatalf("public metrics: %d %q", a.status, a.body)
	}
	h.do("GET", "/api/v1/runs", "", nil, "Authorization", "").wantError(t, 401, httpapi.CodeUnauthorized)
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, &options{api: func(c *httpapi.Config) { c.MaxBodyBytes = 1024 }})
	big := fmt.Sprintf(`{"id": "big", "description": %q, "steps": {"a": {"type": "input"}}}`, strings.Repeat("x", 2000))
	h.do("POST", "/api/v1/workflows", "application/json", []byte(big)).wantError(t, 413, httpapi.CodeTooLarge)
	h.do("POST", "/api/v1/runs", "application/json", inlineRun(big)).wantError(t, 413, httpapi.CodeTooLarge)
}

func TestStepLimit(t *testing.T) {
	h := newHarness(t, &options{api: func(c *httpapi.Config) { c.Limits = weft.Limits{MaxSteps: 5} }})
	var steps []string
	for i := range 6 {
		steps = append(steps, `"s`+strconv.Itoa(i)+`": {"type": "input"}`)
	}
	doc := `{"id": "wide", "steps": {` + strings.Join(steps, ",") + `}}`
	e := h.do("POST", "/api/v1/workflows", "application/json", []byte(doc)).wantError(t, 422, httpapi.CodeInvalidWorkflow)
	if !strings.Contains(e.Error.Message, "5") {
		t.Errorf("message %q does not give the limit", e.Error.Message)
	}
	h.do("POST", "/api/v1/runs", "application/json", inlineRun(doc)).wantError(t, 422, httpapi.CodeInvalidWorkflow)
}

func TestQueueFull(t *testing.T) {
	h := newHarness(t, &options{engine: func(c *engine.Config) { c.MaxUnfinishedRuns = 2 }})
	first := h.startRun([]byte(`{"workflow": ` + blockWorkflow + `, "idempotency_key": "a"}`))
	h.startRun(inlineRun(blockWorkflow))
	a := h.do("POST", "/api/v1/runs", "application/json", inlineRun(blockWorkflow))
	a.wantError(t, 429, httpapi.CodeQueueFull)
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
	}
	// An idempotent resubmission is not a new run: still answered.
	b := h.do("POST", "/api/v1/runs", "application/json", []byte(`{"workflow": `+blockWorkflow+`, "idempotency_key": "a"}`))
	var same httpapi.RunSummary
	b.json(t, &same)
	if b.status != 200 || same.RunID != first.RunID {
		t.Fatalf("idempotent resubmission at the limit: %d %s", b.status, b.body)
	}
	h.releaseAll()
	h.wait(first.RunID)
	h.startRun(inlineRun(basicWorkflow))
}
