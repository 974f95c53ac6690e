package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/workflow"
)

// registry returns the built-in step types plus "probe".
func registry(t *testing.T, p *probe) *weft.Registry {
	_, reg := setup(t, p, &engine.Config{NoWorker: true})
	return reg
}

// engineOn returns an engine over store, closed when the test ends, so
// that engines can share a store (processes, or restarts).
func engineOn(t *testing.T, store weft.Store, reg *weft.Registry, cfg *engine.Config) *engine.Engine {
	t.Helper()
	c := engine.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Registry = reg
	e, err := engine.New(store, &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// startShutdown calls e.Shutdown(ctx) on another goroutine and returns,
// once the drain has begun, the channel its result comes on. (The drain
// has begun when a nil definition is refused as closed, which Submit says
// before it looks at one.)
func startShutdown(ctx context.Context, e *engine.Engine) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.Shutdown(ctx) }()
	for {
		if _, err := e.Submit(ctx, nil, nil); errors.Is(err, weft.ErrClosed) {
			return done
		}
		runtime.Gosched()
	}
}

// submitStarted submits def and waits for started to be closed.
func submitStarted(t *testing.T, e *engine.Engine, def *workflow.Definition, started chan struct{}) *weft.Run {
	t.Helper()
	run, err := e.Submit(context.Background(), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	return run
}

// slowDoc is a workflow of one step, slow.
const slowDoc = `{"id": "w", "steps": {"slow": {"type": "probe"}}}`

// blocking returns a behaviour that, on its first attempt, closes started
// and waits for release (then succeeds) or for its context (then returns
// its error, and reports it on canceled). Later attempts succeed at once.
func blocking(started, release chan struct{}, canceled chan<- error) func(context.Context, *weft.StepContext) (json.RawMessage, error) {
	return func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		if sc.Attempt > 1 {
			return json.RawMessage(`"again"`), nil
		}
		close(started)
		select {
		case <-release:
			return json.RawMessage(`"released"`), nil
		case <-ctx.Done():
			if canceled != nil {
				canceled <- ctx.Err()
			}
			return nil, ctx.Err()
		}
	}
}

