package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
)

// recorder is a weft.Observer that keeps copies of what it is told.
type recorder struct {
	mu       sync.Mutex
	started  []weft.StepObservation
	finished []weft.StepObservation
	runs     []weft.RunObservation
	running  atomic.Int64
}

func (r *recorder) StepStarted(s *weft.StepObservation) {
	r.running.Add(1)
	r.mu.Lock()
	r.started = append(r.started, *s)
	r.mu.Unlock()
}

func (r *recorder) StepFinished(s *weft.StepObservation) {
	if r.running.Add(-1) < 0 {
		panic("StepFinished without StepStarted")
	}
	r.mu.Lock()
	r.finished = append(r.finished, *s)
	r.mu.Unlock()
}

func (r *recorder) RunFinished(o *weft.RunObservation) {
	r.mu.Lock()
	r.runs = append(r.runs, *o)
	r.mu.Unlock()
}

// outcomes lists the finished attempts as "TYPE:STATUS/CODE", sorted.
func (r *recorder) outcomes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.finished {
		out = append(out, fmt.Sprintf("%s:%s/%s", s.Type, s.Status, s.Code))
	}
	slices.Sort(out)
	return out
}

// runEnds lists the runs reported as "WORKFLOW:STATUS", in order.
func (r *recorder) runEnds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, o := range r.runs {
		out = append(out, o.WorkflowID+":"+string(o.Status))
	}
	return out
}

func TestObserverStepsAndRuns(t *testing.T) {
	p := newProbe()
	var flaky atomic.Int32
	p.on("flaky", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		if flaky.Add(1) <= 2 {
			return nil, weft.Errorf(weft.CodeUnavailable, "not yet")
		}
		return json.RawMessage(`1`), nil
	})
	p.on("bad", fail(weft.CodeInvalid))
	rec := &recorder{}
	e, reg := setup(t, p, &engine.Config{Observer: rec})
	st, _ := execute(t, e, parse(t, reg, `{"id": "obs", "steps": {
		"ok": {"type": "probe"},
		"flaky": {"type": "probe", "depends_on": ["ok"]},
		"bad": {"type": "probe"},
		"never": {"type": "probe", "when": "false"}}}`), nil)
	if st.State != weft.RunFailed {
		t.Fatalf("run %s", st.State)
	}
	want := []string{"probe:failed/invalid", "probe:retrying/unavailable", "probe:retrying/unavailable",
		"probe:skipped/", "probe:succeeded/", "probe:succeeded/"}
	if got := rec.outcomes(); !slices.Equal(got, want) {
		t.Errorf("attempts:\n got %v\nwant %v", got, want)
	}
	if got := rec.runEnds(); !slices.Equal(got, []string{"obs:failed"}) {
		t.Errorf("runs: %v", got)
	}
	if n := rec.running.Load(); n != 0 {
		t.Errorf("%d attempts still running", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.started) != len(rec.finished) {
		t.Errorf("%d started, %d finished", len(rec.started), len(rec.finished))
	}
	var attempts []int
	for _, s := range rec.started {
		if s.WorkflowID != "obs" || s.Type != "probe" || s.QueueWait < 0 {
			t.Errorf("started: %+v", s)
		}
		attempts = append(attempts, s.Attempt)
	}
	slices.Sort(attempts)
	if !slices.Equal(attempts, []int{1, 1, 1, 1, 2, 3}) {
		t.Errorf("attempt numbers %v", attempts)
	}
	for _, s := range rec.finished {
		if s.Duration < 0 || s.Duration > 10*time.Second || !s.Usage.IsZero() || s.Provider != "" || s.Model != "" {
			t.Errorf("finished: %+v", s)
		}
	}
	if d := rec.runs[0].Duration; d <= 0 || d > 10*time.Second {
		t.Errorf("run duration %s", d)
	}
}

