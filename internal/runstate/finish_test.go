package runstate

import (
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// TestFinishEvent: each outcome has its event, and other statuses are
// refused.
func TestFinishEvent(t *testing.T) {
	now := time.Unix(10, 0)
	boom := &weft.ErrorInfo{Code: "boom", Message: "it broke"}
	base := weft.StepFinish{Lease: weft.Lease{RunID: "r", StepID: "a", Attempt: 2, Worker: "w"}, Now: now, Error: boom, Reason: "why"}
	tests := []struct {
		status weft.StepStatus
		want   weft.Event
	}{
		{weft.StepSucceeded, weft.Event{Type: weft.EventStepSucceeded}},
		{weft.StepFailed, weft.Event{Type: weft.EventStepFailed, Error: boom}},
		{weft.StepSkipped, weft.Event{Type: weft.EventStepSkipped, Reason: "why"}},
		{weft.StepRetrying, weft.Event{Type: weft.EventStepRetrying, Error: boom, Delay: 3 * time.Second}},
	}
	for _, tt := range tests {
		f := base
		f.Status, f.RetryAt = tt.status, now.Add(3*time.Second)
		if err := CheckFinish(&f); err != nil {
			t.Errorf("CheckFinish(%s): %v", tt.status, err)
		}
		e := FinishEvent(&f)
		tt.want.Time, tt.want.Attempt, tt.want.Worker = now, 2, "w"
		if e.Type != tt.want.Type || e.Error != tt.want.Error || e.Reason != tt.want.Reason || e.Delay != tt.want.Delay ||
			!e.Time.Equal(now) || e.Attempt != 2 || e.Worker != "w" {
			t.Errorf("FinishEvent(%s) = %+v; want %+v", tt.status, e, tt.want)
		}
	}
	for _, st := range []weft.StepStatus{weft.StepPending, weft.StepReady, weft.StepRunning, weft.StepCanceled, ""} {
		f := base
		f.Status = st
		if CheckFinish(&f) == nil {
			t.Errorf("CheckFinish(%q): no error", st)
		}
	}
}
