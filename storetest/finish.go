package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/weft-dev/weft"
)

// testFanIn: a step with three dependencies becomes ready after the third
// succeeds; outputs and step times are recorded; the run ends succeeded
// with its sink's output as result.
func testFanIn(h *harness) {
	nr := h.newRun("r", node("r1"), node("r2"), node("r3"), node("j", 0, 1, 2))
	id := h.create(nr)
	cs := h.claimIDs("w", 3, at(sec), "r1", "r2", "r3")
	h.wantKinds("the claim", h.newEvents(id), "run_started", "step_started:r1", "step_started:r2", "step_started:r3")
	for k, c := range cs {
		now := at(5*sec + time.Duration(k)*sec)
		res := h.finish(&weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepSucceeded,
			Output: json.RawMessage(fmt.Sprintf(`{"k": %d}`, k+1)), StartedAt: at(2 * sec)})
		want, state := 0, "pending"
		if k == 2 {
			want, state = 1, "ready"
		}
		if res.Ready != want || res.RunStatus != weft.RunRunning {
			h.Errorf("Finish of dependency %d = ready %d, run %s; want %d running", k+1, res.Ready, res.RunStatus, want)
		}
		h.wantKinds("Finish of "+c.StepID, h.newEvents(id), "step_succeeded:"+c.StepID)
		if got := h.step(id, "j").Status; string(got) != state {
			h.Errorf("after %d of 3 dependencies, j is %s; want %s", k+1, got, state)
		}
	}
	h.wantTime("j's ReadyAt", h.step(id, "j").ReadyAt, at(7*sec))

	s := h.step(id, "r1")
	if s.Status != weft.StepSucceeded || s.Attempts != 1 || s.Error != nil || s.Reason != "" {
		h.Errorf("r1 = %s attempts %d error %v reason %q; want succeeded after 1 attempt", s.Status, s.Attempts, s.Error, s.Reason)
	}
	h.wantJSON("r1's Output", s.Output, `{"k": 1}`)
	h.wantTime("r1's StartedAt", s.StartedAt, at(sec))
	h.wantTime("r1's FinishedAt", s.FinishedAt, at(5*sec))
	if s.QueueWait != sec || s.RunTime != 3*sec {
		h.Errorf("r1's QueueWait %s RunTime %s; want 1s (ready at creation, claimed 1s later) and 3s (started 2s, finished 5s)", s.QueueWait, s.RunTime)
	}

	outs, err := h.s.Outputs(h.ctx, id, []string{"r1", "j", "nope"})
	if err != nil {
		h.Fatalf("Outputs: %v", err)
	}
	if len(outs) != 2 {
		h.Errorf("Outputs(r1, j, nope) has %d entries; want 2 (unknown ids left out)", len(outs))
	}
	if o := outs["r1"]; o.StepID != "r1" || o.Status != weft.StepSucceeded || o.Attempts != 1 || o.Error != nil {
		h.Errorf("Outputs[r1] = %+v; want r1 succeeded after 1 attempt", o)
	} else {
		h.wantJSON("Outputs[r1].Output", o.Output, `{"k": 1}`)
	}
	if o := outs["j"]; o.StepID != "j" || o.Status != weft.StepReady || o.Attempts != 0 || len(o.Output) != 0 {
		h.Errorf("Outputs[j] = %+v; want j ready, no attempt, no output", o)
	}

	j := h.claimIDs("w", 10, at(8*sec), "j")[0]
	h.wantKinds("the claim of j", h.newEvents(id), "step_started:j")
	var deps []string
	for k, d := range j.Deps {
		deps = append(deps, d.StepID)
		h.wantJSON("j.Deps output", d.Output, fmt.Sprintf(`{"k": %d}`, k+1))
	}
	if !slices.Equal(deps, []string{"r1", "r2", "r3"}) {
		h.Errorf("j.Deps = %q; want [r1 r2 r3]", deps)
	}
	res := h.succeed(j, at(10*sec), `{"sum": 6}`)
	if res.RunStatus != weft.RunSucceeded || res.Ready != 0 {
		h.Errorf("Finish of the last step = run %s ready %d; want succeeded 0", res.RunStatus, res.Ready)
	}
	h.wantKinds("Finish of the last step", h.newEvents(id), "step_succeeded:j", "run_succeeded")
	run := h.run(id)
	if run.Status != weft.RunSucceeded || run.Error != nil {
		h.Errorf("run = %s error %v; want succeeded", run.Status, run.Error)
	}
	h.wantTime("Run.FinishedAt", run.FinishedAt, at(10*sec))
	h.wantResult(nr, `{"sum": 6}`)
	if e := h.lastEvent(id); e.Type != weft.EventRunSucceeded || !e.Time.Equal(at(10*sec)) {
		h.Errorf("last event %s at %s; want run_succeeded at %s", e.Type, e.Time, at(10*sec))
	}
}

