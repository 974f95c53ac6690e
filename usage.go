package weft

import "time"

// CodeBudgetExceeded marks an AI step refused because its run spent its
// token budget (the workflow's ai_token_budget). Never retried.
const CodeBudgetExceeded Code = "budget_exceeded"

// CodeAIInvalidOutput marks a model reply that does not parse or does not
// match the step's response format. Retried: the next reply may.
const CodeAIInvalidOutput Code = "ai_invalid_output"

// Usage counts the tokens that AI calls used.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// Add adds o to u.
func (u *Usage) Add(o Usage) {
	u.PromptTokens += o.PromptTokens
	u.CompletionTokens += o.CompletionTokens
	u.TotalTokens += o.TotalTokens
}

// IsZero reports whether u counts nothing.
func (u Usage) IsZero() bool { return u == Usage{} }

// TokenBudget is a run's account of AI tokens, shared by all its steps
// (the workflow's ai_token_budget). The engine gives every attempt one in
// StepContext.Tokens; it is never nil (without a budget it only counts).
// Safe for concurrent use.
type TokenBudget interface {
	// Reserve asks to spend up to n more tokens (a step's max_tokens; 0
	// when unknown). It returns an error with code CodeBudgetExceeded,
	// marked Permanent, when the run's tokens already reached the budget,
	// or when n more would pass it.
	Reserve(n int64) error
	// Spend records the tokens an AI call used.
	Spend(u Usage)
}

// Throttler is implemented by executors whose steps share a limited
// resource, such as a provider's request rate. Before a ready step is
// started, the engine asks Throttle with the step's input as written (not
// rendered): 0 means go (and the resource is taken), a positive duration
// means not before that long, and the step then waits as ready, holding no
// slot.
type Throttler interface {
	Throttle(input []byte) time.Duration
}
