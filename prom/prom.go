// Package prom exposes what weft engines do as Prometheus metrics
// (DESIGN.md section 7), on github.com/prometheus/client_golang.
//
// [Metrics] is a weft.Observer: give it to an engine (engine.Config.Observer)
// and register it on a registry of your own (no global registry is used):
//
//	reg := prom.NewRegistry()
//	m, err := prom.New(reg, &prom.Options{Unfinished: countUnfinishedRuns})
//	eng, err := engine.New(store, &engine.Config{Registry: steps, Observer: m})
//	mux.Handle("GET /metrics", prom.Handler(reg))
//
// The metrics:
//
//   - weft_runs_total{workflow,status}: runs ended, by how they ended
//     (succeeded, failed, canceled).
//   - weft_run_duration_seconds: histogram of ended runs' durations, from
//     creation to end (10ms to 1 day).
//   - weft_steps_total{type,status}: attempts ended, by outcome: succeeded,
//     failed (for good), retrying (a retry is scheduled), skipped (when
//     false), or canceled (stopped without a recorded outcome: the run
//     was canceled or ended, the engine closed, the lease was lost).
//   - weft_step_duration_seconds{type,status}: histogram of attempts' run
//     times, by the same outcomes (1ms to 10min).
//   - weft_step_queue_wait_seconds{type}: histogram of how long steps
//     waited from ready (or from their retry time) to their attempt's
//     start (1ms to 10min).
//   - weft_step_retries_total{type,code}: attempts that ended with a retry
//     scheduled, by their error's code.
//   - weft_steps_running{type}: attempts running now.
//   - weft_ai_tokens_total{provider,model,kind}: AI tokens used, kind
//     prompt or completion, whatever the attempt's outcome.
//   - weft_runs_unfinished: runs not over yet, when Options.Unfinished is
//     set.
//
// [HTTP] holds the HTTP API's request metrics (weft_http_requests_total,
// weft_http_request_duration_seconds, weft_http_event_streams): give it to
// httpapi.Config.Requests.
//
// Every count is per process: an engine reports the attempts it ran itself
// and the runs whose end its own store call made, so with several
// processes sharing a store, sum over them (sum by (...) in PromQL).
// Labels hold no run or step id, and the labels whose values come from
// users (workflow, type, code, provider, model) are capped: see
// Options.MaxLabelValues.
package prom

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weft-dev/weft"
)

// Options configures Metrics. The zero value of every field means its
// default.
type Options struct {
	// Unfinished, when set, gives the gauge weft_runs_unfinished: the runs
	// not over yet (pending or running), such as Engine.UnfinishedRuns
	// counts them. It is called at every scrape, so it should be quick.
	// Defaults to none: the gauge is not registered.
	Unfinished func() float64
	// MaxLabelValues caps the distinct values that each of the labels
	// workflow, type, code, provider and model takes, so that values
	// chosen by users cannot grow the series without bound: once a label
	// has seen that many, further new values are reported as "other".
	// Values are also made valid UTF-8 and cut to 128 bytes. Defaults to
	// 500.
	MaxLabelValues int
	// DefaultProvider is the provider label of AI steps that name no
	// provider, and so use the default one: give its name
	// (ai.Providers.Default()). Defaults to "default".
	DefaultProvider string
}

// Other is the label value that stands for every value beyond
// Options.MaxLabelValues.
const Other = "other"

// unknown is the label value of a model or code that was not told.
const unknown = "unknown"

// maxLabelBytes is the longest label value kept; longer ones are cut.
const maxLabelBytes = 128

// Metrics holds weft's collectors and implements weft.Observer. Create one
// with New; it is safe for concurrent use.
type Metrics struct {
	runs         *prometheus.CounterVec
	runDuration  prometheus.Histogram
	steps        *prometheus.CounterVec
	stepDuration *prometheus.HistogramVec
	queueWait    *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	running      *prometheus.GaugeVec
	tokens       *prometheus.CounterVec

	workflows, types, codes, providers, models *labelValues
	defaultProvider                            string
}

var _ weft.Observer = (*Metrics)(nil)

// stepBuckets are the bounds, in seconds, of the step histograms: 1ms to
// 10 minutes (the default attempt timeout).
var stepBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// runBuckets are the bounds, in seconds, of weft_run_duration_seconds: 10ms
// to a day.
var runBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400}

