package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/aitest"
	"github.com/weft-dev/weft/ai/echo"
	"github.com/weft-dev/weft/ai/openai"
)

// aiKey is a recognisable API key: it must never appear in an error or an
// output.
const aiKey = "sk-weft-executor-KEY-4b1d2e"

// fakeBudget is a weft.TokenBudget that records its calls and refuses
// when refuse is set.
type fakeBudget struct {
	mu       sync.Mutex
	refuse   error
	reserved []int64
	spent    []weft.Usage
}

func (b *fakeBudget) Reserve(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved = append(b.reserved, n)
	return b.refuse
}

func (b *fakeBudget) Spend(u weft.Usage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spent = append(b.spent, u)
}

// aiServer returns an ai executor whose provider "openai" (the default)
// talks to a fake server, and "echo" answers offline.
func aiServer(t *testing.T, cfg openai.Config, replies ...aitest.Reply) (*AI, *aitest.Server) {
	t.Helper()
	srv := aitest.NewServer(t, replies...)
	cfg.BaseURL, cfg.APIKey = srv.URL, aiKey
	if cfg.Model == "" {
		cfg.Model = "gpt-test"
	}
	p, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ps := &ai.Providers{}
	if err := ps.Add("openai", p); err != nil {
		t.Fatal(err)
	}
	if err := ps.Add("echo", echo.New()); err != nil {
		t.Fatal(err)
	}
	return NewAI(ps), srv
}

// aiStep is an attempt of step "analyze" with the flowing value of two
// dependencies.
func aiStep(input string, budget weft.TokenBudget) *weft.StepContext {
	return &weft.StepContext{
		RunID: "r1", StepID: "analyze", Type: "ai", Attempt: 1, IdempotencyKey: "r1/analyze",
		Input:  json.RawMessage(input),
		Data:   json.RawMessage(`{"process_a": {"value": 1}, "process_b": {"value": 2}}`),
		Tokens: budget,
	}
}

// aiOut decodes an ai step's output, checking it has exactly the
// documented fields.
func aiOut(t *testing.T, raw json.RawMessage) aiOutput {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("output %s: %v", raw, err)
	}
	if len(fields) != 5 {
		t.Errorf("output fields %s, want text, json, model, usage, finish_reason", raw)
	}
	for _, k := range []string{"text", "json", "model", "usage", "finish_reason"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("output %s has no %q", raw, k)
		}
	}
	var usage map[string]json.RawMessage
	if err := json.Unmarshal(fields["usage"], &usage); err != nil || len(usage) != 3 || usage["prompt_tokens"] == nil ||
		usage["completion_tokens"] == nil || usage["total_tokens"] == nil {
		t.Errorf("usage %s", fields["usage"])
	}
	var out aiOutput
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// aiNoKey checks that the key is nowhere in err's chain.
func aiNoKey(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s := fmt.Sprintf("%v %+v %#v", e, e, e); strings.Contains(s, aiKey) {
			t.Fatalf("the API key is in the error: %s", s)
		}
	}
}

