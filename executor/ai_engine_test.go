package executor_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/aitest"
	"github.com/weft-dev/weft/ai/openai"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/workflow"
)

// fastClock runs a thousand times faster than real time: a limiter of 2
// requests per minute on it frees a slot every 30ms.
type fastClock struct {
	start time.Time
	slept atomic.Int32
}

func (c *fastClock) Now() time.Time { return c.start.Add(time.Since(c.start) * 1000) }

func (c *fastClock) Sleep(ctx context.Context, d time.Duration) error {
	c.slept.Add(1)
	t := time.NewTimer(d / 1000)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// aiEngine returns an engine whose ai steps talk to srv through a provider
// limited to 2 requests per (fast) minute.
func aiEngine(t *testing.T, srv *aitest.Server, clock *fastClock, cfg engine.Config) (*engine.Engine, *weft.Registry) {
	t.Helper()
	p, err := openai.New(openai.Config{BaseURL: srv.URL, APIKey: "k-test", Model: "m", Limiter: ai.NewLimiter(2, clock)})
	if err != nil {
		t.Fatal(err)
	}
	ps := &ai.Providers{}
	if err := ps.Add("openai", p); err != nil {
		t.Fatal(err)
	}
	reg, err := executor.NewRegistry(&executor.Config{AI: ps})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Registry = reg
	cfg.PollInterval = 5 * time.Millisecond
	eng, err := engine.New(inmem.New(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng, reg
}

func runDoc(t *testing.T, eng *engine.Engine, reg *weft.Registry, doc string) (*engine.Status, error) {
	t.Helper()
	def, err := workflow.Parse([]byte(doc), &workflow.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := eng.Execute(ctx, def, nil)
	if st == nil {
		t.Fatalf("no status: %v", err)
	}
	return st, err
}

// TestAIEngineRateLimit: through the engine, the provider's rate limit
// spaces the requests, the waiting steps hold no slot (quick steps run
// meanwhile on the only one), and no attempt waits inside Execute: the
// engine's Throttle took each slot.
func TestAIEngineRateLimit(t *testing.T) {
	srv := aitest.NewServer(t)
	clock := &fastClock{start: time.Now()}
	eng, reg := aiEngine(t, srv, clock, engine.Config{MaxParallelSteps: 1})
	st, err := runDoc(t, eng, reg, `{"id": "limited", "steps": {
		"a1": {"type": "ai", "input": {"prompt": "1"}}, "a2": {"type": "ai", "input": {"prompt": "2"}},
		"a3": {"type": "ai", "input": {"prompt": "3"}}, "a4": {"type": "ai", "input": {"prompt": "4"}},
		"q1": {"type": "input", "input": {"data": 1}}, "q2": {"type": "input", "input": {"data": 2}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 4 {
		t.Fatalf("%d requests", len(got))
	}
	// Two at once, then one every 30ms.
	if gap := got[2].At.Sub(got[0].At); gap < 25*time.Millisecond {
		t.Errorf("the third request came %v after the first, want about 30ms", gap)
	}
	if gap := got[3].At.Sub(got[0].At); gap < 55*time.Millisecond {
		t.Errorf("the fourth request came %v after the first, want about 60ms", gap)
	}
	if n := clock.slept.Load(); n != 0 {
		t.Errorf("attempts waited for the limiter %d times in Execute: the engine's Throttle should have taken their slots", n)
	}
	for _, id := range []string{"q1", "q2"} {
		if st.Steps[id].StartedAt.After(got[3].At) {
			t.Errorf("%s started after the last ai request: it waited behind the throttled steps", id)
		}
	}
}

// TestAIEngineTokens: usage adds up per step and per run, and a run that
// reached its ai_token_budget refuses the next ai step without a request.
func TestAIEngineTokens(t *testing.T) {
	u := weft.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30}
	srv := aitest.NewServer(t, aitest.Reply{Text: "one", Usage: u}, aitest.Reply{Text: "two", Usage: u})
	eng, reg := aiEngine(t, srv, &fastClock{start: time.Now()}, engine.Config{})
	st, err := runDoc(t, eng, reg, `{"id": "budget", "ai_token_budget": 50, "steps": {
		"a": {"type": "ai", "input": {"prompt": "1"}},
		"b": {"type": "ai", "input": {"prompt": "2"}, "depends_on": ["a"]},
		"c": {"type": "ai", "input": {"prompt": "3"}, "depends_on": ["b"], "max_retries": 3}}}`)
	if weft.ErrorCode(err) != weft.CodeBudgetExceeded {
		t.Fatalf("run error %v, want budget_exceeded", err)
	}
	c := st.Steps["c"]
	if c.Status != weft.StepFailed || c.Attempts != 1 || c.Error == nil || c.Error.Code != weft.CodeBudgetExceeded {
		t.Errorf("c: %s after %d attempts, %+v", c.Status, c.Attempts, c.Error)
	}
	if srv.Count() != 2 || st.Usage != (weft.Usage{PromptTokens: 40, CompletionTokens: 20, TotalTokens: 60}) || st.Steps["a"].Usage != u {
		t.Errorf("%d requests, run usage %+v, a %+v", srv.Count(), st.Usage, st.Steps["a"].Usage)
	}
	var out struct{ Text string }
	if err := json.Unmarshal(st.Steps["b"].Output, &out); err != nil || out.Text != "two" {
		t.Errorf("b output %s", st.Steps["b"].Output)
	}
}

// TestAIEngineRetries: the engine retries a 429 after the server's
// Retry-After, a 500, and a reply that does not match the schema, then
// the step succeeds; every reply's tokens count.
func TestAIEngineRetries(t *testing.T) {
	srv := aitest.NewServer(t,
		aitest.Reply{Status: 429, Header: map[string][]string{"Retry-After-Ms": {"200"}}, Error: "slow down"},
		aitest.Reply{Status: 500, Error: "oops"},
		aitest.Reply{Text: `{"n": "three"}`, Usage: weft.Usage{PromptTokens: 5, CompletionTokens: 5, TotalTokens: 10}},
		aitest.Reply{Text: `{"n": 3}`, Usage: weft.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}},
	)
	eng, reg := aiEngine(t, srv, &fastClock{start: time.Now()}, engine.Config{})
	st, err := runDoc(t, eng, reg, `{"id": "retries", "defaults": {"retry": {"initial_interval": "1ms", "jitter": "none"}}, "steps": {
		"count": {"type": "ai", "max_retries": 3,
		          "input": {"prompt": "Count", "response_format": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Steps["count"]
	var out struct{ JSON json.RawMessage }
	if s.Attempts != 4 || json.Unmarshal(s.Output, &out) != nil || string(out.JSON) != `{"n":3}` {
		t.Errorf("count: %d attempts, output %s", s.Attempts, s.Output)
	}
	got := srv.Received()
	if len(got) != 4 {
		t.Fatalf("%d requests", len(got))
	}
	if gap := got[1].At.Sub(got[0].At); gap < 200*time.Millisecond {
		t.Errorf("the retry after the 429 came %v later, want at least the 200ms the server asked", gap)
	}
	if s.Usage.TotalTokens != 19 || st.Usage.TotalTokens != 19 {
		t.Errorf("usage: step %+v, run %+v (the refused reply counts too)", s.Usage, st.Usage)
	}
}
