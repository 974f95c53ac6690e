// Package storetest is the conformance suite every weft.Store (and
// weft.WorkflowStore) must pass. The in-memory store, SQLite and
// PostgreSQL all run the same tests, so a run behaves the same whichever
// store holds it.
//
// The suite uses a store only through the weft.Store interface. Every time
// it passes is a fixed base time plus a duration (the requests' Now fields):
// it never reads the clock and never sleeps. Run ids are unique per test.
// Plans are built by hand (see plan), so the suite does not depend on the
// workflow package.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// Run runs the whole suite against stores made by newStore. newStore must
// return a fresh, empty store for each subtest, and may register its own
// cleanup with t.Cleanup. Each behaviour of the weft.Store contract is one
// subtest, so `go test -run 'Conformance/Retry'` selects one of them. The
// workflow registry's subtests (Workflow*, see TestWorkflows) run when the
// store is also a weft.WorkflowStore, and are skipped otherwise.
func Run(t *testing.T, newStore func(t *testing.T) weft.Store) {
	t.Helper()
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(&harness{T: t, s: newStore(t), ctx: t.Context(), seen: make(map[string]int64)})
		})
	}
	runWorkflowSuite(t, func(t *testing.T) weft.WorkflowStore {
		ws, _ := newStore(t).(weft.WorkflowStore)
		return ws
	})
}

// suite lists the subtests in the order they run.
var suite = []struct {
	name string
	fn   func(h *harness)
}{
	{"CreateRun", testCreateRun},
	{"RootsReadyWhateverTrigger", testRootTriggers},
	{"IdempotencyKey", testIdempotency},
	{"ClaimOrder", testClaimOrder},
	{"ClaimDeps", testClaimDeps},
	{"MaxParallel", testMaxParallel},
	{"Admit", testAdmit},
	{"FinishFanIn", testFanIn},
	{"FinishDiamond", testDiamond},
	{"FinishFailed", testFailed},
	{"FinishSkipped", testSkipped},
	{"RunError", testRunError},
	{"Retry", testRetry},
	{"Fencing", testFencing},
	{"FinishRejectsNonOutcome", testFinishNonOutcome},
	{"Leases", testLeases},
	{"CancelRun", testCancelRun},
	{"CancelRunRetrying", testCancelRetrying},
	{"RetryRun", testRetryRun},
	{"Progress", testProgress},
	{"Events", testEvents},
	{"ListRuns", testListRuns},
	{"UnfinishedRuns", testUnfinished},
	{"ConcurrentClaimers", testConcurrent},
	{"PeakParallel", testPeakParallel},
	{"Usage", testUsage},
	{"LongSkipChain", testLongChain},
	{"RunWorkflowVersion", testRunWorkflowVersion},
	{"Clock", testClock},
}

// base is the time every test starts from; at gives later times.
var base = time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

const (
	sec   = time.Second
	lease = time.Minute // how long the leases of claim last
)

// spec describes one step of a plan: build it with node, refine it with
// its methods.
type spec struct{ ps weft.PlanStep }

// node is a step of type "test" named id, depending on the steps at the
// given indices of its plan.
func node(id string, deps ...int32) spec {
	return spec{weft.PlanStep{ID: id, Type: "test", Deps: deps}}
}

func (s spec) prio(p int32) spec            { s.ps.Priority = p; return s }
func (s spec) trigger(tr weft.Trigger) spec { s.ps.Trigger = tr; return s }
func (s spec) pool(p string) spec           { s.ps.Pool = p; return s }

// plan builds a run's steps, in node order; a step nothing depends on is
// a sink.
func plan(specs ...spec) []weft.PlanStep {
	steps := make([]weft.PlanStep, len(specs))
	used := make([]bool, len(specs))
	for i, s := range specs {
		steps[i] = s.ps
		for _, d := range s.ps.Deps {
			used[d] = true
		}
	}
	for i := range steps {
		steps[i].Sink = !used[i]
	}
	return steps
}

// harness is one subtest's store and helpers. Helpers that cannot go on
// after a failure stop the test; checks report and go on.
type harness struct {
	*testing.T
	s    weft.Store
	ctx  context.Context
	seen map[string]int64 // run id → the last event seq newEvents returned
}

// id returns a run id (or idempotency key) unique to this test.
func (h *harness) id(name string) string {
	return strings.ReplaceAll(h.Name(), "/", ".") + "." + name
}

// newRun is a run of workflow "wf" created at base, with the given steps.
func (h *harness) newRun(name string, specs ...spec) *weft.NewRun {
	return &weft.NewRun{Run: weft.Run{ID: h.id(name), WorkflowID: "wf"}, Steps: plan(specs...), Now: base}
}

