package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// testClock plays calls whose Now is stale (computed before a call that
// reached the store first, as several slots or processes do) and checks
// that a run's recorded times never go backwards: each write records its
// times at the later of its Now and the latest time recorded for the run.
func testClock(h *harness) {
	for _, tc := range []struct {
		name  string
		specs []spec
		// play makes the run's history; it returns the step to check and
		// the earliest time it may have become ready and started.
		play func(h *harness, id string) (step string, notBefore time.Time)
	}{
		{"ClaimAfterDependencyFinished", []spec{node("a"), node("b", 0)},
			func(h *harness, id string) (string, time.Time) {
				a := h.claimIDs("w", 1, at(sec), "a")[0]
				h.succeed(a, at(5*sec), `"A"`)
				b := h.claimIDs("w", 1, at(3*sec), "b")[0] // computed before a finished
				h.wantClaimStart(id, b, at(5*sec))
				return "b", at(5 * sec)
			}},
		{"FanInStaleFinishAndNext", []spec{node("a"), node("b"), node("c", 0, 1)},
			func(h *harness, id string) (string, time.Time) {
				cs := h.claimIDs("w", 2, at(sec), "a", "b")
				h.succeed(cs[1], at(5*sec), `"B"`)
				res := h.finish(&weft.StepFinish{Lease: cs[0].Lease(), Now: at(4 * sec), Status: weft.StepSucceeded,
					Output: json.RawMessage(`"A"`), Next: req("w", 1, at(4*sec))})
				if res.Next == nil || len(res.Next.Claims) != 1 || res.Next.Claims[0].StepID != "c" {
					h.Fatalf("Finish(a).Next = %+v; want c claimed", res.Next)
				}
				h.wantClaimStart(id, res.Next.Claims[0], at(5*sec))
				return "c", at(5 * sec)
			}},
		{"RetryDelayPromotedStale", []spec{node("a"), node("x")},
			func(h *harness, id string) (string, time.Time) {
				cs := h.claimIDs("w", 2, at(sec), "a", "x")
				h.finish(&weft.StepFinish{Lease: cs[0].Lease(), Now: at(sec), Status: weft.StepRetrying,
					RetryAt: at(2 * sec), Error: &weft.ErrorInfo{Code: weft.CodeInternal, Message: "again"}})
				h.succeed(cs[1], at(10*sec), `"X"`)
				a := h.claimIDs("w", 1, at(3*sec), "a")[0] // due, but computed before x finished
				h.wantClaimStart(id, a, at(10*sec))
				return "a", at(10 * sec)
			}},
		{"ReclaimStale", []spec{node("a"), node("x")},
			func(h *harness, id string) (string, time.Time) {
				h.claimIDs("w", 1, at(sec), "a") // leased until 61 s
				h.claimIDs("w", 1, at(70*sec), "x")
				if n, err := h.s.ReclaimExpired(h.ctx, at(62*sec)); err != nil || n != 1 {
					h.Fatalf("ReclaimExpired = %d, %v; want 1", n, err)
				}
				a := h.claimIDs("w", 1, at(63*sec), "a")[0]
				h.wantClaimStart(id, a, at(70*sec))
				return "a", at(70 * sec)
			}},
		{"RetryRunStale", []spec{node("a"), node("b", 0)},
			func(h *harness, id string) (string, time.Time) {
				a := h.claimIDs("w", 1, at(sec), "a")[0]
				h.fail(a, at(5*sec), weft.CodeInternal)
				h.retryRun(id, 2*sec, "")
				a = h.claimIDs("w", 1, at(3*sec), "a")[0]
				h.wantClaimStart(id, a, at(5*sec))
				return "a", at(5 * sec)
			}},
		{"CancelStale", []spec{node("a"), node("b", 0)},
			func(h *harness, id string) (string, time.Time) {
				h.claimIDs("w", 1, at(5*sec), "a")
				run := h.cancel(id, weft.RunCanceled, weft.CodeCanceled, "", at(2*sec))
				if run.FinishedAt.Before(at(5 * sec)) {
					h.Errorf("canceled run's FinishedAt %s; want at or after its step's start, %s", run.FinishedAt, at(5*sec))
				}
				if s := h.step(id, "a"); s.FinishedAt.Before(s.StartedAt) {
					h.Errorf("a canceled: FinishedAt %s before StartedAt %s", s.FinishedAt, s.StartedAt)
				}
				return "a", at(5 * sec)
			}},
	} {
		h.Run(tc.name, func(t *testing.T) {
			h := &harness{T: t, s: h.s, ctx: h.ctx, seen: make(map[string]int64)}
			nr := h.newRun(tc.name, tc.specs...)
			id := h.create(nr)
			stepID, notBefore := tc.play(h, id)
			if s := h.step(id, stepID); s.StartedAt.Before(notBefore) {
				h.Errorf("%s started at %s; want at or after %s", stepID, s.StartedAt, notBefore)
			}
			h.wantTimesForward(id, nr.Steps)
		})
	}
}

