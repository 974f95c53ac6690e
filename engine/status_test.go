package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/inmem"
)

// readLog is a store that records the reads of a run's record and steps.
type readLog struct {
	*inmem.Store
	mu    sync.Mutex
	reads []string
}

func (s *readLog) Run(ctx context.Context, id string) (*weft.Run, error) {
	s.log("Run")
	return s.Store.Run(ctx, id)
}

func (s *readLog) Steps(ctx context.Context, id string) ([]*weft.StepRun, error) {
	s.log("Steps")
	return s.Store.Steps(ctx, id)
}

func (s *readLog) log(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, what)
}

func (s *readLog) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = nil
	return r
}

// lastSeq returns the Seq of run id's last event in store.
func lastSeq(t *testing.T, store weft.Store, id string) int64 {
	t.Helper()
	evs, err := store.Events(context.Background(), id, 0, 0)
	if err != nil || len(evs) == 0 {
		t.Fatalf("Events(%s) = %d events, %v", id, len(evs), err)
	}
	return evs[len(evs)-1].Seq
}

// TestStatusLastEvent: Status carries the run record's LastEvent, reads
// the record before the steps (and only once, even for a run the engine
// has not seen), and a subscription after LastEvent continues the
// snapshot with the next event.
func TestStatusLastEvent(t *testing.T) {
	p := newProbe()
	started, release := make(chan struct{}), make(chan struct{})
	p.on("slow", blocking(started, release, nil))
	store, reg := &readLog{Store: inmem.New()}, registry(t, p)
	e := engineOn(t, store, reg, nil)
	ctx := waitCtx(t)
	run := submitStarted(t, e, parse(t, reg, slowDoc), started)

	store.take()
	st, err := e.Status(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.take(); !slices.Equal(got, []string{"Run", "Steps"}) {
		t.Errorf("Status read %q; want the record, then the steps", got)
	}
	if want := lastSeq(t, store, run.ID); st.LastEvent != want || st.Steps["slow"].Status != weft.StepRunning {
		t.Errorf("Status = last event %d, slow %s; want %d, running", st.LastEvent, st.Steps["slow"].Status, want)
	}
	ch, err := e.Subscribe(ctx, run.ID, st.LastEvent)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	var kinds []string
	next := st.LastEvent + 1
	for ev := range ch {
		if ev.Seq != next {
			t.Errorf("event %d (%s) after the snapshot; want %d", ev.Seq, ev.Type, next)
		}
		next = ev.Seq + 1
		kinds = append(kinds, string(ev.Type)+":"+ev.StepID)
	}
	if want := []string{"step_succeeded:slow", "run_succeeded:"}; !slices.Equal(kinds, want) {
		t.Errorf("events after the snapshot %q; want %q", kinds, want)
	}

	// An engine that has not seen the run builds its picture of it from
	// the record Status read.
	other := engineOn(t, store, reg, &engine.Config{NoWorker: true})
	store.take()
	st, err = other.Status(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.take(); !slices.Equal(got, []string{"Run", "Steps"}) {
		t.Errorf("Status of a run the engine had not seen read %q; want the record, then the steps", got)
	}
	if want := lastSeq(t, store, run.ID); st.LastEvent != want || st.State != weft.RunSucceeded ||
		!slices.Equal(st.Order, []string{"slow"}) {
		t.Errorf("Status = last event %d, %s, order %q; want %d, succeeded, [slow]", st.LastEvent, st.State, st.Order, want)
	}
}
