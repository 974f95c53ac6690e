package prom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/echo"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/prom"
	"github.com/weft-dev/weft/workflow"
)

// metered is the echo provider reporting fixed token counts, as a real
// model would.
type metered struct{ echo.Provider }

func (m *metered) Complete(ctx context.Context, req *ai.Request) (*ai.Response, error) {
	resp, err := m.Provider.Complete(ctx, req)
	if resp != nil {
		resp.Usage = weft.Usage{PromptTokens: 12, CompletionTokens: 5, TotalTokens: 17}
	}
	return resp, err
}

// flaky fails its first two attempts with code unavailable, then succeeds.
type flaky struct{ n atomic.Int32 }

func (f *flaky) Execute(context.Context, *weft.StepContext) (json.RawMessage, error) {
	if f.n.Add(1) <= 2 {
		return nil, weft.Errorf(weft.CodeUnavailable, "not yet")
	}
	return json.RawMessage(`"ok"`), nil
}

// broken always fails for good.
type broken struct{}

func (broken) Execute(context.Context, *weft.StepContext) (json.RawMessage, error) {
	return nil, weft.Errorf(weft.CodeInvalid, "broken on purpose")
}

const demo = `{"id": "metrics_demo", "steps": {
	"collect": {"type": "input", "input": {"data": {"n": 1}}},
	"flaky": {"type": "flaky", "depends_on": ["collect"], "max_retries": 2},
	"broken": {"type": "broken"},
	"ask": {"type": "ai", "depends_on": ["collect"], "input": {"prompt": "Summarize", "provider": "metered"}},
	"ask_default": {"type": "ai", "depends_on": ["collect"], "input": {"prompt": "Summarize"}},
	"ask_echo": {"type": "ai", "depends_on": ["collect"], "input": {"prompt": "Summarize", "provider": "echo"}}}}`

// runDemo runs the demo workflow on an engine observed by new metrics
// registered on reg, and returns them once the engine is closed.
func runDemo(t *testing.T, reg *prometheus.Registry) *prom.Metrics {
	t.Helper()
	providers := &ai.Providers{}
	if err := providers.Add("metered", &metered{}); err != nil { // the default
		t.Fatal(err)
	}
	if err := providers.Add("echo", echo.New()); err != nil {
		t.Fatal(err)
	}
	steps, err := executor.NewRegistry(&executor.Config{AI: providers})
	if err != nil {
		t.Fatal(err)
	}
	for name, exec := range map[string]weft.Executor{"flaky": &flaky{}, "broken": broken{}} {
		if err := steps.Register(name, exec); err != nil {
			t.Fatal(err)
		}
	}
	m, err := prom.New(reg, &prom.Options{DefaultProvider: providers.Default()})
	if err != nil {
		t.Fatal(err)
	}
	interval, backoff := weft.Duration(time.Millisecond), 1.0
	eng, err := engine.New(inmem.New(), &engine.Config{
		Registry: steps, Observer: m,
		Retry: &weft.RetryPolicy{InitialInterval: &interval, Backoff: &backoff, Jitter: weft.JitterNone},
	})
	if err != nil {
		t.Fatal(err)
	}
	def, err := workflow.Parse([]byte(demo), &workflow.Options{Registry: steps})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, _ := eng.Execute(ctx, def, nil)
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if st == nil || st.State != weft.RunFailed {
		t.Fatalf("run: %+v", st)
	}
	return m
}

