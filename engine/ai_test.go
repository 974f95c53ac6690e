package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
)

// spender is an executor that reserves and spends tokens like an AI step.
type spender struct{ reserve, spend int64 }

func (s spender) Execute(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	if err := sc.Tokens.Reserve(s.reserve); err != nil {
		return nil, err
	}
	sc.Tokens.Spend(weft.Usage{PromptTokens: s.spend / 2, CompletionTokens: s.spend - s.spend/2, TotalTokens: s.spend})
	return json.RawMessage(`"ok"`), nil
}

func TestTokenBudget(t *testing.T) {
	p := newProbe()
	e, reg := setup(t, p, nil)
	if err := reg.Register("spend", spender{reserve: 50, spend: 40}); err != nil {
		t.Fatal(err)
	}
	def := parse(t, reg, `{"id": "w", "ai_token_budget": 100, "steps": {
		"a": {"type": "spend"}, "b": {"type": "spend", "depends_on": ["a"]},
		"c": {"type": "spend", "depends_on": ["b"], "max_retries": 3}}}`)
	st, err := execute(t, e, def, nil)
	if st.State != weft.RunFailed || weft.ErrorCode(err) != weft.CodeBudgetExceeded {
		t.Fatalf("run %s: %v", st.State, err)
	}
	c := st.Steps["c"]
	if c.Status != weft.StepFailed || c.Attempts != 1 || c.Error.Code != weft.CodeBudgetExceeded {
		t.Errorf("c: %s after %d attempts, %+v", c.Status, c.Attempts, c.Error)
	}
	if st.Usage.TotalTokens != 80 || st.Steps["a"].Usage.TotalTokens != 40 || st.Steps["a"].Usage.PromptTokens != 20 {
		t.Errorf("usage: run %+v, a %+v", st.Usage, st.Steps["a"].Usage)
	}
	// Without a budget, tokens are only counted.
	def = parse(t, reg, `{"id": "free", "steps": {"a": {"type": "spend"}, "b": {"type": "spend"}, "c": {"type": "spend"}}}`)
	st, err = execute(t, e, def, nil)
	if err != nil || st.Usage.TotalTokens != 120 {
		t.Errorf("no budget: %v, usage %+v", err, st.Usage)
	}
}

// throttled is an executor whose steps may start at most once per gap.
type throttled struct {
	gap    time.Duration
	mu     sync.Mutex
	next   time.Time
	starts []time.Time
}

func (th *throttled) Throttle([]byte) time.Duration {
	th.mu.Lock()
	defer th.mu.Unlock()
	now := time.Now()
	if now.Before(th.next) {
		return th.next.Sub(now)
	}
	th.next = now.Add(th.gap)
	return 0
}

func (th *throttled) Execute(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	th.mu.Lock()
	th.starts = append(th.starts, time.Now())
	th.mu.Unlock()
	return json.RawMessage(`1`), nil
}

func TestThrottledStepsHoldNoSlot(t *testing.T) {
	p := newProbe()
	var quick atomic.Int32
	for _, id := range []string{"q1", "q2", "q3"} {
		p.on(id, func(context.Context, *weft.StepContext) (json.RawMessage, error) {
			quick.Add(1)
			return json.RawMessage(`1`), nil
		})
	}
	e, reg := setup(t, p, &engine.Config{MaxParallelSteps: 1})
	th := &throttled{gap: 80 * time.Millisecond}
	if err := reg.Register("limited", th); err != nil {
		t.Fatal(err)
	}
	def := parse(t, reg, `{"id": "w", "steps": {
		"l1": {"type": "limited"}, "l2": {"type": "limited"}, "l3": {"type": "limited"},
		"q1": {"type": "probe"}, "q2": {"type": "probe"}, "q3": {"type": "probe"}}}`)
	start := time.Now()
	st, err := execute(t, e, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.starts) != 3 || quick.Load() != 3 {
		t.Fatalf("starts %d, quick %d", len(th.starts), quick.Load())
	}
	for i := 1; i < 3; i++ {
		if gap := th.starts[i].Sub(th.starts[i-1]); gap < 75*time.Millisecond {
			t.Errorf("throttled starts %v apart, want at least 80ms", gap)
		}
	}
	// The quick steps did not wait behind the throttled ones: with one
	// slot, they ran while the throttled steps waited for their turn.
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("run took %v", elapsed)
	}
	for _, id := range []string{"q1", "q2", "q3"} {
		if st.Steps[id].StartedAt.After(th.starts[2]) {
			t.Errorf("%s started after the last throttled step: it waited behind them", id)
		}
	}
}
