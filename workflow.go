package weft

import (
	"encoding/json"
	"slices"
)

// Workflow is a parsed workflow document: a set of steps and their
// dependencies, plus run-wide settings. Build one with package workflow
// (Parse, ParseFile), which also validates it.
type Workflow struct {
	// ID names the workflow: 1 to 128 bytes of [A-Za-z0-9_.-]. Required.
	ID string `json:"id"`
	// Name is an optional human-readable title.
	Name string `json:"name,omitempty"`
	// Description is optional free text.
	Description string `json:"description,omitempty"`
	// MaxParallel caps the steps of one run running at once, across all
	// processes. Zero means no per-run cap (the engine cap still applies).
	MaxParallel int `json:"max_parallel,omitempty"`
	// Timeout bounds a whole run. Zero means no deadline.
	Timeout Duration `json:"timeout,omitempty"`
	// FailFast cancels in-flight steps on the first permanent failure.
	FailFast bool `json:"fail_fast,omitempty"`
	// Defaults apply to every step that does not set the field itself.
	Defaults *Defaults `json:"defaults,omitempty"`
	// Params are the default run parameters: a JSON object, or nil.
	Params json.RawMessage `json:"params,omitempty"`
	// AITokenBudget caps the tokens all ai steps of one run may use.
	// Zero means no budget.
	AITokenBudget int64 `json:"ai_token_budget,omitempty"`
	// Steps maps each step id to its step. Step.ID repeats the key.
	Steps map[string]*Step `json:"steps"`
}

// Defaults holds per-workflow defaults for steps.
type Defaults struct {
	// Timeout is the per-attempt timeout of steps that set none.
	Timeout Duration `json:"timeout,omitempty"`
	// Retry is the retry policy that steps override field by field.
	Retry *RetryPolicy `json:"retry,omitempty"`
}

// StepIDs returns the ids of w's steps in ascending order.
func (w *Workflow) StepIDs() []string {
	ids := make([]string, 0, len(w.Steps))
	for id := range w.Steps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ValidID reports whether s is a valid workflow or step id: 1 to 128 bytes of
// ASCII letters, digits, '_', '.' and '-'.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') && (b < '0' || b > '9') && b != '_' && b != '.' && b != '-' {
			return false
		}
	}
	return true
}

// MaxIDBytes is the longest workflow or step id, in bytes.
const MaxIDBytes = 128