// waitCtx is a context for waits that must not hang a failing test.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The drain: the attempt in flight finishes and is recorded, ready steps
// do not start, and a restart runs them.
func TestShutdownDrains(t *testing.T) {
	p := newProbe()
	started, release := make(chan struct{}), make(chan struct{})
	p.on("slow", blocking(started, release, nil))
	store, reg := inmem.New(), registry(t, p)
	// One slot: slow (the longer path) takes it, other waits ready.
	e := engineOn(t, store, reg, &engine.Config{MaxParallelSteps: 1})
	def := parse(t, reg, `{"id": "w", "steps": {"slow": {"type": "probe"}, "after": {"type": "probe", "depends_on": ["slow"]}, "other": {"type": "probe"}}}`)
	ctx := waitCtx(t)
	run := submitStarted(t, e, def, started)
	done := startShutdown(ctx, e)
	if _, err := e.Submit(ctx, def, nil); !errors.Is(err, weft.ErrClosed) {
		t.Errorf("submit during the drain: %v, want ErrClosed", err)
	}
	if st, err := e.Status(ctx, run.ID); err != nil || st.Steps["slow"].Status != weft.StepRunning {
		t.Errorf("status during the drain: %v, %v", st, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while an attempt was in flight", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st, err := e.Status(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(st); got != "other=ready slow=succeeded after=ready" {
		t.Errorf("after the drain: %s", got)
	}
	if st.State != weft.RunRunning || p.runs["other"] != 0 || p.runs["after"] != 0 {
		t.Errorf("run %s; other ran %d times, after %d", st.State, p.runs["other"], p.runs["after"])
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown again: %v", err)
	}

	// A restart runs what was left; slow is not run again.
	st, err = engineOn(t, store, reg, nil).Wait(ctx, run.ID)
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if p.runs["slow"] != 1 || p.runs["other"] != 1 || p.runs["after"] != 1 {
		t.Errorf("runs after the restart: %v", p.runs)
	}
	if string(st.Steps["slow"].Output) != `"released"` {
		t.Errorf("slow's output %s", st.Steps["slow"].Output)
	}
}

// A drain cut short by ctx cancels the attempt, which stays claimed (not
// failed) and runs again once its lease expires.
func TestShutdownDeadline(t *testing.T) {
	p := newProbe()
	started, canceled := make(chan struct{}), make(chan error, 1)
	p.on("slow", blocking(started, nil, canceled))
	store, reg := inmem.New(), registry(t, p)
	e := engineOn(t, store, reg, &engine.Config{LeaseDuration: time.Minute})
	ctx := waitCtx(t)
	run := submitStarted(t, e, parse(t, reg, slowDoc), started)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	select {
	case <-canceled:
	default:
		t.Fatal("Shutdown returned before the attempt it canceled ended")
	}
	st, err := e.Status(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Steps["slow"]; st.State != weft.RunRunning || s.Status != weft.StepRunning || s.Attempts != 1 || s.Error != nil {
		t.Errorf("after the deadline: run %s, slow %+v", st.State, s)
	}
	events, err := store.Events(ctx, run.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Type == weft.EventStepFailed || ev.Type == weft.EventStepRetrying || ev.Type == weft.EventStepCanceled {
			t.Errorf("event %s recorded for a step stopped by Shutdown", ev.Type)
		}
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}

	// A later process, once the lease expired, runs the step again.
	later := func() time.Time { return time.Now().Add(2 * time.Minute) }
	st, err = engineOn(t, store, reg, &engine.Config{Now: later}).Wait(ctx, run.ID)
	if err != nil {
		t.Fatalf("after the lease expired: %v", err)
	}
	if s := st.Steps["slow"]; s.Attempts != 2 || string(s.Output) != `"again"` {
		t.Errorf("slow after the restart: %+v", s)
	}
}

// Cancel works during the drain, and ends it.
func TestShutdownCancelDuringDrain(t *testing.T) {
	p := newProbe()
	started := make(chan struct{})
	p.on("slow", blocking(started, nil, nil))
	e, reg := setup(t, p, nil)
	ctx := waitCtx(t)
	run := submitStarted(t, e, parse(t, reg, slowDoc), started)
	done := startShutdown(ctx, e)
	if _, err := e.Cancel(ctx, run.ID); err != nil {
		t.Fatalf("cancel during the drain: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st, err := e.Wait(ctx, run.ID)
	if st == nil || st.State != weft.RunCanceled || weft.ErrorCode(err) != weft.CodeCanceled {
		t.Errorf("status %+v, error %v", st, err)
	}
}

// Close during the drain cancels what is left; Shutdown says so.
func TestShutdownCutShortByClose(t *testing.T) {
	p := newProbe()
	started, canceled := make(chan struct{}), make(chan error, 1)
	p.on("slow", blocking(started, nil, canceled))
	e, reg := setup(t, p, nil)
	ctx := waitCtx(t)
	submitStarted(t, e, parse(t, reg, slowDoc), started)
	done := startShutdown(ctx, e)
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-canceled
	if err := <-done; !errors.Is(err, weft.ErrClosed) {
		t.Errorf("Shutdown cut short by Close: %v, want ErrClosed", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after Close: %v", err)
	}
}

// An engine with nothing in flight, or no worker, shuts down at once; the
// queue limit holds without a worker.
func TestShutdownIdleAndNoWorker(t *testing.T) {
	p := newProbe()
	ctx := waitCtx(t)
	idle, _ := setup(t, p, nil)
	if err := idle.Shutdown(ctx); err != nil {
		t.Errorf("idle Shutdown: %v", err)
	}
	reg := registry(t, p)
	e := engineOn(t, inmem.New(), reg, &engine.Config{NoWorker: true, MaxUnfinishedRuns: 1})
	def := parse(t, reg, `{"id": "w", "steps": {"s": {"type": "probe"}}}`)
	run, err := e.Submit(ctx, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(ctx, def, nil); !errors.Is(err, weft.ErrQueueFull) {
		t.Errorf("second run over a limit of 1: %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("NoWorker Shutdown: %v", err)
	}
	if st, err := e.Status(ctx, run.ID); err != nil || st.State != weft.RunPending {
		t.Errorf("after Shutdown: %+v, %v", st, err)
	}
	if p.runs["s"] != 0 {
		t.Errorf("a NoWorker engine ran a step")
	}
}
