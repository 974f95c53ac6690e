package httpapi

import (
	"net/http"
	"time"
)

// RequestObserver is told of every request the server answers, for
// metrics (package prom implements it). Its methods must be safe for
// concurrent use and quick: they run on every request.
type RequestObserver interface {
	// ObserveRequest reports a request answered: its route (the pattern
	// of the API route it matched, such as "GET /api/v1/runs/{id}";
	// RouteDashboard for the dashboard's files; RouteUnmatched for
	// anything else, so that the label values stay bounded), the status
	// sent and how long the answer took. For an event stream (stream
	// true) d is how long the stream was open.
	ObserveRequest(route string, status int, d time.Duration, stream bool)
	// ObserveStream reports an event stream opened (+1) or ended (-1).
	ObserveStream(delta int)
}

// The route labels of requests that match no API route.
const (
	RouteDashboard = "dashboard" // the dashboard's page and files
	RouteUnmatched = "unmatched" // no route: 404 or 405
)

// routeOf returns the route label of a mux pattern and whether it is an
// event stream.
func (s *Server) routeOf(pattern string) (string, bool) {
	switch pattern {
	case "", "/api/":
		return RouteUnmatched, false
	case "GET /{$}", "GET /ui/":
		return RouteDashboard, false
	}
	return pattern, s.streamRoutes[pattern]
}

// statusWriter records the status of an answer. It unwraps to the
// ResponseWriter it wraps, so that http.ResponseController (Flush, read
// deadlines) reaches the connection's.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observeStream tells the observer, if any, of a stream opened or ended.
func (s *Server) observeStream(delta int) {
	if s.cfg.Requests != nil {
		s.cfg.Requests.ObserveStream(delta)
	}
}
