package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/weft-dev/weft"
)

// StepInput returns the input that attempt of step stepID of run runID
// gets: the step's input as its run's workflow records it, with every
// {{ }} template evaluated over the run's params and the outputs, statuses
// and errors of the steps it reads, as the engine evaluates them when it
// starts the attempt. A step whose input has no template gets it as
// written. ok is false when the input cannot be known yet: a step it reads
// is not done. (A run retried with edited inputs records the edits, so
// earlier attempts of an edited step are shown with the edited input.)
//
// It returns an error matching weft.ErrNotFound for an unknown run or
// step, a store's error, and the template's error when it does not
// evaluate (the attempt failed with that error too).
func (e *Engine) StepInput(ctx context.Context, runID, stepID string, attempt int) (input json.RawMessage, ok bool, err error) {
	ri, err := e.info(ctx, runID)
	if err != nil {
		return nil, false, err
	}
	idx, found := ri.def.Node(stepID)
	if !found {
		return nil, false, &weft.StepNotFoundError{RunID: runID, StepID: stepID}
	}
	sp := &ri.steps[idx]
	tpl := ri.def.Input(idx)
	if tpl == nil || tpl.Static() {
		return sp.step.Input, true, nil
	}
	deps := ri.def.Graph.Deps(idx)
	ids := make([]string, 0, len(deps)+len(sp.extra))
	for _, d := range deps {
		ids = append(ids, ri.def.Graph.ID(d))
	}
	ids = append(ids, sp.extra...)
	states, err := e.store.Outputs(ctx, runID, ids)
	if err != nil {
		return nil, false, fmt.Errorf("read the outputs %s reads: %w", stepID, err)
	}
	c := &weft.Claim{RunID: runID, StepID: stepID, Index: idx, Attempt: max(attempt, 1), Deps: make([]weft.StepResult, len(deps))}
	for k, d := range deps {
		s, have := states[ri.def.Graph.ID(d)]
		if !have || !s.Status.Terminal() {
			return nil, false, nil
		}
		c.Deps[k] = s
	}
	for _, id := range sp.extra {
		if s, have := states[id]; !have || !s.Status.Terminal() {
			return nil, false, nil
		}
	}
	sc := &weft.StepContext{RunID: runID, StepID: stepID, Attempt: c.Attempt}
	env, err := e.env(ri, c, sc, states)
	if err != nil {
		return nil, false, err
	}
	in, err := tpl.Render(env)
	if err != nil {
		return nil, false, fmt.Errorf("input: %w", err)
	}
	return in, true, nil
}
