package sqlite

import (
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
	"github.com/weft-dev/weft/internal/sched"
)

// Claims: leasing ready steps, and the attempts they start.

// claim leases ready steps; see weft.Store.Claim. As inmem's.
func (tx *wtx) claim(req *weft.ClaimRequest) (*weft.ClaimResult, error) {
	if err := tx.load(); err != nil {
		return nil, err
	}
	res := &weft.ClaimResult{}
	// Retries whose delay is over become ready.
	for len(tx.retries) > 0 && runstate.RetryDue(timeOf(tx.retries[0].at), req.Now) {
		it := tx.retries.pop()
		r, i, err := tx.retrying(it)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue // canceled or rescheduled
		}
		st := &r.steps[i]
		status, readyAt := runstate.Promote(&r.clock, timeOf(it.at))
		st.status, st.readyAt, st.retryAt = status, nanos(readyAt), 0
		r.readyQ.Push(sched.Ready{Prio: st.priority, Index: i})
		r.ready++
		tx.touchStep(r, i, dirtyAll)
		tx.touchRun(r)
		tx.activate(r)
	}
	if err := runstate.ClaimReady((*queue)(tx), req, res); err != nil {
		return nil, err
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

// queue is the writer's picture of the ready work as runstate.ClaimReady
// sees it.
type queue wtx

// PopRun removes the oldest active run from the queue and returns it,
// loading it if it is not held.
func (q *queue) PopRun() (*run, bool, error) {
	for len(q.active) > 0 {
		seq := q.active.pop()
		delete(q.inActive, seq)
		r, err := (*wtx)(q).runBySeq(seq)
		if err != nil {
			return nil, false, err
		}
		if r != nil {
			return r, true, nil
		}
	}
	return nil, false, nil
}

// Activate puts r in the queue when it has ready steps and room.
func (q *queue) Activate(r *run) { (*wtx)(q).activate(r) }

// ReadySteps returns r's ready steps.
func (q *queue) ReadySteps(r *run) *sched.ReadyHeap { return &r.readyQ }

// HasRoom reports whether r may start one more step.
func (q *queue) HasRoom(r *run) bool { return r.hasRoom() && !r.rec.Status.Terminal() }

// ClaimOf returns the claim of r's node i.
func (q *queue) ClaimOf(r *run, i int32, req *weft.ClaimRequest) *weft.Claim {
	return (*wtx)(q).claimOf(r, i, req)
}

// Start records the claim of r's node i.
func (q *queue) Start(r *run, i int32, c *weft.Claim, req *weft.ClaimRequest) {
	(*wtx)(q).start(r, i, c, req)
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
		first = r.clock.Now(req.Now)
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
func (tx *wtx) start(r *run, i int32, c *weft.Claim, req *weft.ClaimRequest) {
	st := &r.steps[i]
	started := runstate.Start(&r.clock, req.Now, r.rec.Status, timeOf(st.readyAt), timeOf(st.firstStartedAt), time.Duration(st.queueWait))
	st.status = weft.StepRunning
	st.attempts = c.Attempt
	st.worker = req.Worker
	st.leaseUntil = nanos(req.LeaseUntil)
	st.startedAt, st.firstStartedAt, st.queueWait = nanos(started.At), nanos(started.FirstStartedAt), int64(started.QueueWait)
	r.ready--
	r.running++
	r.rec.PeakParallel = max(r.rec.PeakParallel, r.running)
	if started.RunStarted {
		r.rec.Status = weft.RunRunning
		r.rec.StartedAt = started.At
		tx.event(r, started.RunEvent())
	}
	tx.stepEvent(r, i, started.StepEvent(c.Attempt, req.Worker))
	tx.touchStep(r, i, dirtyStart)
	tx.touchRun(r)
}