// testDiamond: a diamond plus a second sink; Finish with Next claims the
// dependents in the same call; the result is keyed by sink.
func testDiamond(h *harness) {
	nr := h.newRun("r", node("a"), node("b", 0), node("c", 0), node("d", 1, 2), node("e", 0))
	id := h.create(nr)
	a := h.claimIDs("w", 1, at(sec), "a")[0]
	res := h.finish(&weft.StepFinish{Lease: a.Lease(), Now: at(2 * sec), Status: weft.StepSucceeded,
		Output: json.RawMessage(`"A"`), Next: req("w", 5, at(2*sec))})
	if res.Ready != 3 || res.Next == nil {
		h.Fatalf("Finish(a) = ready %d next %v; want 3 and a Next result", res.Ready, res.Next)
	}
	if got := stepIDs(res.Next.Claims); !slices.Equal(got, []string{"b", "c", "e"}) {
		h.Fatalf("Finish(a)'s Next claimed %q; want [b c e]", got)
	}
	b, c, e := res.Next.Claims[0], res.Next.Claims[1], res.Next.Claims[2]
	if b.Attempt != 1 || len(b.Deps) != 1 || b.Deps[0].StepID != "a" {
		h.Errorf("b's claim = attempt %d deps %+v; want 1, [a]", b.Attempt, b.Deps)
	}
	if r := h.succeed(b, at(3*sec), `"B"`); r.Ready != 0 {
		h.Errorf("Finish(b) made %d steps ready; want 0 (d waits for c)", r.Ready)
	}
	h.wantStates(id, "a:succeeded b:succeeded c:running d:pending e:running")
	if r := h.succeed(c, at(4*sec), `"C"`); r.Ready != 1 {
		h.Errorf("Finish(c) made %d steps ready; want 1", r.Ready)
	}
	h.succeed(e, at(5*sec), `"E"`)
	d := h.claimIDs("w", 5, at(6*sec), "d")[0]
	if len(d.Deps) != 2 || d.Deps[0].StepID != "b" || d.Deps[1].StepID != "c" {
		h.Errorf("d.Deps = %+v; want b, c", d.Deps)
	}
	if r := h.succeed(d, at(7*sec), `"D"`); r.RunStatus != weft.RunSucceeded {
		h.Errorf("Finish of the last step: run %s; want succeeded", r.RunStatus)
	}
	h.wantResult(nr, `{"d": "D", "e": "E"}`)
	h.wantKinds("the diamond", h.events(id), "run_created", "run_started", "step_started:a", "step_succeeded:a",
		"step_started:b", "step_started:c", "step_started:e", "step_succeeded:b", "step_succeeded:c",
		"step_succeeded:e", "step_started:d", "step_succeeded:d", "run_succeeded")
}

