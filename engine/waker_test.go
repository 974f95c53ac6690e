package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
)

// wakingStore is an in-memory store that another "process" (the test)
// can signal through Wake.
type wakingStore struct {
	*inmem.Store
	wake chan struct{}
}

func (s *wakingStore) Wake() <-chan struct{} { return s.wake }

// TestWakerClaimsAtOnce: a run created by another process is claimed when
// the store says steps are ready, not at the next poll (an hour away).
func TestWakerClaimsAtOnce(t *testing.T) {
	store := &wakingStore{Store: inmem.New(), wake: make(chan struct{}, 1)}
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	def := parse(t, reg, `{"id": "w", "steps": {"a": {"type": "input", "input": {"data": 1}}}}`)
	// The other process: an engine that runs nothing submits the run.
	submitter, err := engine.New(store, &engine.Config{Registry: reg, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer submitter.Close()
	worker, err := engine.New(store, &engine.Config{Registry: reg, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	// Let the worker's first look (at start) pass before the run exists.
	time.Sleep(20 * time.Millisecond)
	run, err := submitter.Submit(t.Context(), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := worker.Wait(ctx, run.ID); err == nil {
		t.Fatal("the run ran without a wake-up: the test cannot tell wake-ups from polls")
	}
	store.wake <- struct{}{}
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st, err := worker.Wait(ctx, run.ID)
	if err != nil || st.State != weft.RunSucceeded {
		t.Fatalf("after a wake-up: %v %v", st, err)
	}
}

// TestSubscribeFollowsRunsOfOtherProcesses: an engine that runs no steps
// (a server before workers) streams the events of a run that another
// engine executes, to its end, reading them every SubscribePollInterval
// (the second case would never see them at its hour-long PollInterval).
func TestSubscribeFollowsRunsOfOtherProcesses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  engine.Config
	}{
		{"poll interval", engine.Config{PollInterval: 20 * time.Millisecond}},
		{"subscription poll interval", engine.Config{PollInterval: time.Hour, SubscribePollInterval: 20 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) { subscribeToOtherProcess(t, tc.cfg) })
	}
}

func subscribeToOtherProcess(t *testing.T, serverCfg engine.Config) {
	store := inmem.New()
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newProbe()
	reg.Register("probe", p)
	release := make(chan struct{})
	p.behave["b"] = func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		<-release
		return json.RawMessage(`1`), nil
	}
	serverCfg.Registry, serverCfg.NoWorker = reg, true
	server, err := engine.New(store, &serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	worker, err := engine.New(store, &engine.Config{Registry: reg, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // before the worker closes, whatever happened
	run, err := server.Submit(t.Context(), parse(t, reg, `{"id": "s", "steps": {"a": {"type": "probe"}, "b": {"type": "probe", "depends_on": ["a"]}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := server.Subscribe(ctx, run.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []weft.EventType
	for ev := range ch {
		got = append(got, ev.Type)
		if ev.Type == weft.EventStepStarted && ev.StepID == "b" {
			free()
		}
	}
	if ctx.Err() != nil || len(got) == 0 || got[len(got)-1] != weft.EventRunSucceeded {
		t.Fatalf("events seen by the engine that runs no steps: %v (ctx %v)", got, ctx.Err())
	}
}

// slowRunStore delays reading a run's record (as loading the workflow of a
// large run takes time), once.
type slowRunStore struct {
	*inmem.Store
	delay time.Duration
	once  sync.Once
}

func (s *slowRunStore) Run(ctx context.Context, id string) (*weft.Run, error) {
	s.once.Do(func() { time.Sleep(s.delay) })
	return s.Store.Run(ctx, id)
}

// TestLeaseRenewedWhileTheRunLoads: a claimed step's lease is renewed while
// the engine loads its run's workflow, so that a slow load does not let
// the lease expire and the step run twice.
func TestLeaseRenewedWhileTheRunLoads(t *testing.T) {
	store := &slowRunStore{Store: inmem.New(), delay: time.Second}
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	def := parse(t, reg, `{"id": "slow", "steps": {"a": {"type": "input", "input": {"data": 1}}}}`)
	// Another process submits the run, so the worker must load it.
	submitter, err := engine.New(store.Store, &engine.Config{Registry: reg, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer submitter.Close()
	run, err := submitter.Submit(t.Context(), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := engine.New(store, &engine.Config{Registry: reg, LeaseDuration: 150 * time.Millisecond, PollInterval: 20 * time.Millisecond, MaxParallelSteps: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := worker.Wait(ctx, run.ID)
	if err != nil || st.State != weft.RunSucceeded {
		t.Fatalf("run: %v %v", st, err)
	}
	if n := st.Steps["a"].Attempts; n != 1 {
		t.Fatalf("step a ran %d attempts: its lease expired while the run loaded", n)
	}
}
