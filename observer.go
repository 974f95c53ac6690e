package weft

import "time"

// Observer is told what an engine does, as it happens, for metrics
// (package prom implements it for Prometheus). An engine calls it from the
// goroutines that do the work: its methods must be quick, must not block,
// and must be safe for concurrent use. The observations passed are valid
// only during the call: an Observer must not keep them.
//
// Each process reports only what it did itself: the attempts it ran, and a
// run's end once, by the process whose store call ended it.
type Observer interface {
	// StepStarted is called when an attempt of a step starts in this
	// process.
	StepStarted(s *StepObservation)
	// StepFinished is called once for every StepStarted, when that
	// attempt ends: after the store recorded its outcome (succeeded,
	// failed, retrying: a retry is scheduled, or skipped: its when
	// expression was false), or with status StepCanceled when its outcome
	// was not recorded by this process (the engine closing, a lost lease,
	// the run canceled or ended meanwhile, or a store error); such a step
	// is either over or runs again once its lease expires. StepStarted
	// minus StepFinished calls is thus always the attempts running.
	StepFinished(s *StepObservation)
	// RunFinished is called when a run ends (succeeded, failed or
	// canceled) by a store call of this process: the finish of its last
	// step, or a cancel, run timeout or fail_fast. A run that is retried
	// and ends again is reported again.
	RunFinished(r *RunObservation)
}

// StepObservation describes an attempt of a step for an Observer.
type StepObservation struct {
	// WorkflowID is the workflow of the step's run (empty when the run's
	// definition could not be loaded: the attempt then fails).
	WorkflowID string
	// Type is the step's type.
	Type string
	// Attempt numbers the attempt from 1.
	Attempt int
	// Status is the attempt's outcome (StepFinished only): StepSucceeded,
	// StepFailed, StepRetrying, StepSkipped, or StepCanceled when the
	// outcome was not recorded by this process.
	Status StepStatus
	// Code classifies the error of a failed or retrying attempt (and is
	// CodeCanceled for a canceled one).
	Code Code
	// QueueWait is how long the step waited from ready (or, for a retry,
	// from its retry time) to this attempt's start; zero when the store
	// did not say when it became ready.
	QueueWait time.Duration
	// Duration is how long the attempt ran (StepFinished only).
	Duration time.Duration
	// Usage is the AI tokens the attempt used (StepFinished only; zero for
	// steps that use none). When it is not zero, Provider and Model name
	// the provider and model used, as an ai step's input fields provider
	// and model and its output field model tell them: Provider is empty
	// for a step that named none (the default provider), Model is empty
	// when neither the output (a failed attempt has none) nor the input
	// named one.
	Provider, Model string
	Usage           Usage
}

// RunObservation describes the end of a run for an Observer.
type RunObservation struct {
	// WorkflowID is the run's workflow.
	WorkflowID string
	// Status is how the run ended.
	Status RunStatus
	// Duration is from the run's creation to its end (for a retried run,
	// from its first creation: queueing and every try count); zero in the
	// rare case that the run's record could not be read once it ended.
	Duration time.Duration
}
