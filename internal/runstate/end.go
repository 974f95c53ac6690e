package runstate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/weft-dev/weft"
)

// Ending is how a run whose steps are all done ends.
type Ending struct {
	Status weft.RunStatus  // succeeded, or failed when a step failed
	Error  *weft.ErrorInfo // the run's error: nil when it succeeded
	Result json.RawMessage // weft.ComposeResult of its sinks
	Event  weft.Event      // run_succeeded or run_failed, to append
}

// FirstFailed is the first failed step of a run, in node order, that has
// an error: its id and error.
type FirstFailed struct {
	StepID string
	Error  *weft.ErrorInfo
}

// FindFirstFailed returns the first of n steps, in node order, that
// failed with an error, or nil when none did; step returns node i's id,
// status and error.
func FindFirstFailed(n int, step func(i int) (string, weft.StepStatus, *weft.ErrorInfo)) *FirstFailed {
	for i := range n {
		if id, status, err := step(i); status == weft.StepFailed && err != nil {
			return &FirstFailed{StepID: id, Error: err}
		}
	}
	return nil
}

// End decides the end, at now, of a run whose steps are all done: its
// sinks (in node order, with their status and output), how many of its
// steps failed, and the first failed step that has an error (nil when
// none has). A run with a failed step fails, with that step's code and
// "step ID failed: MESSAGE" (or, when no failed step has an error,
// CodeInternal and "N step(s) failed"); otherwise it succeeds. It never
// fails.
func End(now time.Time, sinks []*weft.StepRun, failed int, first *FirstFailed) Ending {
	end := Ending{Status: weft.RunSucceeded, Result: weft.ComposeResult(sinks),
		Event: weft.Event{Type: weft.EventRunSucceeded, Time: now}}
	if failed > 0 {
		end.Status = weft.RunFailed
		if first != nil && first.Error != nil {
			end.Error = &weft.ErrorInfo{Code: first.Error.Code, Message: fmt.Sprintf("step %s failed: %s", first.StepID, first.Error.Message)}
		} else {
			end.Error = &weft.ErrorInfo{Code: weft.CodeInternal, Message: strconv.Itoa(failed) + " step(s) failed"}
		}
		end.Event.Type, end.Event.Error = weft.EventRunFailed, end.Error
	}
	return end
}
