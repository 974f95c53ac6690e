package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/weft-dev/weft"
)

// This file reports to Config.Observer. Every call here is made only when
// an Observer is set, so that an engine without one pays nothing.

// observeStart reports the start of c's attempt, which started at start,
// into o. ri is nil when the run's definition could not be loaded.
func (e *Engine) observeStart(o *weft.StepObservation, ri *runInfo, c *weft.Claim, start time.Time) {
	*o = weft.StepObservation{Type: c.Type, Attempt: c.Attempt}
	if ri != nil {
		o.WorkflowID = ri.def.Workflow.ID
	}
	if !c.ReadyAt.IsZero() && start.After(c.ReadyAt) {
		o.QueueWait = start.Sub(c.ReadyAt)
	}
	e.cfg.Observer.StepStarted(o)
}

// observeFinish reports the end of the attempt observeStart reported in o:
// status is the outcome recorded (StepCanceled when none was), code its
// error's code.
func (e *Engine) observeFinish(o *weft.StepObservation, status weft.StepStatus, code weft.Code, d time.Duration) {
	o.Status, o.Code, o.Duration = status, code, max(d, 0)
	e.cfg.Observer.StepFinished(o)
}

// observeUsage records in o the tokens an attempt used and, when it used
// some, the provider and model: the fields provider and model of the input
// it was given, the field model of its output (which names the model that
// answered) first. Any step type that spends tokens is read the same way as
// the ai step; fields that are absent or not strings are left empty.
func observeUsage(o *weft.StepObservation, u weft.Usage, input, output json.RawMessage) {
	o.Usage = u
	if u.IsZero() {
		return
	}
	var in, out struct {
		Provider any `json:"provider"`
		Model    any `json:"model"`
	}
	_ = json.Unmarshal(input, &in) // best effort: a label, not the step's outcome
	_ = json.Unmarshal(output, &out)
	o.Provider, _ = in.Provider.(string)
	if o.Model, _ = out.Model.(string); o.Model == "" {
		o.Model, _ = in.Model.(string)
	}
}

// observeRunEnd reports a run that the Finish of this process ended with
// status at now (the run's end in the store). Its workflow and creation
// time come from its info, or, without one, from its record.
func (e *Engine) observeRunEnd(ri *runInfo, runID string, status weft.RunStatus, now time.Time) {
	if ri != nil && !ri.created.IsZero() {
		e.cfg.Observer.RunFinished(&weft.RunObservation{WorkflowID: ri.def.Workflow.ID, Status: status, Duration: max(now.Sub(ri.created), 0)})
		return
	}
	run, err := e.store.Run(context.Background(), runID)
	if err != nil {
		// The run ended: count it even without its record, whose creation
		// time is unknown: its duration is reported as zero.
		e.cfg.Logger.Error("read an ended run for its metrics", "run", runID, "err", err)
		e.cfg.Observer.RunFinished(&weft.RunObservation{Status: status})
		return
	}
	e.cfg.Observer.RunFinished(&weft.RunObservation{WorkflowID: run.WorkflowID, Status: status, Duration: max(now.Sub(run.CreatedAt), 0)})
}

// observeCancel reports a run that a CancelRun of this process, at now
// with status and why, ended: run is what the store returned. Cancelling a
// run that was over already returns it as it was, so the call ended the
// run only when the run ended at now, with that status and that error.
// Times are compared to the microsecond, the precision of the coarsest
// store.
func (e *Engine) observeCancel(run *weft.Run, status weft.RunStatus, why *weft.ErrorInfo, now time.Time) {
	if run.Status != status || !run.FinishedAt.Truncate(time.Microsecond).Equal(now.Truncate(time.Microsecond)) {
		return
	}
	if (run.Error == nil) != (why == nil) || (why != nil && (run.Error.Code != why.Code || run.Error.Message != why.Message)) {
		return
	}
	e.cfg.Observer.RunFinished(&weft.RunObservation{WorkflowID: run.WorkflowID, Status: run.Status, Duration: max(run.FinishedAt.Sub(run.CreatedAt), 0)})
}
