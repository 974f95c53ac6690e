package runstate

import (
	"errors"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// TestCanceling: the status and reason asked, or canceled and
// run_canceled; step events only for steps that had started.
func TestCanceling(t *testing.T) {
	now := time.Unix(7, 0)
	timeout := &weft.ErrorInfo{Code: weft.CodeTimeout, Message: "too long"}
	k := Canceling(&weft.RunCancel{RunID: "r", Status: weft.RunFailed, Reason: weft.ReasonRunTimeout, Error: timeout, Now: now})
	if k.Status != weft.RunFailed || k.Reason != weft.ReasonRunTimeout || k.Event.Type != weft.EventRunFailed ||
		k.Event.Error != timeout || k.Event.Reason != weft.ReasonRunTimeout || !k.Event.Time.Equal(now) {
		t.Errorf("Canceling(failed, timeout) = %+v", k)
	}
	k = Canceling(&weft.RunCancel{RunID: "r", Status: weft.RunSucceeded, Now: now})
	if k.Status != weft.RunCanceled || k.Reason != weft.ReasonRunCanceled || k.Event.Type != weft.EventRunCanceled {
		t.Errorf("Canceling(succeeded, no reason) = %+v", k)
	}
	for st, want := range map[weft.StepStatus]bool{weft.StepRunning: true, weft.StepRetrying: true, weft.StepPending: false, weft.StepReady: false} {
		e, ok := k.StepEvent(st, 3)
		if ok != want {
			t.Errorf("StepEvent(%s): %v, want %v", st, ok, want)
		}
		if ok && (e.Type != weft.EventStepCanceled || e.Attempt != 3 || e.Reason != weft.ReasonRunCanceled || !e.Time.Equal(now)) {
			t.Errorf("StepEvent(%s) = %+v", st, e)
		}
	}
}

// TestRetry: only failed and canceled runs are retried; failed, skipped
// and canceled steps are reset.
func TestRetry(t *testing.T) {
	for st, ok := range map[weft.RunStatus]bool{weft.RunFailed: true, weft.RunCanceled: true, weft.RunSucceeded: false, weft.RunRunning: false, weft.RunPending: false} {
		err := CheckRetry("r", st)
		if (err == nil) != ok {
			t.Errorf("CheckRetry(%s) = %v", st, err)
		}
		var we *weft.Error
		if err != nil && (!errors.As(err, &we) || we.Code != weft.CodeInvalid) {
			t.Errorf("CheckRetry(%s) = %v, want code invalid", st, err)
		}
	}
	for st, want := range map[weft.StepStatus]bool{weft.StepFailed: true, weft.StepSkipped: true, weft.StepCanceled: true, weft.StepSucceeded: false, weft.StepPending: false} {
		if Resets(st) != want {
			t.Errorf("Resets(%s) = %v", st, !want)
		}
	}
}
