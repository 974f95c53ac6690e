package executor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/aitest"
	"github.com/weft-dev/weft/ai/openai"
)

// The limits on ai steps: the token budget, and the provider's rate
// limiter (Throttle).

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