// testFailed: a failure skips all_success dependents (transitively) with
// upstream_failed, readies all_done and one_failed ones, lets independent
// branches go on, and ends the run failed with the step's error code.
func testFailed(h *harness) {
	nr := h.newRun("r",
		node("a"),
		node("b", 0),
		node("c", 1),
		node("d", 0).trigger(weft.TriggerAllDone),
		node("e", 0).trigger(weft.TriggerOneFailed),
		node("x"),
		node("y", 5),
		node("f", 1).trigger(weft.TriggerOneFailed), // b is skipped, not failed
	)
	id := h.create(nr)
	cs := h.claimIDs("w", 2, at(sec), "a", "x")
	h.newEvents(id)
	res := h.fail(cs[0], at(2*sec), "boom")
	if res.Ready != 2 || res.RunStatus != weft.RunRunning {
		h.Errorf("Finish(a failed) = ready %d run %s; want 2 running", res.Ready, res.RunStatus)
	}
	if evs := h.newEvents(id); len(evs) > 0 {
		h.wantKinds("Finish(a failed), first event", evs[:1], "step_failed:a")
		ev := evs[0]
		h.wantError("step_failed's Error", ev.Error, "boom")
		if ev.Attempt != 1 || ev.Worker != "w" {
			h.Errorf("step_failed = attempt %d worker %q; want 1 w", ev.Attempt, ev.Worker)
		}
		h.wantKindSet("Finish(a failed), the others", evs[1:], "step_skipped:b", "step_skipped:c", "step_skipped:f")
		for _, e := range evs[1:] {
			want := map[string]string{"b": weft.ReasonUpstreamFailed, "c": weft.ReasonUpstreamFailed, "f": weft.ReasonNoFailure}[e.StepID]
			if e.Reason != want {
				h.Errorf("%s event of %s has reason %q; want %q", e.Type, e.StepID, e.Reason, want)
			}
		}
	}
	h.wantStates(id, "a:failed b:skipped/upstream_failed c:skipped/upstream_failed d:ready e:ready "+
		"f:skipped/no_upstream_failure x:running y:pending")
	s := h.step(id, "a")
	h.wantError("a's Error", s.Error, "boom")
	h.wantTime("a's FinishedAt", s.FinishedAt, at(2*sec))
	h.wantTime("b's FinishedAt", h.step(id, "b").FinishedAt, at(2*sec))

	h.succeed(cs[1], at(3*sec), `"X"`)
	next := h.claimIDs("w", 10, at(4*sec), "d", "e", "y")
	if dep := next[0].Deps[0]; dep.StepID != "a" || dep.Status != weft.StepFailed {
		h.Errorf("d.Deps[0] = %+v; want a, failed", dep)
	}
	for _, c := range next[:2] {
		if r := h.succeed(c, at(5*sec), `"`+c.StepID+`"`); r.RunStatus != weft.RunRunning {
			h.Errorf("run %s while y runs; want running", r.RunStatus)
		}
	}
	h.newEvents(id)
	res = h.succeed(next[2], at(6*sec), `"Y"`)
	if res.RunStatus != weft.RunFailed {
		h.Errorf("Finish of the last step: run %s; want failed", res.RunStatus)
	}
	h.wantKinds("Finish of the last step", h.newEvents(id), "step_succeeded:y", "run_failed")
	run := h.run(id)
	if run.Status != weft.RunFailed {
		h.Errorf("run %s; want failed", run.Status)
	}
	h.wantError("Run.Error", run.Error, "boom")
	h.wantTime("Run.FinishedAt", run.FinishedAt, at(6*sec))
	e := h.lastEvent(id)
	if e.Type != weft.EventRunFailed {
		h.Errorf("last event %s; want run_failed", e.Type)
	}
	h.wantError("run_failed's Error", e.Error, "boom")
	h.wantResult(nr, `{"d": "d", "e": "e", "y": "Y"}`)
}