// wantClaimStart checks claim c of run id: its step started at or after
// notBefore and its ready time, with the claim's FirstStartedAt (a first
// attempt's) or ReadyAt, and its step_started event at that time.
func (h *harness) wantClaimStart(id string, c *weft.Claim, notBefore time.Time) {
	h.Helper()
	s := h.step(id, c.StepID)
	if s.StartedAt.Before(notBefore) || s.StartedAt.Before(s.ReadyAt) {
		h.Errorf("%s started at %s, ready at %s; want at or after %s and its ready time", c.StepID, s.StartedAt, s.ReadyAt, notBefore)
	}
	if c.Attempt == 1 {
		h.wantTime(c.StepID+"'s Claim.FirstStartedAt", c.FirstStartedAt, s.StartedAt)
	}
	if c.ReadyAt.After(s.StartedAt) {
		h.Errorf("%s's Claim.ReadyAt %s after its start %s", c.StepID, c.ReadyAt, s.StartedAt)
	}
	if s.QueueWait < 0 {
		h.Errorf("%s's QueueWait %s; want ≥ 0", c.StepID, s.QueueWait)
	}
	var started *weft.Event
	for _, e := range h.events(id) {
		if e.Type == weft.EventStepStarted && e.StepID == c.StepID && e.Attempt == c.Attempt {
			started = &e
		}
	}
	if started == nil {
		h.Errorf("no step_started event of %s attempt %d", c.StepID, c.Attempt)
	} else {
		h.wantTime(c.StepID+"'s step_started event", started.Time, s.StartedAt)
	}
}

// wantTimesForward checks the times of run id, whose plan is steps: a
// step starts no earlier than it became ready, and is ready no earlier
// than the end of each dependency that ended; a step ends no earlier
// than it started; queue waits are ≥ 0; the run's events are in time
// order; the run starts no earlier than it was created and ends no
// earlier than it started.
func (h *harness) wantTimesForward(id string, steps []weft.PlanStep) {
	h.Helper()
	got := h.steps(id)
	for _, ps := range steps {
		s := got[ps.ID]
		if !s.StartedAt.IsZero() && s.StartedAt.Before(s.ReadyAt) && s.Status != weft.StepRetrying {
			h.Errorf("%s started at %s before it was ready at %s", ps.ID, s.StartedAt, s.ReadyAt)
		}
		if !s.FinishedAt.IsZero() && s.FinishedAt.Before(s.StartedAt) {
			h.Errorf("%s finished at %s before it started at %s", ps.ID, s.FinishedAt, s.StartedAt)
		}
		if s.QueueWait < 0 {
			h.Errorf("%s's QueueWait %s; want ≥ 0", ps.ID, s.QueueWait)
		}
		if s.ReadyAt.IsZero() || s.Status == weft.StepCanceled {
			continue
		}
		for _, d := range ps.Deps {
			if dep := got[steps[d].ID]; !dep.FinishedAt.IsZero() && s.ReadyAt.Before(dep.FinishedAt) {
				h.Errorf("%s ready at %s before its dependency %s finished at %s", ps.ID, s.ReadyAt, dep.StepID, dep.FinishedAt)
			}
		}
	}
	evs := h.events(id)
	for k := 1; k < len(evs); k++ {
		if evs[k].Time.Before(evs[k-1].Time) {
			h.Errorf("event %d (%s %s) at %s before event %d (%s %s) at %s", evs[k].Seq, evs[k].Type, evs[k].StepID, evs[k].Time,
				evs[k-1].Seq, evs[k-1].Type, evs[k-1].StepID, evs[k-1].Time)
		}
	}
	run := h.run(id)
	if !run.StartedAt.IsZero() && run.StartedAt.Before(run.CreatedAt) {
		h.Errorf("run started at %s before it was created at %s", run.StartedAt, run.CreatedAt)
	}
	if !run.FinishedAt.IsZero() && run.FinishedAt.Before(run.StartedAt) {
		h.Errorf("run finished at %s before it started at %s", run.FinishedAt, run.StartedAt)
	}
}