// New returns weft's metrics, registered on reg. It returns an error when
// reg is nil or refuses them (such as metrics of the same names registered
// already).
func New(reg prometheus.Registerer, o *Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("prom: nil Registerer")
	}
	opts := Options{}
	if o != nil {
		opts = *o
	}
	if opts.MaxLabelValues <= 0 {
		opts.MaxLabelValues = 500
	}
	if opts.DefaultProvider == "" {
		opts.DefaultProvider = "default"
	}
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_runs_total",
			Help: "Runs ended by this process, by workflow and final status.",
		}, []string{"workflow", "status"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weft_run_duration_seconds",
			Help:    "Durations of the runs ended by this process, from creation to end.",
			Buckets: runBuckets,
		}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_steps_total",
			Help: "Step attempts ended in this process, by step type and outcome (succeeded, failed, retrying, skipped, canceled).",
		}, []string{"type", "status"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weft_step_duration_seconds",
			Help:    "Run times of the step attempts ended in this process, by step type and outcome.",
			Buckets: stepBuckets,
		}, []string{"type", "status"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weft_step_queue_wait_seconds",
			Help:    "How long steps waited from ready (or their retry time) to the start of an attempt in this process, by step type.",
			Buckets: stepBuckets,
		}, []string{"type"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_step_retries_total",
			Help: "Step attempts that ended with a retry scheduled, by step type and error code.",
		}, []string{"type", "code"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weft_steps_running",
			Help: "Step attempts running in this process, by step type.",
		}, []string{"type"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_ai_tokens_total",
			Help: "AI tokens used by the step attempts of this process, by provider, model and kind (prompt, completion).",
		}, []string{"provider", "model", "kind"}),
		defaultProvider: opts.DefaultProvider,
	}
	for _, l := range []**labelValues{&m.workflows, &m.types, &m.codes, &m.providers, &m.models} {
		*l = &labelValues{max: opts.MaxLabelValues, seen: map[string]struct{}{}}
	}
	cs := []prometheus.Collector{m.runs, m.runDuration, m.steps, m.stepDuration, m.queueWait, m.retries, m.running, m.tokens}
	if opts.Unfinished != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "weft_runs_unfinished",
			Help: "Runs not over yet (pending or running).",
		}, opts.Unfinished))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("prom: register weft's metrics: %w", err)
		}
	}
	return m, nil
}

// StepStarted implements weft.Observer: it counts the attempt running and
// observes its queue wait.
func (m *Metrics) StepStarted(s *weft.StepObservation) {
	typ := m.types.value(s.Type, unknown)
	m.running.WithLabelValues(typ).Inc()
	m.queueWait.WithLabelValues(typ).Observe(s.QueueWait.Seconds())
}

// StepFinished implements weft.Observer: it counts the attempt's outcome,
// its run time, its retry and its tokens, and the attempt as no longer
// running.
func (m *Metrics) StepFinished(s *weft.StepObservation) {
	typ := m.types.value(s.Type, unknown)
	status := string(s.Status)
	m.running.WithLabelValues(typ).Dec()
	m.steps.WithLabelValues(typ, status).Inc()
	m.stepDuration.WithLabelValues(typ, status).Observe(s.Duration.Seconds())
	if s.Status == weft.StepRetrying {
		m.retries.WithLabelValues(typ, m.codes.value(string(s.Code), unknown)).Inc()
	}
	if s.Usage.IsZero() {
		return
	}
	provider := m.providers.value(s.Provider, m.defaultProvider)
	model := m.models.value(s.Model, unknown)
	if n := s.Usage.PromptTokens; n > 0 {
		m.tokens.WithLabelValues(provider, model, "prompt").Add(float64(n))
	}
	if n := s.Usage.CompletionTokens; n > 0 {
		m.tokens.WithLabelValues(provider, model, "completion").Add(float64(n))
	}
}

// RunFinished implements weft.Observer: it counts the run's end and
// observes its duration.
func (m *Metrics) RunFinished(r *weft.RunObservation) {
	m.runs.WithLabelValues(m.workflows.value(r.WorkflowID, unknown), string(r.Status)).Inc()
	m.runDuration.Observe(r.Duration.Seconds())
}

// NewRegistry returns a new registry holding the Go runtime's and the
// process's collectors (go_*, process_*), ready for New and Handler.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler returns the HTTP handler of a /metrics endpoint serving what g
// gathers, in the format the scraper asks for. A collector that fails is
// left out of the answer rather than failing the scrape.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// labelValues caps the distinct values of one label.
type labelValues struct {
	max int

	mu   sync.RWMutex
	seen map[string]struct{}
}

// value returns the label value for v: empty when v is empty, v itself
// (made valid UTF-8 and cut to maxLabelBytes) while the label has room for
// it, Other once the label holds max other values. A value admitted once
// stays admitted, so a value maps to the same label value every time.
func (l *labelValues) value(v, empty string) string {
	if v == "" {
		v = empty
	}
	l.mu.RLock()
	_, ok := l.seen[v]
	l.mu.RUnlock()
	if ok {
		return v
	}
	v = clean(v)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.max {
		return Other
	}
	l.seen[v] = struct{}{}
	return v
}

// clean makes v valid UTF-8 (which Prometheus requires of label values)
// and cuts it to at most maxLabelBytes bytes at a character boundary.
func clean(v string) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if len(v) <= maxLabelBytes {
		return v
	}
	n := maxLabelBytes
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}