func TestObserverQueueWaitOfARetry(t *testing.T) {
	p := newProbe()
	var n atomic.Int32
	p.on("a", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		if n.Add(1) == 1 {
			return nil, weft.Errorf(weft.CodeUnavailable, "not yet")
		}
		return json.RawMessage(`1`), nil
	})
	rec := &recorder{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { // every reading is 10ms after the one before
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(10 * time.Millisecond)
		return now
	}
	e, reg := setup(t, p, &engine.Config{Observer: rec, Now: clock})
	if st, err := execute(t, e, parse(t, reg, `{"id": "w", "steps": {"a": {"type": "probe"}}}`), nil); err != nil {
		t.Fatalf("run %s: %v", st.State, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.started) != 2 {
		t.Fatalf("started %+v", rec.started)
	}
	// The first attempt was ready when the run was created, a reading of
	// the clock before the one of its start: it waited whole ticks. The
	// second was ready at its retry time, the failure's reading plus the
	// 1ms retry interval, and started at a later reading.
	if w := rec.started[0].QueueWait; w < 10*time.Millisecond || w%(10*time.Millisecond) != 0 {
		t.Errorf("attempt 1 waited %s", w)
	}
	if w := rec.started[1].QueueWait; w < 9*time.Millisecond || w%(10*time.Millisecond) != 9*time.Millisecond {
		t.Errorf("attempt 2 waited %s", w)
	}
	for _, s := range rec.finished {
		if s.Duration < 10*time.Millisecond {
			t.Errorf("attempt %d ran %s", s.Attempt, s.Duration)
		}
	}
	if len(rec.runs) != 1 || rec.runs[0].Duration < 50*time.Millisecond {
		t.Errorf("runs %+v", rec.runs)
	}
}

// tokenStep spends tokens like an ai step and answers with the model its
// input asks for, or none.
type tokenStep struct{}

func (tokenStep) Execute(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	var in struct {
		Model string `json:"model"`
		Fail  bool   `json:"fail"`
	}
	if err := json.Unmarshal(sc.Input, &in); err != nil {
		return nil, weft.Permanent(err)
	}
	sc.Tokens.Spend(weft.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5})
	if in.Fail {
		return nil, weft.Permanent(weft.Errorf(weft.CodeAIInvalidOutput, "bad reply"))
	}
	return json.Marshal(map[string]any{"model": strings.ToUpper(in.Model)})
}

