package sqlite

import (
	"fmt"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
)

// Run control: canceling a run, and retrying a failed or canceled one.

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
	c = runstate.ClockedCancel(c, r.clock.Now(c.Now))
	k := runstate.Canceling(c)
	now := nanos(c.Now)
	// The pending and ready steps are canceled by one statement, after
	// what changed is written; the others one by one.
	if err := tx.flush(); err != nil {
		return nil, err
	}
	if _, err := tx.w.exec(`UPDATE steps SET status = 'canceled', reason = ?, finished_at = ?
		WHERE id >= ? AND id < ? AND status IN ('pending', 'ready')`, k.Reason, now, stepKey(r.seq, 0), stepKey(r.seq+1, 0)); err != nil {
		return nil, err
	}
	for i := range r.steps {
		st := &r.steps[i]
		if st.status.Terminal() {
			continue
		}
		if st.status == weft.StepRunning && now > st.startedAt {
			st.runTime += now - st.startedAt
		}
		// The steps that get an event (those that had started) are
		// written one by one; the pending and ready ones were above.
		if e, ok := k.StepEvent(st.status, st.attempts); ok {
			tx.stepEvent(r, int32(i), e)
			tx.touchStep(r, int32(i), dirtyAll)
		}
		st.status, st.reason, st.finishedAt, st.worker, st.leaseUntil = weft.StepCanceled, k.Reason, now, "", 0
	}
	r.readyQ, r.ready, r.running, r.remaining = nil, 0, 0, 0
	r.rec.Status, r.rec.Error, r.rec.FinishedAt = k.Status, c.Error, c.Now
	tx.touchRun(r)
	tx.event(r, k.Event)
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
	if err := runstate.CheckRetry(rr.RunID, r.rec.Status); err != nil {
		return nil, errLogic{err}
	}
	rr = runstate.ClockedRetry(rr, r.clock.Now(rr.Now))
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
		if st := &r.steps[i]; runstate.Resets(st.status) {
			st.status, st.reason, st.err = weft.StepPending, "", nil
			st.finishedAt, st.readyAt, st.retryAt, st.worker, st.leaseUntil = 0, 0, 0, "", 0
			reset = append(reset, int32(i))
			tx.touchStep(r, int32(i), dirtyAll)
		}
	}
	succeeded := func(d int32) bool { return r.steps[d].status == weft.StepSucceeded }
	for _, i := range reset {
		r.steps[i].counts = runstate.Recount(r.depsOf(i), succeeded)
	}
	r.readyQ, r.ready, r.running, r.remaining, r.failed = nil, 0, 0, len(reset), 0
	r.rec.Status, r.rec.Error, r.rec.Result, r.rec.FinishedAt = weft.RunPending, nil, nil, time.Time{}
	tx.touchRun(r)
	tx.event(r, runstate.RetriedEvent(rr.Now))
	for _, i := range reset {
		tx.decide(r, i, rr.Now)
	}
	if r.remaining == 0 {
		tx.end(r, rr.Now)
	} else {
		tx.activate(r)
	}
	return r.record(), nil
}
