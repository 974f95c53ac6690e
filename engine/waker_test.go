package engine_test

import (
	"context"
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
