package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestAIRateLimited: a 429 carries the server's Retry-After, for the
// engine to wait; the next attempt succeeds.
func TestAIRateLimited(t *testing.T) {
	a, srv := aiServer(t, openai.Config{},
		aitest.Reply{Status: 429, Header: http.Header{"Retry-After": {"2"}}, Error: "Rate limit reached for requests"},
		aitest.Reply{Text: "done"})
	step := aiStep(`{"prompt": "x"}`, &fakeBudget{})
	_, err := a.Execute(context.Background(), step)
	outputWantCode(t, err, weft.CodeRateLimited, true)
	if d := weft.RetryAfterOf(err); d != 2*time.Second {
		t.Errorf("RetryAfter %s, want 2s", d)
	}
	if !strings.HasPrefix(err.Error(), "ai step: ai provider openai: rate limited: 429 Too Many Requests") {
		t.Errorf("error %q", err)
	}
	raw, err := a.Execute(context.Background(), step)
	if err != nil || aiOut(t, raw).Text != "done" || srv.Count() != 2 {
		t.Errorf("second attempt: %s, %v, %d requests", raw, err, srv.Count())
	}
}

func TestAIServerErrors(t *testing.T) {
	a, srv := aiServer(t, openai.Config{},
		aitest.Reply{Status: 500, Error: "boom"}, aitest.Reply{Status: 503}, aitest.Reply{Text: "finally"})
	step := aiStep(`{"prompt": "x"}`, nil)
	for i := range 2 {
		_, err := a.Execute(context.Background(), step)
		outputWantCode(t, err, weft.CodeUnavailable, true)
		if i == 0 && err.Error() != "ai step: ai provider openai: server error: 500 Internal Server Error: boom" {
			t.Errorf("error %q", err)
		}
	}
	raw, err := a.Execute(context.Background(), step)
	if err != nil || aiOut(t, raw).Text != "finally" || srv.Count() != 3 {
		t.Errorf("third attempt: %s, %v, %d requests", raw, err, srv.Count())
	}
}

func TestAIUnauthorized(t *testing.T) {
	a, srv := aiServer(t, openai.Config{}, aitest.Reply{Status: 401, Error: "Incorrect API key provided", EchoAuth: true})
	budget := &fakeBudget{}
	_, err := a.Execute(context.Background(), aiStep(`{"prompt": "x"}`, budget))
	outputWantCode(t, err, weft.CodeInvalid, false)
	aiNoKey(t, err)
	if !strings.Contains(err.Error(), "401 Unauthorized") || srv.Count() != 1 || len(budget.spent) != 1 || !budget.spent[0].IsZero() {
		t.Errorf("error %q, %d requests, spent %v", err, srv.Count(), budget.spent)
	}
}

func TestAITimeout(t *testing.T) {
	a, _ := aiServer(t, openai.Config{Timeout: 50 * time.Millisecond}, aitest.Reply{Delay: 5 * time.Second})
	_, err := a.Execute(context.Background(), aiStep(`{"prompt": "x"}`, nil))
	outputWantCode(t, err, weft.CodeTimeout, true)
	if !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("error %q", err)
	}
}

// TestAIBudgetExceeded: a refused reservation fails the attempt with the
// budget's error and sends nothing.
func TestAIBudgetExceeded(t *testing.T) {
	a, srv := aiServer(t, openai.Config{})
	refusal := weft.Permanent(weft.Errorf(weft.CodeBudgetExceeded, "the run used 950 of its 1000 AI tokens: 100 more would pass the budget"))
	budget := &fakeBudget{refuse: refusal}
	_, err := a.Execute(context.Background(), aiStep(`{"prompt": "x", "max_tokens": 100}`, budget))
	outputWantCode(t, err, weft.CodeBudgetExceeded, false)
	if !errors.Is(err, refusal) || fmt.Sprint(budget.reserved) != "[100]" || len(budget.spent) != 0 || srv.Count() != 0 {
		t.Errorf("error %v, reserved %v, spent %v, %d requests", err, budget.reserved, budget.spent, srv.Count())
	}
}

// TestAIKeyNeverLeaks makes every error path of the executor happen and
// checks that the key appears in no error and no output.
func TestAIKeyNeverLeaks(t *testing.T) {
	replies := []aitest.Reply{
		{Status: 400, Error: "bad", EchoAuth: true}, {Status: 401, EchoAuth: true, Error: "no"}, {Status: 403, EchoAuth: true, Error: "no"},
		{Status: 404, EchoAuth: true, Error: "no"}, {Status: 429, EchoAuth: true, Error: "slow down"}, {Status: 500, EchoAuth: true, Error: "x"},
		{Status: 502, Body: aiKey}, {Body: "not json " + aiKey}, {Text: "not json " + aiKey},
		{Status: 400, Code: "context_length_exceeded", Error: "too long " + aiKey},
	}
	a, _ := aiServer(t, openai.Config{Timeout: time.Second}, replies...)
	for range replies {
		_, err := a.Execute(context.Background(), aiStep(`{"prompt": "x", "response_format": "json"}`, nil))
		if err == nil {
			t.Fatal("no error")
		}
		aiNoKey(t, err)
	}
	// And a refused connection.
	b, srv := aiServer(t, openai.Config{})
	srv.Close()
	_, err := b.Execute(context.Background(), aiStep(`{"prompt": "x"}`, nil))
	outputWantCode(t, err, weft.CodeUnavailable, true)
	aiNoKey(t, err)
}

