package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/workflow"
)

// SubmitOptions configures one submission. A nil *SubmitOptions means the
// defaults of every field.
type SubmitOptions struct {
	// Params are the run's parameters, a JSON object merged over the
	// workflow's params (a key here wins). Defaults to the workflow's.
	Params json.RawMessage
	// IdempotencyKey makes the submission idempotent: a second submission
	// with the same key returns the first run. Defaults to none.
	IdempotencyKey string
	// RunID names the run. Defaults to Config.NewID().
	RunID string
	// WorkflowVersion records the registered version of the workflow
	// (weft.WorkflowStore) the run starts from. Defaults to 0: an inline
	// workflow.
	WorkflowVersion int
	// MaxParallel overrides the workflow's max_parallel when positive.
	MaxParallel int
}

// Submit starts a run of a validated workflow and returns it at once. With
// an idempotency key already used, it returns the existing run. It returns
// an error with code invalid when the parameters are not a JSON object, and
// weft.ErrClosed once Shutdown or Close was called.
//
// With Config.MaxUnfinishedRuns set, a submission that would create a run
// beyond that many unfinished ones is refused with an error matching
// weft.ErrQueueFull: a *weft.Error with code unavailable and RetryAfter
// set to Config.PollInterval. A resubmission of an unfinished run's
// idempotency key still returns that run; one whose run has finished is
// refused like a new run while the limit is reached (a store answers for a
// key only by creating a run when there is none).
func (e *Engine) Submit(ctx context.Context, def *workflow.Definition, opts *SubmitOptions) (*weft.Run, error) {
	if e.closed.Load() {
		return nil, e.errClosed()
	}
	if def == nil || def.Workflow == nil || def.Graph == nil {
		return nil, errors.New("engine: submit: nil definition (use workflow.Parse or workflow.Validate)")
	}
	if opts == nil {
		opts = &SubmitOptions{}
	}
	wf, g := def.Workflow, def.Graph
	params, err := mergeParams(wf.Params, opts.Params)
	if err != nil {
		return nil, err
	}
	doc, err := def.Source()
	if err != nil {
		return nil, fmt.Errorf("engine: submit: %w", err)
	}
	now := e.cfg.Now()
	id := opts.RunID
	if id == "" {
		id = e.cfg.NewID()
	}
	nr := &weft.NewRun{Now: now, Steps: make([]weft.PlanStep, g.Len())}
	nr.Run = weft.Run{
		ID: id, WorkflowID: wf.ID, WorkflowVersion: opts.WorkflowVersion, IdempotencyKey: opts.IdempotencyKey, Params: params,
		Workflow: doc, MaxParallel: wf.MaxParallel, CreatedAt: now,
	}
	if opts.MaxParallel > 0 {
		nr.Run.MaxParallel = opts.MaxParallel
	}
	if wf.Timeout > 0 {
		nr.Run.Deadline = now.Add(time.Duration(wf.Timeout))
	}
	for i := range nr.Steps {
		n := int32(i)
		st := wf.Steps[g.ID(n)]
		nr.Steps[i] = weft.PlanStep{
			ID: st.ID, Type: st.Type, Deps: g.Deps(n), Trigger: st.Trigger, Pool: st.Pool,
			Priority: g.Height(n), Sink: len(g.Dependents(n)) == 0,
		}
	}
	ri, err := e.newRunInfo(id, def, params, nr.Run.Deadline, now)
	if err != nil {
		return nil, fmt.Errorf("engine: submit: %w", err)
	}
	reserved, err := e.enqueue(ctx, opts.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	// Register the run before the store can hand out its steps.
	cur, seen := e.runs.LoadOrStore(id, ri)
	run, created, err := e.store.CreateRun(ctx, nr)
	created = err == nil && created && run.ID == id
	if !seen && !created {
		e.runs.CompareAndDelete(id, ri)
	}
	e.settle(reserved, opts.IdempotencyKey, created, id, cur.(*runInfo))
	if err != nil {
		return nil, fmt.Errorf("engine: submit: %w", err)
	}
	e.cfg.Logger.Info("run submitted", "run", run.ID, "workflow", wf.ID, "steps", g.Len(), "created", created)
	e.notify()
	return run, nil
}

// mergeParams merges the submission's parameters over the workflow's.
func mergeParams(base, over json.RawMessage) (json.RawMessage, error) {
	if len(over) == 0 || string(over) == "null" {
		return base, nil
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(over, &o); err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "params must be a JSON object")
	}
	if len(base) == 0 {
		return over, nil
	}
	var b map[string]json.RawMessage
	if err := json.Unmarshal(base, &b); err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "the workflow's params must be a JSON object")
	}
	maps.Copy(b, o)
	return json.Marshal(b)
}

// Execute submits a run, waits for it to end and returns its status, like
// the seed's execute_workflow. The error is nil when the run succeeded;
// otherwise it is a *weft.Error with the run's error code (and the status
// is still returned), or the submission's error, or ctx's error.
func (e *Engine) Execute(ctx context.Context, def *workflow.Definition, opts *SubmitOptions) (*Status, error) {
	run, err := e.Submit(ctx, def, opts)
	if err != nil {
		return nil, err
	}
	return e.Wait(ctx, run.ID)
}

// Wait waits for a run to end and returns its status. The error is nil when
// the run succeeded; otherwise it is a *weft.Error with the run's error
// code, or ctx's error (the run goes on), or weft.ErrNotFound.
func (e *Engine) Wait(ctx context.Context, runID string) (*Status, error) {
	ri, err := e.info(ctx, runID)
	if err != nil {
		return nil, err
	}
	poll := time.NewTicker(e.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ri.done:
			return e.outcome(ctx, runID)
		case <-poll.C:
			// The run may be driven by another process: ask the store.
			run, err := e.store.Run(ctx, runID)
			if err == nil && run.Status.Terminal() {
				e.ended(ri)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// outcome returns the status of an ended run and its error.
func (e *Engine) outcome(ctx context.Context, runID string) (*Status, error) {
	st, err := e.Status(ctx, runID)
	if err != nil {
		return nil, err
	}
	if st.State == weft.RunSucceeded {
		return st, nil
	}
	why := &weft.ErrorInfo{Code: weft.CodeInternal, Message: "run " + string(st.State)}
	if st.Error != nil {
		why = st.Error
	}
	return st, &weft.Error{Code: why.Code, Message: fmt.Sprintf("run %s %s: %s", runID, st.State, why.Message)}
}

// Cancel cancels an unfinished run: its running steps' contexts are
// canceled and its other steps are marked canceled. Cancelling a finished
// run changes nothing. It returns weft.ErrNotFound for an unknown run.
func (e *Engine) Cancel(ctx context.Context, runID string) (*weft.Run, error) {
	if _, err := e.info(ctx, runID); err != nil {
		return nil, err
	}
	return e.end(runID, weft.RunCanceled, &weft.ErrorInfo{Code: weft.CodeCanceled, Message: "the run was canceled"}, weft.ReasonRunCanceled)
}
