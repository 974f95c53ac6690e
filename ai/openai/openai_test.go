package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/aitest"
	"github.com/weft-dev/weft/ai/openai"
)

// key is a recognisable API key: it must never appear in an error.
const key = "sk-weft-test-KEY-do-not-leak-7f3a9c"

func newProvider(t *testing.T, srv *aitest.Server, cfg openai.Config) *openai.Provider {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = key
	}
	if cfg.Model == "" {
		cfg.Model = "gpt-test"
	}
	p, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// wantCode checks an error's code and retry decision, and that the key is
// nowhere in it or its causes.
func wantCode(t *testing.T, err error, code weft.Code, retryable bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want code %s", code)
	}
	if got := weft.ErrorCode(err); got != code || weft.IsRetryable(err) != retryable {
		t.Fatalf("error %q: code %s retryable %v, want %s retryable %v", err, got, weft.IsRetryable(err), code, retryable)
	}
	noKey(t, err)
}

// noKey checks that the key appears in no error of err's chain, however
// printed.
func noKey(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range []string{e.Error(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			if strings.Contains(s, key) {
				t.Fatalf("the API key is in the error: %s", s)
			}
		}
	}
}

func TestCompleteSuccess(t *testing.T) {
	srv := aitest.NewServer(t, aitest.Reply{Text: "Hello!", Model: "gpt-test-2025", FinishReason: "stop",
		Usage: weft.Usage{PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15}})
	p := newProvider(t, srv, openai.Config{})
	resp, err := p.Complete(context.Background(), &ai.Request{
		Messages: []ai.Message{
			{Role: ai.RoleSystem, Content: "be brief"},
			{Role: ai.RoleUser, Content: "Say hello"},
			{Role: ai.RoleAssistant, Content: "Hi"},
			{Role: ai.RoleUser, Content: "Again"},
		},
		Temperature: ptr(0.25),
		MaxTokens:   ptr[int64](50),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "Hello!" || resp.Model != "gpt-test-2025" || resp.FinishReason != "stop" ||
		resp.Usage != (weft.Usage{PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15}) {
		t.Errorf("response %+v", resp)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+key {
		t.Errorf("request %s %s, Authorization %q", r.Method, r.Path, r.Header.Get("Authorization"))
	}
	want := []aitest.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "Say hello"}, {Role: "assistant", Content: "Hi"}, {Role: "user", Content: "Again"}}
	if r.Chat.Model != "gpt-test" || fmt.Sprint(r.Chat.Messages) != fmt.Sprint(want) ||
		r.Chat.Temperature == nil || *r.Chat.Temperature != 0.25 || r.Chat.MaxTokens == nil || *r.Chat.MaxTokens != 50 {
		t.Errorf("request body %s", r.Body)
	}
	// Text is the default: no response_format is sent.
	if r.Chat.ResponseFormat != nil {
		t.Errorf("response_format %s, want none", r.Chat.ResponseFormat)
	}
	var body map[string]any
	_ = json.Unmarshal(r.Body, &body)
	for _, k := range []string{"stream", "n", "max_completion_tokens"} {
		if _, ok := body[k]; ok {
			t.Errorf("the body has %q: %s", k, r.Body)
		}
	}
}

func TestCompleteModel(t *testing.T) {
	srv := aitest.NewServer(t, aitest.Reply{Text: "a"}, aitest.Reply{Text: "b", Usage: weft.Usage{PromptTokens: 4, CompletionTokens: 2}})
	p := newProvider(t, srv, openai.Config{Model: "default-model"})
	if p.Model() != "default-model" || p.Name() != "openai" || p.Limiter() != nil {
		t.Errorf("model %q, name %q, limiter %v", p.Model(), p.Name(), p.Limiter())
	}
	if _, err := p.Complete(context.Background(), &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "x"}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Complete(context.Background(), &ai.Request{Model: "step-model", Messages: []ai.Message{{Role: ai.RoleUser, Content: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The model of the answer is the server's (here the requested one);
	// total tokens are added up when the server leaves them out.
	if resp.Model != "step-model" || resp.Usage.TotalTokens != 6 {
		t.Errorf("response %+v", resp)
	}
	got := srv.Received()
	if got[0].Chat.Model != "default-model" || got[1].Chat.Model != "step-model" {
		t.Errorf("models %q, %q", got[0].Chat.Model, got[1].Chat.Model)
	}

	// No model at all: invalid, and nothing is sent.
	p2, err := openai.New(openai.Config{BaseURL: srv.URL, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p2.Complete(context.Background(), &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "x"}}})
	wantCode(t, err, weft.CodeInvalid, false)
	if !strings.Contains(err.Error(), "no model") || srv.Count() != 2 {
		t.Errorf("error %q, %d requests", err, srv.Count())
	}
}

func TestCompleteResponseFormats(t *testing.T) {
	srv := aitest.NewServer(t, aitest.Reply{Text: `{"a": 1}`}, aitest.Reply{Text: `{"n": 2}`})
	p := newProvider(t, srv, openai.Config{})
	msgs := []ai.Message{{Role: ai.RoleUser, Content: "json please"}}
	if _, err := p.Complete(context.Background(), &ai.Request{Messages: msgs, ResponseFormat: ai.ResponseFormat{Type: ai.FormatJSON}}); err != nil {
		t.Fatal(err)
	}
	schema := `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}`
	if _, err := p.Complete(context.Background(), &ai.Request{Messages: msgs,
		ResponseFormat: ai.ResponseFormat{Type: ai.FormatJSONSchema, Name: "count", Schema: json.RawMessage(schema)}}); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	var f1, f2 any
	_ = json.Unmarshal(got[0].Chat.ResponseFormat, &f1)
	_ = json.Unmarshal(got[1].Chat.ResponseFormat, &f2)
	var want2 any
	_ = json.Unmarshal([]byte(`{"type": "json_schema", "json_schema": {"name": "count", "schema": `+schema+`}}`), &want2)
	if fmt.Sprint(f1) != fmt.Sprint(map[string]any{"type": "json_object"}) {
		t.Errorf("JSON mode: response_format %s", got[0].Chat.ResponseFormat)
	}
	if fmt.Sprint(f2) != fmt.Sprint(want2) {
		t.Errorf("schema: response_format %s", got[1].Chat.ResponseFormat)
	}

	// Bad formats are refused before sending.
	for _, rf := range []ai.ResponseFormat{
		{Type: "xml"},
		{Type: ai.FormatJSONSchema, Name: "no spaces", Schema: json.RawMessage(`{}`)},
		{Type: ai.FormatJSONSchema, Schema: json.RawMessage(`{`)},
	} {
		_, err := p.Complete(context.Background(), &ai.Request{Messages: msgs, ResponseFormat: rf})
		wantCode(t, err, weft.CodeInvalid, false)
	}
	if srv.Count() != 2 {
		t.Errorf("%d requests, want 2", srv.Count())
	}
}

// TestCompleteErrors makes every error path happen, with a recognisable
// key, and checks the codes, the single request (no SDK retries) and that
// the key is in no error.
func TestCompleteErrors(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		reply      aitest.Reply
		code       weft.Code
		retryable  bool
		retryAfter time.Duration
		msg        string
	}{
		{"429 Retry-After seconds", aitest.Reply{Status: 429, Header: http.Header{"Retry-After": {"3"}}, Error: "Rate limit reached", EchoAuth: true},
			weft.CodeRateLimited, true, 3 * time.Second, "rate limited: 429 Too Many Requests: Rate limit reached"},
		{"429 Retry-After date", aitest.Reply{Status: 429, Header: http.Header{"Retry-After": {now.Add(2 * time.Minute).Format(http.TimeFormat)}}},
			weft.CodeRateLimited, true, 2 * time.Minute, "(retry after 2m0s)"},
		{"429 retry-after-ms", aitest.Reply{Status: 429, Header: http.Header{"Retry-After-Ms": {"1500"}}},
			weft.CodeRateLimited, true, 1500 * time.Millisecond, "(retry after 1.5s)"},
		{"500", aitest.Reply{Status: 500, Error: "The server had an error", EchoAuth: true},
			weft.CodeUnavailable, true, 0, "server error: 500 Internal Server Error: The server had an error"},
		{"502 text", aitest.Reply{Status: 502, Body: "<html>Bad gateway " + key + "</html>", Header: http.Header{"Content-Type": {"text/html"}}},
			weft.CodeUnavailable, true, 0, "server error: 502 Bad Gateway: <html>Bad gateway [redacted]</html>"},
		{"503 ollama style", aitest.Reply{Status: 503, Body: `{"error": "server busy"}`},
			weft.CodeUnavailable, true, 0, "server error: 503 Service Unavailable: server busy"},
		{"401", aitest.Reply{Status: 401, Error: "Incorrect API key provided", Code: "invalid_api_key", EchoAuth: true},
			weft.CodeInvalid, false, 0, "request refused: 401 Unauthorized: invalid_api_key: Incorrect API key provided (you sent: Bearer [redacted]) (check the provider's API key)"},
		{"403", aitest.Reply{Status: 403, Error: "forbidden"}, weft.CodeInvalid, false, 0, "403 Forbidden"},
		{"404", aitest.Reply{Status: 404, Error: "The model `nope` does not exist", Code: "model_not_found"}, weft.CodeInvalid, false, 0,
			"404 Not Found: model_not_found: The model `nope` does not exist"},
		{"400", aitest.Reply{Status: 400, Error: "Invalid value for temperature"}, weft.CodeInvalid, false, 0, "400 Bad Request"},
		{"context length", aitest.Reply{Status: 400, Code: "context_length_exceeded",
			Error: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."},
			weft.CodeInvalid, false, 0, "the request is longer than the model's context"},
		{"no choices", aitest.Reply{Body: `{"id": "x", "object": "chat.completion", "model": "m", "choices": []}`},
			weft.CodeUnavailable, true, 0, "the server answered with no choices"},
		{"not JSON", aitest.Reply{Body: `<html>` + key + `</html>`},
			weft.CodeUnavailable, true, 0, "unreadable answer"},
		{"refusal", aitest.Reply{Body: `{"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
			"message": {"role": "assistant", "content": "", "refusal": "I can't help with that."}}]}`},
			weft.CodeAIInvalidOutput, true, 0, "the model refused: I can't help with that."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := aitest.NewServer(t, tt.reply)
			p := newProvider(t, srv, openai.Config{Name: "prov", Now: func() time.Time { return now }})
			_, err := p.Complete(context.Background(), &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
			wantCode(t, err, tt.code, tt.retryable)
			if got := weft.RetryAfterOf(err); got != tt.retryAfter {
				t.Errorf("RetryAfter %s, want %s", got, tt.retryAfter)
			}
			if !strings.HasPrefix(err.Error(), "ai provider prov: ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q, want it to hold %q", err, tt.msg)
			}
			if n := srv.Count(); n != 1 {
				t.Errorf("%d requests, want 1 (the SDK must not retry)", n)
			}
		})
	}
}

func TestCompleteTimeout(t *testing.T) {
	srv := aitest.NewServer(t, aitest.Reply{Delay: 5 * time.Second, Text: "late"})
	p := newProvider(t, srv, openai.Config{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := p.Complete(context.Background(), &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
	wantCode(t, err, weft.CodeTimeout, true)
	if !strings.Contains(err.Error(), "no answer within 50ms") || time.Since(start) > 3*time.Second {
		t.Errorf("error %q after %s", err, time.Since(start))
	}

	// The step's own deadline and cancellation.
	srv.Push(aitest.Reply{Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p2 := newProvider(t, srv, openai.Config{})
	_, err = p2.Complete(ctx, &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
	wantCode(t, err, weft.CodeTimeout, true)
	if !strings.Contains(err.Error(), "the step ran out of time") {
		t.Errorf("error %q", err)
	}
	srv.Push(aitest.Reply{Delay: 5 * time.Second})
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = p2.Complete(ctx, &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
	wantCode(t, err, weft.CodeCanceled, false)
}

func TestCompleteConnectionRefused(t *testing.T) {
	srv := aitest.NewServer(t)
	srv.Close()
	p := newProvider(t, srv, openai.Config{})
	_, err := p.Complete(context.Background(), &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
	wantCode(t, err, weft.CodeUnavailable, true)
	if !strings.Contains(err.Error(), "cannot reach the server") || strings.Contains(err.Error(), "http://") {
		t.Errorf("error %q", err)
	}
}

// TestCompleteIgnoresEnvironment: the SDK's OPENAI_* variables do not
// leak into a configured provider: no key is sent to a server configured
// without one.
func TestCompleteIgnoresEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", key)
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_ORG_ID", "org-weft")
	srv := aitest.NewServer(t)
	p, err := openai.New(openai.Config{BaseURL: srv.URL + "/", Model: "llama3.2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Complete(context.Background(), &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	h := srv.Received()[0].Header
	if h.Get("Authorization") != "" || h.Get("OpenAI-Organization") != "" {
		t.Errorf("headers from the environment were sent: %v", h)
	}
	p.CloseIdleConnections()
}

// TestCompleteRateLimit: Complete waits for the provider's limiter, and
// uses a slot Throttle held without waiting.
func TestCompleteRateLimit(t *testing.T) {
	srv := aitest.NewServer(t)
	clock := aitest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	lim := ai.NewLimiter(2, clock)
	p := newProvider(t, srv, openai.Config{Limiter: lim, RequestsPerMinute: 1000})
	if p.Limiter() != lim {
		t.Fatal("Limiter is not the configured one")
	}
	req := &ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}}
	for range 3 {
		if _, err := p.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if s := clock.Slept(); len(s) != 1 || s[0] != 30*time.Second {
		t.Errorf("slept %v, want [30s]: the third request waits for a slot", s)
	}
	// Throttle says when; once it took a slot, Complete does not wait.
	if d := lim.Throttle(); d != 30*time.Second {
		t.Errorf("Throttle = %s, want 30s", d)
	}
	clock.Advance(30 * time.Second)
	if d := lim.Throttle(); d != 0 {
		t.Errorf("Throttle = %s, want 0", d)
	}
	if _, err := p.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if s := clock.Slept(); len(s) != 1 || srv.Count() != 4 {
		t.Errorf("slept %v, %d requests", s, srv.Count())
	}

	// RequestsPerMinute alone makes a limiter.
	p2 := newProvider(t, srv, openai.Config{RequestsPerMinute: 30})
	if p2.Limiter().PerMinute() != 30 {
		t.Errorf("limiter %v", p2.Limiter())
	}
	// A canceled wait is canceled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Complete(ctx, req)
	wantCode(t, err, weft.CodeCanceled, false)
}

func TestNewConfig(t *testing.T) {
	for _, cfg := range []openai.Config{
		{BaseURL: "localhost:11434/v1", APIKey: key},
		{BaseURL: "ftp://example.com/v1"},
		{BaseURL: "http://"},
		{BaseURL: "http://[::1"},
		{Timeout: -time.Second},
		{RequestsPerMinute: -1},
	} {
		if _, err := openai.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("the key is in %q", err)
		}
	}
	p, err := openai.New(openai.Config{Name: "local", BaseURL: "http://localhost:11434/v1/"})
	if err != nil || p.Name() != "local" {
		t.Errorf("New: %v", err)
	}
}
