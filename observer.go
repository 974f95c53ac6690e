package weft

import "time"

// Observer is told what an engine does, as it happens, for metrics
// (package prom implements it for Prometheus). An engine calls it from the
// goroutines that do the work: its methods must be quick, must not block,
// and must be safe for concurrent use. Each process reports only what it
// did itself: a run's end is reported once, by the process whose store
// call ended it.
type Observer interface {
	// StepStarted is called when an attempt of a step starts in this
	// process.
	StepStarted(s *StepObservation)
	// StepFinished is called when an attempt this process ran ends and its
	// outcome is recorded: succeeded, failed, retrying (a retry is
	// scheduled), or skipped (its when expression was false).
	StepFinished(s *StepObservation)
	// RunFinished is called when a run ends (succeeded, failed or
	// canceled) by a store call of this process.
	RunFinished(r *RunObservation)
}

// StepObservation describes an attempt of a step for an Observer.
type StepObservation struct {
	// WorkflowID is the workflow of the step's run.
	WorkflowID string
	// Type is the step's type.
	Type string
	// Attempt numbers the attempt from 1.
	Attempt int
	// Status is the attempt's outcome (StepFinished only): StepSucceeded,
	// StepFailed, StepRetrying or StepSkipped.
	Status StepStatus
	// Code classifies the error of a failed or retrying attempt.
	Code Code
	// QueueWait is how long the step waited from ready to this attempt's
	// start.
	QueueWait time.Duration
	// Duration is how long the attempt ran (StepFinished only).
	Duration time.Duration
	// Provider and Model name the AI provider and model that an ai step
	// used, and Usage the tokens it used (StepFinished only; empty for
	// other step types).
	Provider, Model string
	Usage           Usage
}

// RunObservation describes the end of a run for an Observer.
type RunObservation struct {
	// WorkflowID is the run's workflow.
	WorkflowID string
	// Status is how the run ended.
	Status RunStatus
	// Duration is from the run's creation to its end.
	Duration time.Duration
}