// testSkipped: a step finished as skipped (when false) skips its
// all_success dependents with upstream_skipped; all_done ones run.
func testSkipped(h *harness) {
	nr := h.newRun("r", node("a"), node("b", 0), node("c", 1), node("d", 0).trigger(weft.TriggerAllDone),
		node("e", 0).trigger(weft.TriggerOneFailed))
	id := h.create(nr)
	a := h.claimIDs("w", 1, at(sec), "a")[0]
	h.newEvents(id)
	res := h.finish(&weft.StepFinish{Lease: a.Lease(), Now: at(2 * sec), Status: weft.StepSkipped, Reason: weft.ReasonWhenFalse})
	if res.Ready != 1 || res.RunStatus != weft.RunRunning {
		h.Errorf("Finish(a skipped) = ready %d run %s; want 1 running", res.Ready, res.RunStatus)
	}
	if evs := h.newEvents(id); len(evs) > 0 {
		if ev := evs[0]; ev.Type != weft.EventStepSkipped || ev.StepID != "a" || ev.Reason != weft.ReasonWhenFalse {
			h.Errorf("first event %s %s reason %q; want step_skipped a when_false", ev.Type, ev.StepID, ev.Reason)
		}
		h.wantKindSet("Finish(a skipped), the others", evs[1:], "step_skipped:b", "step_skipped:c", "step_skipped:e")
	}
	h.wantStates(id, "a:skipped/when_false b:skipped/upstream_skipped c:skipped/upstream_skipped d:ready "+
		"e:skipped/no_upstream_failure")
	d := h.claimIDs("w", 10, at(3*sec), "d")[0]
	if dep := d.Deps[0]; dep.StepID != "a" || dep.Status != weft.StepSkipped {
		h.Errorf("d.Deps[0] = %+v; want a, skipped", dep)
	}
	if r := h.succeed(d, at(4*sec), `"D"`); r.RunStatus != weft.RunSucceeded {
		h.Errorf("run %s; want succeeded (nothing failed)", r.RunStatus)
	}
	h.wantResult(nr, `{"d": "D"}`)
}

// testRetry: a retrying step waits out its delay holding no slot, NextAt
// says when, and the next claim is attempt 2.
func testRetry(h *harness) {
	nr := h.newRun("r", node("a").prio(2), node("b").prio(1))
	nr.Run.MaxParallel = 1
	id := h.create(nr)
	a := h.claimIDs("w", 5, at(sec), "a")[0]
	h.newEvents(id)
	res := h.finish(&weft.StepFinish{Lease: a.Lease(), Now: at(2 * sec), Status: weft.StepRetrying, RetryAt: at(12 * sec),
		Error: &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}})
	if res.RunStatus != weft.RunRunning || res.Ready != 0 {
		h.Errorf("Finish(retrying) = run %s ready %d; want running 0", res.RunStatus, res.Ready)
	}
	evs := h.newEvents(id)
	h.wantKinds("Finish(retrying)", evs, "step_retrying:a")
	if len(evs) == 1 {
		e := evs[0]
		if e.Delay != 10*sec || e.Attempt != 1 || e.Worker != "w" {
			h.Errorf("step_retrying = delay %s attempt %d worker %q; want 10s 1 w", e.Delay, e.Attempt, e.Worker)
		}
		h.wantError("step_retrying's Error", e.Error, weft.CodeUnavailable)
	}
	h.wantStates(id, "a:retrying b:ready")
	s := h.step(id, "a")
	if s.Attempts != 1 {
		h.Errorf("a's Attempts = %d; want 1", s.Attempts)
	}
	h.wantError("a's Error while retrying", s.Error, weft.CodeUnavailable)

	nextAt := func(r *weft.ClaimResult, want time.Time) {
		h.Helper()
		h.wantTime("ClaimResult.NextAt", r.NextAt, want)
	}
	r := h.claim("w", 5, at(3*sec))
	if got := stepIDs(r.Claims); !slices.Equal(got, []string{"b"}) {
		h.Fatalf("claim during a's delay = %q; want [b] (a holds no slot)", got)
	}
	nextAt(r, at(12*sec))
	h.succeed(r.Claims[0], at(4*sec), `"B"`)
	for _, now := range []time.Time{at(5 * sec), at(12*sec - time.Millisecond)} {
		r = h.claim("w", 5, now)
		if len(r.Claims) != 0 {
			h.Errorf("claim at %s, before a's retry time = %q; want nothing", now, stepIDs(r.Claims))
		}
		nextAt(r, at(12*sec))
	}
	r = h.claim("w", 5, at(12*sec))
	if got := stepIDs(r.Claims); !slices.Equal(got, []string{"a"}) {
		h.Fatalf("claim at a's retry time = %q; want [a]", got)
	}
	nextAt(r, time.Time{})
	a2 := r.Claims[0]
	if a2.Attempt != 2 {
		h.Errorf("second claim of a: attempt %d; want 2", a2.Attempt)
	}
	h.wantTime("a's second ReadyAt", a2.ReadyAt, at(12*sec))
	h.wantTime("a's FirstStartedAt", a2.FirstStartedAt, at(sec))
	if r := h.succeed(a2, at(13*sec), `"A"`); r.RunStatus != weft.RunSucceeded {
		h.Errorf("run %s; want succeeded", r.RunStatus)
	}
	s = h.step(id, "a")
	if s.Status != weft.StepSucceeded || s.Attempts != 2 || s.Error != nil || s.QueueWait != sec {
		h.Errorf("a = %s attempts %d error %v queue wait %s; want succeeded 2 none 1s", s.Status, s.Attempts, s.Error, s.QueueWait)
	}
	var got []string
	for _, e := range h.events(id) {
		if e.StepID == "a" {
			got = append(got, fmt.Sprintf("%s/%d", e.Type, e.Attempt))
		}
	}
	if want := []string{"step_started/1", "step_retrying/1", "step_started/2", "step_succeeded/2"}; !slices.Equal(got, want) {
		h.Errorf("a's events = %q; want %q", got, want)
	}
}

