package storetest

import (
	"slices"
	"time"

	"github.com/weft-dev/weft"
)

// testClaimOrder: higher priority first, ties by node index, runs FIFO by
// creation; Max is respected; a claim starts attempt 1, starts the run and
// appends the events; claimed steps are not claimed again.
func testClaimOrder(h *harness) {
	a := h.start("a", node("a0").prio(1), node("a1").prio(3), node("a2").prio(3), node("a3").prio(2), node("a4", 0))
	nb := h.newRun("b", node("b0").prio(9))
	nb.Now = at(sec)
	b := h.create(nb)

	res := h.claim("w1", 3, at(2*sec))
	if got := stepIDs(res.Claims); !slices.Equal(got, []string{"a1", "a2", "a3"}) {
		h.Fatalf("first claim = %q; want [a1 a2 a3] (priority, then node order, oldest run first)", got)
	}
	for k, c := range res.Claims {
		if c.RunID != a || c.Index != int32(k+1) || c.Type != "test" || c.Pool != "" || c.Attempt != 1 ||
			c.Worker != "w1" || len(c.Deps) != 0 {
			h.Errorf("claim %d = %+v; want run %s index %d type test attempt 1 worker w1, no deps", k, *c, a, k+1)
		}
		h.wantTime("Claim.LeaseUntil", c.LeaseUntil, at(2*sec).Add(lease))
		h.wantTime("Claim.ReadyAt", c.ReadyAt, base)
		h.wantTime("Claim.FirstStartedAt", c.FirstStartedAt, at(2*sec))
	}
	evs := h.newEvents(a)
	h.wantKinds("the first claim", evs, "run_started", "step_started:a1", "step_started:a2", "step_started:a3")
	for _, e := range evs {
		if e.RunID != a || !e.Time.Equal(at(2*sec)) || (e.StepID != "" && (e.Attempt != 1 || e.Worker != "w1")) {
			h.Errorf("claim event %+v; want run %s time %s attempt 1 worker w1", e, a, at(2*sec))
		}
	}
	h.wantKinds("run a", h.events(a), "run_created", "run_started", "step_started:a1", "step_started:a2", "step_started:a3")
	run := h.run(a)
	if run.Status != weft.RunRunning {
		h.Errorf("run status after a claim = %s; want running", run.Status)
	}
	h.wantTime("Run.StartedAt", run.StartedAt, at(2*sec))
	if run := h.run(b); run.Status != weft.RunPending || !run.StartedAt.IsZero() {
		h.Errorf("run b, not claimed yet = %s started %s; want pending", run.Status, run.StartedAt)
	}
	h.wantStates(a, "a0:ready a1:running a2:running a3:running a4:pending")
	s := h.step(a, "a1")
	if s.Attempts != 1 || s.Worker != "w1" {
		h.Errorf("claimed step = attempts %d worker %q; want 1 w1", s.Attempts, s.Worker)
	}
	h.wantTime("StepRun.StartedAt", s.StartedAt, at(2*sec))
	h.wantTime("StepRun.LeaseUntil", s.LeaseUntil, at(2*sec).Add(lease))

	second := h.claim("w2", 10, at(3*sec))
	if got := stepIDs(second.Claims); !slices.Equal(got, []string{"a0", "b0"}) {
		h.Fatalf("second claim = %q; want [a0 b0]", got)
	}
	h.wantKinds("the second claim, run a", h.newEvents(a), "step_started:a0")
	h.wantKinds("the second claim, run b", h.newEvents(b), "run_started", "step_started:b0")
	if res := h.claim("w3", 10, at(4*sec)); len(res.Claims) != 0 || !res.NextAt.IsZero() {
		h.Errorf("claim with nothing ready = %q, next %s; want nothing", stepIDs(res.Claims), res.NextAt)
	}
	h.wantKinds("a claim of nothing, run a", h.newEvents(a))
	h.wantKinds("a claim of nothing, run b", h.newEvents(b))

	// A step of the older run that becomes ready later still goes first,
	// whatever the priorities.
	nc := h.newRun("c", node("c0").prio(100))
	nc.Now = at(5 * sec)
	h.create(nc)
	h.succeed(second.Claims[0], at(6*sec), `0`) // a0 → a4 ready
	h.claimIDs("w", 1, at(7*sec), "a4")
	h.claimIDs("w", 1, at(7*sec), "c0")
}

