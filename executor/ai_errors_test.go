package executor

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai/aitest"
	"github.com/weft-dev/weft/ai/openai"
)

// The ai executor's failures: the provider's errors and timeouts, and the
// API key kept out of them.

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