// testLongChain: skips propagate through a 100,000-step chain in one
// Finish, without recursion.
func testLongChain(h *harness) {
	const n = 100_000
	specs := make([]spec, n)
	specs[0] = node("s000000")
	for i := 1; i < n; i++ {
		specs[i] = node(fmt.Sprintf("s%06d", i), int32(i-1))
	}
	id := h.create(h.newRun("chain", specs...))
	c := h.claimIDs("w", 10, at(sec), "s000000")[0]
	h.newEvents(id)
	res := h.fail(c, at(2*sec), "boom")
	evs := h.newEvents(id)
	if res.RunStatus != weft.RunFailed || len(evs) != n+1 {
		h.Fatalf("Finish of the failing root = run %s, %d events; want failed, %d", res.RunStatus, len(evs), n+1)
	}
	if evs[0].Type != weft.EventStepFailed || evs[n].Type != weft.EventRunFailed {
		h.Errorf("events from %s to %s; want step_failed to run_failed", evs[0].Type, evs[n].Type)
	}
	for _, e := range evs[1:n] {
		if e.Type != weft.EventStepSkipped || e.Reason != weft.ReasonUpstreamFailed {
			h.Fatalf("event %d is %s %s/%s; want step_skipped upstream_failed", e.Seq, e.StepID, e.Type, e.Reason)
		}
	}
	list, err := h.s.Steps(h.ctx, id)
	if err != nil {
		h.Fatalf("Steps: %v", err)
	}
	for i, s := range list[1:] {
		if s.Status != weft.StepSkipped || s.Reason != weft.ReasonUpstreamFailed {
			h.Fatalf("step %d is %s/%s; want skipped/upstream_failed", i+1, s.Status, s.Reason)
		}
	}
	if run := h.run(id); run.Status != weft.RunFailed || run.Error == nil || run.Error.Code != "boom" {
		h.Errorf("run = %s error %v; want failed with code boom", run.Status, run.Error)
	}
}

// wantResult checks a finished run's result: want, and what
// weft.ComposeResult makes of its sinks.
func (h *harness) wantResult(nr *weft.NewRun, want string) {
	h.Helper()
	run := h.run(nr.Run.ID)
	h.wantJSON("Run.Result", run.Result, want)
	list, err := h.s.Steps(h.ctx, nr.Run.ID)
	if err != nil {
		h.Fatalf("Steps: %v", err)
	}
	var sinks []*weft.StepRun
	for i, s := range list {
		if nr.Steps[i].Sink {
			sinks = append(sinks, s)
		}
	}
	h.wantJSON("Run.Result (ComposeResult of the sinks)", run.Result, string(weft.ComposeResult(sinks)))
}

