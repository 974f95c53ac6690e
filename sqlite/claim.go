package sqlite

import (
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// Claims: leasing ready steps, and the attempts they start.

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
