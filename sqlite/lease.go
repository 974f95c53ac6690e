package sqlite

import (
	"errors"
	"fmt"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
	"github.com/weft-dev/weft/internal/sched"
)

// The operations on leased attempts: finishing one (and ending its run when
// it was the last), heartbeats, and reclaiming expired leases.

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
	f = runstate.ClockedFinish(f, r.clock.Now(f.Now))
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
	switch f.Status {
	case weft.StepSucceeded:
		st.status, st.output, st.err, st.finishedAt = weft.StepSucceeded, f.Output, nil, now
	case weft.StepFailed:
		st.status, st.err, st.finishedAt = weft.StepFailed, f.Error, now
		r.failed++
	case weft.StepSkipped:
		st.status, st.reason, st.finishedAt = weft.StepSkipped, f.Reason, now
	case weft.StepRetrying:
		st.status, st.err, st.retryAt = weft.StepRetrying, f.Error, nanos(f.RetryAt)
		st.readyAt = st.retryAt
		tx.retries.push(retryItem{at: st.retryAt, key: stepKey(r.seq, i)})
	}
	tx.stepEvent(r, i, runstate.FinishEvent(f))
	if st.status.Terminal() {
		r.remaining--
		res.Ready, _ = tx.cascade.Settled(tx.on(r), i, f.Now) // a held run has no errors
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
	var first *runstate.FirstFailed
	if r.failed > 0 {
		first = runstate.FindFirstFailed(len(r.steps), func(i int) (string, weft.StepStatus, *weft.ErrorInfo) {
			return r.steps[i].id, r.steps[i].status, r.steps[i].err
		})
	}
	end := runstate.End(now, sinks, r.failed, first)
	r.rec.Status, r.rec.Error, r.rec.Result, r.rec.FinishedAt = end.Status, end.Error, end.Result, now
	tx.touchRun(r)
	tx.event(r, end.Event)
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
			st.status, st.worker, st.leaseUntil, st.readyAt = weft.StepReady, "", 0, nanos(r.clock.Now(now))
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
