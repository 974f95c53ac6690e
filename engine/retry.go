package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/workflow"
)

// RetryOptions configures a retry. A nil *RetryOptions retries the run as
// it was recorded.
type RetryOptions struct {
	// Inputs replace the inputs of some steps (step id → input object)
	// before the run is retried. The edited workflow must validate.
	Inputs map[string]json.RawMessage
}

// Retry runs a failed or canceled run again: its failed, skipped and
// canceled steps run again (with new attempt numbers), while its succeeded
// steps keep their outputs and are not run again (AI outputs are replayed,
// never asked for again). With opts.Inputs the run's recorded workflow is
// edited first. It returns an error with code invalid for a run that is
// not failed or canceled or an unknown step, weft.ValidationErrors when the
// edited workflow does not validate, and weft.ErrNotFound for an unknown
// run.
func (e *Engine) Retry(ctx context.Context, runID string, opts *RetryOptions) (*weft.Run, error) {
	if e.closed.Load() {
		return nil, e.errClosed()
	}
	rr := &weft.RunRetry{RunID: runID, Now: e.cfg.Now()}
	if opts != nil && len(opts.Inputs) > 0 {
		run, err := e.store.Run(ctx, runID)
		if err != nil {
			return nil, err
		}
		doc, err := editInputs(run.Workflow, opts.Inputs)
		if err != nil {
			return nil, fmt.Errorf("engine: retry run %s: %w", runID, err)
		}
		def, err := workflow.Parse(doc, &workflow.Options{Registry: e.cfg.Registry, Limits: e.cfg.Limits, Format: workflow.FormatJSON})
		if err != nil {
			return nil, err
		}
		old, err := workflow.Parse(run.Workflow, &workflow.Options{Registry: e.cfg.Registry, Limits: e.cfg.Limits, Format: workflow.FormatJSON})
		if err != nil {
			return nil, fmt.Errorf("engine: retry run %s: its recorded workflow no longer validates: %w", runID, err)
		}
		if !sameNodes(old, def) {
			return nil, fmt.Errorf("engine: retry run %s: %w", runID, weft.Errorf(weft.CodeInternal, "editing inputs changed the workflow's steps"))
		}
		rr.Workflow = doc
	}
	run, err := e.store.RetryRun(ctx, rr)
	if err != nil {
		return nil, fmt.Errorf("engine: retry run %s: %w", runID, err)
	}
	// The run's info is rebuilt from the store: its workflow may have
	// changed, and the old one is marked ended.
	e.runs.Delete(runID)
	if _, err := e.info(ctx, runID); err != nil {
		return nil, fmt.Errorf("engine: retry run %s: %w", runID, err)
	}
	e.cfg.Logger.Info("run retried", "run", runID, "edited", len(rr.Workflow) > 0)
	e.notify()
	return run, nil
}

// sameNodes reports whether two definitions have the same steps in the
// same node order (the store's plan refers to steps by node index).
func sameNodes(a, b *workflow.Definition) bool {
	if a.Graph.Len() != b.Graph.Len() {
		return false
	}
	for i := range int32(a.Graph.Len()) {
		if a.Graph.ID(i) != b.Graph.ID(i) || !slices.Equal(a.Graph.Deps(i), b.Graph.Deps(i)) {
			return false
		}
	}
	return true
}

// editInputs replaces the inputs of some steps of a workflow document,
// keeping the order of its keys (the order of the steps is their node
// order).
func editInputs(doc json.RawMessage, inputs map[string]json.RawMessage) (json.RawMessage, error) {
	top, err := readObject(doc)
	if err != nil {
		return nil, fmt.Errorf("recorded workflow: %w", err)
	}
	steps, err := readObject(top.get("steps"))
	if err != nil {
		return nil, fmt.Errorf("recorded workflow steps: %w", err)
	}
	ids := make([]string, 0, len(inputs))
	for id := range inputs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		raw := steps.get(id)
		if raw == nil {
			return nil, weft.Errorf(weft.CodeInvalid, "the run has no step %q", id)
		}
		in := bytes.TrimSpace(inputs[id])
		if len(in) == 0 || in[0] != '{' || !json.Valid(in) {
			return nil, weft.Errorf(weft.CodeInvalid, "the new input of step %q must be a JSON object", id)
		}
		st, err := readObject(raw)
		if err != nil {
			return nil, fmt.Errorf("recorded step %s: %w", id, err)
		}
		st.set("input", in)
		steps.set(id, st.encode())
	}
	top.set("steps", steps.encode())
	return top.encode(), nil
}

// object is a JSON object that keeps the order of its keys.
type object struct {
	keys []string
	vals []json.RawMessage
}

func readObject(data []byte) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	o := &object{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("not a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.keys, o.vals = append(o.keys, k), append(o.vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *object) get(k string) json.RawMessage {
	if i := slices.Index(o.keys, k); i >= 0 {
		return o.vals[i]
	}
	return nil
}

func (o *object) set(k string, v json.RawMessage) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys, o.vals = append(o.keys, k), append(o.vals, v)
}

func (o *object) encode() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}
