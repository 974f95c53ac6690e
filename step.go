package weft

import (
	"encoding/json"
	"slices"
)

// Step is one node of a workflow: what to run (Type and Input), after what
// (DependsOn, Trigger, When), and how (Retry, Timeout, Pool).
type Step struct {
	// ID is the step's key in Workflow.Steps.
	ID string `json:"-"`
	// Type names the executor that runs the step, such as "process".
	// Required; checked against the Registry.
	Type string `json:"type"`
	// Description is optional free text.
	Description string `json:"description,omitempty"`
	// Input is the step's type-specific input: a JSON object, or nil.
	Input json.RawMessage `json:"input,omitempty"`
	// DependsOn lists the ids of the steps this step waits for.
	DependsOn []string `json:"depends_on"`
	// MaxRetries is the seed's shorthand for Retry.MaxRetries.
	MaxRetries *int `json:"max_retries,omitempty"`
	// Retry overrides the retry policy field by field.
	Retry *RetryPolicy `json:"retry,omitempty"`
	// Timeout bounds each attempt. Zero means the workflow or engine default.
	Timeout Duration `json:"timeout,omitempty"`
	// When is an expression; when it evaluates to false the step is skipped.
	When string `json:"when,omitempty"`
	// Trigger decides when the step may run given its dependencies'
	// outcomes. Empty means TriggerAllSuccess.
	Trigger Trigger `json:"trigger,omitempty"`
	// Pool names the concurrency pool the step runs in, if any.
	Pool string `json:"pool,omitempty"`
}

// Trigger is a step's rule for running given its dependencies' outcomes.
type Trigger string

// The triggers.
const (
	// TriggerAllSuccess runs the step when every dependency succeeded.
	TriggerAllSuccess Trigger = "all_success"
	// TriggerAllDone runs the step when every dependency finished, whatever
	// its outcome: for cleanup steps.
	TriggerAllDone Trigger = "all_done"
	// TriggerOneFailed runs the step when at least one dependency failed:
	// for error handlers.
	TriggerOneFailed Trigger = "one_failed"
)

// Triggers lists the valid triggers.
var Triggers = []Trigger{TriggerAllSuccess, TriggerAllDone, TriggerOneFailed}

// Valid reports whether t is empty or one of Triggers.
func (t Trigger) Valid() bool { return t == "" || slices.Contains(Triggers, t) }

// DepCounts counts the outcomes of a step's dependencies.
type DepCounts struct {
	Total, Succeeded, Failed, Skipped, Canceled int
	// SkippedForFailure counts the skipped dependencies that were skipped
	// because of a failure upstream (reason upstream_failed): they pass the
	// reason on.
	SkippedForFailure int
}

// Done returns how many dependencies are done.
func (c DepCounts) Done() int { return c.Succeeded + c.Failed + c.Skipped + c.Canceled }

// Decision is what a waiting step does next, given its dependencies.
type Decision int

// The decisions.
const (
	// DecideWait: not decidable yet; more dependencies must finish.
	DecideWait Decision = iota
	// DecideRun: the step is ready.
	DecideRun
	// DecideSkip: the step will not run.
	DecideSkip
)

// Decide says whether a step with trigger t runs, is skipped (with the
// reason) or waits, given its dependencies' outcomes so far. It decides as
// early as the outcome is certain: an all_success step is skipped as soon
// as one dependency did not succeed. A step without dependencies runs.
// Every store calls it, so that readiness has one definition.
func (t Trigger) Decide(c DepCounts) (Decision, string) {
	if c.Total == 0 {
		return DecideRun, ""
	}
	done := c.Done()
	switch t {
	case TriggerAllDone:
		if done == c.Total {
			return DecideRun, ""
		}
	case TriggerOneFailed:
		if c.Failed > 0 {
			return DecideRun, ""
		}
		if done == c.Total {
			return DecideSkip, ReasonNoFailure
		}
	default:
		switch {
		case c.Failed+c.Canceled+c.SkippedForFailure > 0:
			return DecideSkip, ReasonUpstreamFailed
		case c.Skipped > 0:
			return DecideSkip, ReasonUpstreamSkipped
		case c.Succeeded == c.Total:
			return DecideRun, ""
		}
	}
	return DecideWait, ""
}
