package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
)

func TestRetryEditedInput(t *testing.T) {
	p := newProbe()
	e, reg := setup(t, p, nil)
	rules := `"rules": [{"type": "validate", "condition": "n > 5", "message": "n is too small"}]`
	def := parse(t, reg, `{"id": "retry", "steps": {
		"src": {"type": "probe"},
		"check": {"type": "process", "depends_on": ["src"], "input": {"data": {"n": 1}, `+rules+`}},
		"after": {"type": "probe", "depends_on": ["check"]}
	}}`)
	st, err := execute(t, e, def, nil)
	if err == nil || st.State != weft.RunFailed {
		t.Fatalf("first run = %s, %v; want failed", st.State, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if _, err := e.Retry(ctx, st.RunID, &engine.RetryOptions{Inputs: map[string]json.RawMessage{"nope": json.RawMessage(`{}`)}}); weft.ErrorCode(err) != weft.CodeInvalid {
		t.Errorf("Retry with an unknown step = %v; want code invalid", err)
	}
	bad := json.RawMessage(`{"data": {"n": 9}, "rules": [{"type": "no_such_rule"}]}`)
	if _, err := e.Retry(ctx, st.RunID, &engine.RetryOptions{Inputs: map[string]json.RawMessage{"check": bad}}); err == nil {
		t.Errorf("Retry with an invalid input succeeded; want a validation error")
	}

	in := json.RawMessage(`{"data": {"n": 9}, ` + rules + `}`)
	run, err := e.Retry(ctx, st.RunID, &engine.RetryOptions{Inputs: map[string]json.RawMessage{"check": in}})
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if run.Status != weft.RunPending {
		t.Errorf("Retry returned a run %s; want pending", run.Status)
	}
	st, err = e.Wait(ctx, st.RunID)
	if err != nil || st.State != weft.RunSucceeded {
		t.Fatalf("retried run = %v, %v; want succeeded", st, err)
	}
	p.mu.Lock()
	srcRuns, afterRuns := p.runs["src"], p.runs["after"]
	p.mu.Unlock()
	if srcRuns != 1 || afterRuns != 1 {
		t.Errorf("src ran %d times and after %d; want 1 each", srcRuns, afterRuns)
	}
	if s := st.Steps["check"]; s.Attempts != 2 || s.Status != weft.StepSucceeded {
		t.Errorf("check = %s after %d attempts; want succeeded after 2", s.Status, s.Attempts)
	}
	if _, err := e.Retry(ctx, st.RunID, nil); weft.ErrorCode(err) != weft.CodeInvalid {
		t.Errorf("Retry of a succeeded run = %v; want code invalid", err)
	}
}
