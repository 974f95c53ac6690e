package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
)

// statuses renders each step's status (and reason) as "id=status/reason".
func statuses(st *engine.Status) string {
	var parts []string
	for _, id := range st.Order {
		s := st.Steps[id]
		p := id + "=" + string(s.Status)
		if s.Reason != "" {
			p += "/" + s.Reason
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func fail(code weft.Code) func(context.Context, *weft.StepContext) (json.RawMessage, error) {
	return func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		return nil, weft.Errorf(code, "failed on purpose")
	}
}

func TestFailureAndSkipPropagation(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		fails []string
		state weft.RunStatus
		want  string
	}{
		{"failure skips dependents, independent branch finishes",
			`{"id": "w", "steps": {"a": {"type": "probe"}, "b": {"type": "probe", "depends_on": ["a"]}, "c": {"type": "probe", "depends_on": ["b"]}, "x": {"type": "probe"}}}`,
			[]string{"a"}, weft.RunFailed, "a=failed x=succeeded b=skipped/upstream_failed c=skipped/upstream_failed"},
		{"all_done cleanup runs after a failure",
			`{"id": "w", "steps": {"a": {"type": "probe"}, "cleanup": {"type": "probe", "depends_on": ["a"], "trigger": "all_done"}}}`,
			[]string{"a"}, weft.RunFailed, "a=failed cleanup=succeeded"},
		{"one_failed handler runs on failure",
			`{"id": "w", "steps": {"a": {"type": "probe"}, "b": {"type": "probe"}, "alert": {"type": "probe", "depends_on": ["a", "b"], "trigger": "one_failed"}}}`,
			[]string{"b"}, weft.RunFailed, "a=succeeded b=failed alert=succeeded"},
		{"one_failed handler skipped when nothing failed",
			`{"id": "w", "steps": {"a": {"type": "probe"}, "alert": {"type": "probe", "depends_on": ["a"], "trigger": "one_failed"}}}`,
			nil, weft.RunSucceeded, "a=succeeded alert=skipped/no_upstream_failure"},
		{"when false skips and skip propagates",
			`{"id": "w", "params": {"go": false}, "steps": {"a": {"type": "probe", "when": "params.go"}, "b": {"type": "probe", "depends_on": ["a"]}, "c": {"type": "probe", "depends_on": ["b"], "trigger": "all_done"}}}`,
			nil, weft.RunSucceeded, "a=skipped/when_false b=skipped/upstream_skipped c=succeeded"},
		{"when reads an upstream output",
			`{"id": "w", "steps": {"a": {"type": "input", "input": {"data": {"n": 3}}}, "big": {"type": "probe", "depends_on": ["a"], "when": "steps.a.output.n > 5"}, "small": {"type": "probe", "depends_on": ["a"], "when": "data.n <= 5"}}}`,
			nil, weft.RunSucceeded, "a=succeeded big=skipped/when_false small=succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe()
			for _, id := range tt.fails {
				p.on(id, fail(weft.CodeInvalid))
			}
			e, reg := setup(t, p, nil)
			st, err := execute(t, e, parse(t, reg, tt.doc), nil)
			if st.State != tt.state {
				t.Fatalf("run %s (%v), want %s: %s", st.State, err, tt.state, statuses(st))
			}
			if (err == nil) != (tt.state == weft.RunSucceeded) {
				t.Errorf("error %v for a run that %s", err, st.State)
			}
			got := statuses(st)
			for _, part := range strings.Fields(tt.want) {
				if !strings.Contains(" "+got+" ", " "+part+" ") {
					t.Errorf("missing %s in %s", part, got)
				}
			}
		})
	}
}

