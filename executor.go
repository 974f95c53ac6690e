package weft

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Executor runs steps of one type. Execute makes exactly one attempt: the
// engine owns retries, timeouts and cancellation (through ctx). It returns
// the step's output, one JSON value, or an error; mark errors with Errorf,
// Permanent, Retryable or RetryAfter so the engine can decide to retry.
type Executor interface {
	Execute(ctx context.Context, step *StepContext) (json.RawMessage, error)
}

// ExecutorFunc adapts a function to the Executor interface.
type ExecutorFunc func(ctx context.Context, step *StepContext) (json.RawMessage, error)

// Execute calls f(ctx, step).
func (f ExecutorFunc) Execute(ctx context.Context, step *StepContext) (json.RawMessage, error) {
	return f(ctx, step)
}

// InputValidator is implemented by executors that can check a step's input
// when the workflow is validated, before any run. ValidateInput returns the
// problems found; their paths are relative to the input, starting with "$"
// for the input itself, and the validator rewrites them to document paths.
type InputValidator interface {
	ValidateInput(input json.RawMessage) ValidationErrors
}

// StepContext is what an executor gets for one attempt of one step.
type StepContext struct {
	// RunID identifies the run.
	RunID string
	// StepID identifies the step within the run.
	StepID string
	// Type is the step's type.
	Type string
	// Attempt counts attempts of this step, starting at 1.
	Attempt int
	// IdempotencyKey is "RUN/STEP": the same for every attempt, so that
	// side effects can be deduplicated downstream.
	IdempotencyKey string
	// Input is the step's input with templates resolved: a JSON object or
	// nil.
	Input json.RawMessage
	// Deps maps each direct dependency's id to its output.
	Deps map[string]json.RawMessage
	// Data is the flowing value: nil for a root step, the output of the
	// single dependency, or an object keyed by dependency id.
	Data json.RawMessage
	// Params are the run's parameters: a JSON object or nil.
	Params json.RawMessage
	// Tokens is the run's AI token account (see TokenBudget); never nil.
	Tokens TokenBudget
}

// BuiltinTypes are the step types every engine has (DESIGN.md section 5).
var BuiltinTypes = []string{"ai", "input", "output", "process"}

// Registry maps step type names to executors. It is safe for concurrent use.
// The zero value is an empty registry ready to use.
type Registry struct {
	mu    sync.RWMutex
	types map[string]Executor
}

// Register adds or replaces the executor of a step type. It returns an error
// when name is not a valid id or exec is nil.
func (r *Registry) Register(name string, exec Executor) error {
	if !ValidID(name) {
		return fmt.Errorf("register step type %q: a type name is 1 to %d bytes of letters, digits, '_', '.' and '-'", name, MaxIDBytes)
	}
	if exec == nil {
		return fmt.Errorf("register step type %q: nil executor", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.types == nil {
		r.types = make(map[string]Executor)
	}
	r.types[name] = exec
	return nil
}

// Lookup returns the executor of a step type. It returns an error wrapping
// ErrUnknownStepType when there is none.
func (r *Registry) Lookup(name string) (Executor, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.types[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("step type %q: %w", name, ErrUnknownStepType)
}

// Has reports whether a step type is registered.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.types[name]
	return ok
}

// Types returns the registered type names in ascending order.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
