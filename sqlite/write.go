package sqlite

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// The write operations. Each mirrors the in-memory store's (package
// inmem) step for step, on the writer's picture (see wtx), so that both
// stores behave the same; readiness is weft.Trigger.Decide and a run's
// result weft.ComposeResult, as there.
//
// An operation either fails before it changes anything (an unknown run, a
// lease no longer held, a bad plan) or fails with a database error, which
// fails the whole transaction: no operation needs a savepoint.

// errLogic marks the errors of an operation that changed nothing, which
// fail that operation only.
type errLogic struct{ error }

func (e errLogic) Unwrap() error { return e.error }

// createRun stores a new run; see weft.Store.CreateRun.
func (tx *wtx) createRun(nr *weft.NewRun) (*weft.Run, bool, error) {
	if k := nr.Run.IdempotencyKey; k != "" {
		v, err := tx.w.row(`SELECT `+runCols+` FROM `+runsJoin+` WHERE r.idempotency_key = ?`, k)
		if err != nil {
			return nil, false, err
		}
		if v != nil {
			r, _ := runFrom(v)
			if held, ok := tx.runs[r.seq]; ok {
				r = held // the database may not have its latest changes yet
			}
			return r.record(), false, nil
		}
	}
	if v, err := tx.w.row(`SELECT 1 FROM runs WHERE id = ?`, nr.Run.ID); err != nil {
		return nil, false, err
	} else if v != nil {
		return nil, false, errLogic{weft.Errorf(weft.CodeInvalid, "a run with this id exists")}
	}
	n := len(nr.Steps)
	r := &run{rec: nr.Run, remaining: n}
	r.rec.Status, r.rec.StepCount = weft.RunPending, n
	if r.rec.CreatedAt.IsZero() {
		r.rec.CreatedAt = nr.Now
	}
	r.steps = make([]step, n)
	r.depOff = make([]int32, n+1)
	for i, ps := range nr.Steps {
		for _, d := range ps.Deps {
			if d < 0 || int(d) >= n {
				return nil, false, errLogic{fmt.Errorf("step %s: dependency index %d out of range", ps.ID, d)}
			}
		}
		r.depOff[i+1] = r.depOff[i] + int32(len(ps.Deps))
	}
	r.deps = make([]int32, 0, r.depOff[n])
	r.index = make(map[string]int32, n)
	for i := range nr.Steps {
		ps := &nr.Steps[i]
		if _, dup := r.index[ps.ID]; dup {
			return nil, false, errLogic{weft.Errorf(weft.CodeInvalid, "two steps have the id %q", ps.ID)}
		}
		r.index[ps.ID] = int32(i)
		r.deps = append(r.deps, ps.Deps...)
		r.steps[i] = step{id: ps.ID, typ: ps.Type, pool: ps.Pool, priority: ps.Priority, trigger: ps.Trigger, sink: ps.Sink,
			status: weft.StepPending, counts: weft.DepCounts{Total: len(ps.Deps)}}
	}
	r.dependentsCSR()

	// Nothing fails for the run's sake from here on.
	seq, err := tx.w.insert(insertRun, r.insertArgs()...)
	if err != nil {
		return nil, false, fmt.Errorf("insert run: %w", err)
	}
	r.seq = seq
	tx.keep(r)
	tx.event(r, weft.Event{Type: weft.EventRunCreated, Time: nr.Now})
	// Roots are ready at once (Decide: a step without dependencies runs).
	now := nanos(nr.Now)
	for i := range r.steps {
		if r.steps[i].counts.Total == 0 {
			tx.decide(r, int32(i), now)
		}
	}
	if err := tx.w.insertMany(insertStepsSQL, stepColumns, n, func(k int, args []any) []any {
		return r.steps[k].appendInsertArgs(args, seq, int32(k))
	}); err != nil {
		return nil, false, fmt.Errorf("insert steps: %w", err)
	}
	if _, err := tx.w.exec(`INSERT INTO run_plans (run_seq, params, workflow, dep_offsets, deps) VALUES (?, ?, ?, ?, ?)`,
		seq, nullBlob(r.rec.Params), nullBlob(r.rec.Workflow), encodeIdx(r.depOff), encodeIdx(r.deps)); err != nil {
		return nil, false, fmt.Errorf("insert plan: %w", err)
	}
	// The steps were inserted as decide left them if it made them ready;
	// any it took further (none: a step without dependencies runs) are
	// updated.
	keep := tx.dirtySteps[:0]
	for _, ref := range tx.dirtySteps {
		if st := &ref.r.steps[ref.i]; ref.r == r && (st.status == weft.StepPending || st.status == weft.StepReady) {
			st.dirty = 0
		} else {
			keep = append(keep, ref)
		}
	}
	tx.dirtySteps = keep
	tx.activate(r)
	return r.record(), true, nil
}

