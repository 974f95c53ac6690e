package sqlite

import (
	"fmt"
	"time"

	"github.com/weft-dev/weft"
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
