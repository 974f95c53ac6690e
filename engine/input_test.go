package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
)

// StepInput gives the input an attempt got, templates evaluated: the same
// value the step itself received.
func TestStepInput(t *testing.T) {
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	reg.Register("wait", weft.ExecutorFunc(func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		<-release
		return json.RawMessage(`{"n": 41}`), nil
	}))
	e, err := engine.New(inmem.New(), &engine.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	def := parse(t, reg, `{"id": "in", "params": {"greeting": "hi"}, "steps": {
		"a": {"type": "wait"},
		"b": {"type": "input", "depends_on": ["a"], "input": {"data": {"msg": "{{ params.greeting }} {{ data.n + 1 }} at {{ run.attempt }}", "n": "{{ steps.a.output.n }}"}}},
		"s": {"type": "input", "input": {"data": {"fixed": "{not a template}"}}}}}`)
	ctx := waitCtx(t)
	run, err := e.Submit(ctx, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	// b's input reads a, which has not finished.
	if in, ok, err := e.StepInput(ctx, run.ID, "b", 1); err != nil || ok || in != nil {
		t.Errorf("before its dependency is done: %s, %v, %v; want not known yet", in, ok, err)
	}
	close(release)
	st, err := e.Wait(ctx, run.ID)
	if err != nil || st.State != weft.RunSucceeded {
		t.Fatalf("run: %v %v", st, err)
	}
	tests := []struct {
		step    string
		attempt int
		want    string
	}{
		{"b", 1, `{"data": {"msg": "hi 42 at 1", "n": 41}}`},
		{"b", 3, `{"data": {"msg": "hi 42 at 3", "n": 41}}`},
		{"s", 1, `{"data": {"fixed": "{not a template}"}}`},
		{"a", 1, `null`},
	}
	for _, tc := range tests {
		in, ok, err := e.StepInput(ctx, run.ID, tc.step, tc.attempt)
		if err != nil || !ok || !jsonEqual(t, in, tc.want) {
			t.Errorf("StepInput(%s, %d) = %s, %v, %v; want %s", tc.step, tc.attempt, in, ok, err, tc.want)
		}
	}
	// The input step outputs its data: what its attempt got.
	if got := st.Steps["b"].Output; !jsonEqual(t, got, `{"msg": "hi 42 at 1", "n": 41}`) {
		t.Errorf("b's output %s", got)
	}
	if _, _, err := e.StepInput(ctx, run.ID, "nope", 1); !errors.Is(err, weft.ErrNotFound) {
		t.Errorf("unknown step: %v, want ErrNotFound", err)
	}
	if _, _, err := e.StepInput(ctx, "no-such-run", "b", 1); !errors.Is(err, weft.ErrNotFound) {
		t.Errorf("unknown run: %v, want ErrNotFound", err)
	}
}

func jsonEqual(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if len(got) == 0 {
		got = json.RawMessage("null")
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}
