package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/weft-dev/weft"
)

// testFencing: a Finish or Heartbeat with a wrong attempt or worker, or
// for an attempt already finished, is ErrLeaseLost and changes nothing.
func testFencing(h *harness) {
	id := h.start("r", node("a"), node("b"))
	cs := h.claimIDs("w1", 2, at(sec), "a", "b")
	la, lb := cs[0].Lease(), cs[1].Lease()
	wrongAttempt, wrongWorker := la, la
	wrongAttempt.Attempt = 2
	wrongWorker.Worker = "w2"
	for _, l := range []weft.Lease{wrongAttempt, wrongWorker} {
		_, err := h.s.Finish(h.ctx, &weft.StepFinish{Lease: l, Now: at(2 * sec), Status: weft.StepSucceeded, Output: json.RawMessage(`1`)})
		h.wantIs("Finish with a wrong attempt or worker", err, weft.ErrLeaseLost)
	}
	lost, err := h.s.Heartbeat(h.ctx, []weft.Lease{wrongAttempt, wrongWorker, lb}, at(2*time.Minute))
	if err != nil {
		h.Fatalf("Heartbeat: %v", err)
	}
	h.wantLost("Heartbeat with two wrong leases and a good one", lost, wrongAttempt, wrongWorker)
	a := h.step(id, "a")
	if a.Status != weft.StepRunning || a.Attempts != 1 || a.Worker != "w1" {
		h.Errorf("a after refused calls = %s attempts %d worker %q; want running 1 w1", a.Status, a.Attempts, a.Worker)
	}
	h.wantTime("a's LeaseUntil (not extended by wrong leases)", a.LeaseUntil, at(sec).Add(lease))
	h.wantTime("b's LeaseUntil (extended)", h.step(id, "b").LeaseUntil, at(2*time.Minute))

	h.succeed(cs[0], at(3*sec), `"first"`)
	_, err = h.s.Finish(h.ctx, &weft.StepFinish{Lease: la, Now: at(4 * sec), Status: weft.StepSucceeded, Output: json.RawMessage(`"second"`)})
	h.wantIs("second Finish of an attempt", err, weft.ErrLeaseLost)
	_, err = h.s.Finish(h.ctx, &weft.StepFinish{Lease: la, Now: at(4 * sec), Status: weft.StepFailed,
		Error: &weft.ErrorInfo{Code: weft.CodeInternal, Message: "late"}})
	h.wantIs("Finish(failed) of an attempt already finished", err, weft.ErrLeaseLost)
	lost, err = h.s.Heartbeat(h.ctx, []weft.Lease{la, lb}, at(3*time.Minute))
	if err != nil {
		h.Fatalf("Heartbeat: %v", err)
	}
	h.wantLost("Heartbeat of a finished attempt", lost, la)
	a = h.step(id, "a")
	if a.Status != weft.StepSucceeded || a.Attempts != 1 || a.Error != nil {
		h.Errorf("a = %s attempts %d error %v; want succeeded 1 none", a.Status, a.Attempts, a.Error)
	}
	h.wantJSON("a's Output", a.Output, `"first"`)
	n := 0
	for _, e := range h.events(id) {
		if e.StepID == "a" && e.Type != weft.EventStepStarted {
			n++
		}
	}
	if n != 1 {
		h.Errorf("a has %d end events; want 1", n)
	}
}

// wantLost checks the leases Heartbeat reported lost, in any order. They
// must be the leases given, field for field: the engine finds its attempts
// by them.
func (h *harness) wantLost(what string, got []weft.Lease, want ...weft.Lease) {
	h.Helper()
	key := func(l weft.Lease) string { return fmt.Sprintf("%+v", l) }
	var g, w []string
	for _, l := range got {
		g = append(g, key(l))
	}
	for _, l := range want {
		w = append(w, key(l))
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		h.Errorf("%s: lost %q; want %q", what, g, w)
	}
}