func TestMetricsOfARun(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	runDemo(t, reg)

	counters := `
# HELP weft_runs_total Runs ended by this process, by workflow and final status.
# TYPE weft_runs_total counter
weft_runs_total{status="failed",workflow="metrics_demo"} 1
# HELP weft_steps_total Step attempts ended in this process, by step type and outcome (succeeded, failed, retrying, skipped, canceled).
# TYPE weft_steps_total counter
weft_steps_total{status="failed",type="broken"} 1
weft_steps_total{status="retrying",type="flaky"} 2
weft_steps_total{status="succeeded",type="ai"} 3
weft_steps_total{status="succeeded",type="flaky"} 1
weft_steps_total{status="succeeded",type="input"} 1
# HELP weft_step_retries_total Step attempts that ended with a retry scheduled, by step type and error code.
# TYPE weft_step_retries_total counter
weft_step_retries_total{code="unavailable",type="flaky"} 2
# HELP weft_steps_running Step attempts running in this process, by step type.
# TYPE weft_steps_running gauge
weft_steps_running{type="ai"} 0
weft_steps_running{type="broken"} 0
weft_steps_running{type="flaky"} 0
weft_steps_running{type="input"} 0
# HELP weft_ai_tokens_total AI tokens used by the step attempts of this process, by provider, model and kind (prompt, completion).
# TYPE weft_ai_tokens_total counter
weft_ai_tokens_total{kind="completion",model="echo",provider="metered"} 10
weft_ai_tokens_total{kind="prompt",model="echo",provider="metered"} 24
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(counters),
		"weft_runs_total", "weft_steps_total", "weft_step_retries_total", "weft_steps_running", "weft_ai_tokens_total"); err != nil {
		t.Error(err)
	}
	// Histograms: one observation per run, per attempt start, per attempt
	// end, by their labels.
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   uint64
	}{
		{"weft_run_duration_seconds", nil, 1},
		{"weft_step_queue_wait_seconds", map[string]string{"type": "flaky"}, 3},
		{"weft_step_queue_wait_seconds", map[string]string{"type": "ai"}, 3},
		{"weft_step_queue_wait_seconds", map[string]string{"type": "input"}, 1},
		{"weft_step_duration_seconds", map[string]string{"type": "flaky", "status": "retrying"}, 2},
		{"weft_step_duration_seconds", map[string]string{"type": "flaky", "status": "succeeded"}, 1},
		{"weft_step_duration_seconds", map[string]string{"type": "broken", "status": "failed"}, 1},
	} {
		if got := sampleCount(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v: %d observations, want %d", c.name, c.labels, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "weft_step_duration_seconds"); n != 5 {
		t.Errorf("weft_step_duration_seconds: %d series, want 5", n)
	}
	if n := testutil.CollectAndCount(reg, "weft_runs_unfinished"); n != 0 {
		t.Errorf("weft_runs_unfinished registered without Options.Unfinished")
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// sampleCount returns the observations of the histogram series of that
// name whose labels include labels.
func sampleCount(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) uint64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if labelOf(m, k) != v {
					continue series
				}
			}
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestLabelValuesAreCapped(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := prom.New(reg, &prom.Options{MaxLabelValues: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		m.RunFinished(&weft.RunObservation{WorkflowID: fmt.Sprintf("w%d", i), Status: weft.RunSucceeded})
	}
	m.RunFinished(&weft.RunObservation{WorkflowID: "w1", Status: weft.RunSucceeded}) // seen: kept
	long := strings.Repeat("é", 100)                                                 // 200 bytes
	for _, model := range []string{"a\xffb", long, "m3", "m4", "a\xffb"} {
		s := &weft.StepObservation{Type: "ai"}
		m.StepStarted(s)
		s.Status, s.Model, s.Usage = weft.StepSucceeded, model, weft.Usage{PromptTokens: 1, TotalTokens: 1}
		m.StepFinished(s)
	}
	// A type beyond the cap is "other" at both ends: the gauge returns to 0.
	for _, typ := range []string{"t1", "t2", "t3", "t4"} {
		m.StepStarted(&weft.StepObservation{Type: typ})
	}
	for _, typ := range []string{"t1", "t2", "t3", "t4"} {
		m.StepFinished(&weft.StepObservation{Type: typ, Status: weft.StepSucceeded})
	}
	want := `
# HELP weft_runs_total Runs ended by this process, by workflow and final status.
# TYPE weft_runs_total counter
weft_runs_total{status="succeeded",workflow="other"} 3
weft_runs_total{status="succeeded",workflow="w0"} 1
weft_runs_total{status="succeeded",workflow="w1"} 2
weft_runs_total{status="succeeded",workflow="w2"} 1
# HELP weft_ai_tokens_total AI tokens used by the step attempts of this process, by provider, model and kind (prompt, completion).
# TYPE weft_ai_tokens_total counter
weft_ai_tokens_total{kind="prompt",model="` + strings.Repeat("é", 64) + `",provider="default"} 1
weft_ai_tokens_total{kind="prompt",model="a` + "\uFFFD" + `b",provider="default"} 2
weft_ai_tokens_total{kind="prompt",model="m3",provider="default"} 1
weft_ai_tokens_total{kind="prompt",model="other",provider="default"} 1
# HELP weft_steps_running Step attempts running in this process, by step type.
# TYPE weft_steps_running gauge
weft_steps_running{type="ai"} 0
weft_steps_running{type="other"} 0
weft_steps_running{type="t1"} 0
weft_steps_running{type="t2"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "weft_runs_total", "weft_ai_tokens_total", "weft_steps_running"); err != nil {
		t.Error(err)
	}
}

func TestConcurrentObservationsKeepTheGaugeExact(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg, &prom.Options{MaxLabelValues: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				s := &weft.StepObservation{Type: fmt.Sprintf("t%d", (g+i)%7)}
				m.StepStarted(s)
				s.Status = weft.StepRetrying
				s.Code = weft.Code(fmt.Sprintf("c%d", i%9))
				m.StepFinished(s)
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(sumOf(t, reg, "weft_steps_running")); got != 0 {
		t.Errorf("running %v", got)
	}
	if n := testutil.CollectAndCount(reg, "weft_steps_running"); n != 5 {
		t.Errorf("%d type series, want 4 and other", n)
	}
	if n := testutil.CollectAndCount(reg, "weft_step_retries_total"); n > 5*5 {
		t.Errorf("%d retry series: over the caps", n)
	}
}

// sumOf returns a gauge holding the sum of the values of a gauge family.
func sumOf(t *testing.T, g prometheus.Gatherer, name string) prometheus.Gauge {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum.Add(m.GetGauge().GetValue())
			}
		}
	}
	return sum
}

func TestUnfinishedAndHandler(t *testing.T) {
	reg := prom.NewRegistry()
	m, err := prom.New(reg, &prom.Options{Unfinished: func() float64 { return 7 }})
	if err != nil {
		t.Fatal(err)
	}
	m.RunFinished(&weft.RunObservation{WorkflowID: "w", Status: weft.RunCanceled, Duration: 1500 * time.Millisecond})
	srv := httptest.NewServer(prom.Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"weft_runs_unfinished 7\n",
		`weft_runs_total{status="canceled",workflow="w"} 1` + "\n",
		`weft_run_duration_seconds_bucket{le="2.5"} 1` + "\n",
		`weft_run_duration_seconds_bucket{le="1"} 0` + "\n",
		"go_goroutines ",
		"process_",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape has no %q:\n%s", want, body)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := prom.New(nil, nil); err == nil {
		t.Error("nil Registerer accepted")
	}
	reg := prometheus.NewRegistry()
	if _, err := prom.New(reg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := prom.New(reg, nil); err == nil || !strings.Contains(err.Error(), "register") {
		t.Errorf("registered twice: %v", err)
	}
}