func TestAINoProvider(t *testing.T) {
	for _, a := range []*AI{{}, NewAI(nil), NewAI(&ai.Providers{})} {
		_, err := a.Execute(context.Background(), aiStep(`{"prompt": "Analyze data"}`, nil))
		outputWantCode(t, err, weft.CodeInvalid, false)
		for _, want := range []string{"no AI provider is configured", "--ai-provider echo", "WEFT_AI_BASE_URL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
}

func TestAIUnknownProvider(t *testing.T) {
	a, srv := aiServer(t, openai.Config{})
	_, err := a.Execute(context.Background(), aiStep(`{"prompt": "x", "provider": "opnai"}`, nil))
	outputWantCode(t, err, weft.CodeInvalid, false)
	if want := `ai step: unknown AI provider "opnai" (did you mean "openai"?); configured providers: "echo", "openai"`; err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if srv.Count() != 0 {
		t.Errorf("%d requests", srv.Count())
	}
}

// TestAISuccess checks what the server receives and what the step
// outputs.
func TestAISuccess(t *testing.T) {
	a, srv := aiServer(t, openai.Config{}, aitest.Reply{Text: "Both values are small.", Model: "gpt-test-0613",
		Usage: weft.Usage{PromptTokens: 40, CompletionTokens: 6, TotalTokens: 46}})
	budget := &fakeBudget{}
	raw, err := a.Execute(context.Background(), aiStep(`{"prompt": "Analyze data", "system": "You are terse.",
		"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 100}`, budget))
	if err != nil {
		t.Fatal(err)
	}
	out := aiOut(t, raw)
	if out.Text != "Both values are small." || string(out.JSON) != "null" || out.Model != "gpt-test-0613" || out.FinishReason != "stop" ||
		out.Usage != (weft.Usage{PromptTokens: 40, CompletionTokens: 6, TotalTokens: 46}) {
		t.Errorf("output %s", raw)
	}
	if !strings.Contains(string(raw), `"json":null`) {
		t.Errorf("json is not null: %s", raw)
	}
	if fmt.Sprint(budget.reserved) != "[100]" || fmt.Sprint(budget.spent) != fmt.Sprint([]weft.Usage{out.Usage}) {
		t.Errorf("reserved %v, spent %v", budget.reserved, budget.spent)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	c := got[0].Chat
	want := []aitest.Message{
		{Role: "system", Content: "You are terse."},
		{Role: "user", Content: "Analyze data\n\nContext (JSON):\n" + `{"process_a":{"value":1},"process_b":{"value":2}}`},
	}
	if c.Model != "gpt-4o-mini" || fmt.Sprint(c.Messages) != fmt.Sprint(want) || c.Temperature == nil || *c.Temperature != 0.2 ||
		c.MaxTokens == nil || *c.MaxTokens != 100 || c.ResponseFormat != nil {
		t.Errorf("request %s", got[0].Body)
	}
	if got[0].Header.Get("Authorization") != "Bearer "+aiKey {
		t.Errorf("Authorization %q", got[0].Header.Get("Authorization"))
	}

	// Without max_tokens, 0 is reserved and none is sent; without system
	// and include_data, only the prompt goes; the default model is the
	// provider's; a nil Tokens counts nothing.
	srv.Push(aitest.Reply{Text: "ok"})
	budget = &fakeBudget{}
	if _, err := a.Execute(context.Background(), aiStep(`{"prompt": "Just this", "include_data": false}`, budget)); err != nil {
		t.Fatal(err)
	}
	c = srv.Received()[1].Chat
	if c.Model != "gpt-test" || fmt.Sprint(c.Messages) != fmt.Sprint([]aitest.Message{{Role: "user", Content: "Just this"}}) ||
		c.MaxTokens != nil || c.Temperature != nil || fmt.Sprint(budget.reserved) != "[0]" {
		t.Errorf("request %s, reserved %v", srv.Received()[1].Body, budget.reserved)
	}
	if _, err := a.Execute(context.Background(), aiStep(`{"prompt": "x"}`, nil)); err != nil {
		t.Fatalf("nil Tokens: %v", err)
	}
}

func TestAIJSONMode(t *testing.T) {
	a, srv := aiServer(t, openai.Config{},
		aitest.Reply{Text: `{"verdict": "ok", "score": 3}`},
		aitest.Reply{Text: "```json\n[1, 2]\n```"},
		aitest.Reply{Text: "Sure! Here it is: {\"a\": 1}"},
		aitest.Reply{Text: `{"a": `, FinishReason: "length"},
	)
	budget := &fakeBudget{}
	raw, err := a.Execute(context.Background(), aiStep(`{"prompt": "Judge", "system": "Be fair.", "response_format": "json"}`, budget))
	if err != nil {
		t.Fatal(err)
	}
	out := aiOut(t, raw)
	if string(out.JSON) != `{"verdict":"ok","score":3}` || out.Text != `{"verdict": "ok", "score": 3}` {
		t.Errorf("output %s", raw)
	}
	r := srv.Received()[0].Chat
	if string(r.ResponseFormat) != `{"type":"json_object"}` || len(r.Messages) != 2 ||
		r.Messages[0] != (aitest.Message{Role: "system", Content: "Be fair.\n\n" + aiJSONInstruction}) {
		t.Errorf("request %s", srv.Received()[0].Body)
	}

	// A fenced reply is unwrapped.
	raw, err = a.Execute(context.Background(), aiStep(`{"prompt": "List", "response_format": "json"}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if out := aiOut(t, raw); string(out.JSON) != `[1,2]` {
		t.Errorf("output %s", raw)
	}
	if m := srv.Received()[1].Chat.Messages[0]; m != (aitest.Message{Role: "system", Content: aiJSONInstruction}) {
		t.Errorf("system message %+v", m)
	}

	// Prose is not JSON: ai_invalid_output, retried.
	_, err = a.Execute(context.Background(), aiStep(`{"prompt": "x", "response_format": "json"}`, budget))
	outputWantCode(t, err, weft.CodeAIInvalidOutput, true)
	if !strings.Contains(err.Error(), `the reply is not JSON: "Sure! Here it is: {\"a\": 1}"`) {
		t.Errorf("error %q", err)
	}
	// A reply cut at max_tokens says so.
	_, err = a.Execute(context.Background(), aiStep(`{"prompt": "x", "response_format": "json", "max_tokens": 3}`, budget))
	outputWantCode(t, err, weft.CodeAIInvalidOutput, true)
	if !strings.Contains(err.Error(), `finish_reason is "length"; raise max_tokens`) {
		t.Errorf("error %q", err)
	}
	// Every reply's usage was recorded, refused or not.
	if len(budget.spent) != 3 {
		t.Errorf("spent %v, want 3 calls", budget.spent)
	}
}

// TestAISchema: a reply that does not match the schema fails the attempt
// with ai_invalid_output (retried), and the next attempt's valid reply
// passes; the server gets the schema.
func TestAISchema(t *testing.T) {
	a, srv := aiServer(t, openai.Config{},
		aitest.Reply{Text: `{"sentiment": "meh", "score": 1.5}`, Usage: weft.Usage{PromptTokens: 20, CompletionTokens: 9, TotalTokens: 29}},
		aitest.Reply{Text: `{"sentiment": "positive", "score": 0.9}`, Usage: weft.Usage{PromptTokens: 20, CompletionTokens: 8, TotalTokens: 28}},
	)
	schema := `{"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]},
		"score": {"type": "number", "minimum": 0, "maximum": 1}}, "required": ["sentiment", "score"], "additionalProperties": false}`
	input := `{"prompt": "Classify", "response_format": ` + schema + `}`
	budget := &fakeBudget{}
	step := aiStep(input, budget)
	_, err := a.Execute(context.Background(), step)
	outputWantCode(t, err, weft.CodeAIInvalidOutput, true)
	for _, want := range []string{"the reply does not match the response format's schema", "reply.score: must be <= 1, got 1.5", "reply.sentiment: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not hold %q", err, want)
		}
	}
	step.Attempt = 2
	raw, err := a.Execute(context.Background(), step)
	if err != nil {
		t.Fatal(err)
	}
	if out := aiOut(t, raw); string(out.JSON) != `{"sentiment":"positive","score":0.9}` || out.Usage.TotalTokens != 28 {
		t.Errorf("output %s", raw)
	}
	if len(budget.spent) != 2 || budget.spent[0].TotalTokens != 29 || budget.spent[1].TotalTokens != 28 {
		t.Errorf("spent %v: the refused reply's tokens must count too", budget.spent)
	}
	for i, r := range srv.Received() {
		var got, want any
		_ = json.Unmarshal(r.Chat.ResponseFormat, &got)
		_ = json.Unmarshal([]byte(`{"type": "json_schema", "json_schema": {"name": "analyze", "schema": `+schema+`}}`), &want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request %d: response_format %s", i, r.Chat.ResponseFormat)
		}
		if m := r.Chat.Messages[0]; m.Role != "system" || !strings.Contains(m.Content, "JSON") {
			t.Errorf("request %d: no JSON instruction: %+v", i, r.Chat.Messages)
		}
	}
}

// TestAIEcho runs the step with the echo provider, as weft run
// --ai-provider echo does, through the registry.
func TestAIEcho(t *testing.T) {
	ps := &ai.Providers{}
	if err := ps.Add("echo", echo.New()); err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(&Config{AI: ps})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := reg.Lookup("ai")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := exec.(weft.Throttler); !ok {
		t.Error("the ai executor is not a weft.Throttler")
	}
	budget := &fakeBudget{}
	raw, err := exec.Execute(context.Background(), aiStep(`{"prompt": "Analyze data"}`, budget))
	if err != nil {
		t.Fatal(err)
	}
	out := aiOut(t, raw)
	want := "Analyze data\n\nContext (JSON):\n" + `{"process_a":{"value":1},"process_b":{"value":2}}`
	if out.Text != want || out.Model != "echo" || !out.Usage.IsZero() || string(out.JSON) != "null" || len(budget.spent) != 1 {
		t.Errorf("output %s, spent %v", raw, budget.spent)
	}
	// With JSON asked for, echo answers JSON.
	raw, err = exec.Execute(context.Background(), aiStep(`{"prompt": "Analyze data", "response_format": "json", "include_data": false}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if out := aiOut(t, raw); !strings.Contains(string(out.JSON), `"prompt":"Analyze data"`) {
		t.Errorf("output %s", raw)
	}
}

func TestAISchemaName(t *testing.T) {
	for in, want := range map[string]string{"": "response", "analyze": "analyze", "a.b c": "a_b_c", strings.Repeat("x", 80): strings.Repeat("x", 64)} {
		if got := aiSchemaName(in); got != want {
			t.Errorf("aiSchemaName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"```json\n{}\n```": "{}", "```\n[1]```": "[1]", " {} ": "{}", "```": "```", "```x```": "```x```"} {
		if got := aiUnfence(in); got != want {
			t.Errorf("aiUnfence(%q) = %q, want %q", in, got, want)
		}
	}
}