func TestRetries(t *testing.T) {
	p := newProbe()
	var calls atomic.Int32
	p.on("flaky", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		if calls.Add(1) < 3 {
			return nil, weft.Errorf(weft.CodeUnavailable, "503")
		}
		return json.RawMessage(`"ok"`), nil
	})
	p.on("broken", fail(weft.CodeUnavailable))
	p.on("bad", fail(weft.CodeInvalid))
	e, reg := setup(t, p, nil)
	st, _ := execute(t, e, parse(t, reg, `{"id": "w", "steps": {
		"flaky": {"type": "probe", "max_retries": 3},
		"broken": {"type": "probe", "retry": {"max_retries": 2}},
		"bad": {"type": "probe", "max_retries": 5}}}`), nil)
	for id, want := range map[string]string{"flaky": "succeeded 3", "broken": "failed 3", "bad": "failed 1"} {
		s := st.Steps[id]
		if got := fmt.Sprintf("%s %d", s.Status, s.Attempts); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if st.Metrics.Retries != 4 {
		t.Errorf("retries %d, want 4", st.Metrics.Retries)
	}
	if e := st.Steps["broken"].Error; e == nil || e.Code != weft.CodeUnavailable {
		t.Errorf("broken error %+v", e)
	}
	if p.runs["flaky"] != 3 || p.runs["bad"] != 1 {
		t.Errorf("executions: %v", p.runs)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	p := newProbe()
	var first atomic.Int64
	var gap atomic.Int64
	p.on("limited", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		now := time.Now().UnixNano()
		if first.CompareAndSwap(0, now) {
			return nil, weft.RetryAfter(weft.Errorf(weft.CodeRateLimited, "429"), 150*time.Millisecond)
		}
		gap.Store(now - first.Load())
		return json.RawMessage(`1`), nil
	})
	e, reg := setup(t, p, nil)
	st, err := execute(t, e, parse(t, reg, `{"id": "w", "steps": {"limited": {"type": "probe"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(gap.Load()); d < 150*time.Millisecond {
		t.Errorf("second attempt after %v, Retry-After asked 150ms", d)
	}
	if st.Steps["limited"].Attempts != 2 {
		t.Errorf("attempts %d", st.Steps["limited"].Attempts)
	}
}

func TestTimeouts(t *testing.T) {
	p := newProbe()
	block := func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p.on("slow", block)
	p.on("hang", block)
	e, reg := setup(t, p, &engine.Config{PollInterval: 10 * time.Millisecond})
	t.Run("attempt timeout", func(t *testing.T) {
		st, _ := execute(t, e, parse(t, reg, `{"id": "w", "steps": {"slow": {"type": "probe", "timeout": "30ms", "max_retries": 1}}}`), nil)
		s := st.Steps["slow"]
		if s.Status != weft.StepFailed || s.Attempts != 2 || s.Error == nil || s.Error.Code != weft.CodeTimeout {
			t.Fatalf("slow: %s after %d attempts, error %+v", s.Status, s.Attempts, s.Error)
		}
	})
	t.Run("run timeout", func(t *testing.T) {
		st, err := execute(t, e, parse(t, reg, `{"id": "w2", "timeout": "50ms", "steps": {"hang": {"type": "probe"}, "after": {"type": "probe", "depends_on": ["hang"]}}}`), nil)
		if st.State != weft.RunFailed || weft.ErrorCode(err) != weft.CodeTimeout {
			t.Fatalf("run %s, error %v", st.State, err)
		}
		if got := statuses(st); got != "hang=canceled/run_timeout after=canceled/run_timeout" {
			t.Errorf("steps: %s", got)
		}
	})
}

func TestCancel(t *testing.T) {
	p := newProbe()
	started := make(chan struct{})
	var stopped atomic.Bool
	p.on("long", func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		close(started)
		<-ctx.Done()
		stopped.Store(true)
		return nil, ctx.Err()
	})
	e, reg := setup(t, p, nil)
	run, err := e.Submit(context.Background(), parse(t, reg, `{"id": "w", "steps": {"long": {"type": "probe"}, "next": {"type": "probe", "depends_on": ["long"]}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := e.Cancel(context.Background(), run.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := e.Wait(ctx, run.ID)
	if st == nil || st.State != weft.RunCanceled || weft.ErrorCode(err) != weft.CodeCanceled {
		t.Fatalf("status %+v, error %v", st, err)
	}
	if got := statuses(st); got != "long=canceled/run_canceled next=canceled/run_canceled" {
		t.Errorf("steps: %s", got)
	}
	e.Close() // waits for the attempt to end
	if !stopped.Load() {
		t.Error("the running step's context was not canceled")
	}
	if _, err := e.Cancel(context.Background(), "nope"); !errors.Is(err, weft.ErrNotFound) {
		t.Errorf("cancel unknown run: %v", err)
	}
}

func TestFailFast(t *testing.T) {
	p := newProbe()
	started := make(chan struct{})
	p.on("boom", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		<-started
		return nil, weft.Errorf(weft.CodeInvalid, "boom")
	})
	p.on("long", func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	e, reg := setup(t, p, nil)
	st, err := execute(t, e, parse(t, reg, `{"id": "w", "fail_fast": true, "steps": {"boom": {"type": "probe"}, "long": {"type": "probe"}, "after": {"type": "probe", "depends_on": ["long"]}}}`), nil)
	if st.State != weft.RunFailed || err == nil {
		t.Fatalf("run %s: %v", st.State, err)
	}
	if got := statuses(st); !strings.Contains(got, "boom=failed") || !strings.Contains(got, "long=canceled/fail_fast") || !strings.Contains(got, "after=canceled/fail_fast") {
		t.Errorf("steps: %s", got)
	}
}

func TestRobustness(t *testing.T) {
	p := newProbe()
	p.on("panics", func(context.Context, *weft.StepContext) (json.RawMessage, error) { panic("kaboom") })
	p.on("huge", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		return json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`), nil
	})
	p.on("garbage", func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		return json.RawMessage(`{nope`), nil
	})
	e, reg := setup(t, p, &engine.Config{Limits: weft.Limits{MaxStepOutputBytes: 1000}})
	st, _ := execute(t, e, parse(t, reg, `{"id": "w", "steps": {
		"panics": {"type": "probe", "max_retries": 1}, "huge": {"type": "probe"}, "garbage": {"type": "probe", "max_retries": 0}, "fine": {"type": "probe"}}}`), nil)
	want := map[string]string{"panics": "failed internal 2", "huge": "failed invalid 1", "garbage": "failed internal 1", "fine": "succeeded  1"}
	for id, w := range want {
		s := st.Steps[id]
		code := ""
		if s.Error != nil {
			code = string(s.Error.Code)
		}
		if got := fmt.Sprintf("%s %s %d", s.Status, code, s.Attempts); got != w {
			t.Errorf("%s: %s, want %s (%+v)", id, got, w, s.Error)
		}
	}
	if msg := st.Steps["panics"].Error.Message; !strings.Contains(msg, "panicked: kaboom") {
		t.Errorf("panic message %q", msg)
	}
}

func TestDataFlow(t *testing.T) {
	p := newProbe()
	e, reg := setup(t, p, nil)
	st, err := execute(t, e, parse(t, reg, `{"id": "w", "params": {"who": "world"}, "steps": {
		"a": {"type": "input", "input": {"data": {"n": 1}}},
		"b": {"type": "input", "input": {"data": {"n": 2}}},
		"one": {"type": "probe", "depends_on": ["a"]},
		"both": {"type": "probe", "depends_on": ["a", "b"], "input": {"sum": "{{ deps.a.n + deps.b.n }}", "hello": "hi {{ params.who }}", "attempts": "{{ steps.a.attempts }}"}},
		"late": {"type": "probe", "depends_on": ["both"], "input": {"from_a": "{{ steps.a.output.n }}", "status": "{{ steps.b.status }}"}}}}`),
		&engine.SubmitOptions{Params: json.RawMessage(`{"who": "weft"}`)})
	if err != nil {
		t.Fatal(err)
	}
	one, both := p.seen["one"], p.seen["both"]
	if string(one.Data) != `{"n":1}` || one.Deps["a"] == nil || one.Attempt != 1 || one.IdempotencyKey != st.RunID+"/one" {
		t.Errorf("one: data %s deps %v attempt %d key %s", one.Data, one.Deps, one.Attempt, one.IdempotencyKey)
	}
	if string(both.Data) != `{"a":{"n":1},"b":{"n":2}}` {
		t.Errorf("both: data %s", both.Data)
	}
	var in map[string]any
	if err := json.Unmarshal(both.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in["sum"] != 3.0 || in["hello"] != "hi weft" || in["attempts"] != 1.0 {
		t.Errorf("rendered input %s", both.Input)
	}
	if late := p.seen["late"]; string(late.Input) != `{"from_a":1,"status":"succeeded"}` {
		t.Errorf("late: input %s (reads upstream steps beyond its dependency)", late.Input)
	}
	if string(st.Result) != `{"late":{"step":"late"},"one":{"step":"one"}}` && string(st.Result) != `{"one":{"step":"one"},"late":{"step":"late"}}` {
		t.Errorf("result %s", st.Result)
	}
}

func TestSubscribeAndIdempotency(t *testing.T) {
	p := newProbe()
	e, reg := setup(t, p, nil)
	def := parse(t, reg, `{"id": "w", "steps": {"a": {"type": "probe"}, "b": {"type": "probe", "depends_on": ["a"]}}}`)
	run, err := e.Submit(context.Background(), def, &engine.SubmitOptions{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Submit(context.Background(), def, &engine.SubmitOptions{IdempotencyKey: "k1"})
	if err != nil || again.ID != run.ID {
		t.Fatalf("same key gave run %v (%v), want %s", again, err, run.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := e.Subscribe(ctx, run.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var last int64
	for ev := range ch {
		if ev.Seq != last+1 {
			t.Errorf("event %d after %d", ev.Seq, last)
		}
		last = ev.Seq
		types = append(types, string(ev.Type)+":"+ev.StepID)
	}
	want := "run_created: run_started: step_started:a step_succeeded:a step_started:b step_succeeded:b run_succeeded:"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if p.runs["a"] != 1 {
		t.Errorf("a ran %d times", p.runs["a"])
	}
}

func TestCriticalPathFirst(t *testing.T) {
	// With one slot, among ready steps the one with the longest remaining
	// path goes first: long1 before short, though "short" sorts first.
	p := newProbe()
	e, reg := setup(t, p, &engine.Config{MaxParallelSteps: 1})
	_, err := execute(t, e, parse(t, reg, `{"id": "w", "steps": {
		"root": {"type": "probe"},
		"a_short": {"type": "probe", "depends_on": ["root"]},
		"long1": {"type": "probe", "depends_on": ["root"]},
		"long2": {"type": "probe", "depends_on": ["long1"]}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !(p.started["long1"] < p.started["a_short"]) {
		t.Errorf("a_short started at %d before long1 at %d", p.started["a_short"], p.started["long1"])
	}
}