// create stores nr, which must be a new run with one event, run_created,
// and returns its id.
func (h *harness) create(nr *weft.NewRun) string {
	h.Helper()
	run, created, err := h.s.CreateRun(h.ctx, nr)
	if err != nil {
		h.Fatalf("CreateRun(%s): %v", nr.Run.ID, err)
	}
	if !created || run.ID != nr.Run.ID {
		h.Fatalf("CreateRun(%s) = run %s, created %v; want a new run", nr.Run.ID, run.ID, created)
	}
	h.wantKinds("CreateRun", h.newEvents(run.ID), "run_created")
	return run.ID
}

// start creates a run of the given steps created at base.
func (h *harness) start(name string, specs ...spec) string {
	h.Helper()
	return h.create(h.newRun(name, specs...))
}

// req asks for up to max steps at now, leased for a minute.
func req(worker string, max int, now time.Time) *weft.ClaimRequest {
	return &weft.ClaimRequest{Worker: worker, Max: max, Now: now, LeaseUntil: now.Add(lease)}
}

func (h *harness) claimReq(r *weft.ClaimRequest) *weft.ClaimResult {
	h.Helper()
	res, err := h.s.Claim(h.ctx, r)
	if err != nil {
		h.Fatalf("Claim(worker %s, max %d, now %s): %v", r.Worker, r.Max, r.Now, err)
	}
	return res
}

// claim claims up to max steps at now.
func (h *harness) claim(worker string, max int, now time.Time) *weft.ClaimResult {
	h.Helper()
	return h.claimReq(req(worker, max, now))
}

// claimIDs claims up to max steps at now and checks which, in order.
func (h *harness) claimIDs(worker string, max int, now time.Time, want ...string) []*weft.Claim {
	h.Helper()
	res := h.claim(worker, max, now)
	if got := stepIDs(res.Claims); !slices.Equal(got, want) {
		h.Fatalf("Claim(max %d, now %s) claimed %q; want %q", max, now, got, want)
	}
	return res.Claims
}

// claimRun claims one ready step of run id only (the others are refused
// through Admit and stay ready).
func (h *harness) claimRun(id, worker string, now time.Time) *weft.Claim {
	h.Helper()
	r := req(worker, 1, now)
	r.Admit = func(c *weft.Claim) bool { return c.RunID == id }
	res := h.claimReq(r)
	if len(res.Claims) != 1 {
		h.Fatalf("Claim of a step of run %s claimed %d steps; want 1", id, len(res.Claims))
	}
	return res.Claims[0]
}

func stepIDs(cs []*weft.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.StepID
	}
	return ids
}

// finish records f, which must succeed.
func (h *harness) finish(f *weft.StepFinish) *weft.FinishResult {
	h.Helper()
	res, err := h.s.Finish(h.ctx, f)
	if err != nil {
		h.Fatalf("Finish(%s %s attempt %d, %s): %v", f.Lease.RunID, f.Lease.StepID, f.Lease.Attempt, f.Status, err)
	}
	return res
}

// succeed finishes c as succeeded at now with output out (JSON).
func (h *harness) succeed(c *weft.Claim, now time.Time, out string) *weft.FinishResult {
	h.Helper()
	return h.finish(&weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepSucceeded, Output: json.RawMessage(out)})
}

// fail finishes c as failed for good at now with an error of code.
func (h *harness) fail(c *weft.Claim, now time.Time, code weft.Code) *weft.FinishResult {
	h.Helper()
	return h.finish(&weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepFailed,
		Error: &weft.ErrorInfo{Code: code, Message: c.StepID + " broke"}})
}

// cancel ends run id with status, reason and an error of code.
func (h *harness) cancel(id string, status weft.RunStatus, code weft.Code, reason string, now time.Time) *weft.Run {
	h.Helper()
	run, err := h.s.CancelRun(h.ctx, &weft.RunCancel{RunID: id, Status: status, Reason: reason, Now: now,
		Error: &weft.ErrorInfo{Code: code, Message: "run " + reason}})
	if err != nil {
		h.Fatalf("CancelRun(%s): %v", id, err)
	}
	return run
}

func (h *harness) run(id string) *weft.Run {
	h.Helper()
	run, err := h.s.Run(h.ctx, id)
	if err != nil {
		h.Fatalf("Run(%s): %v", id, err)
	}
	return run
}

// steps returns run id's steps by id.
func (h *harness) steps(id string) map[string]*weft.StepRun {
	h.Helper()
	list, err := h.s.Steps(h.ctx, id)
	if err != nil {
		h.Fatalf("Steps(%s): %v", id, err)
	}
	m := make(map[string]*weft.StepRun, len(list))
	for _, s := range list {
		m[s.StepID] = s
	}
	return m
}

