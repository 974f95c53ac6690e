package runstate

import (
	"time"

	"github.com/weft-dev/weft"
)

// Cancel is how CancelRun ends an unfinished run.
type Cancel struct {
	Status weft.RunStatus // canceled, or failed (a run timeout, fail_fast)
	Reason string         // the reason of the steps canceled
	Event  weft.Event     // the run's own event: run_canceled or run_failed
}

// Canceling decides how request c ends an unfinished run: with status
// failed when c asks for it, else canceled; with c's reason, or
// run_canceled when it gives none; and the run's event, which carries the
// reason and c's error.
func Canceling(c *weft.RunCancel) Cancel {
	k := Cancel{Status: weft.RunCanceled, Reason: c.Reason}
	if c.Status == weft.RunFailed {
		k.Status = weft.RunFailed
	}
	if k.Reason == "" {
		k.Reason = weft.ReasonRunCanceled
	}
	k.Event = weft.Event{Type: weft.EventRunCanceled, Time: c.Now, Reason: k.Reason, Error: c.Error}
	if k.Status == weft.RunFailed {
		k.Event.Type = weft.EventRunFailed
	}
	return k
}

// StepEvent returns the step_canceled event of a step that was in status
// was (not terminal) when its run was canceled, at attempt attempts, and
// whether it gets one: only steps that had started (running, or waiting
// out a retry delay) do; the others are covered by the run's own event.
// Its StepID is left for the store to set.
func (k Cancel) StepEvent(was weft.StepStatus, attempts int) (weft.Event, bool) {
	if was != weft.StepRunning && was != weft.StepRetrying {
		return weft.Event{}, false
	}
	return weft.Event{Type: weft.EventStepCanceled, Time: k.Event.Time, Attempt: attempts, Reason: k.Reason}, true
}

// CheckRetry returns an error of code invalid, naming run id and its
// status, when a run in that status cannot be retried: only failed and
// canceled runs can.
func CheckRetry(id string, status weft.RunStatus) error {
	if status == weft.RunFailed || status == weft.RunCanceled {
		return nil
	}
	return weft.Errorf(weft.CodeInvalid, "run %s is %s: only failed or canceled runs can be retried", id, status)
}

// Resets reports whether retrying its run puts a step in status back to
// pending: failed, skipped and canceled steps wait again (keeping their
// attempt counts, so that attempt numbers keep fencing); succeeded steps
// keep their outputs.
func Resets(status weft.StepStatus) bool {
	return status == weft.StepFailed || status == weft.StepSkipped || status == weft.StepCanceled
}

// RetriedEvent is the event of a run retried at now.
func RetriedEvent(now time.Time) weft.Event {
	return weft.Event{Type: weft.EventRunRetried, Time: now}
}
