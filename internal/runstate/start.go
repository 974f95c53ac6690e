package runstate

import (
	"time"

	"github.com/weft-dev/weft"
)

// Started is what a claim records when it starts an attempt of a step: the
// step's new times and queue wait, whether its run starts with it, and the
// events. Start computes it; each store sets its own fields from it (the
// step's status, attempt, worker and lease are the claim's).
type Started struct {
	// At is the attempt's start, the run's clocked now: the step's
	// StartedAt, and the run's StartedAt when RunStarted.
	At time.Time
	// FirstStartedAt is the step's first start: its own, or At for its
	// first attempt.
	FirstStartedAt time.Time
	// QueueWait is the step's queue wait with this attempt's added: the
	// time from its ReadyAt to At.
	QueueWait time.Duration
	// RunStarted reports that the run was pending and starts with this
	// attempt (running, at At, with a run_started event).
	RunStarted bool
}

// Start returns what starting an attempt at now records for a step ready
// at readyAt (zero when unknown), first started at firstStartedAt (zero
// when never) with queue wait queueWait, in a run of status run: At is
// clock.Now(now) (see Clock), which clock becomes.
func Start(clock *Clock, now time.Time, run weft.RunStatus, readyAt, firstStartedAt time.Time, queueWait time.Duration) Started {
	at := clock.Now(now)
	s := Started{At: at, FirstStartedAt: firstStartedAt, QueueWait: queueWait, RunStarted: run == weft.RunPending}
	if s.FirstStartedAt.IsZero() {
		s.FirstStartedAt = at
	}
	if !readyAt.IsZero() && at.After(readyAt) {
		s.QueueWait += at.Sub(readyAt)
	}
	return s
}

// RunEvent returns the run_started event of a start that starts its run.
func (s *Started) RunEvent() weft.Event {
	return weft.Event{Type: weft.EventRunStarted, Time: s.At}
}

// StepEvent returns the step_started event of attempt number attempt,
// leased to worker. Its StepID is left for the store to set.
func (s *Started) StepEvent(attempt int, worker string) weft.Event {
	return weft.Event{Type: weft.EventStepStarted, Time: s.At, Attempt: attempt, Worker: worker}
}
