package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/workflow"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashEnvDB) != "" {
		crashChild() // the crash test's child process; it exits
	}
	goleak.VerifyTestMain(m)
}

// probe is a test executor: it records what ran, when and how many at once,
// and runs a per-step behaviour when one is set.
type probe struct {
	mu       sync.Mutex
	runs     map[string]int   // step id → attempts executed
	finished map[string]int64 // step id → finish sequence number
	started  map[string]int64 // step id → start sequence number (last attempt)
	seen     map[string]*weft.StepContext
	behave   map[string]func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error)
	seq      atomic.Int64
	cur, max atomic.Int64
	pool     map[string]*atomic.Int64 // per pool: current
	poolMax  map[string]int64
	runMax   map[string]int64
	runCur   map[string]int64
}

func newProbe() *probe {
	return &probe{runs: map[string]int{}, finished: map[string]int64{}, started: map[string]int64{},
		seen: map[string]*weft.StepContext{}, behave: map[string]func(context.Context, *weft.StepContext) (json.RawMessage, error){},
		poolMax: map[string]int64{}, runMax: map[string]int64{}, runCur: map[string]int64{}}
}

func (p *probe) Execute(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	n := p.cur.Add(1)
	for {
		m := p.max.Load()
		if n <= m || p.max.CompareAndSwap(m, n) {
			break
		}
	}
	p.mu.Lock()
	p.runs[sc.StepID]++
	p.started[sc.StepID] = p.seq.Add(1)
	p.seen[sc.StepID] = sc
	p.runCur[sc.RunID]++
	p.runMax[sc.RunID] = max(p.runMax[sc.RunID], p.runCur[sc.RunID])
	f := p.behave[sc.StepID]
	p.mu.Unlock()
	var out json.RawMessage
	var err error
	if f != nil {
		out, err = f(ctx, sc)
	} else {
		if rand.IntN(4) == 0 {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		}
		out = json.RawMessage(fmt.Sprintf(`{"step":%q}`, sc.StepID))
	}
	p.mu.Lock()
	p.finished[sc.StepID] = p.seq.Add(1)
	p.runCur[sc.RunID]--
	p.mu.Unlock()
	p.cur.Add(-1)
	return out, err
}

func (p *probe) on(id string, f func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behave[id] = f
}

// setup returns an engine over an in-memory store whose registry has the
// built-in types plus "probe".
func setup(t *testing.T, p *probe, cfg *engine.Config) (*engine.Engine, *weft.Registry) {
	t.Helper()
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("probe", p); err != nil {
		t.Fatal(err)
	}
	c := engine.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Registry = reg
	fast := 2.0
	initial := weft.Duration(time.Millisecond)
	if c.Retry == nil {
		c.Retry = &weft.RetryPolicy{InitialInterval: &initial, Backoff: &fast, Jitter: weft.JitterNone}
	}
	e, err := engine.New(inmem.New(), &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, reg
}

func parse(t *testing.T, reg *weft.Registry, doc string) *workflow.Definition {
	t.Helper()
	def, err := workflow.Parse([]byte(doc), &workflow.Options{Registry: reg})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, doc)
	}
	return def
}

func execute(t *testing.T, e *engine.Engine, def *workflow.Definition, opts *engine.SubmitOptions) (*engine.Status, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := e.Execute(ctx, def, opts)
	if st == nil {
		t.Fatalf("execute: no status: %v", err)
	}
	return st, err
}

// randomDAG returns a document of n probe steps, each depending on up to 3
// earlier steps, some in pools.
func randomDAG(r *rand.Rand, id string, n int, maxParallel int) string {
	prefix := id + "_"
	var b strings.Builder
	fmt.Fprintf(&b, `{"id": %q, "max_parallel": %d, "steps": {`, id, maxParallel)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		deps := []string{}
		if i > 0 {
			for range r.IntN(4) {
				d := fmt.Sprintf(`"%s%03d"`, prefix, r.IntN(i))
				if !strings.Contains(strings.Join(deps, ","), d) {
					deps = append(deps, d)
				}
			}
		}
		pool := ""
		if r.IntN(3) == 0 {
			pool = `, "pool": "narrow"`
		}
		fmt.Fprintf(&b, `"%s%03d": {"type": "probe", "depends_on": [%s]%s}`, prefix, i, strings.Join(deps, ","), pool)
	}
	b.WriteString("}}")
	return b.String()
}

func TestSchedulerInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for trial := range 8 {
		p := newProbe()
		capacity := 1 + r.IntN(6)
		e, reg := setup(t, p, &engine.Config{MaxParallelSteps: capacity, Pools: map[string]int{"narrow": 1}})
		runMax := r.IntN(4) // 0 = no per-run cap
		docs := []*workflow.Definition{
			parse(t, reg, randomDAG(r, "a", 40+r.IntN(40), runMax)),
			parse(t, reg, randomDAG(r, "b", 40+r.IntN(40), runMax)),
		}
		var narrowCur, narrowMax atomic.Int64
		for _, def := range docs {
			for id, st := range def.Workflow.Steps {
				if st.Pool == "narrow" {
					p.on(id, func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
						n := narrowCur.Add(1)
						defer narrowCur.Add(-1)
						for {
							m := narrowMax.Load()
							if n <= m || narrowMax.CompareAndSwap(m, n) {
								break
							}
						}
						time.Sleep(50 * time.Microsecond)
						return json.RawMessage(`1`), nil
					})
				}
			}
		}
		// Two runs at once, sharing the engine's slots.
		var wg sync.WaitGroup
		stats := make([]*engine.Status, len(docs))
		runs := make([]string, len(docs))
		for k, def := range docs {
			run, err := e.Submit(context.Background(), def, nil)
			if err != nil {
				t.Fatal(err)
			}
			runs[k] = run.ID
		}
		for k := range docs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				st, err := e.Wait(ctx, runs[k])
				if err != nil {
					t.Errorf("trial %d run %d: %v", trial, k, err)
				}
				stats[k] = st
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if got := p.max.Load(); got > int64(capacity) {
			t.Errorf("trial %d: %d steps ran at once, engine cap %d", trial, got, capacity)
		}
		if got := narrowMax.Load(); got > 1 {
			t.Errorf("trial %d: pool narrow ran %d at once, cap 1", trial, got)
		}
		for _, id := range runs {
			if runMax > 0 && p.runMax[id] > int64(runMax) {
				t.Errorf("trial %d: run ran %d steps at once, max_parallel %d", trial, p.runMax[id], runMax)
			}
		}
		total := 0
		for _, def := range docs {
			total += len(def.Workflow.Steps)
		}
		executed := 0
		for id, n := range p.runs {
			if n != 1 {
				t.Errorf("trial %d: step %s ran %d times", trial, id, n)
			}
			executed += n
		}
		for _, def := range docs {
			for id, st := range def.Workflow.Steps {
				for _, d := range st.DependsOn {
					if p.started[id] < p.finished[d] {
						t.Errorf("trial %d: %s started (at %d) before its dependency %s finished (at %d)", trial, id, p.started[id], d, p.finished[d])
					}
				}
			}
		}
		if executed != total {
			t.Errorf("trial %d: %d executions for %d steps", trial, executed, total)
		}
		for k, st := range stats {
			if st.State != weft.RunSucceeded || st.Metrics.Succeeded != len(docs[k].Workflow.Steps) {
				t.Errorf("trial %d: run %d %s with %d succeeded", trial, k, st.State, st.Metrics.Succeeded)
			}
			if st.Metrics.PeakParallel < 1 || (runMax > 0 && st.Metrics.PeakParallel > runMax) || st.Metrics.PeakParallel > capacity {
				t.Errorf("trial %d: peak parallel %d (cap %d, run max %d)", trial, st.Metrics.PeakParallel, capacity, runMax)
			}
		}
		e.Close()
	}
}
