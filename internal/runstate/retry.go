package runstate

import (
	"time"

	"github.com/weft-dev/weft"
)

// RetryDue reports whether the retry delay of a retrying step, which ends
// at retryAt, is over at now: the call's own time, not clocked (see Clock).
func RetryDue(retryAt, now time.Time) bool { return !retryAt.After(now) }

// Promote returns what a retrying step whose delay is over (RetryDue)
// becomes: ready, at the end of its delay as the run's clock records it
// (clock.Now(retryAt), which clock becomes); its retry time is cleared. A
// store that admits steps under the run's MaxParallel (postgres) queues it
// for admission instead.
func Promote(clock *Clock, retryAt time.Time) (weft.StepStatus, time.Time) {
	return weft.StepReady, clock.Now(retryAt)
}