func TestObserverUsage(t *testing.T) {
	rec := &recorder{}
	e, reg := setup(t, newProbe(), &engine.Config{Observer: rec})
	if err := reg.Register("tokens", tokenStep{}); err != nil {
		t.Fatal(err)
	}
	execute(t, e, parse(t, reg, `{"id": "w", "params": {"m": "mini"}, "steps": {
		"named": {"type": "tokens", "input": {"provider": "local", "model": "{{ params.m }}"}},
		"default": {"type": "tokens", "input": {}},
		"failed": {"type": "tokens", "input": {"provider": "local", "model": "asked", "fail": true}},
		"plain": {"type": "probe", "input": {"provider": "local", "model": "x"}}}}`), nil)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got []string
	for _, s := range rec.finished {
		got = append(got, fmt.Sprintf("%s/%s/%s/%d+%d", s.Status, s.Provider, s.Model, s.Usage.PromptTokens, s.Usage.CompletionTokens))
	}
	slices.Sort(got)
	want := []string{
		"failed/local/asked/3+2", // no output: the model asked for
		"succeeded///0+0",        // no tokens: nothing read
		"succeeded///3+2",        // the default provider, the empty model answered
		"succeeded/local/MINI/3+2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestObserverCancelAndFailFast(t *testing.T) {
	p := newProbe()
	started := make(chan string, 4)
	block := func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		started <- sc.StepID
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p.on("long", block)
	p.on("hang", block)
	rec := &recorder{}
	e, reg := setup(t, p, &engine.Config{Observer: rec, PollInterval: 10 * time.Millisecond})

	run, err := e.Submit(context.Background(), parse(t, reg, `{"id": "c", "steps": {"long": {"type": "probe"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	for range 2 { // the second cancel finds the run over: not reported again
		if _, err := e.Cancel(context.Background(), run.ID); err != nil {
			t.Fatal(err)
		}
	}
	execute(t, e, parse(t, reg, `{"id": "t", "timeout": "30ms", "steps": {"hang": {"type": "probe"}}}`), nil)
	<-started // hang's
	// boom fails while long runs: fail_fast, not the last step's finish,
	// ends the run.
	p.on("boom", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		<-started
		return nil, weft.Errorf(weft.CodeInvalid, "boom")
	})
	execute(t, e, parse(t, reg, `{"id": "f", "fail_fast": true, "steps": {"boom": {"type": "probe"}, "long": {"type": "probe"}}}`), nil)
	e.Close() // waits for the stopped attempts
	if got := rec.runEnds(); !slices.Equal(got, []string{"c:canceled", "t:failed", "f:failed"}) {
		t.Errorf("runs: %v", got)
	}
	want := []string{"probe:canceled/canceled", "probe:canceled/canceled", "probe:canceled/canceled", "probe:failed/invalid"}
	if got := rec.outcomes(); !slices.Equal(got, want) {
		t.Errorf("attempts:\n got %v\nwant %v", got, want)
	}
	if n := rec.running.Load(); n != 0 {
		t.Errorf("%d attempts still running", n)
	}
}

func TestObserverAttemptsStoppedByClose(t *testing.T) {
	p := newProbe()
	started := make(chan struct{})
	p.on("long", func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	rec := &recorder{}
	e, reg := setup(t, p, &engine.Config{Observer: rec})
	if _, err := e.Submit(context.Background(), parse(t, reg, `{"id": "w", "steps": {"long": {"type": "probe"}}}`), nil); err != nil {
		t.Fatal(err)
	}
	<-started
	e.Close()
	if got := rec.outcomes(); !slices.Equal(got, []string{"probe:canceled/canceled"}) {
		t.Errorf("attempts: %v", got)
	}
	if n := rec.running.Load(); n != 0 {
		t.Errorf("%d attempts still running", n)
	}
	if got := rec.runEnds(); len(got) != 0 {
		t.Errorf("runs: %v (the run is not over: it resumes elsewhere)", got)
	}
}

// blindStore is a store whose Run fails while blind is set.
type blindStore struct {
	weft.Store
	blind atomic.Bool
}

func (s *blindStore) Run(ctx context.Context, runID string) (*weft.Run, error) {
	if s.blind.Load() {
		return nil, fmt.Errorf("run %s: %w", runID, weft.Errorf(weft.CodeUnavailable, "the store is blind"))
	}
	return s.Store.Run(ctx, runID)
}

// blindAtRunEnd records runs while making store reads fail from the first
// step's start to the run's end.
type blindAtRunEnd struct {
	recorder
	store *blindStore
}

func (b *blindAtRunEnd) StepStarted(s *weft.StepObservation) {
	b.store.blind.Store(true)
	b.recorder.StepStarted(s)
}

func (b *blindAtRunEnd) RunFinished(o *weft.RunObservation) {
	b.recorder.RunFinished(o)
	b.store.blind.Store(false)
}

func TestObserverRunEndReadsNoRecord(t *testing.T) {
	store := &blindStore{Store: inmem.New()}
	obs := &blindAtRunEnd{store: store}
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(store, &engine.Config{Registry: reg, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st, err := execute(t, e, parse(t, reg, `{"id": "blind", "steps": {"a": {"type": "input", "input": {"data": 1}}}}`), nil)
	if err != nil || st.State != weft.RunSucceeded {
		t.Fatalf("run %v: %v", st, err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// The engine knows the run's workflow and creation time: the run is
	// counted with its duration although its record cannot be read.
	if len(obs.runs) != 1 || obs.runs[0].WorkflowID != "blind" || obs.runs[0].Status != weft.RunSucceeded || obs.runs[0].Duration <= 0 {
		t.Errorf("runs %+v", obs.runs)
	}
}
