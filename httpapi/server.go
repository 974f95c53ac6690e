// Package httpapi serves weft over HTTP: a JSON API to register workflows
// and start, list, inspect, cancel and retry runs, Server-Sent Events of a
// run's events, Prometheus metrics, health checks and the API's OpenAPI
// document, behind a bearer token and with limits on everything a client
// controls. It also holds Client, the Go client of the API that the CLI
// uses with --server.
//
// Every error answer is {"error": {"code", "message", "details"}}; the
// mapping of errors to HTTP statuses is in one place (error.go).
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/internal/negotiate"
)

// Config configures a Server. Engine, Store and Workflows are required.
type Config struct {
	// Engine runs and reads runs. Required.
	Engine *engine.Engine
	// Store is the store the engine drives, for listings. Required.
	Store weft.Store
	// Workflows holds registered workflows. Required.
	Workflows weft.WorkflowStore
	// Registry checks step types of workflows. Defaults to the built-in
	// types.
	Registry *weft.Registry
	// Limits bound workflows (steps, sizes, depth). Zero fields default as
	// documented on weft.Limits.
	Limits weft.Limits
	// Token is the bearer token every request but /healthz must carry.
	// Defaults to none: no authentication (only sensible on loopback).
	Token string
	// MetricsPublic serves /metrics without the token. Defaults to false.
	MetricsPublic bool
	// Metrics serves /metrics. Defaults to none: /metrics answers 404.
	Metrics http.Handler
	// MaxBodyBytes caps request bodies. Defaults to 10 MiB.
	MaxBodyBytes int64
	// MaxYAMLBytes caps YAML workflow documents, which cost more to parse
	// than JSON. Defaults to 1 MiB.
	MaxYAMLBytes int64
	// RequestTimeout bounds each request but event streams. Defaults to
	// 30s.
	RequestTimeout time.Duration
	// MaxStreamsPerClient caps the event streams open at once from one
	// client address. Defaults to 16.
	MaxStreamsPerClient int
	// KeepAlive is how often an idle event stream gets a comment line, so
	// that proxies keep it open. Defaults to 15s.
	KeepAlive time.Duration
	// Ready reports whether the server can serve (GET /readyz): nil when
	// ready. Defaults to checking that the store answers.
	Ready func(ctx context.Context) error
	// Requests is told of every request answered (route, status,
	// duration), for metrics. Defaults to none.
	Requests RequestObserver
	// DisableDashboard leaves out the web dashboard (package ui), which is
	// otherwise served at "/" and "/ui/". Defaults to false: served.
	DisableDashboard bool
	// Logger receives request errors. Defaults to discarding them.
	Logger *slog.Logger
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

// Server is the HTTP API. It is an http.Handler; create one with New.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	token   [32]byte // SHA-256 of the token, compared in constant time
	closing chan struct{}
	once    sync.Once
	defs    *defCache // compiled registered workflows, by digest

	// streamRoutes holds the mux patterns of event streams.
	streamRoutes map[string]bool

	mu      sync.Mutex
	streams map[string]int // client address → open event streams
}

