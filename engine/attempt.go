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

// run executes a claimed attempt and records its outcome, then, holding
// on to its slot, takes the next ready step in the same store call and
// goes on until there is none: a chain of steps runs on one goroutine
// without waking the scheduler.
func (e *Engine) run(c *weft.Claim) {
	defer e.wg.Done()
	slot := &attempt{}
	e.attempts.Store(slot, struct{}{})
	next := &weft.ClaimRequest{Worker: e.cfg.WorkerID, Max: 1, Admit: e.admit}
	f := &weft.StepFinish{}
	var obs *weft.StepObservation // reused from one attempt to the next
	if e.cfg.Observer != nil {
		obs = &weft.StepObservation{}
	}
	var ri *runInfo // the last run worked on: the next step is often of it
	for c != nil {
		*f = weft.StepFinish{}
		c, ri = e.runOne(c, ri, slot, f, next, obs)
	}
	e.attempts.Delete(slot)
	e.running.Add(-1)
	e.notify()
}

// runOne runs one attempt in slot and returns the next claim, if any, and
// the claimed attempt's run info. ri, when not nil, is the run info of the
// previous attempt; f, next and obs are reused from one attempt to the
// next. obs is nil without an Observer.
func (e *Engine) runOne(c *weft.Claim, ri *runInfo, slot *attempt, f *weft.StepFinish, next *weft.ClaimRequest, obs *weft.StepObservation) (*weft.Claim, *runInfo) {
	f.Lease, f.StartedAt = c.Lease(), e.cfg.Now()
	// The attempt is this slot's from now on, so heartbeats renew its
	// lease, also while its run's workflow loads; it can be stopped before
	// it is armed.
	a := slot
	a.begin(f.Lease, nil)
	defer a.end()
	// The previous attempt's run info serves when it is of the same run
	// and that run is not over: a step of a run that ended can be claimed
	// only after a Retry, which replaces the run's info.
	if ri == nil || ri.id != c.RunID || ri.isOver() {
		var err error
		if ri, err = e.info(context.Background(), c.RunID); err != nil {
			// The run's definition cannot be used here: fail the step for good.
			if obs != nil {
				e.observeStart(obs, nil, c, f.StartedAt)
			}
			f.Status, f.Error = weft.StepFailed, weft.InfoOf(weft.Permanent(err))
			return e.finish(nil, c, f, next, obs), nil
		}
	}
	if obs != nil {
		e.observeStart(obs, ri, c, f.StartedAt)
	}
	sp := &ri.steps[c.Index]
	ctx, cancel := context.WithTimeout(context.Background(), sp.timeout)
	defer cancel()
	a.arm(cancel)
	a.tokens.reset(ri.tokens)

	out, in, skip, err := e.attempt(ctx, a, ri, sp, c)
	f.Usage = a.tokens.done()
	now := e.cfg.Now()
	if obs != nil {
		observeUsage(obs, f.Usage, in, out)
	}
	switch why := a.stopped(); {
	case skip:
		f.Status, f.Reason = weft.StepSkipped, weft.ReasonWhenFalse
	case err == nil:
		f.Status, f.Output = weft.StepSucceeded, out
	case errors.Is(why, weft.ErrClosed) || errors.Is(why, weft.ErrLeaseLost):
		// The engine is closing or lost the lease: the step is not ours
		// to record; it runs again once the lease expires.
		e.releasePool(c)
		if obs != nil {
			e.observeFinish(obs, weft.StepCanceled, weft.CodeCanceled, now.Sub(f.StartedAt))
		}
		return nil, ri
	default:
		f.Error = weft.InfoOf(err)
		if delay, retry := sp.policy.Next(c.Attempt, err, now.Sub(c.FirstStartedAt), e.cfg.Rand()); retry {
			f.Status, f.RetryAt = weft.StepRetrying, now.Add(delay)
		} else {
			f.Status = weft.StepFailed
		}
	}
	f.Now = now
	return e.finish(ri, c, f, next, obs), ri
}

// finish records an attempt's outcome, acts on it, and returns the next
// step this slot should run, claimed in the same store call. obs, when not
// nil, is the attempt's observation, reported once the outcome is recorded
// (or is not).
func (e *Engine) finish(ri *runInfo, c *weft.Claim, f *weft.StepFinish, next *weft.ClaimRequest, obs *weft.StepObservation) *weft.Claim {
	if f.Now.IsZero() {
		f.Now = e.cfg.Now()
	}
	e.releasePool(c)
	if !e.closed.Load() {
		next.Now, next.LeaseUntil = f.Now, f.Now.Add(e.cfg.LeaseDuration)
		f.Next = next
	}
	res, err := e.store.Finish(context.Background(), f)
	if err != nil {
		if !errors.Is(err, weft.ErrLeaseLost) {
			e.cfg.Logger.Error("record step outcome", "run", f.Lease.RunID, "step", f.Lease.StepID, "err", err)
		}
		if obs != nil {
			e.observeFinish(obs, weft.StepCanceled, weft.CodeCanceled, f.Now.Sub(f.StartedAt))
		}
		return nil
	}
	if obs != nil {
		var code weft.Code
		if f.Error != nil {
			code = f.Error.Code
		}
		e.observeFinish(obs, f.Status, code, f.Now.Sub(f.StartedAt))
		if res.RunStatus.Terminal() {
			e.observeRunEnd(ri, f.Lease.RunID, res.RunStatus, f.Now)
		}
	}
	if ri != nil {
		e.touchedInfo(ri, res.RunStatus)
	} else {
		e.touched(f.Lease.RunID, res.RunStatus)
	}
	if f.Status == weft.StepFailed && ri != nil && ri.def.Workflow.FailFast && !res.RunStatus.Terminal() {
		why := &weft.ErrorInfo{Code: f.Error.Code, Message: fmt.Sprintf("step %s failed (fail_fast): %s", f.Lease.StepID, f.Error.Message)}
		if _, err := e.end(f.Lease.RunID, weft.RunFailed, why, weft.ReasonFailFast); err != nil {
			e.cfg.Logger.Error("fail fast", "run", f.Lease.RunID, "err", err)
		}
	}
	var claimed *weft.Claim
	if res.Next != nil && len(res.Next.Claims) > 0 {
		claimed = res.Next.Claims[0]
		if claimed.RunID != f.Lease.RunID {
			e.touched(claimed.RunID, "")
		}
	}
	if claimed == nil || res.Ready > 1 || !res.Next.NextAt.IsZero() {
		// More became ready than this slot takes, or a retry is due
		// later: let the scheduler look.
		e.notify()
	}
	return claimed
}

