package weft

import (
	"encoding/json"
	"time"
)

// RunStatus is the state of a run.
type RunStatus string

// The run statuses.
const (
	RunPending   RunStatus = "pending"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCanceled  RunStatus = "canceled"
)

// Terminal reports whether a run in this status is over.
func (s RunStatus) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCanceled
}

// StepStatus is the state of one step of a run.
type StepStatus string

// The step statuses.
const (
	StepPending   StepStatus = "pending"   // waiting for dependencies
	StepReady     StepStatus = "ready"     // may start, waiting for a slot
	StepRunning   StepStatus = "running"   // an attempt is in flight
	StepRetrying  StepStatus = "retrying"  // waiting out a retry delay
	StepSucceeded StepStatus = "succeeded" // done, with an output
	StepFailed    StepStatus = "failed"    // done, for good, with an error
	StepSkipped   StepStatus = "skipped"   // not run: see StepRun.Reason
	StepCanceled  StepStatus = "canceled"  // not run or stopped by cancellation
)

// Terminal reports whether a step in this status is done.
func (s StepStatus) Terminal() bool {
	return s == StepSucceeded || s == StepFailed || s == StepSkipped || s == StepCanceled
}

// Reasons a step was skipped or canceled, in StepRun.Reason.
const (
	ReasonUpstreamFailed  = "upstream_failed"  // a dependency failed or was canceled
	ReasonUpstreamSkipped = "upstream_skipped" // a dependency was skipped
	ReasonNoFailure       = "no_upstream_failure"
	ReasonWhenFalse       = "when_false" // the step's when expression was false
	ReasonRunCanceled     = "run_canceled"
	ReasonRunTimeout      = "run_timeout"
	ReasonFailFast        = "fail_fast"
)

// ErrorInfo is the recorded form of an error: a code and a message safe to
// show.
type ErrorInfo struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// InfoOf returns the recorded form of err, or nil for a nil err.
func InfoOf(err error) *ErrorInfo {
	if err == nil {
		return nil
	}
	return &ErrorInfo{Code: ErrorCode(err), Message: err.Error()}
}

// Run is the record of one execution of a workflow.
type Run struct {
	// ID identifies the run.
	ID string `json:"run_id"`
	// WorkflowID is the id of the workflow it runs.
	WorkflowID string `json:"workflow_id"`
	// WorkflowVersion is the registered version of the workflow the run
	// was started from (see WorkflowStore), or 0 for a workflow submitted
	// inline.
	WorkflowVersion int `json:"workflow_version,omitempty"`
	// Status is the run's state.
	Status RunStatus `json:"status"`
	// IdempotencyKey, when set, made the submission idempotent.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Params are the run's parameters (the workflow's merged with the
	// submission's): a JSON object or nil.
	Params json.RawMessage `json:"params,omitempty"`
	// Workflow is the definition the run executes, as JSON.
	Workflow json.RawMessage `json:"-"`
	// MaxParallel caps the run's running steps across all processes; 0 is
	// no cap.
	MaxParallel int `json:"max_parallel,omitempty"`
	// Deadline, when not zero, is when the run times out.
	Deadline time.Time `json:"deadline,omitzero"`
	// Result is what the run produced: the output of its one sink step, or
	// an object of its sink steps' outputs keyed by step id.
	Result json.RawMessage `json:"result,omitempty"`
	// Error says why a run failed or was canceled.
	Error *ErrorInfo `json:"error,omitempty"`
	// Usage adds up the AI tokens the run's steps used.
	Usage Usage `json:"usage,omitzero"`
	// PeakParallel is the most steps of the run that were running at once.
	PeakParallel int `json:"peak_parallel"`
	// StepCount is the number of steps of the run.
	StepCount int `json:"step_count"`
	// StepsDone counts the steps in a terminal status (succeeded, failed,
	// skipped or canceled). RetryRun puts the failed, skipped and canceled
	// steps back to pending, so it goes down then.
	StepsDone int `json:"steps_done"`
	// StepsRunning counts the steps with an attempt in flight.
	StepsRunning int `json:"steps_running"`
	// StepsFailed counts the steps finished as failed (RetryRun brings it
	// back to 0).
	StepsFailed int `json:"steps_failed"`
	// LastEvent is the Seq of the run's latest recorded event (0 when
	// there is none): a record reflects every event up to it, so a reader
	// of the record may follow the run's events from there.
	LastEvent int64 `json:"last_event"`
	// CreatedAt, StartedAt and FinishedAt are the run's times.
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// StepRun is the state of one step in one run.
type StepRun struct {
	// StepID identifies the step in its workflow.
	StepID string `json:"step_id"`
	// Type is the step's type.
	Type string `json:"type"`
	// Status is the step's state.
	Status StepStatus `json:"status"`
	// Reason says why a step was skipped or canceled.
	Reason string `json:"reason,omitempty"`
	// Attempts counts the attempts started.
	Attempts int `json:"attempts"`
	// Output is the step's result once it succeeded.
	Output json.RawMessage `json:"output,omitempty"`
	// Error is the last attempt's error.
	Error *ErrorInfo `json:"error,omitempty"`
	// Worker holds the lease of a running step.
	Worker string `json:"worker,omitempty"`
	// ReadyAt is when the step last became eligible to start: when its
	// dependencies allowed it, or when its retry delay ended.
	ReadyAt time.Time `json:"ready_at,omitzero"`
	// StartedAt is when the current or last attempt started.
	StartedAt time.Time `json:"started_at,omitzero"`
	// FinishedAt is when the step reached its terminal status.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// LeaseUntil is when the lease of a running step expires.
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// Usage adds up the AI tokens the step's attempts used.
	Usage Usage `json:"usage,omitzero"`
	// QueueWait adds up, over attempts, the time from eligible to started.
	QueueWait time.Duration `json:"queue_wait"`
	// RunTime adds up the time attempts spent executing.
	RunTime time.Duration `json:"run_time"`
}
