package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/eval"
)

// run executes one claimed attempt and records its outcome.
func (e *Engine) run(c *weft.Claim) {
	defer e.wg.Done()
	defer e.release(c)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	lease := c.Lease()
	e.mu.Lock()
	e.attempts[lease] = &attempt{claim: c, cancel: cancel}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.attempts, lease)
		e.mu.Unlock()
	}()

	started := e.cfg.Now()
	f := &weft.StepFinish{Lease: lease, StartedAt: started}
	ri, err := e.info(ctx, c.RunID)
	if err != nil {
		// The run's definition cannot be used here: fail the step for good.
		f.Status, f.Error = weft.StepFailed, weft.InfoOf(weft.Permanent(err))
		e.finish(ri, f)
		return
	}
	sp := &ri.steps[c.Index]
	out, skip, err := e.attempt(ctx, ri, sp, c)
	now := e.cfg.Now()
	switch {
	case skip:
		f.Status, f.Reason = weft.StepSkipped, weft.ReasonWhenFalse
	case err == nil:
		f.Status, f.Output = weft.StepSucceeded, out
	case ctx.Err() != nil && (errors.Is(context.Cause(ctx), weft.ErrClosed) || errors.Is(context.Cause(ctx), weft.ErrLeaseLost)):
		// The engine is closing or lost the lease: the step is not ours
		// to record; it runs again once the lease expires.
		return
	default:
		f.Error = weft.InfoOf(err)
		if delay, retry := sp.policy.Next(c.Attempt, err, now.Sub(c.FirstStartedAt), e.cfg.Rand()); retry {
			f.Status, f.RetryAt = weft.StepRetrying, now.Add(delay)
		} else {
			f.Status = weft.StepFailed
		}
	}
	f.Now = now
	e.finish(ri, f)
}

// finish records an attempt's outcome and acts on it.
func (e *Engine) finish(ri *runInfo, f *weft.StepFinish) {
	if f.Now.IsZero() {
		f.Now = e.cfg.Now()
	}
	res, err := e.store.Finish(context.Background(), f)
	if err != nil {
		if !errors.Is(err, weft.ErrLeaseLost) {
			e.cfg.Logger.Error("record step outcome", "run", f.Lease.RunID, "step", f.Lease.StepID, "err", err)
		}
		return
	}
	e.publish(res.Events)
	if f.Status == weft.StepFailed && ri != nil && ri.def.Workflow.FailFast && !res.Run.Status.Terminal() {
		why := &weft.ErrorInfo{Code: f.Error.Code, Message: fmt.Sprintf("step %s failed (fail_fast): %s", f.Lease.StepID, f.Error.Message)}
		if _, err := e.end(f.Lease.RunID, weft.RunFailed, why, weft.ReasonFailFast); err != nil {
			e.cfg.Logger.Error("fail fast", "run", f.Lease.RunID, "err", err)
		}
	}
}

