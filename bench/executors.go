package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/weft-dev/weft"
)

// Executors implements the workloads' step types, noop and sleep, and
// counts their executions. Every variant of a run gets its own Executors,
// so that each can check it executed every step exactly once. It is safe
// for concurrent use; the zero value is ready.
type Executors struct {
	calls atomic.Int64
	slept atomic.Int64 // nanoseconds sleep steps actually took
	// Hook, when not nil, is called as each execution begins (begin true)
	// and as it ends. Tests use it to check ordering; it must be safe for
	// concurrent use.
	Hook func(stepID string, begin bool)
}

// Calls returns the number of executions since the last Reset.
func (x *Executors) Calls() int64 { return x.calls.Load() }

// Slept returns the time sleep steps actually took since the last Reset,
// summed: at least their nominal durations, plus each timer's lateness.
func (x *Executors) Slept() time.Duration { return time.Duration(x.slept.Load()) }

// Reset sets the execution count and Slept to zero.
func (x *Executors) Reset() {
	x.calls.Store(0)
	x.slept.Store(0)
}

// Registry returns a registry with the types noop and sleep, and nothing
// else: the workloads use no product step type.
func (x *Executors) Registry() *weft.Registry {
	reg := &weft.Registry{}
	if err := reg.Register(TypeNoop, weft.ExecutorFunc(x.Noop)); err != nil {
		panic(err) // a constant, valid name
	}
	if err := reg.Register(TypeSleep, weft.ExecutorFunc(x.Sleep)); err != nil {
		panic(err)
	}
	return reg
}

// Noop does nothing: its output is null.
func (x *Executors) Noop(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	x.calls.Add(1)
	if x.Hook != nil {
		x.Hook(sc.StepID, true)
		defer x.Hook(sc.StepID, false)
	}
	return nil, nil
}

// sleepInput is the input of a sleep step.
type sleepInput struct {
	MS int `json:"ms"`
}

// Sleep waits the milliseconds of its input's "ms" field, or until ctx is
// done. Its output is null.
func (x *Executors) Sleep(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	x.calls.Add(1)
	if x.Hook != nil {
		x.Hook(sc.StepID, true)
		defer x.Hook(sc.StepID, false)
	}
	var in sleepInput
	if err := json.Unmarshal(sc.Input, &in); err != nil || in.MS < 0 {
		return nil, weft.Errorf(weft.CodeInvalid, "sleep step %s: input must be {\"ms\": N} with N >= 0, got %s", sc.StepID, sc.Input)
	}
	start := time.Now()
	t := time.NewTimer(time.Duration(in.MS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		x.slept.Add(int64(time.Since(start)))
		return nil, nil
	case <-ctx.Done():
		return nil, weft.Errorf(weft.CodeCanceled, "sleep step %s: %w", sc.StepID, context.Cause(ctx))
	}
}

// checkCalls returns an error unless exactly want executions happened.
func (x *Executors) checkCalls(variant string, want int) error {
	if got := x.Calls(); got != int64(want) {
		return fmt.Errorf("%s: %d step executions, want exactly %d (one per step)", variant, got, want)
	}
	return nil
}