// decide settles a pending step whose dependencies allow it: ready, or
// skipped (then its own dependents are settled in turn, without
// recursion). As inmem's.
func (tx *wtx) decide(r *run, i int32, now int64) (ready int) {
	stack := append(tx.stack[:0], i)
	defer func() { tx.stack = stack[:0] }()
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		st := &r.steps[i]
		if st.status != weft.StepPending {
			continue
		}
		d, reason := st.trigger.Decide(st.counts)
		switch d {
		case weft.DecideRun:
			st.status, st.readyAt = weft.StepReady, now
			r.readyQ.Push(sched.Ready{Prio: st.priority, Index: i})
			r.ready++
			ready++
			tx.touchStep(r, i, dirtyDecided)
			tx.touchRun(r)
		case weft.DecideSkip:
			st.status, st.reason, st.finishedAt = weft.StepSkipped, reason, now
			r.remaining--
			tx.touchStep(r, i, dirtyDecided)
			tx.stepEvent(r, i, weft.Event{Type: weft.EventStepSkipped, Time: time.Unix(0, now), Reason: reason})
			stack = tx.settled(r, i, stack)
		}
	}
	return ready
}

// settled counts node i's terminal outcome in its dependents' counters
// and pushes onto stack those that may now be decided.
func (tx *wtx) settled(r *run, i int32, stack []int32) []int32 {
	status, reason := r.steps[i].status, r.steps[i].reason
	for _, d := range r.dependents(i) {
		c := &r.steps[d].counts
		if status == weft.StepSkipped && reason == weft.ReasonUpstreamFailed {
			c.SkippedForFailure++
		}
		switch status {
		case weft.StepSucceeded:
			c.Succeeded++
		case weft.StepFailed:
			c.Failed++
		case weft.StepSkipped:
			c.Skipped++
		case weft.StepCanceled:
			c.Canceled++
		}
		// Only a pending step's counters are read again (to decide it).
		if r.steps[d].status == weft.StepPending {
			tx.touchStep(r, d, dirtyCounts)
			stack = append(stack, d)
		}
	}
	return stack
}