// attempt prepares the step's context, evaluates its when expression, and
// runs its executor once under the attempt timeout. skip reports a when
// expression that was false.
func (e *Engine) attempt(ctx context.Context, ri *runInfo, sp *stepPlan, c *weft.Claim) (out json.RawMessage, skip bool, err error) {
	var states map[string]*weft.StepRun
	if len(sp.reads) > 0 {
		states, err = e.store.Outputs(ctx, c.RunID, sp.reads)
		if err != nil {
			return nil, false, weft.Errorf(weft.CodeUnavailable, "read the outputs of %s's dependencies: %w", c.StepID, err)
		}
	}
	sc := &weft.StepContext{
		RunID: c.RunID, StepID: c.StepID, Type: c.Type, Attempt: c.Attempt,
		IdempotencyKey: c.RunID + "/" + c.StepID,
		Input:          sp.step.Input,
		Params:         ri.params,
	}
	if len(sp.deps) > 0 {
		sc.Deps = make(map[string]json.RawMessage, len(sp.deps))
		for _, id := range sp.deps {
			sc.Deps[id] = outputOf(states[id])
		}
		if len(sp.deps) == 1 {
			sc.Data = sc.Deps[sp.deps[0]]
		} else {
			sc.Data = weft.KeyedObject(sp.deps, func(id string) (string, json.RawMessage, bool) {
				return id, sc.Deps[id], true
			})
		}
	}
	tpl, when := ri.def.Input(c.Index), ri.def.When(c.Index)
	if when != nil || (tpl != nil && !tpl.Static()) {
		env, err := e.env(ri, sp, sc, states)
		if err != nil {
			return nil, false, err
		}
		if when != nil {
			ok, err := when.EvalBool(env)
			if err != nil {
				return nil, false, weft.Permanent(fmt.Errorf("when: %w", err))
			}
			if !ok {
				return nil, true, nil
			}
		}
		if tpl != nil && !tpl.Static() {
			if sc.Input, err = tpl.Render(env); err != nil {
				return nil, false, weft.Permanent(fmt.Errorf("input: %w", err))
			}
		}
	}
	actx, cancel := context.WithTimeoutCause(ctx, sp.timeout,
		weft.Errorf(weft.CodeTimeout, "step %s: attempt %d timed out after %s", c.StepID, c.Attempt, sp.timeout))
	defer cancel()
	out, err = e.execute(actx, sp.exec, sc)
	if err != nil {
		switch {
		case ctx.Err() != nil: // stopped from outside
			return nil, false, weft.Errorf(weft.CodeCanceled, "step %s: %w", c.StepID, context.Cause(ctx))
		case actx.Err() != nil: // the attempt's own deadline
			return nil, false, context.Cause(actx)
		}
		return nil, false, err
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	if int64(len(out)) > e.cfg.Limits.MaxStepOutputBytes {
		return nil, false, weft.Errorf(weft.CodeInvalid, "step %s: output of %d bytes is over the limit of %d", c.StepID, len(out), e.cfg.Limits.MaxStepOutputBytes)
	}
	if !json.Valid(out) {
		return nil, false, weft.Errorf(weft.CodeInternal, "step %s: the executor of type %q returned invalid JSON", c.StepID, c.Type)
	}
	return out, false, nil
}

// execute calls the executor, turning a panic into an internal error.
func (e *Engine) execute(ctx context.Context, exec weft.Executor, sc *weft.StepContext) (out json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("executor panicked", "run", sc.RunID, "step", sc.StepID, "type", sc.Type, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			out, err = nil, weft.Errorf(weft.CodeInternal, "step %s: the executor of type %q panicked: %v", sc.StepID, sc.Type, r)
		}
	}()
	return exec.Execute(ctx, sc)
}

func outputOf(s *weft.StepRun) json.RawMessage {
	if s == nil || s.Status != weft.StepSucceeded || len(s.Output) == 0 {
		return json.RawMessage("null")
	}
	return s.Output
}

// env builds what templates and when expressions see (DESIGN.md section 4):
// steps, data, deps, params and run.
func (e *Engine) env(ri *runInfo, sp *stepPlan, sc *weft.StepContext, states map[string]*weft.StepRun) (map[string]any, error) {
	steps := make(map[string]any, len(states))
	for id, s := range states {
		v, err := decodeValue(outputOf(s))
		if err != nil {
			return nil, err
		}
		var errv any
		if s.Error != nil {
			errv = map[string]any{"code": string(s.Error.Code), "message": s.Error.Message}
		}
		steps[id] = map[string]any{"output": v, "status": string(s.Status), "attempts": s.Attempts, "error": errv}
	}
	deps := make(map[string]any, len(sp.deps))
	for _, id := range sp.deps {
		deps[id] = steps[id].(map[string]any)["output"]
	}
	var data any
	switch len(sp.deps) {
	case 0:
	case 1:
		data = deps[sp.deps[0]]
	default:
		data = deps
	}
	return map[string]any{
		"steps":  steps,
		"data":   data,
		"deps":   deps,
		"params": ri.paramsAny(),
		"run": map[string]any{
			"id": sc.RunID, "workflow": ri.def.Workflow.ID, "step": sc.StepID, "attempt": sc.Attempt,
		},
	}, nil
}

func decodeValue(raw json.RawMessage) (any, error) {
	v, err := eval.ToValue(raw)
	if err != nil {
		return nil, weft.Errorf(weft.CodeInternal, "decode a recorded output: %w", err)
	}
	return v, nil
}
