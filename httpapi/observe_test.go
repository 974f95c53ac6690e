package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft/httpapi"
)

// recorder is a RequestObserver that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	requests []string // "route status stream"
	streams  []int
}

func (r *recorder) ObserveRequest(route string, status int, d time.Duration, stream bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		panic("negative duration")
	}
	r.requests = append(r.requests, fmt.Sprintf("%s %d %v", route, status, stream))
}

func (r *recorder) ObserveStream(delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streams = append(r.streams, delta)
}

func (r *recorder) take() ([]string, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req, st := r.requests, r.streams
	r.requests, r.streams = nil, nil
	return req, st
}

// Every request is reported once with its route pattern (bounded labels:
// ids never appear), its status and whether it was a stream, including the
// ones refused before their handler runs (401, 404, 405).
func TestRequestObserver(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, &options{token: "tok", api: func(c *httpapi.Config) { c.Requests = rec }})
	run := h.startRun(inlineRun(basicWorkflow))
	rec.take()

	tests := []struct {
		name   string
		send   func()
		want   string
		stream bool
	}{
		{"a run", func() { h.do("GET", "/api/v1/runs/"+run.RunID, "", nil) }, "GET /api/v1/runs/{id} 200 false", false},
		{"an unknown run", func() { h.do("GET", "/api/v1/runs/nope", "", nil) }, "GET /api/v1/runs/{id} 404 false", false},
		{"a step", func() { h.do("GET", "/api/v1/runs/"+run.RunID+"/steps/nope", "", nil) }, "GET /api/v1/runs/{id}/steps/{step} 404 false", false},
		{"no token", func() { h.do("GET", "/api/v1/runs", "", nil, "Authorization", "") }, "GET /api/v1/runs 401 false", false},
		{"health", func() { h.do("GET", "/healthz", "", nil) }, "GET /healthz 200 false", false},
		{"no route", func() { h.do("GET", "/api/v1/nope", "", nil) }, httpapi.RouteUnmatched + " 404 false", false},
		{"wrong method", func() { h.do("DELETE", "/api/v1/runs", "", nil) }, httpapi.RouteUnmatched + " 405 false", false},
		{"outside the API", func() { h.do("GET", "/favicon.ico", "", nil) }, httpapi.RouteUnmatched + " 404 false", false},
		{"the dashboard", func() { h.do("GET", "/", "", nil) }, httpapi.RouteDashboard + " 200 false", false},
		{"a dashboard file", func() { h.do("GET", "/ui/js/app.js", "", nil) }, httpapi.RouteDashboard + " 200 false", false},
		{"an event stream", func() { readStream(t, h, "/api/v1/runs/"+run.RunID+"/events", "Authorization", "Bearer tok") }, "GET /api/v1/runs/{id}/events 200 true", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.send()
			// The observer is told after the answer is written: wait for it.
			var got []string
			var streams []int
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				r, s := rec.take()
				got, streams = append(got, r...), append(streams, s...)
				if len(got) > 0 && (!tc.stream || len(streams) == 2) {
					break
				}
			}
			if !slices.Equal(got, []string{tc.want}) {
				t.Errorf("observed %q, want [%q]", got, tc.want)
			}
			wantStreams := []int(nil)
			if tc.stream {
				wantStreams = []int{1, -1}
			}
			if !slices.Equal(streams, wantStreams) {
				t.Errorf("streams %v, want %v", streams, wantStreams)
			}
		})
	}
}

// Without an observer nothing wraps the answers: event streams still flush.
func TestNoRequestObserver(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(basicWorkflow))
	if evs := readStream(t, h, "/api/v1/runs/"+run.RunID+"/events"); len(evs) < 2 {
		t.Fatalf("events: %+v", evs)
	}
	if a := h.do("GET", "/api/v1/runs/"+run.RunID, "", nil); a.status != http.StatusOK {
		t.Fatalf("status %d", a.status)
	}
}
