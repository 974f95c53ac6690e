package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai/aitest"
)

const seedParallel = "../../examples/seed_parallel.json"

// testKey is a recognisable API key: it must never appear in weft's
// output.
const testKey = "sk-weft-cli-KEY-91c0ffee"

// noAIEnv clears the AI environment, so that a developer's own key or
// server does not change what a test sees.
func noAIEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{envAIBaseURL, envAIAPIKey, envOpenAIAPIKey, envAIModel} {
		t.Setenv(v, "")
	}
}

// TestRunNoAIProvider: without a provider, the ai step fails for good
// (code invalid, one attempt) and says how to configure one.
func TestRunNoAIProvider(t *testing.T) {
	noAIEnv(t)
	r := cli(t, "run", "--json", seedParallel)
	doc := parseRunDoc(t, r)
	if r.code != exitRunFailed || doc.Status != "failed" {
		t.Fatalf("exit %d, status %s, want 1 and failed\nstderr: %s", r.code, doc.Status, r.stderr)
	}
	s := doc.step(t, "ai_analysis")
	if s.Status != "failed" || s.Error == nil || s.Error.Code != "invalid" || s.Attempts != 1 {
		t.Fatalf("ai_analysis: %+v %+v", s, s.Error)
	}
	for _, want := range []string{"no AI provider is configured", "--ai-provider echo", "WEFT_AI_BASE_URL"} {
		if !strings.Contains(s.Error.Message, want) {
			t.Errorf("error %q does not say %q", s.Error.Message, want)
		}
	}
	if s := doc.step(t, "output"); s.Status != "skipped" || s.Reason != "upstream_failed" {
		t.Errorf("output: %+v", s)
	}
	for _, id := range []string{"input_a", "input_b", "process_a", "process_b"} {
		if s := doc.step(t, id); s.Status != "succeeded" {
			t.Errorf("%s: %+v", id, s)
		}
	}
}

// TestRunAIEcho: the offline provider answers with the prompt and both
// branches' data, and counts no tokens.
func TestRunAIEcho(t *testing.T) {
	noAIEnv(t)
	r := cli(t, "run", "--json", "--ai-provider", "echo", seedParallel)
	doc := parseRunDoc(t, r)
	if r.code != exitOK || doc.Status != "succeeded" || r.stderr != "" {
		t.Fatalf("exit %d, status %s, error %+v, stderr %q", r.code, doc.Status, doc.Error, r.stderr)
	}
	var out struct {
		Text, Model string
		JSON        json.RawMessage
	}
	if err := json.Unmarshal(doc.step(t, "ai_analysis").Output, &out); err != nil {
		t.Fatal(err)
	}
	want := "Analyze data\n\nContext (JSON):\n" + `{"process_a":{"value":1},"process_b":{"value":2}}`
	if out.Text != want || out.Model != "echo" || string(out.JSON) != "null" {
		t.Errorf("ai_analysis output %s", doc.step(t, "ai_analysis").Output)
	}
	// The run's result is the output step's, the ai step's output.
	if !jsonEq(t, string(doc.Result), string(doc.step(t, "ai_analysis").Output)) {
		t.Errorf("result %s", doc.Result)
	}
	if !jsonEq(t, string(doc.Metrics["ai_tokens"]), `{"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}`) {
		t.Errorf("ai_tokens %s", doc.Metrics["ai_tokens"])
	}
}

