package prom_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/prom"
)

// HTTP implements the API's observer.
var _ httpapi.RequestObserver = (*prom.HTTP)(nil)

func TestHTTP(t *testing.T) {
	reg := prom.NewRegistry()
	h, err := prom.NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	h.ObserveRequest("GET /api/v1/runs/{id}", 200, 3*time.Millisecond, false)
	h.ObserveRequest("GET /api/v1/runs/{id}", 200, 40*time.Millisecond, false)
	h.ObserveRequest("GET /api/v1/runs/{id}", 404, time.Millisecond, false)
	h.ObserveRequest("GET /api/v1/runs/{id}/events", 200, 10*time.Minute, true)
	h.ObserveStream(+1)
	h.ObserveStream(+1)
	h.ObserveStream(-1)
	want := `
# HELP weft_http_event_streams Event streams (Server-Sent Events) open now.
# TYPE weft_http_event_streams gauge
weft_http_event_streams 1
# HELP weft_http_requests_total HTTP requests answered, by route and status code.
# TYPE weft_http_requests_total counter
weft_http_requests_total{code="200",route="GET /api/v1/runs/{id}"} 2
weft_http_requests_total{code="200",route="GET /api/v1/runs/{id}/events"} 1
weft_http_requests_total{code="404",route="GET /api/v1/runs/{id}"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "weft_http_requests_total", "weft_http_event_streams"); err != nil {
		t.Error(err)
	}
	// Streams are counted but left out of the durations: one series, 3
	// observations, about 44 ms.
	if n := testutil.CollectAndCount(reg, "weft_http_request_duration_seconds"); n != 1 {
		t.Errorf("%d duration series, want 1 (no stream)", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "weft_http_request_duration_seconds" {
			continue
		}
		hist := mf.GetMetric()[0].GetHistogram()
		if hist.GetSampleCount() != 3 || hist.GetSampleSum() < 0.043 || hist.GetSampleSum() > 0.045 {
			t.Errorf("durations: %d samples summing to %v s, want 3 summing to 0.044", hist.GetSampleCount(), hist.GetSampleSum())
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// A server that labels otherwise cannot grow the series without bound.
func TestHTTPRoutesAreCapped(t *testing.T) {
	reg := prom.NewRegistry()
	h, err := prom.NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		h.ObserveRequest(fmt.Sprintf("GET /x/%d", i), 200, time.Millisecond, false)
	}
	if n := testutil.CollectAndCount(reg, "weft_http_requests_total"); n != 101 {
		t.Errorf("%d series, want 100 routes + other", n)
	}
}

func TestNewHTTPErrors(t *testing.T) {
	if _, err := prom.NewHTTP(nil); err == nil {
		t.Error("nil registerer: no error")
	}
	reg := prom.NewRegistry()
	if _, err := prom.NewHTTP(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := prom.NewHTTP(reg); err == nil || !strings.Contains(err.Error(), "register") {
		t.Errorf("registered twice: %v, want an error", err)
	}
}
