package prom

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP holds the metrics of an HTTP API's requests. It implements
// httpapi.RequestObserver: give it to httpapi.Config.Requests.
//
//   - weft_http_requests_total{route,code}: requests answered, by route
//     (the API route's pattern, such as "GET /api/v1/runs/{id}", or
//     "dashboard", or "unmatched") and status code.
//   - weft_http_request_duration_seconds{route}: histogram of the time to
//     answer, event streams left out (1ms to 30s, the request timeout).
//   - weft_http_event_streams: event streams open now.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  prometheus.Gauge
	routes   *labelValues
}

// httpBuckets are the bounds, in seconds, of request durations.
var httpBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewHTTP returns the HTTP request metrics, registered on reg. It returns
// an error when reg is nil or refuses them.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	if reg == nil {
		return nil, errors.New("prom: nil Registerer")
	}
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weft_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route (event streams left out).",
			Buckets: httpBuckets,
		}, []string{"route"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weft_http_event_streams",
			Help: "Event streams (Server-Sent Events) open now.",
		}),
		// Routes come from the server's route table, a bounded set; the
		// cap guards against a server that labels otherwise.
		routes: &labelValues{max: 100, seen: map[string]struct{}{}},
	}
	for _, c := range []prometheus.Collector{h.requests, h.duration, h.streams} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("prom: register the HTTP metrics: %w", err)
		}
	}
	return h, nil
}

// ObserveRequest counts a request answered and, unless it was an event
// stream, observes how long it took.
func (h *HTTP) ObserveRequest(route string, status int, d time.Duration, stream bool) {
	route = h.routes.value(route, "unmatched")
	h.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	if !stream {
		h.duration.WithLabelValues(route).Observe(d.Seconds())
	}
}

// ObserveStream counts an event stream opened (+1) or ended (-1).
func (h *HTTP) ObserveStream(delta int) {
	h.streams.Add(float64(delta))
}