// step returns one step of run id.
func (h *harness) step(id, stepID string) *weft.StepRun {
	h.Helper()
	s := h.steps(id)[stepID]
	if s == nil {
		h.Fatalf("run %s has no step %s", id, stepID)
	}
	return s
}

// wantStates checks the status (and reason) of every step of run id:
// want is like "a:succeeded b:skipped/upstream_failed c:ready".
func (h *harness) wantStates(id, want string) {
	h.Helper()
	steps := h.steps(id)
	got := make([]string, 0, len(steps))
	for _, s := range steps {
		st := s.StepID + ":" + string(s.Status)
		if s.Reason != "" {
			st += "/" + s.Reason
		}
		got = append(got, st)
	}
	wants := strings.Fields(want)
	slices.Sort(got)
	slices.Sort(wants)
	if !slices.Equal(got, wants) {
		h.Errorf("steps of run %s:\n got  %s\n want %s", id, strings.Join(got, " "), strings.Join(wants, " "))
	}
}

// events returns all the events of run id, reading them in pages.
func (h *harness) events(id string) []weft.Event {
	h.Helper()
	return h.eventsAfter(id, 0)
}

// eventsAfter returns the events of run id with Seq > after, reading them
// in pages of 1000 and checking that each page goes on from the last.
func (h *harness) eventsAfter(id string, after int64) []weft.Event {
	h.Helper()
	var all []weft.Event
	for {
		page, err := h.s.Events(h.ctx, id, after, 1000)
		if err != nil {
			h.Fatalf("Events(%s, %d): %v", id, after, err)
		}
		if len(page) == 0 {
			return all
		}
		if len(page) > 1000 || page[0].Seq != after+1 || page[len(page)-1].Seq != after+int64(len(page)) {
			h.Fatalf("Events(%s, after %d, limit 1000) = %d events, seq %d to %d; want up to 1000 from %d on, contiguous",
				id, after, len(page), page[0].Seq, page[len(page)-1].Seq, after+1)
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// newEvents returns the events of run id appended since the last call
// (since its creation, the first time).
func (h *harness) newEvents(id string) []weft.Event {
	h.Helper()
	evs := h.eventsAfter(id, h.seen[id])
	if len(evs) > 0 {
		h.seen[id] = evs[len(evs)-1].Seq
	}
	return evs
}

// kinds names events as "type" for run events and "type:step" for step
// events.
func kinds(evs []weft.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Type)
		if e.StepID != "" {
			out[i] += ":" + e.StepID
		}
	}
	return out
}

// wantKinds checks the events' kinds, in order.
func (h *harness) wantKinds(what string, evs []weft.Event, want ...string) {
	h.Helper()
	if got := kinds(evs); !slices.Equal(got, want) {
		h.Errorf("%s: events\n got  %q\n want %q", what, got, want)
	}
}

// wantKindSet checks the events' kinds, in any order.
func (h *harness) wantKindSet(what string, evs []weft.Event, want ...string) {
	h.Helper()
	got := kinds(evs)
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		h.Errorf("%s: events (in any order)\n got  %q\n want %q", what, got, want)
	}
}

// lastEvent returns run id's last event.
func (h *harness) lastEvent(id string) weft.Event {
	h.Helper()
	evs := h.events(id)
	if len(evs) == 0 {
		h.Fatalf("run %s has no events", id)
	}
	return evs[len(evs)-1]
}

// wantIs checks that err matches target.
func (h *harness) wantIs(what string, err, target error) {
	h.Helper()
	if !errors.Is(err, target) {
		h.Errorf("%s: err = %v; want %v", what, err, target)
	}
}

// wantTime checks a time (compared with Equal, whatever its location).
func (h *harness) wantTime(what string, got, want time.Time) {
	h.Helper()
	if !got.Equal(want) {
		h.Errorf("%s = %s; want %s", what, got, want)
	}
}

// wantJSON checks that got is the JSON value want (compared as values, so
// that stores may reformat it).
func (h *harness) wantJSON(what string, got json.RawMessage, want string) {
	h.Helper()
	if !jsonEqual(got, json.RawMessage(want)) {
		h.Errorf("%s = %s; want %s", what, got, want)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// wantError checks an ErrorInfo's code (nil for none).
func (h *harness) wantError(what string, got *weft.ErrorInfo, code weft.Code) {
	h.Helper()
	switch {
	case code == "" && got != nil:
		h.Errorf("%s = %+v; want none", what, *got)
	case code != "" && got == nil:
		h.Errorf("%s = nil; want an error with code %q", what, code)
	case got != nil && got.Code != code:
		h.Errorf("%s has code %q (%s); want %q", what, got.Code, got.Message, code)
	}
}
