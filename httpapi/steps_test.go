package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/httpapi"
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

// NewStepDetail writes an engine's step detail in the wire's units: times
// as they are, an attempt's unknown end as absent, durations and delays
// in milliseconds.
func TestNewStepDetail(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := httpapi.NewStepDetail(&engine.StepDetail{
		StepID:    "s",
		StepState: engine.StepState{Type: "x", Status: weft.StepRetrying, Attempts: 2, QueueWait: 1500 * time.Microsecond},
		History: []engine.Attempt{
			{Attempt: 1, Worker: "w1", StartedAt: t0, Status: weft.StepFailed, Error: &weft.ErrorInfo{Code: engine.CodeLeaseLost}},
			{Attempt: 2, Worker: "w2", StartedAt: t0, FinishedAt: t0.Add(time.Second), Status: weft.StepRetrying, Delay: 1500 * time.Millisecond, Duration: time.Second},
		},
		HistoryTruncated: true,
	})
	if d.ID != "s" || d.AttemptCount != 2 || d.QueueWaitMS != 1.5 || !d.AttemptsTruncated || d.DependsOn == nil || d.Input != nil || d.ResolvedInput != nil {
		t.Errorf("detail %+v", d)
	}
	if len(d.History) != 2 || d.History[0].FinishedAt != nil || d.History[0].Error.Code != "lease_lost" ||
		d.History[1].FinishedAt == nil || !d.History[1].FinishedAt.Equal(t0.Add(time.Second)) || d.History[1].DelayMS != 1500 || d.History[1].DurationMS != 1000 {
		t.Errorf("attempts %+v", d.History)
	}
	b, err := json.Marshal(d)
	if err != nil || !strings.Contains(string(b), `"attempt_count":2`) || strings.Contains(string(b), "resolved_input") {
		t.Errorf("JSON %s (%v)", b, err)
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