// testClaimDeps: a claim carries its dependencies' results in
// PlanStep.Deps order.
func testClaimDeps(h *harness) {
	id := h.start("r", node("p0"), node("p1"), node("q", 1, 0).trigger(weft.TriggerAllDone), node("z", 0))
	cs := h.claimIDs("w", 2, at(sec), "p0", "p1")
	h.succeed(cs[0], at(2*sec), `{"v": 0}`)
	h.fail(cs[1], at(3*sec), "boom")
	q := h.claimIDs("w", 1, at(4*sec), "q")[0]
	if len(q.Deps) != 2 {
		h.Fatalf("q's claim has %d deps; want 2", len(q.Deps))
	}
	d1, d0 := q.Deps[0], q.Deps[1]
	if d1.StepID != "p1" || d1.Status != weft.StepFailed || d1.Attempts != 1 || len(d1.Output) != 0 {
		h.Errorf("q.Deps[0] = %+v; want p1 failed after 1 attempt, no output", d1)
	}
	h.wantError("q.Deps[0].Error", d1.Error, "boom")
	if d0.StepID != "p0" || d0.Status != weft.StepSucceeded || d0.Attempts != 1 || d0.Error != nil {
		h.Errorf("q.Deps[1] = %+v; want p0 succeeded after 1 attempt", d0)
	}
	h.wantJSON("q.Deps[1].Output", d0.Output, `{"v": 0}`)
	h.wantTime("q's ReadyAt", q.ReadyAt, at(3*sec))
	h.wantStates(id, "p0:succeeded p1:failed q:running z:ready")
	z := h.claimIDs("w", 1, at(5*sec), "z")[0]
	if len(z.Deps) != 1 || z.Deps[0].StepID != "p0" || z.Deps[0].Status != weft.StepSucceeded {
		h.Errorf("z.Deps = %+v; want p0's result", z.Deps)
	}
}

// testMaxParallel: a run never has more than MaxParallel steps running,
// whatever Max; a finished or retrying step frees its slot.
func testMaxParallel(h *harness) {
	nr := h.newRun("capped", node("a"), node("b"), node("c"), node("d"), node("e"))
	nr.Run.MaxParallel = 2
	capped := h.create(nr)
	free := h.start("free", node("f0"), node("f1"))
	running := func() {
		h.Helper()
		n := 0
		for _, s := range h.steps(capped) {
			if s.Status == weft.StepRunning {
				n++
			}
		}
		if n > 2 {
			h.Errorf("run with max_parallel 2 has %d steps running", n)
		}
	}

	cs := h.claimIDs("w", 10, at(sec), "a", "b", "f0", "f1")
	running()
	h.claimIDs("w", 10, at(sec))
	h.succeed(cs[0], at(2*sec), `1`)
	c := h.claimIDs("w", 10, at(3*sec), "c")[0]
	running()
	h.fail(cs[1], at(4*sec), weft.CodeInternal)
	d := h.claimIDs("w", 10, at(5*sec), "d")[0]
	running()
	h.finish(&weft.StepFinish{Lease: c.Lease(), Now: at(6 * sec), Status: weft.StepRetrying, RetryAt: at(20 * sec),
		Error: &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}})
	e := h.claimIDs("w", 10, at(7*sec), "e")[0]
	running()
	h.claimIDs("w", 10, at(30*sec)) // c's delay is over, but no slot is free
	running()

	// Finishing d frees one slot: Next, even with a larger Max, takes one.
	res := h.finish(&weft.StepFinish{Lease: d.Lease(), Now: at(31 * sec), Status: weft.StepSucceeded,
		Output: []byte(`1`), Next: req("w", 5, at(31*sec))})
	if res.Next == nil {
		h.Fatalf("Finish with Next returned no Next")
	}
	if got := stepIDs(res.Next.Claims); !slices.Equal(got, []string{"c"}) || res.Next.Claims[0].Attempt != 2 {
		h.Fatalf("Next claimed %q; want [c], attempt 2", got)
	}
	running()
	h.succeed(e, at(32*sec), `1`)
	h.succeed(res.Next.Claims[0], at(33*sec), `1`)
	h.wantStates(capped, "a:succeeded b:failed c:succeeded d:succeeded e:succeeded")
	if p := h.run(capped).PeakParallel; p != 2 {
		h.Errorf("PeakParallel = %d; want 2", p)
	}
	h.wantStates(free, "f0:running f1:running")
}