// TestAIThrottle: the engine's Throttle takes a provider's slots; the
// N+1th step waits a minute/N; Execute then uses the slot without waiting.
func TestAIThrottle(t *testing.T) {
	clock := aitest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	a, srv := aiServer(t, openai.Config{Limiter: ai.NewLimiter(2, clock)})
	in := `{"prompt": "x"}`
	for i := range 2 {
		if d := a.Throttle([]byte(in)); d != 0 {
			t.Fatalf("step %d: Throttle = %s, want 0", i+1, d)
		}
	}
	if d := a.Throttle([]byte(in)); d != 30*time.Second {
		t.Fatalf("third step: Throttle = %s, want 30s", d)
	}
	if d := a.Throttle([]byte(`{"prompt": "x", "provider": "openai"}`)); d != 30*time.Second {
		t.Fatalf("named provider: Throttle = %s, want 30s", d)
	}
	// Other providers, unknown ones, templates and bad inputs do not wait.
	for _, in := range []string{`{"prompt": "x", "provider": "echo"}`, `{"provider": "nope"}`,
		`{"provider": "{{ params.p }}"}`, `{"provider": 3}`, `[1]`} {
		if d := a.Throttle([]byte(in)); d != 0 {
			t.Errorf("Throttle(%s) = %s, want 0", in, d)
		}
	}
	// The two steps admitted run at once.
	for range 2 {
		if _, err := a.Execute(context.Background(), aiStep(in, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if s := clock.Slept(); len(s) != 0 || srv.Count() != 2 {
		t.Fatalf("slept %v, %d requests", s, srv.Count())
	}
	// Used directly, without Throttle, Execute waits for the slot.
	if _, err := a.Execute(context.Background(), aiStep(in, nil)); err != nil {
		t.Fatal(err)
	}
	if s := clock.Slept(); fmt.Sprint(s) != "[30s]" {
		t.Fatalf("slept %v, want [30s]", s)
	}
	// Without a limited provider, Throttle is 0 without reading the input.
	if d := NewAI(nil).Throttle([]byte(in)); d != 0 {
		t.Errorf("no providers: %s", d)
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

func TestAIContextTruncated(t *testing.T) {
	a := NewAI(&ai.Providers{})
	_ = a.providers.Add("echo", echo.New())
	step := aiStep(`{"prompt": "Sum", "max_context_bytes": 18}`, nil)
	step.Data = json.RawMessage(`{"text": "héllo wörld", "n": [1, 2, 3, 4, 5]}`)
	raw, err := a.Execute(context.Background(), step)
	if err != nil {
		t.Fatal(err)
	}
	// The compact JSON is 40 bytes; 18 would split "ö", so 17 are kept.
	want := "Sum\n\nContext (JSON):\n" + `{"text":"héllo w` + "…[truncated 23 bytes]"
	if got := aiOut(t, raw).Text; got != want {
		t.Errorf("text %q\nwant %q", got, want)
	}
	// Under the bound, nothing is cut; null data attaches nothing.
	step = aiStep(`{"prompt": "Sum", "max_context_bytes": 40}`, nil)
	step.Data = json.RawMessage(`{"text": "héllo wörld", "n": [1, 2, 3, 4, 5]}`)
	raw, _ = a.Execute(context.Background(), step)
	if got := aiOut(t, raw).Text; strings.Contains(got, "truncated") {
		t.Errorf("text %q", got)
	}
	step.Data = json.RawMessage(`null`)
	raw, _ = a.Execute(context.Background(), step)
	if got := aiOut(t, raw).Text; got != "Sum" {
		t.Errorf("text %q", got)
	}
	if got := aiContext(json.RawMessage(strings.Repeat(`"x"`, 1)), 1); got != `"…[truncated 2 bytes]` {
		t.Errorf("aiContext = %q", got)
	}
}

// TestAIRunTimeInput: rendered templates are checked when the step runs;
// a prompt that a template made a JSON value is sent as its JSON.
func TestAIRunTimeInput(t *testing.T) {
	a := NewAI(&ai.Providers{})
	_ = a.providers.Add("echo", echo.New())
	raw, err := a.Execute(context.Background(), aiStep(`{"prompt": {"q": 1}, "include_data": false, "temperature": null}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := aiOut(t, raw).Text; got != `{"q":1}` {
		t.Errorf("text %q", got)
	}
	for _, tt := range []struct{ input, msg string }{
		{`{}`, "ai step: input: an ai step needs a prompt: what to ask the model"},
		{`{"prompt": "  "}`, "ai step: input.prompt: the prompt is empty"},
		{`{"prompt": null}`, "ai step: input.prompt: the prompt is empty"},
		{`{"prompt": "x", "temperature": "hot"}`, "ai step: input.temperature: expected a number, found a string"},
		{`{"prompt": "x", "max_tokens": 0}`, "ai step: input.max_tokens: max_tokens must be a whole number of 1 or more, got 0"},
		{`{"prompt": "x", "response_format": "jsn"}`, `ai step: input.response_format: unknown response format "jsn": expected "text", "json" or a JSON Schema object (did you mean "json"?)`},
	} {
		_, err := a.Execute(context.Background(), aiStep(tt.input, nil))
		outputWantCode(t, err, weft.CodeInvalid, false)
		if err.Error() != tt.msg {
			t.Errorf("%s: error %q\nwant %q", tt.input, err, tt.msg)
		}
	}
}

func TestAIValidateInput(t *testing.T) {
	tests := []struct {
		input string
		want  []weft.ValidationError
	}{
		{input: `{"prompt": "Analyze data"}`},
		{input: `{"prompt": "Summarize {{ data }}", "system": "be brief", "provider": "openai", "model": "gpt-4o-mini",
			"temperature": 0.2, "max_tokens": 200, "response_format": {"type": "object"}, "include_data": false, "max_context_bytes": 4096}`},
		{input: `{"prompt": "x", "response_format": "json"}`},
		{input: `{"prompt": "x", "response_format": "text", "temperature": 0, "max_tokens": 1}`},
		// Templates are checked at run time.
		{input: `{"prompt": "x", "temperature": "{{ params.t }}", "max_tokens": "{{ params.n }}", "response_format": "{{ params.f }}",
			"include_data": "{{ params.i }}", "max_context_bytes": "{{ params.m }}", "provider": "{{ params.p }}"}`},
		{input: `{"prompt": "x", "response_format": {"type": "object", "properties": {"a": {"const": "{{ params.a }}"}}}}`},
		{input: ``, want: []weft.ValidationError{{Path: "$", Code: weft.VRequired, Message: "an ai step needs a prompt: what to ask the model"}}},
		{input: `{"prompt": 3}`, want: []weft.ValidationError{{Path: "$.prompt", Code: weft.VType, Message: "expected a string, found a number"}}},
		{input: `{"prompt": ""}`, want: []weft.ValidationError{{Path: "$.prompt", Code: weft.VInvalidValue, Message: "the prompt is empty"}}},
		{input: `{"prompt": "x", "promt": "x"}`, want: []weft.ValidationError{{Path: "$.promt", Code: weft.VUnknownField,
			Message: `unknown field "promt" in an ai step's input`, Suggestion: `did you mean "prompt"?`}}},
		{input: `"x"`, want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "expected an object, found a string"}}},
		{input: `{"prompt": "x", "system": 1, "provider": true, "model": []}`, want: []weft.ValidationError{
			{Path: "$.system", Code: weft.VType, Message: "expected a string, found a number"},
			{Path: "$.provider", Code: weft.VType, Message: "expected a string, found a boolean"},
			{Path: "$.model", Code: weft.VType, Message: "expected a string, found an array"},
		}},
		{input: `{"prompt": "x", "temperature": 2.5, "max_tokens": 1.5, "max_context_bytes": -1}`, want: []weft.ValidationError{
			{Path: "$.temperature", Code: weft.VInvalidValue, Message: "the temperature must be from 0 to 2, got 2.5"},
			{Path: "$.max_tokens", Code: weft.VInvalidValue, Message: "max_tokens must be a whole number of 1 or more, got 1.5"},
			{Path: "$.max_context_bytes", Code: weft.VInvalidValue, Message: "max_context_bytes must be a whole number of 1 or more, got -1"},
		}},
		{input: `{"prompt": "x", "include_data": "yes"}`, want: []weft.ValidationError{
			{Path: "$.include_data", Code: weft.VType, Message: "expected true or false, found a string"}}},
		{input: `{"prompt": "x", "response_format": "xml"}`, want: []weft.ValidationError{{Path: "$.response_format", Code: weft.VInvalidValue,
			Message: `unknown response format "xml": expected "text", "json" or a JSON Schema object`}}},
		{input: `{"prompt": "x", "response_format": 1}`, want: []weft.ValidationError{{Path: "$.response_format", Code: weft.VType,
			Message: `expected "text", "json" or a JSON Schema object, found a number`}}},
		{input: `{"prompt": "x", "response_format": {"type": "objekt"}}`, want: []weft.ValidationError{{Path: "$.response_format.type", Code: weft.VInvalidInput}}},
	}
	for _, tt := range tests {
		var raw json.RawMessage
		if tt.input != "" {
			raw = json.RawMessage(tt.input)
		}
		got := (&AI{}).ValidateInput(raw)
		if len(got) != len(tt.want) {
			t.Errorf("ValidateInput(%s) = %v, want %v", tt.input, got, tt.want)
			continue
		}
		for i := range got {
			w := tt.want[i]
			if w.Message == "" { // only the place and the code
				w.Message, w.Suggestion = got[i].Message, got[i].Suggestion
			}
			if got[i] != w {
				t.Errorf("ValidateInput(%s)[%d] = %+v, want %+v", tt.input, i, got[i], w)
			}
		}
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
