package storetest

import (
	"slices"
	"time"

	"github.com/weft-dev/weft"
)

// progress is what a run record says of its steps.
type progress struct{ count, done, running, failed int }

func progressOf(r *weft.Run) progress {
	return progress{r.StepCount, r.StepsDone, r.StepsRunning, r.StepsFailed}
}

// testProgress: every record of a run (CreateRun's, CancelRun's,
// RetryRun's, Run's, ListRuns') carries its progress (StepCount,
// StepsDone, StepsRunning, StepsFailed) and LastEvent, the Seq of the
// last event Events returns, through claims, successes, retries, lease
// expiry, failures, skips, CancelRun and RetryRun (which takes the steps
// it resets out of the done and failed ones).
func testProgress(h *harness) {
	key := h.id("key")
	nr := h.newRun("r", node("a"), node("b"), node("c"), node("d", 0, 1), node("e", 2))
	nr.Run.IdempotencyKey = key
	var r, lone string // the runs' ids
	want := map[string]progress{}
	status := map[string]weft.RunStatus{}

	// claim claims, for run id only, the steps want at now.
	claim := func(id string, now time.Time, want ...string) []*weft.Claim {
		h.Helper()
		rq := req("w", 10, now)
		rq.Admit = func(c *weft.Claim) bool { return c.RunID == id }
		res := h.claimReq(rq)
		if got := stepIDs(res.Claims); !slices.Equal(got, want) {
			h.Fatalf("Claim of run %s at %s claimed %q; want %q", id, now, got, want)
		}
		return res.Claims
	}
	var cs []*weft.Claim
	steps := []struct {
		name string
		run  *string
		do   func() *weft.Run // returns the record the call returned, if any
		want progress
		st   weft.RunStatus
	}{
		{"CreateRun", &r, func() *weft.Run {
			run, created, err := h.s.CreateRun(h.ctx, nr)
			if err != nil || !created {
				h.Fatalf("CreateRun = created %v, err %v; want a new run", created, err)
			}
			r = run.ID
			return run
		}, progress{5, 0, 0, 0}, weft.RunPending},
		{"CreateRun lone", &lone, func() *weft.Run {
			run, _, err := h.s.CreateRun(h.ctx, h.newRun("lone", node("s")))
			if err != nil {
				h.Fatalf("CreateRun: %v", err)
			}
			lone = run.ID
			return run
		}, progress{1, 0, 0, 0}, weft.RunPending},
		{"claimed", &r, func() *weft.Run {
			cs = claim(r, at(sec), "a", "b", "c")
			return nil
		}, progress{5, 0, 3, 0}, weft.RunRunning},
		{"a succeeded", &r, func() *weft.Run {
			h.succeed(cs[0], at(2*sec), `"A"`)
			return nil
		}, progress{5, 1, 2, 0}, weft.RunRunning},
		{"b retrying", &r, func() *weft.Run {
			h.finish(&weft.StepFinish{Lease: cs[1].Lease(), Now: at(2 * sec), Status: weft.StepRetrying, RetryAt: at(10 * sec),
				Error: &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}})
			return nil
		}, progress{5, 1, 1, 0}, weft.RunRunning},
		{"c failed, e skipped", &r, func() *weft.Run {
			h.fail(cs[2], at(3*sec), "boom")
			return nil
		}, progress{5, 3, 0, 1}, weft.RunRunning},
		{"CreateRun with the key", &r, func() *weft.Run {
			again := h.newRun("again", node("x"))
			again.Run.IdempotencyKey = key
			run, created, err := h.s.CreateRun(h.ctx, again)
			if err != nil || created || run.ID != r {
				h.Fatalf("CreateRun with a used key = %v, created %v, err %v; want run %s", run, created, err, r)
			}
			return run
		}, progress{5, 3, 0, 1}, weft.RunRunning},
		{"b claimed again", &r, func() *weft.Run {
			claim(r, at(10*sec), "b")
			return nil
		}, progress{5, 3, 1, 1}, weft.RunRunning},
		{"b's lease expired", &r, func() *weft.Run {
			if n, err := h.s.ReclaimExpired(h.ctx, at(10*sec).Add(lease)); err != nil || n != 1 {
				h.Fatalf("ReclaimExpired = %d, %v; want 1", n, err)
			}
			return nil
		}, progress{5, 3, 0, 1}, weft.RunRunning},
		{"b succeeded", &r, func() *weft.Run {
			h.succeed(claim(r, at(2*time.Minute), "b")[0], at(2*time.Minute+sec), `"B"`)
			return nil
		}, progress{5, 4, 0, 1}, weft.RunRunning},
		{"d claimed", &r, func() *weft.Run {
			claim(r, at(3*time.Minute), "d")
			return nil
		}, progress{5, 4, 1, 1}, weft.RunRunning},
		{"CancelRun", &r, func() *weft.Run {
			return h.cancel(r, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(4*time.Minute))
		}, progress{5, 5, 0, 1}, weft.RunCanceled},
		{"CancelRun again", &r, func() *weft.Run {
			return h.cancel(r, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(5*time.Minute))
		}, progress{5, 5, 0, 1}, weft.RunCanceled},
		{"RetryRun of the canceled run", &r, func() *weft.Run {
			return h.retryRun(r, 6*time.Minute, "") // c, d and e reset; c and d ready
		}, progress{5, 2, 0, 0}, weft.RunPending},
		{"c and d claimed", &r, func() *weft.Run {
			cs = claim(r, at(7*time.Minute), "c", "d")
			return nil
		}, progress{5, 2, 2, 0}, weft.RunRunning},
		{"c and d succeeded", &r, func() *weft.Run {
			h.succeed(cs[0], at(8*time.Minute), `"C"`)
			h.succeed(cs[1], at(8*time.Minute), `"D"`)
			return nil
		}, progress{5, 4, 0, 0}, weft.RunRunning},
		{"e succeeded", &r, func() *weft.Run {
			h.succeed(claim(r, at(9*time.Minute), "e")[0], at(10*time.Minute), `"E"`)
			return nil
		}, progress{5, 5, 0, 0}, weft.RunSucceeded},
		{"lone failed", &lone, func() *weft.Run {
			h.fail(claim(lone, at(11*time.Minute), "s")[0], at(12*time.Minute), "boom")
			return nil
		}, progress{1, 1, 0, 1}, weft.RunFailed},
		{"RetryRun of the failed run", &lone, func() *weft.Run {
			return h.retryRun(lone, 13*time.Minute, "")
		}, progress{1, 0, 0, 0}, weft.RunPending},
		{"lone claimed", &lone, func() *weft.Run {
			claim(lone, at(14*time.Minute), "s")
			return nil
		}, progress{1, 0, 1, 0}, weft.RunRunning},
	}
	for _, st := range steps {
		returned := st.do()
		id := *st.run
		want[id], status[id] = st.want, st.st
		if returned != nil {
			h.wantProgress(st.name+": the run returned", returned, want[id], status[id])
		}
		// Every run, in Run and in ListRuns, as it is now.
		h.wantProgress(st.name+": Run", h.run(id), want[id], status[id])
		runs, _, err := h.s.ListRuns(h.ctx, &weft.RunFilter{})
		if err != nil {
			h.Fatalf("%s: ListRuns: %v", st.name, err)
		}
		if len(runs) != len(want) {
			h.Errorf("%s: ListRuns returned %d runs; want %d", st.name, len(runs), len(want))
		}
		for _, run := range runs {
			if _, ok := want[run.ID]; ok {
				h.wantProgress(st.name+": ListRuns", run, want[run.ID], status[run.ID])
			}
		}
	}
}

// wantProgress checks a record's status, progress and LastEvent: the Seq
// of the last of its run's events.
func (h *harness) wantProgress(what string, run *weft.Run, want progress, status weft.RunStatus) {
	h.Helper()
	evs, err := h.s.Events(h.ctx, run.ID, 0, 1<<30)
	if err != nil {
		h.Fatalf("%s: Events(%s): %v", what, run.ID, err)
	}
	var last int64
	if len(evs) > 0 {
		last = evs[len(evs)-1].Seq
	}
	if got := progressOf(run); got != want || run.Status != status || run.LastEvent != last {
		h.Errorf("%s: run %s is %s, steps %d, done %d, running %d, failed %d, last event %d;"+
			" want %s, %d, %d, %d, %d, %d", what, run.ID, run.Status, got.count, got.done, got.running, got.failed,
			run.LastEvent, status, want.count, want.done, want.running, want.failed, last)
	}
}
