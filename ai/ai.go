// Package ai is weft's interface to language models: a [Provider] answers
// one chat request, and [Providers] names the providers an engine may use,
// one of them the default (DESIGN.md section 5, step type "ai").
//
// Providers come in their own packages: ai/openai talks to any
// OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM,
// llama.cpp server, LM Studio), ai/echo answers offline with the prompt, for
// dry runs and demos.
//
// A provider makes exactly one request per Complete call, never retrying on
// its own: the engine owns retries, so that a step's attempts count every
// request. It reports failures as *weft.Error with a code (see
// [StatusError] and [TransportError]): rate_limited with the server's
// Retry-After, unavailable, timeout, canceled, or invalid (marked
// Permanent) for requests the server will never accept. No error message
// holds a provider's API key.
//
// A provider may limit its request rate with a [Limiter], shared by all the
// runs of the engines that use it (see [RateLimited]).
package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/weft-dev/weft"
)

// Provider answers chat requests. Implementations are safe for concurrent
// use.
type Provider interface {
	// Complete sends one request and returns the model's answer, or an
	// error with a weft code. It makes one attempt: no retries.
	Complete(ctx context.Context, req *Request) (*Response, error)
}

// RateLimited is implemented by providers whose requests are limited in
// rate. Limiter returns the provider's limiter, or nil when it has none.
// Complete waits for the limiter itself (see [Limiter.Wait]); the ai step
// also asks it ahead, so that the engine can keep a step waiting without
// holding a worker slot (see [Limiter.Throttle]).
type RateLimited interface {
	Limiter() *Limiter
}

// Role is the author of a message.
type Role string

// The roles of messages.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one message of a chat.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// FormatType is the kind of answer asked for.
type FormatType string

// The formats of answers.
const (
	// FormatText asks for free text. The zero ResponseFormat means it.
	FormatText FormatType = "text"
	// FormatJSON asks for one JSON value (JSON mode).
	FormatJSON FormatType = "json"
	// FormatJSONSchema asks for JSON that matches ResponseFormat.Schema
	// (structured output).
	FormatJSONSchema FormatType = "json_schema"
)

// ResponseFormat is the form of answer a request asks for.
type ResponseFormat struct {
	// Type is the kind of answer; "" means FormatText.
	Type FormatType
	// Name names the schema of FormatJSONSchema: 1 to 64 letters, digits,
	// '_' and '-'. Defaults to "response".
	Name string
	// Schema is the JSON Schema of FormatJSONSchema.
	Schema json.RawMessage
}

// Request is one chat request.
type Request struct {
	// Model names the model; "" means the provider's default model.
	Model string
	// Messages is the chat so far, oldest first.
	Messages []Message
	// Temperature, when not nil, sets the sampling temperature.
	Temperature *float64
	// MaxTokens, when not nil, bounds the tokens of the answer.
	MaxTokens *int64
	// ResponseFormat is the form of answer asked for.
	ResponseFormat ResponseFormat
}

// Response is a model's answer.
type Response struct {
	// Text is the answer's text.
	Text string
	// Model is the model that answered, as the provider names it.
	Model string
	// Usage counts the tokens the request used.
	Usage weft.Usage
	// FinishReason says why the model stopped: "stop", "length" (the
	// answer reached MaxTokens), "content_filter", ...
	FinishReason string
}

// Providers is a set of named providers, one of them the default. The zero
// value is an empty set ready to use; a nil *Providers is an empty set too.
// It is safe for concurrent use, and meant to be shared: rate limits belong
// to providers, so every engine that uses the same Providers shares them.
type Providers struct {
	mu      sync.RWMutex
	byName  map[string]Provider
	def     string
	limited bool // some provider is RateLimited
}

// Add adds a provider under name, or replaces the one of that name. The
// first provider added becomes the default. It returns an error when name
// is not a valid id (1 to 128 letters, digits, '_', '.' and '-') or p is
// nil.
func (ps *Providers) Add(name string, p Provider) error {
	if !weft.ValidID(name) {
		return fmt.Errorf("add AI provider %q: a provider name is 1 to %d bytes of letters, digits, '_', '.' and '-'", name, weft.MaxIDBytes)
	}
	if p == nil {
		return fmt.Errorf("add AI provider %q: nil provider", name)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.byName == nil {
		ps.byName = make(map[string]Provider)
	}
	ps.byName[name] = p
	if ps.def == "" {
		ps.def = name
	}
	if rl, ok := p.(RateLimited); ok && rl.Limiter() != nil {
		ps.limited = true
	}
	return nil
}

// SetDefault makes the provider of that name the default, used by ai steps
// that name none. It returns an error when there is no such provider.
func (ps *Providers) SetDefault(name string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.byName[name]; !ok {
		return fmt.Errorf("default AI provider %q: no such provider", name)
	}
	ps.def = name
	return nil
}

// Default returns the name of the default provider, or "" when there is
// none.
func (ps *Providers) Default() string {
	if ps == nil {
		return ""
	}
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return ps.def
}

// Get returns the provider of that name, or the default one for "". It
// returns false when there is none.
func (ps *Providers) Get(name string) (Provider, bool) {
	if ps == nil {
		return nil, false
	}
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	if name == "" {
		name = ps.def
	}
	p, ok := ps.byName[name]
	return p, ok
}

// Names returns the providers' names in ascending order.
func (ps *Providers) Names() []string {
	if ps == nil {
		return nil
	}
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	names := make([]string, 0, len(ps.byName))
	for n := range ps.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Len returns the number of providers.
func (ps *Providers) Len() int {
	if ps == nil {
		return 0
	}
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return len(ps.byName)
}

// Limiter returns the limiter of the provider of that name (the default
// one for ""), or nil when it has none or there is no such provider.
func (ps *Providers) Limiter(name string) *Limiter {
	if ps == nil {
		return nil
	}
	ps.mu.RLock()
	limited := ps.limited
	ps.mu.RUnlock()
	if !limited {
		return nil
	}
	p, ok := ps.Get(name)
	if !ok {
		return nil
	}
	if rl, ok := p.(RateLimited); ok {
		return rl.Limiter()
	}
	return nil
}

// HasLimits reports whether some provider has a rate limit.
func (ps *Providers) HasLimits() bool {
	if ps == nil {
		return false
	}
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return ps.limited
}
