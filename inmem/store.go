// Package inmem is the in-memory weft.Store (and weft.WorkflowStore): the
// fast path for the library, tests and one-off runs. Nothing survives the
// process.
//
// It keeps every run under one mutex. Ready steps wait in one priority heap
// per run (higher weft.PlanStep.Priority first, then node order); runs that
// have ready steps and room under their MaxParallel wait in a heap ordered
// by creation, so a claim costs O(log n) whatever the number of runs.
package inmem

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
	"github.com/weft-dev/weft/internal/sched"
)

// Store is an in-memory weft.Store, and a weft.WorkflowStore. It is safe
// for concurrent use. The zero value is not ready: use New.
type Store struct {
	mu      sync.Mutex
	runs    map[string]*run
	byKey   map[string]*run
	created []*run // in creation order
	seq     int64
	active  runHeap   // runs with ready steps and room to run them
	retries retryHeap // steps waiting out a retry delay
	cascade runstate.Cascade

	workflows workflows // the workflow registry, under a lock of its own
}

var _ weft.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		runs:  make(map[string]*run),
		byKey: make(map[string]*run),
	}
}

type run struct {
	rec       weft.Run
	seq       int64
	plan      []weft.PlanStep
	steps     []step
	index     map[string]int32
	dntOff    []int32 // CSR: dependents of node i are dnts[dntOff[i]:dntOff[i+1]]
	dnts      []int32
	ready     sched.ReadyHeap
	running   int
	remaining int // steps not yet terminal
	failed    int
	events    eventLog
	inActive  bool
	clock     runstate.Clock // the latest time recorded: times never go backwards
}

type step struct {
	weft.StepRun
	counts     weft.DepCounts
	retryAt    time.Time
	firstStart time.Time
}