// TestRunAIOpenAI runs the parallel seed against a fake OpenAI-compatible
// server configured by the environment.
func TestRunAIOpenAI(t *testing.T) {
	noAIEnv(t)
	srv := aitest.NewServer(t, aitest.Reply{Text: "a = 1, b = 2", Model: "llama3.2:latest",
		Usage: weft.Usage{PromptTokens: 31, CompletionTokens: 9, TotalTokens: 40}})
	t.Setenv(envAIBaseURL, srv.URL)
	t.Setenv(envOpenAIAPIKey, testKey) // the fallback of WEFT_AI_API_KEY
	t.Setenv(envAIModel, "llama3.2")
	// The base URL is trusted: no --allow-hosts for 127.0.0.1.
	r := cli(t, "run", "--json", "--ai-rpm", "60", seedParallel)
	doc := parseRunDoc(t, r)
	if r.code != exitOK || doc.Status != "succeeded" {
		t.Fatalf("exit %d, status %s, error %+v, stderr %q", r.code, doc.Status, doc.Error, r.stderr)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	c := got[0].Chat
	if c.Model != "llama3.2" || len(c.Messages) != 1 || c.Messages[0].Role != "user" ||
		c.Messages[0].Content != "Analyze data\n\nContext (JSON):\n"+`{"process_a":{"value":1},"process_b":{"value":2}}` {
		t.Errorf("request %s", got[0].Body)
	}
	if got[0].Header.Get("Authorization") != "Bearer "+testKey {
		t.Errorf("Authorization %q", got[0].Header.Get("Authorization"))
	}
	s := doc.step(t, "ai_analysis")
	if s.AITokens == nil || *s.AITokens != (tokensDoc{31, 9, 40}) {
		t.Errorf("ai_analysis ai_tokens %+v", s.AITokens)
	}
	if doc.step(t, "input_a").AITokens != nil {
		t.Errorf("input_a has ai_tokens")
	}
	if !jsonEq(t, string(doc.Metrics["ai_tokens"]), `{"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}`) {
		t.Errorf("ai_tokens %s", doc.Metrics["ai_tokens"])
	}
	var out struct{ Text, Model string }
	if err := json.Unmarshal(s.Output, &out); err != nil || out.Text != "a = 1, b = 2" || out.Model != "llama3.2:latest" {
		t.Errorf("output %s", s.Output)
	}
	if strings.Contains(r.stdout+r.stderr, testKey) {
		t.Error("the key is in weft's output")
	}
}

// TestRunAIUnauthorized: a 401 is not retried, and the key is nowhere in
// what weft prints, in any view.
func TestRunAIUnauthorized(t *testing.T) {
	noAIEnv(t)
	srv := aitest.NewServer(t)
	t.Setenv(envAIBaseURL, srv.URL)
	t.Setenv(envAIAPIKey, testKey)
	t.Setenv(envOpenAIAPIKey, "sk-other-key-that-loses")
	t.Setenv(envAIModel, "gpt-4o-mini")
	for _, args := range [][]string{{"--json"}, {}, {"-q"}} {
		srv.Push(aitest.Reply{Status: http.StatusUnauthorized, Error: "Incorrect API key provided", EchoAuth: true})
		before := srv.Count()
		r := cli(t, append(append([]string{"run"}, args...), seedParallel)...)
		if r.code != exitRunFailed {
			t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
		if n := srv.Count() - before; n != 1 {
			t.Errorf("%v: %d requests, want 1 (invalid is not retried)", args, n)
		}
		if strings.Contains(r.stdout+r.stderr, testKey) {
			t.Errorf("%v: the key is in weft's output:\n%s\n%s", args, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, "401 Unauthorized") {
			t.Errorf("%v: the 401 is not reported:\n%s\n%s", args, r.stdout, r.stderr)
		}
		if len(args) == 1 && args[0] == "--json" {
			s := parseRunDoc(t, r).step(t, "ai_analysis")
			if s.Error == nil || s.Error.Code != "invalid" || s.Attempts != 1 {
				t.Errorf("ai_analysis %+v %+v", s, s.Error)
			}
		}
	}
	if h := srv.Received()[0].Header.Get("Authorization"); h != "Bearer "+testKey {
		t.Errorf("Authorization %q: WEFT_AI_API_KEY wins over OPENAI_API_KEY", h)
	}
}

func TestRunAIFlags(t *testing.T) {
	noAIEnv(t)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"unknown provider", nil, []string{"--ai-provider", "ecko"},
			"weft: --ai-provider \"ecko\": expected echo (offline, for dry runs) or openai (an OpenAI-compatible server) (did you mean \"echo\"?)\n"},
		{"openai without configuration", nil, []string{"--ai-provider", "openai"},
			"weft: --ai-provider openai: set $WEFT_AI_BASE_URL (an OpenAI-compatible server, such as Ollama's http://localhost:11434/v1) or $WEFT_AI_API_KEY (or $OPENAI_API_KEY) for OpenAI\n"},
		{"bad base URL", map[string]string{envAIBaseURL: "localhost:11434", envAIAPIKey: testKey}, nil,
			"weft: $WEFT_AI_BASE_URL: ai provider openai: base URL \"localhost:11434\": expected an http or https URL"},
		{"negative rpm", nil, []string{"--ai-rpm", "-1", "--ai-provider", "echo"},
			"weft: --ai-rpm -1: expected 0 (no limit) or more requests per minute\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := cli(t, append(append([]string{"run"}, tt.args...), seedParallel)...)
			if r.code != exitUsage || r.stdout != "" || !strings.HasPrefix(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q\nstderr %q\nwant   %q", r.code, r.stdout, r.stderr, tt.stderr)
			}
			if strings.Contains(r.stderr, testKey) {
				t.Error("the key is in the error")
			}
		})
	}

	// With a server configured, echo can still be the default: openai is
	// then there by name.
	srv := aitest.NewServer(t)
	t.Setenv(envAIBaseURL, srv.URL)
	t.Setenv(envAIModel, "m")
	file := writeWorkflow(t, `{"id": "two", "steps": {
  "dry": {"type": "ai", "input": {"prompt": "offline"}},
  "real": {"type": "ai", "input": {"prompt": "online", "provider": "openai"}}
}}`)
	r := cli(t, "run", "--json", "--ai-provider", "echo", file)
	doc := parseRunDoc(t, r)
	if r.code != exitOK || srv.Count() != 1 {
		t.Fatalf("exit %d, %d requests, error %+v", r.code, srv.Count(), doc.Error)
	}
	var dry struct{ Model string }
	if err := json.Unmarshal(doc.step(t, "dry").Output, &dry); err != nil || dry.Model != "echo" {
		t.Errorf("dry output %s", doc.step(t, "dry").Output)
	}
}
