package weft

import (
	"encoding/json"
	"time"
)

// EventType names a transition of a run or a step.
type EventType string

// The event types.
const (
	EventRunCreated    EventType = "run_created"
	EventRunStarted    EventType = "run_started"
	EventRunSucceeded  EventType = "run_succeeded"
	EventRunFailed     EventType = "run_failed"
	EventRunCanceled   EventType = "run_canceled"
	EventRunRetried    EventType = "run_retried"
	EventStepStarted   EventType = "step_started"
	EventStepRetrying  EventType = "step_retrying"
	EventStepSucceeded EventType = "step_succeeded"
	EventStepFailed    EventType = "step_failed"
	EventStepSkipped   EventType = "step_skipped"
	EventStepCanceled  EventType = "step_canceled"
)

// Event is one recorded transition. Events of a run are numbered from 1 in
// the order they happened (Seq), so that a reader can resume after the last
// one it saw.
type Event struct {
	// Seq numbers the run's events from 1.
	Seq int64 `json:"seq"`
	// RunID is the run.
	RunID string `json:"run_id"`
	// StepID is the step, empty for run events.
	StepID string `json:"step_id,omitempty"`
	// Type is the transition.
	Type EventType `json:"type"`
	// Time is when it happened.
	Time time.Time `json:"time"`
	// Attempt is the step's attempt number, for step events.
	Attempt int `json:"attempt,omitempty"`
	// Worker is the process that ran the attempt, for step events.
	Worker string `json:"worker,omitempty"`
	// Delay is the wait before the next attempt, for step_retrying.
	Delay time.Duration `json:"delay,omitempty"`
	// Reason says why, for skipped and canceled steps and finished runs.
	Reason string `json:"reason,omitempty"`
	// Error is the error, for retrying and failed steps and failed runs.
	Error *ErrorInfo `json:"error,omitempty"`
	// Data holds extra details, such as a step's usage figures.
	Data json.RawMessage `json:"data,omitempty"`
}

// Terminal reports whether the event ends its run.
func (e *Event) Terminal() bool {
	return e.Type == EventRunSucceeded || e.Type == EventRunFailed || e.Type == EventRunCanceled
}
