package runstate

import (
	"fmt"

	"github.com/weft-dev/weft"
)

// CheckFinish returns an error, saying which run, step and status, when
// f.Status is not an outcome an attempt can finish with: succeeded,
// failed, skipped or retrying. A store refuses such a Finish before it
// changes anything.
func CheckFinish(f *weft.StepFinish) error {
	switch f.Status {
	case weft.StepSucceeded, weft.StepFailed, weft.StepSkipped, weft.StepRetrying:
		return nil
	}
	return fmt.Errorf("finish run %s step %s: status %q is not an outcome", f.Lease.RunID, f.Lease.StepID, f.Status)
}

// FinishEvent returns the event that records outcome f of an attempt (one
// CheckFinish accepts): step_succeeded, step_failed with the error,
// step_skipped with the reason, or step_retrying with the error and the
// delay until f.RetryAt; with the attempt, worker and data of f. Its
// StepID is left for the store to set.
func FinishEvent(f *weft.StepFinish) weft.Event {
	e := weft.Event{Time: f.Now, Attempt: f.Lease.Attempt, Worker: f.Lease.Worker, Data: f.Data}
	switch f.Status {
	case weft.StepSucceeded:
		e.Type = weft.EventStepSucceeded
	case weft.StepFailed:
		e.Type, e.Error = weft.EventStepFailed, f.Error
	case weft.StepSkipped:
		e.Type, e.Reason = weft.EventStepSkipped, f.Reason
	case weft.StepRetrying:
		e.Type, e.Error, e.Delay = weft.EventStepRetrying, f.Error, max(f.RetryAt.Sub(f.Now), 0)
	}
	return e
}