// claim leases ready steps; see weft.Store.Claim. As inmem's.
func (tx *wtx) claim(req *weft.ClaimRequest) (*weft.ClaimResult, error) {
	if err := tx.load(); err != nil {
		return nil, err
	}
	res := &weft.ClaimResult{}
	now := nanos(req.Now)
	// Retries whose delay is over become ready.
	for len(tx.retries) > 0 && tx.retries[0].at <= now {
		it := tx.retries.pop()
		r, i, err := tx.retrying(it)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue // canceled or rescheduled
		}
		st := &r.steps[i]
		st.status, st.readyAt, st.retryAt = weft.StepReady, it.at, 0
		r.readyQ.Push(sched.Ready{Prio: st.priority, Index: i})
		r.ready++
		tx.touchStep(r, i, dirtyAll)
		tx.touchRun(r)
		tx.activate(r)
	}
	var revisit []*run
	for len(res.Claims) < req.Max && len(tx.active) > 0 {
		seq := tx.active.pop()
		delete(tx.inActive, seq)
		r, err := tx.runBySeq(seq)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		var refused []sched.Ready
		for len(res.Claims) < req.Max && len(r.readyQ) > 0 && r.hasRoom() && !r.rec.Status.Terminal() {
			it := r.readyQ.Pop()
			c := tx.claimOf(r, it.Index, req)
			if req.Admit != nil && !req.Admit(c) {
				refused = append(refused, it)
				continue
			}
			tx.start(r, it.Index, c, req, res)
		}
		for _, it := range refused {
			r.readyQ.Push(it)
		}
		if len(refused) > 0 {
			revisit = append(revisit, r) // refused now, maybe admitted next time
		} else {
			tx.activate(r)
		}
	}
	for _, r := range revisit {
		tx.activate(r)
	}
	for len(tx.retries) > 0 {
		r, _, err := tx.retrying(tx.retries[0])
		if err != nil {
			return nil, err
		}
		if r != nil {
			res.NextAt = time.Unix(0, tx.retries[0].at)
			break
		}
		tx.retries.pop()
	}
	return res, nil
}

// retrying returns the run and node of a retry entry, or a nil run when
// the entry is stale (the step was canceled or rescheduled).
func (tx *wtx) retrying(it retryItem) (*run, int32, error) {
	r, err := tx.runBySeq(it.key >> 32)
	if err != nil || r == nil {
		return nil, 0, err
	}
	i := int32(uint32(it.key))
	if int(i) >= len(r.steps) || r.steps[i].status != weft.StepRetrying || r.steps[i].retryAt != it.at {
		return nil, 0, nil
	}
	return r, i, nil
}

// claimOf is the claim of node i's next attempt, with its dependencies'
// results.
func (tx *wtx) claimOf(r *run, i int32, req *weft.ClaimRequest) *weft.Claim {
	st := &r.steps[i]
	first := timeOf(st.firstStartedAt)
	if first.IsZero() {
		first = req.Now
	}
	c := &weft.Claim{
		RunID: r.rec.ID, StepID: st.id, Index: i, Type: st.typ, Pool: st.pool,
		Attempt: st.attempts + 1, Worker: req.Worker, LeaseUntil: req.LeaseUntil,
		ReadyAt: timeOf(st.readyAt), FirstStartedAt: first,
	}
	if deps := r.depsOf(i); len(deps) > 0 {
		c.Deps = make([]weft.StepResult, len(deps))
		for k, d := range deps {
			c.Deps[k] = r.steps[d].result()
		}
	}
	return c
}

// start records a claimed attempt.
func (tx *wtx) start(r *run, i int32, c *weft.Claim, req *weft.ClaimRequest, res *weft.ClaimResult) {
	now := nanos(req.Now)
	st := &r.steps[i]
	st.status = weft.StepRunning
	st.attempts = c.Attempt
	st.worker = req.Worker
	st.leaseUntil = nanos(req.LeaseUntil)
	st.startedAt = now
	if st.firstStartedAt == 0 {
		st.firstStartedAt = now
	}
	if st.readyAt != 0 && now > st.readyAt {
		st.queueWait += now - st.readyAt
	}
	r.ready--
	r.running++
	r.rec.PeakParallel = max(r.rec.PeakParallel, r.running)
	if r.rec.Status == weft.RunPending {
		r.rec.Status = weft.RunRunning
		r.rec.StartedAt = req.Now
		tx.event(r, weft.Event{Type: weft.EventRunStarted, Time: req.Now})
	}
	tx.stepEvent(r, i, weft.Event{Type: weft.EventStepStarted, Time: req.Now, Attempt: c.Attempt, Worker: req.Worker})
	tx.touchStep(r, i, dirtyStart)
	tx.touchRun(r)
	res.Claims = append(res.Claims, c)
}