// testUsage: the AI tokens of every attempt, whatever its outcome, add up
// on the step and on the run.
func testUsage(h *harness) {
	id := h.create(h.newRun("u", node("a"), node("b")))
	cs := h.claimIDs("w", 2, at(sec), "a", "b")
	u := func(p, c int64) weft.Usage {
		return weft.Usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c}
	}
	h.finish(&weft.StepFinish{Lease: cs[0].Lease(), Now: at(2 * sec), Status: weft.StepRetrying, RetryAt: at(3 * sec),
		Error: &weft.ErrorInfo{Code: weft.CodeAIInvalidOutput, Message: "not JSON"}, Usage: u(10, 5)})
	h.finish(&weft.StepFinish{Lease: cs[1].Lease(), Now: at(2 * sec), Status: weft.StepSucceeded, Output: json.RawMessage(`1`), Usage: u(7, 3)})
	again := h.claimIDs("w", 1, at(3*sec), "a")
	h.finish(&weft.StepFinish{Lease: again[0].Lease(), Now: at(4 * sec), Status: weft.StepSucceeded, Output: json.RawMessage(`2`), Usage: u(10, 6)})
	if got := h.step(id, "a").Usage; got != u(20, 11) {
		h.Errorf("a's Usage = %+v; want both attempts added: %+v", got, u(20, 11))
	}
	if got := h.step(id, "b").Usage; got != u(7, 3) {
		h.Errorf("b's Usage = %+v; want %+v", got, u(7, 3))
	}
	if got := h.run(id).Usage; got != u(27, 14) {
		h.Errorf("the run's Usage = %+v; want %+v", got, u(27, 14))
	}
}

// testRunError: a failed run's error is that of its first failed step in
// node order (not in time) that has one, as "step ID failed: MESSAGE",
// in the run and its run_failed event; when no failed step has an error,
// it is CodeInternal and how many steps failed.
func testRunError(h *harness) {
	id := h.create(h.newRun("r", node("a"), node("b"), node("c")))
	cs := h.claimIDs("w", 3, at(sec), "a", "b", "c")
	h.fail(cs[1], at(2*sec), "b-code")
	h.finish(&weft.StepFinish{Lease: cs[2].Lease(), Now: at(3 * sec), Status: weft.StepFailed})
	if res := h.fail(cs[0], at(4*sec), "a-code"); res.RunStatus != weft.RunFailed {
		h.Errorf("Finish of the last step: run %s; want failed", res.RunStatus)
	}
	h.wantRunError(id, weft.ErrorInfo{Code: "a-code", Message: "step a failed: a broke"})

	id = h.create(h.newRun("none", node("a"), node("b")))
	cs = h.claimIDs("w", 2, at(sec), "a", "b")
	h.finish(&weft.StepFinish{Lease: cs[0].Lease(), Now: at(2 * sec), Status: weft.StepFailed})
	h.finish(&weft.StepFinish{Lease: cs[1].Lease(), Now: at(3 * sec), Status: weft.StepFailed})
	h.wantRunError(id, weft.ErrorInfo{Code: weft.CodeInternal, Message: "2 step(s) failed"})
}

// wantRunError checks that run id failed with error want, in its record
// and its last event.
func (h *harness) wantRunError(id string, want weft.ErrorInfo) {
	h.Helper()
	run := h.run(id)
	if run.Status != weft.RunFailed || run.Error == nil || *run.Error != want {
		h.Errorf("run %s with error %+v; want failed with %+v", run.Status, run.Error, want)
	}
	if e := h.lastEvent(id); e.Type != weft.EventRunFailed || e.Error == nil || *e.Error != want {
		h.Errorf("last event %s with error %+v; want run_failed with %+v", e.Type, e.Error, want)
	}
}