// testFinishNonOutcome: Finish with a status that is not an outcome is an
// error and changes nothing: the attempt is still held and can finish.
func testFinishNonOutcome(h *harness) {
	nr := h.newRun("r", node("a"), node("b"))
	nr.Run.MaxParallel = 1
	id := h.create(nr)
	c := h.claimIDs("w", 1, at(sec), "a")[0]
	for _, st := range []weft.StepStatus{weft.StepRunning, weft.StepPending, weft.StepReady, weft.StepCanceled, ""} {
		if _, err := h.s.Finish(h.ctx, &weft.StepFinish{Lease: c.Lease(), Now: at(2 * sec), Status: st}); err == nil {
			h.Errorf("Finish with status %q: no error", st)
		}
	}
	s := h.step(id, "a")
	if s.Status != weft.StepRunning || s.Worker != "w" || s.Attempts != 1 || s.RunTime != 0 {
		h.Errorf("a after refused Finishes = %s worker %q attempts %d run time %s; want running w 1 0s", s.Status, s.Worker, s.Attempts, s.RunTime)
	}
	h.wantTime("a's LeaseUntil", s.LeaseUntil, at(sec).Add(lease))
	h.claimIDs("w", 5, at(3*sec)) // max_parallel 1: a still holds the slot
	lost, err := h.s.Heartbeat(h.ctx, []weft.Lease{c.Lease()}, at(2*time.Minute))
	if err != nil || len(lost) != 0 {
		h.Errorf("Heartbeat of the attempt = lost %v, err %v; want it held", lost, err)
	}
	h.wantKinds("events", h.events(id), "run_created", "run_started", "step_started:a")
	if _, err := h.s.Finish(h.ctx, &weft.StepFinish{Lease: c.Lease(), Now: at(4 * sec), Status: weft.StepSucceeded,
		Output: json.RawMessage(`1`)}); err != nil {
		h.Errorf("Finish(succeeded) after refused Finishes: %v", err)
	}
}

// testLeases: Heartbeat extends a lease; ReclaimExpired makes a step whose
// lease ran out claimable again as a new attempt, fencing off the old one.
func testLeases(h *harness) {
	id := h.start("r", node("a"), node("b", 0))
	old := h.claimIDs("w1", 1, at(sec), "a")[0] // leased until 61s
	reclaim := func(now time.Time, want int) {
		h.Helper()
		if n, err := h.s.ReclaimExpired(h.ctx, now); err != nil || n != want {
			h.Errorf("ReclaimExpired(%s) = %d, %v; want %d", now, n, err, want)
		}
	}
	reclaim(at(30*sec), 0)
	lost, err := h.s.Heartbeat(h.ctx, []weft.Lease{old.Lease()}, at(2*time.Minute))
	if err != nil || len(lost) != 0 {
		h.Fatalf("Heartbeat = lost %v, err %v; want the lease held", lost, err)
	}
	h.wantTime("LeaseUntil after Heartbeat", h.step(id, "a").LeaseUntil, at(2*time.Minute))
	reclaim(at(90*sec), 0) // past the first lease, before the extended one
	h.wantStates(id, "a:running b:pending")
	reclaim(at(2*time.Minute+sec), 1)
	h.wantStates(id, "a:ready b:pending")
	if s := h.step(id, "a"); s.Attempts != 1 {
		h.Errorf("reclaimed a has %d attempts; want 1 (attempts started)", s.Attempts)
	}
	lost, err = h.s.Heartbeat(h.ctx, []weft.Lease{old.Lease()}, at(3*time.Minute))
	if err != nil {
		h.Fatalf("Heartbeat: %v", err)
	}
	h.wantLost("Heartbeat of a reclaimed attempt", lost, old.Lease())

	cur := h.claimIDs("w2", 5, at(2*time.Minute+2*sec), "a")[0]
	if cur.Attempt != 2 || cur.Worker != "w2" {
		h.Errorf("claim after reclaim = attempt %d worker %q; want 2 w2", cur.Attempt, cur.Worker)
	}
	h.wantTime("FirstStartedAt after reclaim", cur.FirstStartedAt, at(sec))
	_, err = h.s.Finish(h.ctx, &weft.StepFinish{Lease: old.Lease(), Now: at(2*time.Minute + 3*sec), Status: weft.StepSucceeded,
		Output: json.RawMessage(`"old"`)})
	h.wantIs("Finish of the reclaimed attempt", err, weft.ErrLeaseLost)
	h.wantStates(id, "a:running b:pending")
	if r := h.succeed(cur, at(2*time.Minute+4*sec), `"new"`); r.Ready != 1 {
		h.Errorf("Finish of the current attempt made %d ready; want 1", r.Ready)
	}
	h.wantJSON("a's Output", h.step(id, "a").Output, `"new"`)
	reclaim(at(time.Hour), 0) // nothing running
	var got []string
	for _, e := range h.events(id) {
		if e.StepID == "a" && (e.Type == weft.EventStepStarted || e.Type == weft.EventStepSucceeded) {
			got = append(got, fmt.Sprintf("%s/%s/%d", e.Type, e.Worker, e.Attempt))
		}
	}
	if want := []string{"step_started/w1/1", "step_started/w2/2", "step_succeeded/w2/2"}; !slices.Equal(got, want) {
		h.Errorf("a's events = %q; want %q", got, want)
	}
}