// lookup returns the run and node of a lease, or ErrLeaseLost when the
// lease is not current (errors of its own are errLogic).
func (tx *wtx) lookup(l weft.Lease) (*run, int32, error) {
	r, err := tx.runByID(l.RunID)
	if err != nil {
		return nil, 0, err
	}
	if r == nil {
		return nil, 0, errLogic{fmt.Errorf("run %s: %w", l.RunID, weft.ErrNotFound)}
	}
	i := l.Index
	if i < 0 || int(i) >= len(r.steps) || r.steps[i].id != l.StepID {
		var ok bool
		if i, ok = r.find(l.StepID); !ok {
			return nil, 0, errLogic{fmt.Errorf("run %s step %s: %w", l.RunID, l.StepID, weft.ErrNotFound)}
		}
	}
	st := &r.steps[i]
	if st.status != weft.StepRunning || st.attempts != l.Attempt || st.worker != l.Worker {
		return nil, 0, errLogic{fmt.Errorf("run %s step %s attempt %d: %w", l.RunID, l.StepID, l.Attempt, weft.ErrLeaseLost)}
	}
	return r, i, nil
}

// finish records the outcome of a claimed attempt; see weft.Store.Finish.
// As inmem's.
func (tx *wtx) finish(f *weft.StepFinish) (*weft.FinishResult, error) {
	r, i, err := tx.lookup(f.Lease)
	if err != nil {
		return nil, err
	}
	now := nanos(f.Now)
	st := &r.steps[i]
	res := &weft.FinishResult{}
	r.running--
	st.worker, st.leaseUntil = "", 0
	if started := nanos(f.StartedAt); started != 0 && now > started {
		st.runTime += now - started
	}
	st.usage.Add(f.Usage)
	r.rec.Usage.Add(f.Usage)
	tx.touchStep(r, i, dirtyFinish)
	tx.touchRun(r)
	e := weft.Event{Time: f.Now, Attempt: f.Lease.Attempt, Worker: f.Lease.Worker, Data: f.Data}
	switch f.Status {
	case weft.StepSucceeded:
		st.status, st.output, st.err, st.finishedAt = weft.StepSucceeded, f.Output, nil, now
		e.Type = weft.EventStepSucceeded
	case weft.StepFailed:
		st.status, st.err, st.finishedAt = weft.StepFailed, f.Error, now
		e.Type, e.Error = weft.EventStepFailed, f.Error
		r.failed++
	case weft.StepSkipped:
		st.status, st.reason, st.finishedAt = weft.StepSkipped, f.Reason, now
		e.Type, e.Reason = weft.EventStepSkipped, f.Reason
	case weft.StepRetrying:
		st.status, st.err, st.retryAt = weft.StepRetrying, f.Error, nanos(f.RetryAt)
		st.readyAt = st.retryAt
		e.Type, e.Error, e.Delay = weft.EventStepRetrying, f.Error, max(f.RetryAt.Sub(f.Now), 0)
		tx.retries.push(retryItem{at: st.retryAt, key: stepKey(r.seq, i)})
	}
	tx.stepEvent(r, i, e)
	if st.status.Terminal() {
		r.remaining--
		// The dependents that may now be decided; decide uses tx.stack,
		// so they are taken one by one from this separate list.
		tx.todo = tx.settled(r, i, tx.todo[:0])
		for _, d := range tx.todo {
			res.Ready += tx.decide(r, d, now)
		}
	}
	if r.remaining == 0 {
		tx.end(r, f.Now)
	} else {
		tx.activate(r)
	}
	res.RunStatus = r.rec.Status
	if f.Next != nil {
		if res.Next, err = tx.claim(f.Next); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// end finishes a run whose steps are all done.
func (tx *wtx) end(r *run, now time.Time) {
	var sinks []*weft.StepRun
	for i := range r.steps {
		if st := &r.steps[i]; st.sink {
			sinks = append(sinks, &weft.StepRun{StepID: st.id, Status: st.status, Output: st.output})
		}
	}
	r.rec.Result = weft.ComposeResult(sinks)
	r.rec.FinishedAt = now
	e := weft.Event{Time: now}
	if r.failed > 0 {
		r.rec.Status = weft.RunFailed
		r.rec.Error = &weft.ErrorInfo{Code: weft.CodeInternal, Message: strconv.Itoa(r.failed) + " step(s) failed"}
		for i := range r.steps {
			if st := &r.steps[i]; st.status == weft.StepFailed && st.err != nil {
				r.rec.Error = &weft.ErrorInfo{Code: st.err.Code, Message: fmt.Sprintf("step %s failed: %s", st.id, st.err.Message)}
				break
			}
		}
		e.Type, e.Error = weft.EventRunFailed, r.rec.Error
	} else {
		r.rec.Status = weft.RunSucceeded
		e.Type = weft.EventRunSucceeded
	}
	tx.touchRun(r)
	tx.event(r, e)
	tx.ended = append(tx.ended, r)
}

// heartbeat extends leases; see weft.Store.Heartbeat.
func (tx *wtx) heartbeat(leases []weft.Lease, until time.Time) ([]weft.Lease, error) {
	var lost []weft.Lease
	for _, l := range leases {
		r, i, err := tx.lookup(l)
		if err != nil {
			if errors.As(err, new(errLogic)) {
				lost = append(lost, l)
				continue
			}
			return nil, err
		}
		r.steps[i].leaseUntil = nanos(until)
		tx.touchStep(r, i, dirtyLease)
	}
	return lost, nil
}

// reclaimExpired makes steps with expired leases claimable again; see
// weft.Store.ReclaimExpired. It looks at the steps of the runs that have
// steps running (found in the database, which must be up to date first).
func (tx *wtx) reclaimExpired(now time.Time) (int, error) {
	if err := tx.flush(); err != nil {
		return 0, err
	}
	seqs, err := tx.w.int64s(`SELECT seq FROM runs WHERE status IN ('pending', 'running') AND running > 0 ORDER BY seq`)
	if err != nil {
		return 0, err
	}
	n, at := 0, nanos(now)
	for _, seq := range seqs {
		r, err := tx.runBySeq(seq)
		if err != nil {
			return 0, err
		}
		if r == nil || r.running == 0 || r.rec.Status.Terminal() {
			continue
		}
		for i := range r.steps {
			st := &r.steps[i]
			if st.status != weft.StepRunning || st.leaseUntil > at {
				continue
			}
			r.running--
			st.status, st.worker, st.leaseUntil, st.readyAt = weft.StepReady, "", 0, at
			r.readyQ.Push(sched.Ready{Prio: st.priority, Index: int32(i)})
			r.ready++
			tx.touchStep(r, int32(i), dirtyAll)
			tx.touchRun(r)
			tx.activate(r)
			n++
		}
	}
	return n, nil
}

// cancelRun ends a run; see weft.Store.CancelRun. As inmem's.
func (tx *wtx) cancelRun(c *weft.RunCancel) (*weft.Run, error) {
	r, err := tx.runByID(c.RunID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errLogic{fmt.Errorf("run %s: %w", c.RunID, weft.ErrNotFound)}
	}
	if r.rec.Status.Terminal() {
		return r.record(), nil
	}
	status := c.Status
	if status != weft.RunFailed {
		status = weft.RunCanceled
	}
	reason := c.Reason
	if reason == "" {
		reason = weft.ReasonRunCanceled
	}
	now := nanos(c.Now)
	// The pending and ready steps are canceled by one statement, after
	// what changed is written; the others one by one.
	if err := tx.flush(); err != nil {
		return nil, err
	}
	if _, err := tx.w.exec(`UPDATE steps SET status = 'canceled', reason = ?, finished_at = ?
		WHERE id >= ? AND id < ? AND status IN ('pending', 'ready')`, reason, now, stepKey(r.seq, 0), stepKey(r.seq+1, 0)); err != nil {
		return nil, err
	}
	for i := range r.steps {
		st := &r.steps[i]
		if st.status.Terminal() {
			continue
		}
		switch st.status {
		case weft.StepRunning:
			if now > st.startedAt {
				st.runTime += now - st.startedAt
			}
			fallthrough
		case weft.StepRetrying:
			// Steps that had started get an event; the others are
			// covered by the run's own event.
			tx.stepEvent(r, int32(i), weft.Event{Type: weft.EventStepCanceled, Time: c.Now, Attempt: st.attempts, Reason: reason})
			tx.touchStep(r, int32(i), dirtyAll)
		}
		st.status, st.reason, st.finishedAt, st.worker, st.leaseUntil = weft.StepCanceled, reason, now, "", 0
	}
	r.readyQ, r.ready, r.running, r.remaining = nil, 0, 0, 0
	r.rec.Status, r.rec.Error, r.rec.FinishedAt = status, c.Error, c.Now
	e := weft.Event{Type: weft.EventRunCanceled, Time: c.Now, Reason: reason, Error: c.Error}
	if status == weft.RunFailed {
		e.Type = weft.EventRunFailed
	}
	tx.touchRun(r)
	tx.event(r, e)
	tx.ended = append(tx.ended, r)
	return r.record(), nil
}

// retryRun runs a failed or canceled run again; see weft.Store.RetryRun.
// As inmem's.
func (tx *wtx) retryRun(rr *weft.RunRetry) (*weft.Run, error) {
	r, err := tx.runByID(rr.RunID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errLogic{fmt.Errorf("run %s: %w", rr.RunID, weft.ErrNotFound)}
	}
	if st := r.rec.Status; st != weft.RunFailed && st != weft.RunCanceled {
		return nil, errLogic{weft.Errorf(weft.CodeInvalid, "run %s is %s: only failed or canceled runs can be retried", rr.RunID, st)}
	}
	if rr.Workflow != nil {
		if _, err := tx.w.exec(`UPDATE run_plans SET workflow = ? WHERE run_seq = ?`, nullBlob(rr.Workflow), r.seq); err != nil {
			return nil, fmt.Errorf("update workflow: %w", err)
		}
		r.rec.Workflow = rr.Workflow
	}
	// Failed, skipped and canceled steps wait again; their attempt counts
	// stay, so that attempt numbers keep increasing.
	var reset []int32
	for i := range r.steps {
		st := &r.steps[i]
		switch st.status {
		case weft.StepFailed, weft.StepSkipped, weft.StepCanceled:
			st.status, st.reason, st.err = weft.StepPending, "", nil
			st.finishedAt, st.readyAt, st.retryAt, st.worker, st.leaseUntil = 0, 0, 0, "", 0
			reset = append(reset, int32(i))
			tx.touchStep(r, int32(i), dirtyAll)
		}
	}
	for _, i := range reset {
		c := weft.DepCounts{Total: int(r.depOff[i+1] - r.depOff[i])}
		for _, d := range r.depsOf(i) {
			if r.steps[d].status == weft.StepSucceeded {
				c.Succeeded++
			}
		}
		r.steps[i].counts = c
	}
	r.readyQ, r.ready, r.running, r.remaining, r.failed = nil, 0, 0, len(reset), 0
	r.rec.Status, r.rec.Error, r.rec.Result, r.rec.FinishedAt = weft.RunPending, nil, nil, time.Time{}
	tx.touchRun(r)
	tx.event(r, weft.Event{Type: weft.EventRunRetried, Time: rr.Now})
	now := nanos(rr.Now)
	for _, i := range reset {
		tx.decide(r, i, now)
	}
	if r.remaining == 0 {
		tx.end(r, rr.Now)
	} else {
		tx.activate(r)
	}
	return r.record(), nil
}
