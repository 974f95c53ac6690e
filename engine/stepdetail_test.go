package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
)

// eventStore answers Events of one run from a list the test writes.
type eventStore struct {
	*inmem.Store
	runID  string
	events []weft.Event
}

func (s *eventStore) Events(ctx context.Context, runID string, after int64, limit int) ([]weft.Event, error) {
	if runID != s.runID {
		return s.Store.Events(ctx, runID, after, limit)
	}
	var out []weft.Event
	for _, ev := range s.events {
		if ev.Seq > after && (limit <= 0 || len(out) < limit) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// A step's attempts are built from its run's events: lost leases,
// retries, a cancellation during a retry's wait, skips, and only the
// newest when there are too many.
func TestStepDetailAttemptsFromEvents(t *testing.T) {
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	es := &eventStore{Store: inmem.New()}
	e, err := engine.New(es, &engine.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := waitCtx(t)
	run, err := e.Submit(ctx, parse(t, reg, `{"id": "one", "steps": {"s": {"type": "input", "input": {"data": {}}}, "t": {"type": "input", "input": {"data": {}}}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Wait(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	es.runID = run.ID
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var seq int64
	add := func(step string, typ weft.EventType, attempt int, ev weft.Event) {
		seq++
		ev.Seq, ev.RunID, ev.StepID, ev.Type, ev.Attempt = seq, run.ID, step, typ, attempt
		ev.Time = t0.Add(time.Duration(seq) * time.Second)
		es.events = append(es.events, ev)
	}
	fail := &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}
	// Attempt 1 loses its lease; 2 is retried; the run is canceled while
	// 2 waits for its retry; the run is retried and attempt 3 is skipped.
	add("s", weft.EventStepStarted, 1, weft.Event{Worker: "w1"})
	add("t", weft.EventStepStarted, 1, weft.Event{Worker: "w1"})
	add("s", weft.EventStepStarted, 2, weft.Event{Worker: "w2"})
	add("s", weft.EventStepRetrying, 2, weft.Event{Worker: "w2", Error: fail, Delay: 1500 * time.Millisecond})
	add("s", weft.EventStepCanceled, 2, weft.Event{Reason: weft.ReasonRunCanceled})
	add("s", weft.EventStepSkipped, 0, weft.Event{Reason: weft.ReasonUpstreamFailed})
	add("s", weft.EventStepStarted, 3, weft.Event{Worker: "w3"})
	add("s", weft.EventStepSkipped, 3, weft.Event{Worker: "w3", Reason: weft.ReasonWhenFalse})
	d, err := e.StepDetail(ctx, run.ID, "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.History) != 3 || d.HistoryTruncated {
		t.Fatalf("attempts %+v", d.History)
	}
	a1, a2, a3 := d.History[0], d.History[1], d.History[2]
	if a1.Status != weft.StepFailed || a1.Error == nil || a1.Error.Code != engine.CodeLeaseLost || a1.Worker != "w1" || !a1.FinishedAt.IsZero() || a1.Duration != 0 {
		t.Errorf("lost attempt %+v", a1)
	}
	if a2.Status != weft.StepCanceled || a2.Error == nil || a2.Error.Code != weft.CodeUnavailable || a2.Delay != 0 || a2.Duration != time.Second || a2.Reason != weft.ReasonRunCanceled {
		t.Errorf("canceled retry %+v", a2)
	}
	if a3.Status != weft.StepSkipped || a3.Reason != weft.ReasonWhenFalse || a3.Attempt != 3 || a3.Error != nil {
		t.Errorf("skipped attempt %+v", a3)
	}

	// More attempts than the cap: the newest are kept.
	es.events, seq = nil, 0
	for n := 1; n <= 2600; n++ {
		add("s", weft.EventStepStarted, n, weft.Event{Worker: fmt.Sprint("w", n)})
		add("s", weft.EventStepRetrying, n, weft.Event{Error: fail, Delay: time.Second})
	}
	for _, tc := range []struct{ max, first int }{{0, 1601}, {10, 2591}} {
		d, err = e.StepDetail(ctx, run.ID, "s", &engine.StepDetailOptions{MaxAttempts: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		n := 2600 - tc.first + 1
		if !d.HistoryTruncated || len(d.History) != n || d.History[0].Attempt != tc.first || d.History[n-1].Attempt != 2600 || d.History[n-1].Delay != time.Second {
			t.Fatalf("capped at %d: truncated %v, %d attempts from %d", tc.max, d.HistoryTruncated, len(d.History), d.History[0].Attempt)
		}
	}

	var snf *weft.StepNotFoundError
	if _, err := e.StepDetail(ctx, run.ID, "ss", nil); !errors.As(err, &snf) || !errors.Is(err, weft.ErrNotFound) || snf.Suggestion == "" {
		t.Errorf("unknown step: %v, want a StepNotFoundError with a suggestion", err)
	}
	if _, err := e.StepDetail(ctx, "nope", "s", nil); !errors.Is(err, weft.ErrNotFound) || errors.As(err, &snf) {
		t.Errorf("unknown run: %v, want ErrNotFound", err)
	}
}