// New returns a Server. It returns an error when a required field of cfg is
// missing.
func New(cfg *Config) (*Server, error) {
	if cfg == nil || cfg.Engine == nil || cfg.Store == nil || cfg.Workflows == nil {
		return nil, errors.New("httpapi: Config.Engine, Store and Workflows are required")
	}
	c := *cfg
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 10 << 20
	}
	if c.MaxYAMLBytes <= 0 {
		c.MaxYAMLBytes = 1 << 20
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MaxStreamsPerClient <= 0 {
		c.MaxStreamsPerClient = 16
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Ready == nil {
		store := c.Store
		c.Ready = func(ctx context.Context) error {
			_, _, err := store.ListRuns(ctx, &weft.RunFilter{Limit: 1})
			return err
		}
	}
	s := &Server{cfg: c, log: c.Logger, mux: http.NewServeMux(), closing: make(chan struct{}), streams: map[string]int{}, defs: newDefCache(64), streamRoutes: map[string]bool{}}
	if c.Token != "" {
		s.token = sha256.Sum256([]byte(c.Token))
	}
	s.routes()
	if err := s.dashboardRoutes(); err != nil {
		return nil, err
	}
	return s, nil
}

// route is a route of the API: what ServeMux matches and how it is served.
type route struct {
	method, path string
	handler      func(http.ResponseWriter, *http.Request) error
	// open routes need no token; streams have no request timeout.
	open, stream bool
}

// routeTable lists every route of the API; openapi_test.go checks it
// against the OpenAPI document.
func (s *Server) routeTable() []route {
	return []route{
		{method: "POST", path: "/api/v1/workflows", handler: s.postWorkflow},
		{method: "GET", path: "/api/v1/workflows", handler: s.listWorkflows},
		{method: "POST", path: "/api/v1/workflows/validate", handler: s.validateWorkflow},
		{method: "GET", path: "/api/v1/workflows/{id}", handler: s.getWorkflow},
		{method: "GET", path: "/api/v1/workflows/{id}/graph", handler: s.getWorkflowGraph},
		{method: "POST", path: "/api/v1/runs", handler: s.postRun},
		{method: "GET", path: "/api/v1/runs", handler: s.listRuns},
		{method: "GET", path: "/api/v1/runs/{id}", handler: s.getRun},
		{method: "GET", path: "/api/v1/runs/{id}/workflow", handler: s.getRunWorkflow},
		{method: "GET", path: "/api/v1/runs/{id}/graph", handler: s.getRunGraph},
		{method: "GET", path: "/api/v1/runs/{id}/steps/{step}", handler: s.getRunStep},
		{method: "POST", path: "/api/v1/runs/{id}/cancel", handler: s.cancelRun},
		{method: "POST", path: "/api/v1/runs/{id}/retry", handler: s.retryRun},
		{method: "GET", path: "/api/v1/runs/{id}/events", handler: s.events, stream: true},
		{method: "GET", path: "/api/v1/openapi.json", handler: s.openAPI},
		{method: "GET", path: "/healthz", handler: s.healthz, open: true},
		{method: "GET", path: "/readyz", handler: s.readyz},
		{method: "GET", path: "/metrics", handler: s.metrics, open: s.cfg.MetricsPublic},
	}
}

// routes registers every route of the API.
func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		h := s.handler(rt.handler)
		if !rt.stream {
			h = s.timed(rt.handler)
		}
		if !rt.open {
			h = s.authed(h)
		}
		s.mux.Handle(rt.method+" "+rt.path, h)
		if rt.stream {
			s.streamRoutes[rt.method+" "+rt.path] = true
		}
	}
	s.mux.Handle("/api/", s.handler(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, CodeNotFound, "no such API route: %s %s", r.Method, r.URL.Path)
	}))
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	if s.cfg.Requests != nil {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		defer func() {
			route, stream := s.routeOf(pattern)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.cfg.Requests.ObserveRequest(route, status, time.Since(start), stream)
		}()
	}
	if negotiate.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		w = gzipOK{w}
	}
	defer s.logRecover(w, r)
	// ServeMux answers a known path with the wrong method with a plain
	// text 405; answer it in JSON like every other error.
	if pattern == "/api/" {
		if allow := s.allowed(r); allow != "" {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, CodeMethod, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// allowed returns the methods the mux serves at r's path, comma-separated.
func (s *Server) allowed(r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// Close ends the open event streams, so that an http.Server's Shutdown
// does not wait for them. It returns nil.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.closing) })
	return nil
}

// handler adapts a handler that returns an error to an http.Handler.
func (s *Server) handler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// timed is handler with the request's timeout and body limit.
func (s *Server) timed(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	inner := s.handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		inner.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authed requires the bearer token, when the server has one.
func (s *Server) authed(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			s.writeError(w, r, errorf(http.StatusUnauthorized, CodeUnauthorized, "this server needs a bearer token: Authorization: Bearer TOKEN (weft: --token or WEFT_API_TOKEN)"))
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			s.writeError(w, r, errorf(http.StatusUnauthorized, CodeUnauthorized, "the bearer token is not right"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when the server can serve requests (its store
// answers), 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	select {
	case <-s.closing:
		return &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, msg: "the server is shutting down", retryAfter: 5 * time.Second}
	default:
	}
	if err := s.cfg.Ready(r.Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		return &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, msg: "the store does not answer", retryAfter: time.Second}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// metrics serves /metrics through Config.Metrics.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Metrics == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "this server exports no metrics")
	}
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error: the answer could not be encoded"}}`)
	}
	writeRawJSON(w, status, b)
}

// writeRawJSON writes b, encoded JSON, as the answer with status.
// Large answers are gzipped for clients that accept it (see gzipOK).
func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if _, ok := w.(gzipOK); ok && len(b) >= minGzip {
		z := compressed(b)
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(z)))
		w.WriteHeader(status)
		w.Write(z)
		return
	}
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte{'\n'})
}

// decodeJSON decodes the request body into v, refusing unknown fields,
// trailing data and bodies over the limit. An empty body leaves v as is
// when optional.
func decodeJSON(r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupported, "the body must be JSON (Content-Type: application/json), not %q", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, CodeBadRequest, "the request needs a JSON body")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, CodeBadRequest, "the body is not a valid request: %s", jsonProblem(err))
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, CodeBadRequest, "the body holds data after its JSON value")
	}
	return nil
}

// jsonProblem describes a JSON decoding error with its path where known.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		path := "$"
		if te.Field != "" {
			path += "." + te.Field
		}
		return path + ": expected " + te.Type.String() + ", got JSON " + te.Value
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends before its value is complete"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "$: unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return err.Error()
}

// isJSON reports whether a Content-Type is JSON.
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// NewHTTPServer returns an http.Server for h with the timeouts a server on
// a network needs: 10s to read a request's headers, 60s its body, 120s
// idle keep-alive. It sets no write timeout, which would cut event
// streams; the API's handlers bound their own time (Config.RequestTimeout).
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