// attempt prepares the step's context, evaluates its when expression, and
// runs its executor once under the attempt timeout. in is the input given
// to the executor (its templates rendered), skip reports a when expression
// that was false.
func (e *Engine) attempt(ctx context.Context, a *attempt, ri *runInfo, sp *stepPlan, c *weft.Claim) (out, in json.RawMessage, skip bool, err error) {
	sc := &weft.StepContext{
		RunID: c.RunID, StepID: c.StepID, Type: c.Type, Attempt: c.Attempt,
		IdempotencyKey: c.RunID + "/" + c.StepID,
		Input:          sp.step.Input,
		Params:         ri.params,
		Tokens:         &a.tokens,
	}
	if len(c.Deps) > 0 {
		sc.Deps = make(map[string]json.RawMessage, len(c.Deps))
		for k := range c.Deps {
			sc.Deps[c.Deps[k].StepID] = outputOf(&c.Deps[k])
		}
		if len(c.Deps) == 1 {
			sc.Data = outputOf(&c.Deps[0])
		} else {
			sc.Data = weft.KeyedObject(c.Deps, func(d weft.StepResult) (string, json.RawMessage, bool) {
				return d.StepID, outputOf(&d), true
			})
		}
	}
	tpl, when := ri.def.Input(c.Index), ri.def.When(c.Index)
	if when != nil || (tpl != nil && !tpl.Static()) {
		states := make(map[string]weft.StepResult, len(c.Deps)+len(sp.extra))
		for _, d := range c.Deps {
			states[d.StepID] = d
		}
		if len(sp.extra) > 0 {
			more, err := e.store.Outputs(ctx, c.RunID, sp.extra)
			if err != nil {
				return nil, nil, false, weft.Errorf(weft.CodeUnavailable, "read the outputs of %s's upstream steps: %w", c.StepID, err)
			}
			for id, r := range more {
				states[id] = r
			}
		}
		env, err := e.env(ri, c, sc, states)
		if err != nil {
			return nil, nil, false, err
		}
		if when != nil {
			ok, err := when.EvalBool(env)
			if err != nil {
				return nil, nil, false, weft.Permanent(fmt.Errorf("when: %w", err))
			}
			if !ok {
				return nil, nil, true, nil
			}
		}
		if tpl != nil && !tpl.Static() {
			if sc.Input, err = tpl.Render(env); err != nil {
				return nil, nil, false, weft.Permanent(fmt.Errorf("input: %w", err))
			}
		}
	}
	out, err = e.execute(ctx, sp.exec, sc)
	if err != nil {
		if why := a.stopped(); why != nil { // stopped from outside
			return nil, sc.Input, false, weft.Errorf(weft.CodeCanceled, "step %s: %v", c.StepID, why)
		}
		if ctx.Err() != nil { // the attempt's own deadline
			return nil, sc.Input, false, weft.Errorf(weft.CodeTimeout, "step %s: attempt %d timed out after %s", c.StepID, c.Attempt, sp.timeout)
		}
		return nil, sc.Input, false, err
	}
	if len(out) == 0 {
		out = jsonNull
	}
	if int64(len(out)) > e.cfg.Limits.MaxStepOutputBytes {
		return nil, sc.Input, false, weft.Errorf(weft.CodeInvalid, "step %s: output of %d bytes is over the limit of %d", c.StepID, len(out), e.cfg.Limits.MaxStepOutputBytes)
	}
	if !json.Valid(out) {
		return nil, sc.Input, false, weft.Errorf(weft.CodeInternal, "step %s: the executor of type %q returned invalid JSON", c.StepID, c.Type)
	}
	return out, sc.Input, false, nil
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

// jsonNull is the output of a step that produced nothing.
var jsonNull = json.RawMessage("null")

func outputOf(s *weft.StepResult) json.RawMessage {
	if s == nil || s.Status != weft.StepSucceeded || len(s.Output) == 0 {
		return jsonNull
	}
	return s.Output
}

// env builds what templates and when expressions see (DESIGN.md section 4):
// steps, data, deps, params and run.
func (e *Engine) env(ri *runInfo, c *weft.Claim, sc *weft.StepContext, states map[string]weft.StepResult) (map[string]any, error) {
	steps := make(map[string]any, len(states))
	for id, s := range states {
		v, err := decodeValue(outputOf(&s))
		if err != nil {
			return nil, err
		}
		var errv any
		if s.Error != nil {
			errv = map[string]any{"code": string(s.Error.Code), "message": s.Error.Message}
		}
		steps[id] = map[string]any{"output": v, "status": string(s.Status), "attempts": s.Attempts, "error": errv}
	}
	deps := make(map[string]any, len(c.Deps))
	for _, d := range c.Deps {
		deps[d.StepID] = steps[d.StepID].(map[string]any)["output"]
	}
	var data any
	switch len(c.Deps) {
	case 0:
	case 1:
		data = deps[c.Deps[0].StepID]
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