// testCancelRun: CancelRun ends a run and its steps not done; the
// canceled run's steps are never claimed and its running attempts are
// fenced off; cancelling a finished run changes nothing.
func testCancelRun(h *harness) {
	id := h.start("r", node("a"), node("b"), node("c", 0), node("d", 1), node("e", 3))
	cs := h.claimIDs("w", 2, at(sec), "a", "b")
	h.succeed(cs[0], at(2*sec), `"A"`)
	h.wantStates(id, "a:succeeded b:running c:ready d:pending e:pending")
	run := h.cancel(id, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(3*sec))
	h.checkEnded("CancelRun's run", run, weft.RunCanceled, weft.CodeCanceled, at(3*sec))
	h.checkEnded("Run", h.run(id), weft.RunCanceled, weft.CodeCanceled, at(3*sec))
	h.wantStates(id, "a:succeeded b:canceled/run_canceled c:canceled/run_canceled d:canceled/run_canceled e:canceled/run_canceled")
	h.wantTime("b's FinishedAt", h.step(id, "b").FinishedAt, at(3*sec))
	h.wantJSON("a's Output", h.step(id, "a").Output, `"A"`)
	e := h.lastEvent(id)
	if e.Type != weft.EventRunCanceled || e.Reason != weft.ReasonRunCanceled || !e.Time.Equal(at(3*sec)) {
		h.Errorf("last event %s reason %q at %s; want run_canceled run_canceled at %s", e.Type, e.Reason, e.Time, at(3*sec))
	}
	h.wantError("run_canceled's Error", e.Error, weft.CodeCanceled)

	n := len(h.events(id))
	if r := h.claim("w", 10, at(4*sec)); len(r.Claims) != 0 {
		h.Errorf("claim after cancel = %q; want nothing", stepIDs(r.Claims))
	}
	_, err := h.s.Finish(h.ctx, &weft.StepFinish{Lease: cs[1].Lease(), Now: at(5 * sec), Status: weft.StepSucceeded, Output: json.RawMessage(`1`)})
	h.wantIs("Finish of a running step after cancel", err, weft.ErrLeaseLost)
	lost, err := h.s.Heartbeat(h.ctx, []weft.Lease{cs[1].Lease()}, at(time.Hour))
	if err != nil {
		h.Fatalf("Heartbeat: %v", err)
	}
	h.wantLost("Heartbeat after cancel", lost, cs[1].Lease())
	if n, err := h.s.ReclaimExpired(h.ctx, at(2*time.Hour)); err != nil || n != 0 {
		h.Errorf("ReclaimExpired after cancel = %d, %v; want 0", n, err)
	}
	h.wantStates(id, "a:succeeded b:canceled/run_canceled c:canceled/run_canceled d:canceled/run_canceled e:canceled/run_canceled")

	if m := len(h.events(id)); m != n {
		h.Errorf("calls about a canceled run appended %d events", m-n)
	}

	// Again, even with another status: a no-op.
	run = h.cancel(id, weft.RunFailed, weft.CodeTimeout, weft.ReasonRunTimeout, at(6*sec))
	h.checkEnded("CancelRun of a canceled run", run, weft.RunCanceled, weft.CodeCanceled, at(3*sec))
	if m := len(h.events(id)); m != n {
		h.Errorf("CancelRun of a canceled run appended %d events", m-n)
	}
	h.wantUnfinished()

	// A timeout ends the run failed.
	to := h.start("timeout", node("a"), node("b", 0))
	c := h.claimRun(to, "w", at(7*sec))
	run = h.cancel(to, weft.RunFailed, weft.CodeTimeout, weft.ReasonRunTimeout, at(8*sec))
	h.checkEnded("CancelRun(failed)", run, weft.RunFailed, weft.CodeTimeout, at(8*sec))
	h.wantStates(to, "a:canceled/run_timeout b:canceled/run_timeout")
	e = h.lastEvent(to)
	if e.Type != weft.EventRunFailed || e.Reason != weft.ReasonRunTimeout {
		h.Errorf("last event %s reason %q; want run_failed run_timeout", e.Type, e.Reason)
	}
	h.wantError("run_failed's Error", e.Error, weft.CodeTimeout)
	_, err = h.s.Finish(h.ctx, &weft.StepFinish{Lease: c.Lease(), Now: at(9 * sec), Status: weft.StepFailed,
		Error: &weft.ErrorInfo{Code: weft.CodeCanceled, Message: "stopped"}})
	h.wantIs("Finish after a timeout", err, weft.ErrLeaseLost)

	// A run never started.
	p := h.start("pending", node("a"))
	run = h.cancel(p, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(10*sec))
	h.checkEnded("CancelRun of a pending run", run, weft.RunCanceled, weft.CodeCanceled, at(10*sec))
	h.wantStates(p, "a:canceled/run_canceled")

	// A finished run is returned as it is.
	done := h.start("done", node("a"))
	h.succeed(h.claimRun(done, "w", at(11*sec)), at(12*sec), `"ok"`)
	n = len(h.events(done))
	run = h.cancel(done, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(13*sec))
	h.checkEnded("CancelRun of a succeeded run", run, weft.RunSucceeded, "", at(12*sec))
	h.wantJSON("its Result", run.Result, `"ok"`)
	h.checkEnded("Run after CancelRun of a succeeded run", h.run(done), weft.RunSucceeded, "", at(12*sec))
	if m := len(h.events(done)); m != n {
		h.Errorf("CancelRun of a succeeded run appended %d events", m-n)
	}
	h.wantStates(done, "a:succeeded")
}

