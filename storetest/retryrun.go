package storetest

import (
	"encoding/json"
	"time"

	"github.com/weft-dev/weft"
)

// retryRun retries run id at now with workflow wf (nil for none); it must
// succeed.
func (h *harness) retryRun(id string, now time.Duration, wf string) *weft.Run {
	h.Helper()
	rr := &weft.RunRetry{RunID: id, Now: at(now)}
	if wf != "" {
		rr.Workflow = json.RawMessage(wf)
	}
	run, err := h.s.RetryRun(h.ctx, rr)
	if err != nil {
		h.Fatalf("RetryRun(%s): %v", id, err)
	}
	return run
}

// wantRetryRefused checks that RetryRun refuses run id with CodeInvalid.
func (h *harness) wantRetryRefused(id string) {
	h.Helper()
	_, err := h.s.RetryRun(h.ctx, &weft.RunRetry{RunID: id, Now: at(100 * sec)})
	if weft.ErrorCode(err) != weft.CodeInvalid {
		h.Errorf("RetryRun(%s) = %v; want an error with code invalid", id, err)
	}
}

func testRetryRun(h *harness) {
	nr := h.newRun("r", node("a"), node("b", 0), node("c", 1), node("x"))
	nr.Run.Workflow = json.RawMessage(`{"v":1}`)
	id := h.create(nr)
	cs := h.claimIDs("w", 2, at(sec), "a", "x")
	h.succeed(cs[0], at(2*sec), `"A"`)
	h.succeed(cs[1], at(2*sec), `"X"`)
	b := h.claimIDs("w", 1, at(3*sec), "b")[0]
	if res := h.fail(b, at(4*sec), "boom"); res.RunStatus != weft.RunFailed {
		h.Fatalf("run %s after b failed; want failed", res.RunStatus)
	}
	h.wantStates(id, "a:succeeded b:failed c:skipped/upstream_failed x:succeeded")
	h.newEvents(id)

	run := h.retryRun(id, 10*sec, `{"v":2}`)
	if run.Status != weft.RunPending || run.Error != nil || run.Result != nil || !run.FinishedAt.IsZero() {
		h.Errorf("RetryRun = status %s error %v result %s finished %s; want pending, no error, result or end",
			run.Status, run.Error, run.Result, run.FinishedAt)
	}
	h.wantKinds("RetryRun", h.newEvents(id), "run_retried")
	h.wantStates(id, "a:succeeded b:ready c:pending x:succeeded")
	got := h.run(id)
	h.wantJSON("Run().Workflow after RetryRun", got.Workflow, `{"v":2}`)
	if got.Status != weft.RunPending {
		h.Errorf("Run().Status = %s; want pending", got.Status)
	}
	steps := h.steps(id)
	if s := steps["b"]; s.Attempts != 1 || s.Error != nil || !s.FinishedAt.IsZero() {
		h.Errorf("b after RetryRun = attempts %d error %v finished %s; want 1, none, zero", s.Attempts, s.Error, s.FinishedAt)
	}
	for sid, out := range map[string]string{"a": `"A"`, "x": `"X"`} {
		if s := steps[sid]; s.Attempts != 1 {
			h.Errorf("%s has %d attempts; want 1", sid, s.Attempts)
		} else {
			h.wantJSON(sid+"'s output", s.Output, out)
		}
	}

	b = h.claimIDs("w", 10, at(11*sec), "b")[0]
	if b.Attempt != 2 {
		h.Errorf("b's claim after RetryRun has attempt %d; want 2", b.Attempt)
	}
	if len(b.Deps) != 1 || b.Deps[0].Status != weft.StepSucceeded {
		h.Errorf("b.Deps = %+v; want a succeeded", b.Deps)
	} else {
		h.wantJSON("b.Deps[0].Output", b.Deps[0].Output, `"A"`)
	}
	h.succeed(b, at(12*sec), `"B"`)
	c := h.claimIDs("w", 10, at(13*sec), "c")[0]
	if c.Attempt != 1 {
		h.Errorf("c's claim has attempt %d; want 1", c.Attempt)
	}
	if res := h.succeed(c, at(14*sec), `"C"`); res.RunStatus != weft.RunSucceeded {
		h.Errorf("run %s after every step succeeded; want succeeded", res.RunStatus)
	}
	run = h.run(id)
	h.wantJSON("result", run.Result, `{"c":"C","x":"X"}`)
	if run.Error != nil {
		h.Errorf("run error = %+v; want none", run.Error)
	}
	h.wantRetryRefused(id) // succeeded

	// A running run is refused; a canceled one is retried, its canceled
	// step claimed with its next attempt number.
	id2 := h.start("r2", node("s"))
	h.claimRun(id2, "w", at(sec))
	h.wantRetryRefused(id2)
	h.cancel(id2, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(2*sec))
	h.newEvents(id2)
	h.retryRun(id2, 3*sec, "")
	h.wantStates(id2, "s:ready")
	if wf := h.run(id2).Workflow; len(wf) != 0 {
		h.Errorf("Workflow = %s after RetryRun without one; want none kept", wf)
	}
	s := h.claimRun(id2, "w", at(4*sec))
	if s.Attempt != 2 {
		h.Errorf("s's claim after RetryRun has attempt %d; want 2", s.Attempt)
	}
	if res := h.succeed(s, at(5*sec), `1`); res.RunStatus != weft.RunSucceeded {
		h.Errorf("run %s; want succeeded", res.RunStatus)
	}
	h.wantKinds("retried canceled run", h.newEvents(id2),
		"run_retried", "run_started", "step_started:s", "step_succeeded:s", "run_succeeded")

	_, err := h.s.RetryRun(h.ctx, &weft.RunRetry{RunID: h.id("nope"), Now: at(sec)})
	h.wantIs("RetryRun(unknown)", err, weft.ErrNotFound)
}