// testAdmit: Admit sees candidates in priority order; those it refuses stay
// ready and are claimed later.
func testAdmit(h *harness) {
	id := h.start("r", node("p1").prio(1).pool("x"), node("p3").prio(3).pool("x"), node("p2").prio(2).pool("y"))
	var seen []string
	r := req("w", 10, at(sec))
	r.Admit = func(c *weft.Claim) bool {
		seen = append(seen, c.StepID+"@"+c.Pool)
		if c.RunID != id || c.Attempt != 1 || c.Worker != "w" {
			h.Errorf("Admit got %+v; want run %s attempt 1 worker w", *c, id)
		}
		return c.Pool != "x"
	}
	res := h.claimReq(r)
	if got := stepIDs(res.Claims); !slices.Equal(got, []string{"p2"}) {
		h.Errorf("claim admitting pool y = %q; want [p2]", got)
	}
	if want := []string{"p3@x", "p2@y", "p1@x"}; !slices.Equal(seen, want) {
		h.Errorf("Admit saw %q; want %q (priority order)", seen, want)
	}
	h.wantKinds("the claim", h.newEvents(id), "run_started", "step_started:p2")
	h.wantStates(id, "p1:ready p2:running p3:ready")

	seen = nil
	r = req("w", 1, at(2*sec))
	r.Admit = func(c *weft.Claim) bool { seen = append(seen, c.StepID); return c.StepID != "p3" }
	if got := stepIDs(h.claimReq(r).Claims); !slices.Equal(got, []string{"p1"}) {
		h.Errorf("claim refusing p3, max 1 = %q; want [p1]", got)
	}
	if want := []string{"p3", "p1"}; !slices.Equal(seen, want) {
		h.Errorf("Admit saw %q; want %q", seen, want)
	}
	h.claimIDs("w", 10, at(3*sec), "p3")
}

// testPeakParallel: Run.PeakParallel is the most steps of the run claimed
// at once.
func testPeakParallel(h *harness) {
	a := h.start("a", node("a0"), node("a1"), node("a2"), node("a3"), node("a4"))
	peak := func(id string, want int) {
		h.Helper()
		if got := h.run(id).PeakParallel; got != want {
			h.Errorf("PeakParallel of %s = %d; want %d", id, got, want)
		}
	}
	peak(a, 0)
	cs := h.claimIDs("w", 3, at(sec), "a0", "a1", "a2")
	peak(a, 3)
	h.succeed(cs[0], at(2*sec), `0`)
	h.succeed(cs[1], at(2*sec), `1`)
	peak(a, 3)
	more := h.claimIDs("w", 2, at(3*sec), "a3", "a4") // 3 running again
	peak(a, 3)

	b := h.start("b", node("b0"), node("b1"), node("b2"), node("b3"))
	bs := h.claimIDs("w", 10, at(4*sec), "b0", "b1", "b2", "b3")
	peak(b, 4)
	peak(a, 3)
	for _, c := range append(append([]*weft.Claim{cs[2]}, more...), bs...) {
		h.succeed(c, at(5*sec), `1`)
	}
	peak(a, 3)
	peak(b, 4)

	// A reclaimed step is not counted twice.
	c := h.start("c", node("c0"), node("c1"))
	h.claimIDs("w", 1, at(10*sec), "c0")
	if n, err := h.s.ReclaimExpired(h.ctx, at(10*sec).Add(lease+sec)); err != nil || n != 1 {
		h.Fatalf("ReclaimExpired = %d, %v; want 1", n, err)
	}
	h.claimIDs("w", 10, at(2*time.Minute), "c0", "c1")
	peak(c, 2)
}