// checkEnded checks a finished run's status, error code and end time.
func (h *harness) checkEnded(what string, run *weft.Run, status weft.RunStatus, code weft.Code, end time.Time) {
	h.Helper()
	if run.Status != status {
		h.Errorf("%s: status %s; want %s", what, run.Status, status)
	}
	h.wantError(what+": Error", run.Error, code)
	h.wantTime(what+": FinishedAt", run.FinishedAt, end)
}

// testCancelRetrying: a canceled run's retrying step is canceled too; it
// is neither claimed nor reported by NextAt afterwards.
func testCancelRetrying(h *harness) {
	id := h.start("r", node("a"))
	c := h.claimIDs("w", 1, at(sec), "a")[0]
	h.finish(&weft.StepFinish{Lease: c.Lease(), Now: at(2 * sec), Status: weft.StepRetrying, RetryAt: at(time.Hour),
		Error: &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}})
	h.wantTime("NextAt while a waits", h.claim("w", 1, at(3*sec)).NextAt, at(time.Hour))
	h.cancel(id, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(4*sec))
	h.wantStates(id, "a:canceled/run_canceled")
	r := h.claim("w", 1, at(5*sec))
	if len(r.Claims) != 0 {
		h.Errorf("claim after cancel = %q; want nothing", stepIDs(r.Claims))
	}
	h.wantTime("NextAt after the run was canceled (no step waits out a delay)", r.NextAt, time.Time{})
	if r := h.claim("w", 1, at(2*time.Hour)); len(r.Claims) != 0 {
		h.Errorf("claim after the retry time = %q; want nothing", stepIDs(r.Claims))
	}
	h.wantStates(id, "a:canceled/run_canceled")
}
