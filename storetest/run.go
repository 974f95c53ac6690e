package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/weft-dev/weft"
)

// testCreateRun: roots are ready and the others pending, one run_created
// event, the record round-trips, and unknown runs are ErrNotFound.
func testCreateRun(h *harness) {
	nr := h.newRun("r", node("a"), node("b").prio(2), node("c", 0, 1), node("d", 2))
	nr.Run = weft.Run{
		ID: nr.Run.ID, WorkflowID: "wf-create",
		Params:      json.RawMessage(`{"n": 1, "s": "x", "list": [1, 2]}`),
		Workflow:    json.RawMessage(`{"id": "wf-create", "steps": {"a": {"type": "test"}}}`),
		MaxParallel: 3, Deadline: at(time.Hour), CreatedAt: base,
	}
	nr.Now = at(sec)
	run, created, err := h.s.CreateRun(h.ctx, nr)
	if err != nil || !created {
		h.Fatalf("CreateRun = created %v, err %v; want a new run", created, err)
	}
	check := func(what string, got *weft.Run) {
		h.Helper()
		if got.ID != nr.Run.ID || got.WorkflowID != "wf-create" || got.Status != weft.RunPending ||
			got.MaxParallel != 3 || got.IdempotencyKey != "" || got.PeakParallel != 0 {
			h.Errorf("%s = id %q workflow %q status %q max_parallel %d key %q peak %d; want %q wf-create pending 3 \"\" 0",
				what, got.ID, got.WorkflowID, got.Status, got.MaxParallel, got.IdempotencyKey, got.PeakParallel, nr.Run.ID)
		}
		h.wantJSON(what+".Params", got.Params, string(nr.Run.Params))
		h.wantTime(what+".Deadline", got.Deadline, at(time.Hour))
		h.wantTime(what+".CreatedAt", got.CreatedAt, base)
		if !got.StartedAt.IsZero() || !got.FinishedAt.IsZero() || got.Error != nil || len(got.Result) != 0 {
			h.Errorf("%s: a new run has started %s finished %s error %v result %s; want none", what, got.StartedAt, got.FinishedAt, got.Error, got.Result)
		}
	}
	check("CreateRun's run", run)
	stored := h.run(run.ID)
	check("Run", stored)
	h.wantJSON("Run.Workflow", stored.Workflow, string(nr.Run.Workflow))

	// CreatedAt defaults to Now.
	nr2 := h.newRun("now", node("a"))
	nr2.Now = at(2 * sec)
	h.wantTime("CreatedAt of a run created without one", h.run(h.create(nr2)).CreatedAt, at(2*sec))

	list, err := h.s.Steps(h.ctx, run.ID)
	if err != nil {
		h.Fatalf("Steps: %v", err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.StepID)
		if s.Type != "test" || s.Attempts != 0 || len(s.Output) != 0 || s.Error != nil || s.Worker != "" {
			h.Errorf("new step %s = type %q attempts %d output %s error %v worker %q; want a fresh step", s.StepID, s.Type, s.Attempts, s.Output, s.Error, s.Worker)
		}
		if s.Status == weft.StepReady {
			h.wantTime("ReadyAt of root "+s.StepID, s.ReadyAt, at(sec))
		}
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(ids, want) {
		h.Errorf("Steps in order %q; want node order %q", ids, want)
	}
	h.wantStates(run.ID, "a:ready b:ready c:pending d:pending")

	evs := h.events(run.ID)
	h.wantKinds("a new run", evs, "run_created")
	if len(evs) == 1 {
		if e := evs[0]; e.Seq != 1 || e.RunID != run.ID || !e.Time.Equal(at(sec)) {
			h.Errorf("run_created = seq %d run %q time %s; want 1 %q %s", e.Seq, e.RunID, e.Time, run.ID, at(sec))
		}
	}

	const missing = "no-such-run"
	_, err = h.s.Run(h.ctx, missing)
	h.wantIs("Run(unknown)", err, weft.ErrNotFound)
	_, err = h.s.Steps(h.ctx, missing)
	h.wantIs("Steps(unknown)", err, weft.ErrNotFound)
	_, err = h.s.Events(h.ctx, missing, 0, 10)
	h.wantIs("Events(unknown)", err, weft.ErrNotFound)
	_, err = h.s.Outputs(h.ctx, missing, []string{"a"})
	h.wantIs("Outputs(unknown)", err, weft.ErrNotFound)
	_, err = h.s.CancelRun(h.ctx, &weft.RunCancel{RunID: missing, Status: weft.RunCanceled, Now: at(sec)})
	h.wantIs("CancelRun(unknown)", err, weft.ErrNotFound)
}

// testRootTriggers: "steps without dependencies are ready at once",
// whatever their trigger (Trigger.Decide: "A step without dependencies
// runs").
func testRootTriggers(h *harness) {
	id := h.start("r", node("s"), node("d").trigger(weft.TriggerAllDone), node("f").trigger(weft.TriggerOneFailed))
	h.wantStates(id, "s:ready d:ready f:ready")
	h.wantKinds("a new run", h.events(id), "run_created")
	for _, c := range h.claimIDs("w", 10, at(sec), "s", "d", "f") {
		h.succeed(c, at(2*sec), `1`)
	}
	if run := h.run(id); run.Status != weft.RunSucceeded {
		h.Errorf("run status %s; want succeeded", run.Status)
	}

	// A run whose only step has no dependencies and trigger one_failed.
	lone := h.start("lone", node("f").trigger(weft.TriggerOneFailed))
	h.wantStates(lone, "f:ready")
	if run := h.run(lone); run.Status.Terminal() {
		h.Errorf("a new run is %s", run.Status)
	}
}

// testIdempotency: a second CreateRun with the same key returns the first
// run.
func testIdempotency(h *harness) {
	key := h.id("key")
	nr1 := h.newRun("first", node("a"))
	nr1.Run.IdempotencyKey = key
	first := h.create(nr1)

	nr2 := h.newRun("second", node("a"), node("b"))
	nr2.Run.IdempotencyKey, nr2.Run.WorkflowID, nr2.Now = key, "other", at(sec)
	run, created, err := h.s.CreateRun(h.ctx, nr2)
	if err != nil {
		h.Fatalf("CreateRun with a used key: %v", err)
	}
	if created || run.ID != first || run.WorkflowID != "wf" || run.IdempotencyKey != key {
		h.Errorf("CreateRun with a used key = run %q workflow %q key %q created %v; want the first run %q, wf, created false",
			run.ID, run.WorkflowID, run.IdempotencyKey, created, first)
	}
	_, err = h.s.Run(h.ctx, nr2.Run.ID)
	h.wantIs("Run of the run not created", err, weft.ErrNotFound)
	h.wantStates(first, "a:ready")
	h.wantKinds("the first run", h.events(first), "run_created")
	if got := h.run(first).IdempotencyKey; got != key {
		h.Errorf("IdempotencyKey = %q; want %q", got, key)
	}

	nr3 := h.newRun("third", node("a"))
	nr3.Run.IdempotencyKey = h.id("other-key")
	third := h.create(nr3)
	h.wantUnfinished(first, third)
}

// testEvents: events are numbered from 1 without gaps, in the order things
// happened, with their details, and page with after and limit.
func testEvents(h *harness) {
	id := h.start("r", node("a"), node("b", 0))
	c := h.claimIDs("w", 1, at(sec), "a")[0]
	h.finish(&weft.StepFinish{Lease: c.Lease(), Now: at(2 * sec), Status: weft.StepSucceeded,
		Output: json.RawMessage(`1`), Data: json.RawMessage(`{"tokens": 7}`)})
	c = h.claimIDs("w", 1, at(3*sec), "b")[0]
	h.succeed(c, at(4*sec), `2`)

	all := h.events(id)
	h.wantKinds("a chain of two", all, "run_created", "run_started", "step_started:a", "step_succeeded:a",
		"step_started:b", "step_succeeded:b", "run_succeeded")
	for i, e := range all {
		if e.Seq != int64(i+1) || e.RunID != id {
			h.Errorf("event %d = seq %d run %q; want seq %d run %q", i, e.Seq, e.RunID, i+1, id)
		}
	}
	if len(all) == 7 {
		times := []time.Duration{0, sec, sec, 2 * sec, 3 * sec, 4 * sec, 4 * sec}
		for i, e := range all {
			h.wantTime(fmt.Sprintf("event %d's Time", e.Seq), e.Time, at(times[i]))
			if step := e.StepID != ""; step && (e.Attempt != 1 || e.Worker != "w") {
				h.Errorf("event %d (%s) = attempt %d worker %q; want 1 w", e.Seq, e.Type, e.Attempt, e.Worker)
			}
		}
		h.wantJSON("step_succeeded's Data", all[3].Data, `{"tokens": 7}`)
	}

	page := func(after int64, limit int, want ...int64) {
		h.Helper()
		evs, err := h.s.Events(h.ctx, id, after, limit)
		if err != nil {
			h.Fatalf("Events(after %d, limit %d): %v", after, limit, err)
		}
		var seqs []int64
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
		if !slices.Equal(seqs, want) {
			h.Errorf("Events(after %d, limit %d) = seqs %v; want %v", after, limit, seqs, want)
		}
	}
	page(0, 1, 1)
	page(2, 2, 3, 4)
	page(5, 10, 6, 7)
	page(6, 10, 7)
	page(7, 10)
	page(100, 10)
}

// testListRuns: newest first, filters, and cursor pages without gaps or
// duplicates.
func testListRuns(h *harness) {
	ids := make([]string, 7)
	for i := range ids {
		nr := h.newRun(fmt.Sprintf("r%d", i), node("a"))
		nr.Run.WorkflowID = []string{"alpha", "beta"}[i%2]
		nr.Now = at(time.Duration(i) * time.Minute)
		ids[i] = h.create(nr)
	}
	for _, i := range []int{1, 4} {
		h.succeed(h.claimRun(ids[i], "w", at(10*time.Minute)), at(11*time.Minute), `1`)
	}
	h.cancel(ids[2], weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(12*time.Minute))

	m := time.Minute
	cases := []struct {
		name string
		f    weft.RunFilter
		want []int // indices into ids, newest first
	}{
		{"all", weft.RunFilter{}, []int{6, 5, 4, 3, 2, 1, 0}},
		{"workflow", weft.RunFilter{WorkflowID: "alpha"}, []int{6, 4, 2, 0}},
		{"succeeded", weft.RunFilter{Status: weft.RunSucceeded}, []int{4, 1}},
		{"pending", weft.RunFilter{Status: weft.RunPending}, []int{6, 5, 3, 0}},
		{"canceled", weft.RunFilter{Status: weft.RunCanceled}, []int{2}},
		{"since", weft.RunFilter{Since: at(2*m + m/2)}, []int{6, 5, 4, 3}},
		{"until", weft.RunFilter{Until: at(2*m + m/2)}, []int{2, 1, 0}},
		{"since-until", weft.RunFilter{Since: at(m + m/2), Until: at(4*m + m/2)}, []int{4, 3, 2}},
		{"combined", weft.RunFilter{WorkflowID: "beta", Since: at(m / 2), Until: at(5*m + m/2)}, []int{5, 3, 1}},
		{"none", weft.RunFilter{WorkflowID: "nope"}, nil},
	}
	for _, tc := range cases {
		var want []string
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		for _, limit := range []int{0, 1, 2, 3, 1000} {
			f := tc.f
			f.Limit = limit
			if got := h.listAll(&f); !slices.Equal(got, want) {
				h.Errorf("ListRuns(%s, limit %d), all pages = %q; want %q", tc.name, limit, got, want)
			}
		}
	}
	runs, _, err := h.s.ListRuns(h.ctx, &weft.RunFilter{})
	if err != nil {
		h.Fatalf("ListRuns: %v", err)
	}
	for _, r := range runs {
		if stored := h.run(r.ID); r.Status != stored.Status || r.WorkflowID != stored.WorkflowID || !r.CreatedAt.Equal(stored.CreatedAt) {
			h.Errorf("ListRuns has run %s as %s %s %s; Run says %s %s %s", r.ID, r.Status, r.WorkflowID, r.CreatedAt,
				stored.Status, stored.WorkflowID, stored.CreatedAt)
		}
	}
	if _, _, err := h.s.ListRuns(h.ctx, &weft.RunFilter{Cursor: "not a cursor!"}); err == nil {
		h.Errorf("ListRuns with a bad cursor: no error")
	}
}

// listAll reads every page of a listing and returns the run ids. Every
// page but the last must be full; the last may be empty.
func (h *harness) listAll(f *weft.RunFilter) []string {
	h.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 20 {
			h.Fatalf("ListRuns(%+v): more than 20 pages", *f)
		}
		runs, next, err := h.s.ListRuns(h.ctx, f)
		if err != nil {
			h.Fatalf("ListRuns(%+v): %v", *f, err)
		}
		limit := f.Limit
		if limit <= 0 {
			limit = 50
		}
		if len(runs) > limit || (next != "" && len(runs) != limit) {
			h.Errorf("ListRuns(limit %d) returned a page of %d runs with next %q", f.Limit, len(runs), next)
		}
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
}

// testUnfinished: UnfinishedRuns lists exactly the runs not over.
func testUnfinished(h *harness) {
	pending := h.start("pending", node("a"))
	running := h.start("running", node("a"), node("b", 0))
	retrying := h.start("retrying", node("a"))
	succeeded := h.start("succeeded", node("a"))
	failed := h.start("failed", node("a"))
	canceled := h.start("canceled", node("a"))
	timedOut := h.start("timed-out", node("a"))

	h.succeed(h.claimRun(running, "w", at(sec)), at(2*sec), `1`)
	c := h.claimRun(retrying, "w", at(sec))
	h.finish(&weft.StepFinish{Lease: c.Lease(), Now: at(2 * sec), Status: weft.StepRetrying,
		Error: &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}, RetryAt: at(time.Hour)})
	h.succeed(h.claimRun(succeeded, "w", at(sec)), at(2*sec), `1`)
	h.fail(h.claimRun(failed, "w", at(sec)), at(2*sec), weft.CodeInternal)
	h.cancel(canceled, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(3*sec))
	h.cancel(timedOut, weft.RunFailed, weft.CodeTimeout, weft.ReasonRunTimeout, at(3*sec))
	h.wantUnfinished(pending, running, retrying)
}

// wantUnfinished checks UnfinishedRuns, in any order.
func (h *harness) wantUnfinished(want ...string) {
	h.Helper()
	got, err := h.s.UnfinishedRuns(h.ctx)
	if err != nil {
		h.Fatalf("UnfinishedRuns: %v", err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.Errorf("UnfinishedRuns = %q; want %q", got, want)
	}
}
