package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/inmem"
)

// gates hold a run's "hold" step until its gate is opened (or the attempt
// is canceled).
type gates struct{ m sync.Map } // run id → chan struct{}

func (g *gates) of(runID string) chan struct{} {
	v, _ := g.m.LoadOrStore(runID, make(chan struct{}))
	return v.(chan struct{})
}

func (g *gates) hold(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	select {
	case <-g.of(sc.RunID):
		return json.RawMessage(`"opened"`), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

const holdDoc = `{"id": "q", "steps": {"hold": {"type": "probe"}}}`

// wantQueueFull checks that err is the refusal of a full queue.
func wantQueueFull(t *testing.T, err error, retryAfter time.Duration) {
	t.Helper()
	var we *weft.Error
	if !errors.Is(err, weft.ErrQueueFull) || !errors.As(err, &we) || we.Code != weft.CodeUnavailable || weft.RetryAfterOf(err) != retryAfter {
		t.Fatalf("got %v (%#v), want ErrQueueFull with code unavailable and RetryAfter %s", err, we, retryAfter)
	}
}

func wantUnfinished(t *testing.T, e *engine.Engine, n int) {
	t.Helper()
	if got := e.UnfinishedRuns(); got != n {
		t.Fatalf("UnfinishedRuns() = %d, want %d", got, n)
	}
}

func TestQueueLimit(t *testing.T) {
	p, g := newProbe(), &gates{}
	p.on("hold", g.hold)
	e, reg := setup(t, p, &engine.Config{MaxUnfinishedRuns: 2, PollInterval: 2 * time.Second})
	def := parse(t, reg, holdDoc)
	ctx := waitCtx(t)
	submit := func(key string) (*weft.Run, error) {
		return e.Submit(ctx, def, &engine.SubmitOptions{IdempotencyKey: key})
	}
	r1, err := submit("k1")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := submit("")
	if err != nil {
		t.Fatal(err)
	}
	wantUnfinished(t, e, 2)
	_, err = submit("")
	wantQueueFull(t, err, 2*time.Second)
	_, err = submit("k3") // a new key is a new run
	wantQueueFull(t, err, 2*time.Second)
	if again, err := submit("k1"); err != nil || again.ID != r1.ID {
		t.Fatalf("resubmitting k1 at the limit: %v, %v; want run %s", again, err, r1.ID)
	}

	// A run that ends frees its place.
	close(g.of(r1.ID))
	if _, err := e.Wait(ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	wantUnfinished(t, e, 1)
	r3, err := submit("")
	if err != nil {
		t.Fatalf("after a run ended: %v", err)
	}
	wantUnfinished(t, e, 2)
	if _, err := e.Cancel(ctx, r2.ID); err != nil {
		t.Fatal(err)
	}
	wantUnfinished(t, e, 1)
	if _, err := submit(""); err != nil {
		t.Fatalf("after a run was canceled: %v", err)
	}
	_, err = submit("")
	wantQueueFull(t, err, 2*time.Second)
	if r3.ID == r1.ID || r3.ID == r2.ID {
		t.Errorf("run ids reused")
	}
}

// A new engine over a store that holds unfinished runs counts them, and
// finds their idempotency keys.
func TestQueueCountsAfterRestart(t *testing.T) {
	p := newProbe()
	store, reg := inmem.New(), registry(t, p)
	def := parse(t, reg, `{"id": "q", "steps": {"s": {"type": "probe"}}}`)
	ctx := waitCtx(t)
	first := engineOn(t, store, reg, &engine.Config{NoWorker: true})
	var ids []string
	for i := range 3 {
		run, err := first.Submit(ctx, def, &engine.SubmitOptions{IdempotencyKey: fmt.Sprintf("k%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	wantUnfinished(t, first, 3)
	first.Close()

	e := engineOn(t, store, reg, &engine.Config{NoWorker: true, MaxUnfinishedRuns: 3})
	wantUnfinished(t, e, 3)
	_, err := e.Submit(ctx, def, nil)
	wantQueueFull(t, err, time.Second)
	if again, err := e.Submit(ctx, def, &engine.SubmitOptions{IdempotencyKey: "k1"}); err != nil || again.ID != ids[1] {
		t.Fatalf("resubmitting k1 after a restart: %v, %v; want run %s", again, err, ids[1])
	}
	if _, err := e.Cancel(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	wantUnfinished(t, e, 2)
	run, err := e.Submit(ctx, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, run.ID)
	wantUnfinished(t, e, 3)

	// A worker that runs them all counts none left.
	worker := engineOn(t, store, reg, nil)
	for _, id := range ids[1:] {
		if _, err := worker.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	wantUnfinished(t, worker, 0)
}

// clock is a settable time for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Runs that another process ends are forgotten when the store is read
// again, at most once per poll interval.
func TestQueueForgetsRunsEndedElsewhere(t *testing.T) {
	p := newProbe()
	store, reg := inmem.New(), registry(t, p)
	def := parse(t, reg, `{"id": "q", "steps": {"s": {"type": "probe"}}}`)
	ctx := waitCtx(t)
	c := &clock{now: time.Now()}
	server := engineOn(t, store, reg, &engine.Config{NoWorker: true, MaxUnfinishedRuns: 1, Now: c.Now})
	worker := engineOn(t, store, reg, &engine.Config{PollInterval: 5 * time.Millisecond})
	run, err := server.Submit(ctx, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.Wait(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	_, err = server.Submit(ctx, def, nil) // read less than a poll interval ago
	wantQueueFull(t, err, time.Second)
	wantUnfinished(t, server, 1)
	c.Add(time.Second)
	if _, err := server.Submit(ctx, def, nil); err != nil {
		t.Fatalf("a poll interval later: %v", err)
	}
	wantUnfinished(t, server, 1)
}

// A retried run is unfinished again and counts.
func TestQueueCountsRetriedRuns(t *testing.T) {
	p, g := newProbe(), &gates{}
	p.on("hold", func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		if sc.Attempt == 1 {
			return nil, weft.Errorf(weft.CodeInvalid, "failed on purpose")
		}
		return g.hold(ctx, sc)
	})
	e, reg := setup(t, p, &engine.Config{MaxUnfinishedRuns: 1})
	def := parse(t, reg, holdDoc)
	ctx := waitCtx(t)
	st, err := e.Execute(ctx, def, nil)
	if st == nil || st.State != weft.RunFailed {
		t.Fatalf("first try: %+v, %v", st, err)
	}
	wantUnfinished(t, e, 0)
	if _, err := e.Retry(ctx, st.RunID, nil); err != nil {
		t.Fatal(err)
	}
	wantUnfinished(t, e, 1)
	_, err = e.Submit(ctx, def, nil)
	wantQueueFull(t, err, time.Second)
	close(g.of(st.RunID))
	if _, err := e.Wait(ctx, st.RunID); err != nil {
		t.Fatal(err)
	}
	wantUnfinished(t, e, 0)
}

// Concurrent submissions never take more places than the limit.
func TestQueueLimitUnderConcurrentSubmits(t *testing.T) {
	const limit, n = 5, 40
	for _, keyed := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) {
			p, g := newProbe(), &gates{}
			p.on("hold", g.hold)
			e, reg := setup(t, p, &engine.Config{MaxUnfinishedRuns: limit})
			def := parse(t, reg, holdDoc)
			ctx := waitCtx(t)
			var mu sync.Mutex
			ids, dups := map[string]bool{}, map[string]bool{}
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					opts := &engine.SubmitOptions{}
					if keyed && i%3 == 0 {
						opts.IdempotencyKey = "dup"
					}
					run, err := e.Submit(ctx, def, opts)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ids[run.ID] = true
						if opts.IdempotencyKey != "" {
							dups[run.ID] = true
						}
					case !errors.Is(err, weft.ErrQueueFull):
						t.Errorf("submit: %v", err)
					}
				})
			}
			wg.Wait()
			// Runs never end here: without resubmissions every place is
			// taken; a resubmission may hold a place for a moment.
			if len(ids) > limit || (!keyed && len(ids) != limit) || len(dups) > 1 {
				t.Errorf("%d runs created (limit %d), %d runs for one key", len(ids), limit, len(dups))
			}
			wantUnfinished(t, e, len(ids))
		})
	}
}
