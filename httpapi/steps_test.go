package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/inmem"
)

// step gets a step of a run in detail.
func (h *harness) step(runID, stepID string) *httpapi.StepDetail {
	h.t.Helper()
	d, err := h.client.RunStep(context.Background(), runID, stepID)
	if err != nil {
		h.t.Fatalf("step %s of run %s: %v", stepID, runID, err)
	}
	return d
}

// compact returns raw without insignificant space.
func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return b.String()
}

func TestRunStep(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(failWorkflow))
	h.wait(run.RunID)

	first := h.step(run.RunID, "first")
	if first.ID != "first" || first.Type != "input" || first.Status != weft.StepSucceeded || first.Output == nil ||
		len(first.DependsOn) != 0 || first.DependsOn == nil || compact(t, first.Input) != `{"data":{"n":1}}` {
		t.Fatalf("first: %+v", first)
	}
	second := h.step(run.RunID, "second")
	if second.Status != weft.StepFailed || second.AttemptCount != 1 || second.Attempts != 1 || second.Error == nil ||
		len(second.DependsOn) != 1 || second.DependsOn[0] != "first" || compact(t, second.Input) != `{"fail":true}` || second.AttemptsTruncated {
		t.Fatalf("second: %+v", second)
	}
	if len(second.History) != 1 {
		t.Fatalf("attempts %+v", second.History)
	}
	a := second.History[0]
	if a.Attempt != 1 || a.Status != weft.StepFailed || a.Error == nil || a.Error.Code != weft.CodeInvalid || a.Worker == "" ||
		a.StartedAt.IsZero() || a.FinishedAt == nil || a.FinishedAt.Before(a.StartedAt) || a.DelayMS != 0 || a.DurationMS < 0 {
		t.Fatalf("attempt %+v", a)
	}
	// The JSON: "attempts" is the list, "attempt_count" the number.
	var raw map[string]json.RawMessage
	h.do("GET", "/api/v1/runs/"+run.RunID+"/steps/second", "", nil).json(t, &raw)
	if !strings.HasPrefix(string(raw["attempts"]), "[") || string(raw["attempt_count"]) != "1" || string(raw["attempts_truncated"]) != "false" {
		t.Errorf("JSON: attempts %s, attempt_count %s", raw["attempts"], raw["attempt_count"])
	}

	// Retried with an edited input: a second attempt, and the input as
	// recorded now.
	if _, err := h.client.RetryRun(context.Background(), run.RunID, &httpapi.RetryRequest{Inputs: map[string]json.RawMessage{"second": json.RawMessage(`{"fail": false}`)}}); err != nil {
		t.Fatal(err)
	}
	h.wait(run.RunID)
	second = h.step(run.RunID, "second")
	if second.Status != weft.StepSucceeded || len(second.History) != 2 || compact(t, second.Input) != `{"fail":false}` {
		t.Fatalf("after retry: %+v", second)
	}
	if second.History[0].Status != weft.StepFailed || second.History[1].Attempt != 2 || second.History[1].Status != weft.StepSucceeded || second.History[1].Error != nil {
		t.Fatalf("after retry: attempts %+v", second.History)
	}

	e := h.do("GET", "/api/v1/runs/"+run.RunID+"/steps/secnod", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	if !strings.Contains(e.Error.Message, `did you mean "second"?`) {
		t.Errorf("message %q has no suggestion", e.Error.Message)
	}
	h.do("GET", "/api/v1/runs/"+run.RunID+"/steps/zzzzzzzz", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	h.do("GET", "/api/v1/runs/nope/steps/first", "", nil).wantError(t, 404, httpapi.CodeNotFound)
}

func TestRunStepRetries(t *testing.T) {
	h := newHarness(t, nil)
	wf := `{"id": "flaky", "steps": {"f": {"type": "flaky", "input": {"fail_times": 2},
	  "retry": {"max_retries": 3, "initial_interval": "20ms", "backoff": 1, "jitter": "none"}}}}`
	run := h.startRun(inlineRun(wf))
	h.wait(run.RunID)
	d := h.step(run.RunID, "f")
	if d.Status != weft.StepSucceeded || d.AttemptCount != 3 || len(d.History) != 3 {
		t.Fatalf("step: %+v", d)
	}
	for i, a := range d.History {
		want, delay := weft.StepRetrying, 20.0
		if i == 2 {
			want, delay = weft.StepSucceeded, 0
		}
		if a.Attempt != i+1 || a.Status != want || a.DelayMS != delay || (a.Error != nil) != (i < 2) || a.FinishedAt == nil {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
		if i > 0 && a.StartedAt.Before(*d.History[i-1].FinishedAt) {
			t.Errorf("attempt %d started before the previous one ended", i+1)
		}
	}
}

func TestRunStepRunningAndCanceled(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(blockWorkflow))
	h.waitStep(run.RunID, "wait")
	d := h.step(run.RunID, "wait")
	if len(d.History) != 1 || d.History[0].Status != weft.StepRunning || d.History[0].FinishedAt != nil || d.History[0].Error != nil {
		t.Fatalf("running: %+v", d.History)
	}
	if _, err := h.client.CancelRun(context.Background(), run.RunID); err != nil {
		t.Fatal(err)
	}
	h.wait(run.RunID)
	d = h.step(run.RunID, "wait")
	if a := d.History[0]; a.Status != weft.StepCanceled || a.Reason != weft.ReasonRunCanceled || a.FinishedAt == nil {
		t.Fatalf("canceled: %+v", a)
	}
}

// eventStore serves made-up events for a step, to test the attempts a
// StepDetail builds from them.
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

func TestRunStepAttemptsFromEvents(t *testing.T) {
	es := &eventStore{}
	h := newHarness(t, &options{api: func(c *httpapi.Config) {
		es.Store = c.Store.(*inmem.Store)
		c.Store = es
	}})
	run := h.startRun(inlineRun(`{"id": "one", "steps": {"s": {"type": "input", "input": {"data": {}}}, "t": {"type": "input", "input": {"data": {}}}}}`))
	h.wait(run.RunID)
	es.runID = run.RunID
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var seq int64
	add := func(step string, typ weft.EventType, attempt int, ev weft.Event) {
		seq++
		ev.Seq, ev.RunID, ev.StepID, ev.Type, ev.Attempt = seq, run.RunID, step, typ, attempt
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
	d := h.step(run.RunID, "s")
	if len(d.History) != 3 || d.AttemptsTruncated {
		t.Fatalf("attempts %+v", d.History)
	}
	a1, a2, a3 := d.History[0], d.History[1], d.History[2]
	if a1.Status != weft.StepFailed || a1.Error == nil || a1.Error.Code != "lease_lost" || a1.Worker != "w1" || a1.FinishedAt != nil || a1.DurationMS != 0 {
		t.Errorf("lost attempt %+v", a1)
	}
	if a2.Status != weft.StepCanceled || a2.Error == nil || a2.Error.Code != weft.CodeUnavailable || a2.DelayMS != 0 || a2.DurationMS != 1000 || a2.Reason != weft.ReasonRunCanceled {
		t.Errorf("canceled retry %+v", a2)
	}
	if a3.Status != weft.StepSkipped || a3.Reason != weft.ReasonWhenFalse || a3.Attempt != 3 || a3.Error != nil {
		t.Errorf("skipped attempt %+v", a3)
	}

	// More attempts than the cap: the newest 1,000 are kept.
	es.events, seq = nil, 0
	for n := 1; n <= 2600; n++ {
		add("s", weft.EventStepStarted, n, weft.Event{Worker: fmt.Sprint("w", n)})
		add("s", weft.EventStepRetrying, n, weft.Event{Error: fail, Delay: time.Second})
	}
	d = h.step(run.RunID, "s")
	if !d.AttemptsTruncated || len(d.History) != 1000 || d.History[0].Attempt != 1601 || d.History[999].Attempt != 2600 || d.History[999].DelayMS != 1000 {
		t.Fatalf("capped: truncated %v, %d attempts from %d", d.AttemptsTruncated, len(d.History), d.History[0].Attempt)
	}
}

// A step's resolved input is its input with the templates evaluated, as
// its attempt got it; a static input is given as written.
func TestRunStepResolvedInput(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(`{"id": "tpl", "params": {"who": "weft"}, "steps": {
		"a": {"type": "input", "input": {"data": {"n": 2}}},
		"b": {"type": "input", "depends_on": ["a"], "input": {"data": {"msg": "hello {{ params.who }}", "twice": "{{ data.n * 2 }}"}}}}}`))
	h.wait(run.RunID)
	b := h.step(run.RunID, "b")
	if got := compact(t, b.ResolvedInput); got != `{"data":{"msg":"hello weft","twice":4}}` {
		t.Errorf("b's resolved input %s", got)
	}
	if !strings.Contains(string(b.Input), "{{ params.who }}") {
		t.Errorf("b's input %s: want it as written", b.Input)
	}
	if got := compact(t, h.step(run.RunID, "a").ResolvedInput); got != `{"data":{"n":2}}` {
		t.Errorf("a's resolved input %s", got)
	}
}