// CreateRun stores a new run; see weft.Store.
func (s *Store) CreateRun(ctx context.Context, nr *weft.NewRun) (*weft.Run, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if nr.Run.ID == "" {
		return nil, false, fmt.Errorf("create run: %w", weft.Errorf(weft.CodeInvalid, "a run needs an id"))
	}
	if len(nr.Steps) == 0 {
		return nil, false, fmt.Errorf("create run %s: %w", nr.Run.ID, weft.Errorf(weft.CodeInvalid, "a run needs at least one step"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := nr.Run.IdempotencyKey; k != "" {
		if r, ok := s.byKey[k]; ok {
			return r.record(), false, nil
		}
	}
	if _, dup := s.runs[nr.Run.ID]; dup {
		return nil, false, fmt.Errorf("create run %s: %w", nr.Run.ID, weft.Errorf(weft.CodeInvalid, "a run with this id exists"))
	}
	s.seq++
	r := &run{rec: nr.Run, seq: s.seq, plan: nr.Steps, remaining: len(nr.Steps)}
	r.clock.Now(nr.Now)
	r.rec.Status = weft.RunPending
	if r.rec.CreatedAt.IsZero() {
		r.rec.CreatedAt = nr.Now
	}
	r.steps = make([]step, len(nr.Steps))
	r.index = make(map[string]int32, len(nr.Steps))
	r.dntOff = make([]int32, len(nr.Steps)+1)
	for i, ps := range nr.Steps {
		r.index[ps.ID] = int32(i)
		for _, d := range ps.Deps {
			if d < 0 || int(d) >= len(nr.Steps) {
				return nil, false, fmt.Errorf("create run %s: step %s: dependency index %d out of range", nr.Run.ID, ps.ID, d)
			}
			r.dntOff[d+1]++
		}
	}
	for i := range nr.Steps {
		r.dntOff[i+1] += r.dntOff[i]
	}
	r.dnts = make([]int32, r.dntOff[len(nr.Steps)])
	fill := slices.Clone(r.dntOff[:len(nr.Steps)])
	for i, ps := range nr.Steps {
		for _, d := range ps.Deps {
			r.dnts[fill[d]] = int32(i)
			fill[d]++
		}
	}
	r.event(weft.Event{Type: weft.EventRunCreated, Time: nr.Now})
	for i := range r.steps {
		st := &r.steps[i]
		ps := &nr.Steps[i]
		st.StepID, st.Type, st.Status = ps.ID, ps.Type, weft.StepPending
		st.counts.Total = len(ps.Deps)
	}
	// Roots (and any step a trigger lets run without its dependencies,
	// which none does) are ready at once.
	for i := range r.steps {
		if len(nr.Steps[i].Deps) == 0 {
			s.decide(r, int32(i), nr.Now)
		}
	}
	s.runs[r.rec.ID] = r
	if k := r.rec.IdempotencyKey; k != "" {
		s.byKey[k] = r
	}
	s.created = append(s.created, r)
	s.activate(r)
	return r.record(), true, nil
}

// record returns a copy of the run's record with its progress counters and
// last event, all kept as the run changes: O(1) whatever its size.
func (r *run) record() *weft.Run {
	rec := r.rec
	rec.StepCount = len(r.steps)
	rec.StepsDone = len(r.steps) - r.remaining
	rec.StepsRunning = r.running
	rec.StepsFailed = r.failed
	rec.LastEvent = int64(r.events.len())
	return &rec
}

// event appends a run event to the run's history.
func (r *run) event(e weft.Event) { r.events.add(e, -1) }

// stepEvent appends an event of node i to the run's history.
func (r *run) stepEvent(i int32, e weft.Event) { r.events.add(e, i) }

// The run as the state machine's cascade sees it (runstate.Run).

// Dependents returns the nodes that depend on node i.
func (r *run) Dependents(i int32) ([]int32, error) { return r.dnts[r.dntOff[i]:r.dntOff[i+1]], nil }

// Outcome returns the status and reason of node i.
func (r *run) Outcome(i int32) (weft.StepStatus, string) { return r.steps[i].Status, r.steps[i].Reason }

// Pending returns the counters of node i when it is pending.
func (r *run) Pending(i int32) *weft.DepCounts {
	if st := &r.steps[i]; st.Status == weft.StepPending {
		return &st.counts
	}
	return nil
}

// Trigger returns the trigger of node i.
func (r *run) Trigger(i int32) weft.Trigger { return r.plan[i].Trigger }

// Counted does nothing: the counters are the run's own.
func (r *run) Counted(int32) {}

// Ready makes node i ready.
func (r *run) Ready(i int32, now time.Time) {
	st := &r.steps[i]
	st.Status = weft.StepReady
	st.ReadyAt = now
	r.ready.Push(sched.Ready{Prio: r.plan[i].Priority, Index: i})
}

// Skip makes node i skipped.
func (r *run) Skip(i int32, reason string, now time.Time) {
	st := &r.steps[i]
	st.Status, st.Reason, st.FinishedAt = weft.StepSkipped, reason, now
	r.remaining--
	r.stepEvent(i, weft.Event{Type: weft.EventStepSkipped, Time: now, Reason: reason})
}

// decide decides pending node i of run r (runstate.Cascade.Decide).
func (s *Store) decide(r *run, i int32, now time.Time) int {
	n, _ := s.cascade.Decide(r, i, now) // an in-memory run has no errors
	return n
}

// activate puts r in the active heap when it has ready steps and room.
func (s *Store) activate(r *run) {
	if r.inActive || r.rec.Status.Terminal() || len(r.ready) == 0 || !r.hasRoom() {
		return
	}
	r.inActive = true
	s.active.push(r)
}

func (r *run) hasRoom() bool { return r.rec.MaxParallel <= 0 || r.running < r.rec.MaxParallel }

// Claim leases ready steps; see weft.Store.
func (s *Store) Claim(ctx context.Context, req *weft.ClaimRequest) (*weft.ClaimResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claim(req), nil
}

func (s *Store) claim(req *weft.ClaimRequest) *weft.ClaimResult {
	res := &weft.ClaimResult{}
	// Retries whose delay is over become ready.
	for len(s.retries) > 0 && runstate.RetryDue(s.retries[0].at, req.Now) {
		it := s.retries.pop()
		if it.stale() {
			continue // canceled or rescheduled
		}
		st := &it.r.steps[it.i]
		st.Status, st.ReadyAt = runstate.Promote(&it.r.clock, it.at)
		it.r.ready.Push(sched.Ready{Prio: it.r.plan[it.i].Priority, Index: it.i})
		s.activate(it.r)
	}
	runstate.ClaimReady((*queue)(s), req, res) // an in-memory queue has no errors
	for len(s.retries) > 0 && s.retries[0].stale() {
		s.retries.pop()
	}
	if len(s.retries) > 0 {
		res.NextAt = s.retries[0].at
	}
	return res
}

// queue is the store's ready work as runstate.ClaimReady sees it.
type queue Store

// PopRun removes and returns the oldest active run.
func (q *queue) PopRun() (*run, bool, error) {
	if len(q.active) == 0 {
		return nil, false, nil
	}
	r := q.active.pop()
	r.inActive = false
	return r, true, nil
}

// Activate puts r in the active heap when it has ready steps and room.
func (q *queue) Activate(r *run) { (*Store)(q).activate(r) }

// ReadySteps returns r's ready steps.
func (q *queue) ReadySteps(r *run) *sched.ReadyHeap { return &r.ready }

// HasRoom reports whether r may start one more step.
func (q *queue) HasRoom(r *run) bool { return r.hasRoom() }

// ClaimOf returns the claim of r's node i.
func (q *queue) ClaimOf(r *run, i int32, req *weft.ClaimRequest) *weft.Claim {
	return r.claimOf(i, req)
}

// Start records the claim of r's node i.
func (q *queue) Start(r *run, i int32, c *weft.Claim, req *weft.ClaimRequest) {
	(*Store)(q).start(r, i, c, req)
}

func (r *run) claimOf(i int32, req *weft.ClaimRequest) *weft.Claim {
	st := &r.steps[i]
	first := st.firstStart
	if first.IsZero() {
		first = r.clock.Now(req.Now)
	}
	c := &weft.Claim{
		RunID: r.rec.ID, StepID: st.StepID, Index: i, Type: st.Type, Pool: r.plan[i].Pool,
		Attempt: st.Attempts + 1, Worker: req.Worker, LeaseUntil: req.LeaseUntil,
		ReadyAt: st.ReadyAt, FirstStartedAt: first,
	}
	if deps := r.plan[i].Deps; len(deps) > 0 {
		c.Deps = make([]weft.StepResult, len(deps))
		for k, d := range deps {
			c.Deps[k] = r.steps[d].result()
		}
	}
	return c
}

func (st *step) result() weft.StepResult {
	return weft.StepResult{StepID: st.StepID, Status: st.Status, Attempts: st.Attempts, Output: st.Output, Error: st.Error}
}

// start records a claimed attempt.
func (s *Store) start(r *run, i int32, c *weft.Claim, req *weft.ClaimRequest) {
	st := &r.steps[i]
	started := runstate.Start(&r.clock, req.Now, r.rec.Status, st.ReadyAt, st.firstStart, st.QueueWait)
	st.Status = weft.StepRunning
	st.Attempts = c.Attempt
	st.Worker = req.Worker
	st.LeaseUntil = req.LeaseUntil
	st.StartedAt, st.firstStart, st.QueueWait = started.At, started.FirstStartedAt, started.QueueWait
	r.running++
	r.rec.PeakParallel = max(r.rec.PeakParallel, r.running)
	if started.RunStarted {
		r.rec.Status = weft.RunRunning
		r.rec.StartedAt = started.At
		r.event(started.RunEvent())
	}
	r.stepEvent(i, started.StepEvent(c.Attempt, req.Worker))
}

// lookup returns the run and step of a lease, or ErrLeaseLost when the
// lease is not current.
func (s *Store) lookup(l weft.Lease) (*run, int32, error) {
	r, ok := s.runs[l.RunID]
	if !ok {
		return nil, 0, fmt.Errorf("run %s: %w", l.RunID, weft.ErrNotFound)
	}
	i := l.Index
	if i < 0 || int(i) >= len(r.steps) || r.steps[i].StepID != l.StepID {
		var ok bool
		if i, ok = r.index[l.StepID]; !ok {
			return nil, 0, fmt.Errorf("run %s step %s: %w", l.RunID, l.StepID, weft.ErrNotFound)
		}
	}
	st := &r.steps[i]
	if st.Status != weft.StepRunning || st.Attempts != l.Attempt || st.Worker != l.Worker {
		return nil, 0, fmt.Errorf("run %s step %s attempt %d: %w", l.RunID, l.StepID, l.Attempt, weft.ErrLeaseLost)
	}
	return r, i, nil
}

// Finish records the outcome of a claimed attempt; see weft.Store.
func (s *Store) Finish(ctx context.Context, f *weft.StepFinish) (*weft.FinishResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := runstate.CheckFinish(f); err != nil {
		return nil, err
	}
	r, i, err := s.lookup(f.Lease)
	if err != nil {
		return nil, err
	}
	f = runstate.ClockedFinish(f, r.clock.Now(f.Now))
	st := &r.steps[i]
	res := &weft.FinishResult{}
	r.running--
	st.Worker, st.LeaseUntil = "", time.Time{}
	if !f.StartedAt.IsZero() && f.Now.After(f.StartedAt) {
		st.RunTime += f.Now.Sub(f.StartedAt)
	}
	st.Usage.Add(f.Usage)
	r.rec.Usage.Add(f.Usage)
	switch f.Status {
	case weft.StepSucceeded:
		st.Status, st.Output, st.Error, st.FinishedAt = weft.StepSucceeded, f.Output, nil, f.Now
	case weft.StepFailed:
		st.Status, st.Error, st.FinishedAt = weft.StepFailed, f.Error, f.Now
		r.failed++
	case weft.StepSkipped:
		st.Status, st.Reason, st.FinishedAt = weft.StepSkipped, f.Reason, f.Now
	case weft.StepRetrying:
		st.Status, st.Error, st.retryAt = weft.StepRetrying, f.Error, f.RetryAt
		st.ReadyAt = f.RetryAt // promoted at it, or at the run's latest time when later
		s.retries.push(retryItem{at: f.RetryAt, r: r, i: i})
	}
	r.stepEvent(i, runstate.FinishEvent(f))
	if st.Status.Terminal() {
		r.remaining--
		res.Ready, _ = s.cascade.Settled(r, i, f.Now) // an in-memory run has no errors
	}
	if r.remaining == 0 {
		s.end(r, f.Now)
	} else {
		s.activate(r)
	}
	res.RunStatus = r.rec.Status
	if f.Next != nil {
		res.Next = s.claim(f.Next)
	}
	return res, nil
}

// end finishes a run whose steps are all done.
func (s *Store) end(r *run, now time.Time) {
	var sinks []*weft.StepRun
	for i := range r.plan {
		if r.plan[i].Sink {
			sinks = append(sinks, &r.steps[i].StepRun)
		}
	}
	var first *runstate.FirstFailed
	if r.failed > 0 {
		first = runstate.FindFirstFailed(len(r.steps), func(i int) (string, weft.StepStatus, *weft.ErrorInfo) {
			return r.steps[i].StepID, r.steps[i].Status, r.steps[i].Error
		})
	}
	end := runstate.End(now, sinks, r.failed, first)
	r.rec.Status, r.rec.Error, r.rec.Result, r.rec.FinishedAt = end.Status, end.Error, end.Result, now
	r.event(end.Event)
}

// Heartbeat extends leases; see weft.Store.
func (s *Store) Heartbeat(ctx context.Context, leases []weft.Lease, until time.Time) ([]weft.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var lost []weft.Lease
	for _, l := range leases {
		r, i, err := s.lookup(l)
		if err != nil {
			lost = append(lost, l)
			continue
		}
		r.steps[i].LeaseUntil = until
	}
	return lost, nil
}

// ReclaimExpired makes steps with expired leases claimable again; see
// weft.Store.
func (s *Store) ReclaimExpired(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.created {
		if r.running == 0 || r.rec.Status.Terminal() {
			continue
		}
		for i := range r.steps {
			st := &r.steps[i]
			if st.Status != weft.StepRunning || st.LeaseUntil.After(now) {
				continue
			}
			r.running--
			st.Status, st.Worker, st.LeaseUntil, st.ReadyAt = weft.StepReady, "", time.Time{}, r.clock.Now(now)
			r.ready.Push(sched.Ready{Prio: r.plan[i].Priority, Index: int32(i)})
			s.activate(r)
			n++
		}
	}
	return n, nil
}

// CancelRun ends a run; see weft.Store.
func (s *Store) CancelRun(ctx context.Context, c *weft.RunCancel) (*weft.Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[c.RunID]
	if !ok {
		return nil, fmt.Errorf("cancel run %s: %w", c.RunID, weft.ErrNotFound)
	}
	if r.rec.Status.Terminal() {
		return r.record(), nil
	}
	c = runstate.ClockedCancel(c, r.clock.Now(c.Now))
	k := runstate.Canceling(c)
	for i := range r.steps {
		st := &r.steps[i]
		if st.Status.Terminal() {
			continue
		}
		if st.Status == weft.StepRunning && c.Now.After(st.StartedAt) {
			st.RunTime += c.Now.Sub(st.StartedAt)
		}
		if e, ok := k.StepEvent(st.Status, st.Attempts); ok {
			r.stepEvent(int32(i), e)
		}
		st.Status, st.Reason, st.FinishedAt, st.Worker, st.LeaseUntil = weft.StepCanceled, k.Reason, c.Now, "", time.Time{}
	}
	r.ready, r.running, r.remaining = nil, 0, 0
	r.rec.Status, r.rec.Error, r.rec.FinishedAt = k.Status, c.Error, c.Now
	r.event(k.Event)
	return r.record(), nil
}

// RetryRun runs a failed or canceled run again; see weft.Store.
func (s *Store) RetryRun(ctx context.Context, rr *weft.RunRetry) (*weft.Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[rr.RunID]
	if !ok {
		return nil, fmt.Errorf("retry run %s: %w", rr.RunID, weft.ErrNotFound)
	}
	if err := runstate.CheckRetry(rr.RunID, r.rec.Status); err != nil {
		return nil, fmt.Errorf("retry run %s: %w", rr.RunID, err)
	}
	rr = runstate.ClockedRetry(rr, r.clock.Now(rr.Now))
	if rr.Workflow != nil {
		r.rec.Workflow = rr.Workflow
	}
	// Failed, skipped and canceled steps wait again; their attempt counts
	// stay, so that attempt numbers keep increasing.
	var reset []int32
	for i := range r.steps {
		if st := &r.steps[i]; runstate.Resets(st.Status) {
			st.Status, st.Reason, st.Error = weft.StepPending, "", nil
			st.FinishedAt, st.ReadyAt, st.retryAt = time.Time{}, time.Time{}, time.Time{}
			st.Worker, st.LeaseUntil = "", time.Time{}
			reset = append(reset, int32(i))
		}
	}
	succeeded := func(d int32) bool { return r.steps[d].Status == weft.StepSucceeded }
	for _, i := range reset {
		r.steps[i].counts = runstate.Recount(r.plan[i].Deps, succeeded)
	}
	r.ready, r.running, r.remaining, r.failed = nil, 0, len(reset), 0
	r.rec.Status, r.rec.Error, r.rec.Result, r.rec.FinishedAt = weft.RunPending, nil, nil, time.Time{}
	r.event(runstate.RetriedEvent(rr.Now))
	for _, i := range reset {
		s.decide(r, i, rr.Now)
	}
	if r.remaining == 0 {
		s.end(r, rr.Now)
	} else {
		s.activate(r)
	}
	return r.record(), nil
}
