package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/postgres"
)

// widePlan is one root, n steps that depend on it, and a sink that
// depends on all n.
func widePlan(n int) []weft.PlanStep {
	steps := make([]weft.PlanStep, 0, n+2)
	steps = append(steps, weft.PlanStep{ID: "root", Type: "noop", Priority: 2})
	sinkDeps := make([]int32, n)
	for i := range n {
		steps = append(steps, weft.PlanStep{ID: fmt.Sprintf("s%05d", i), Type: "noop", Deps: []int32{0}, Priority: 1})
		sinkDeps[i] = int32(i + 1)
	}
	return append(steps, weft.PlanStep{ID: "sink", Type: "noop", Deps: sinkDeps, Sink: true})
}

// layeredPlan is layers layers of width steps, each depending on two
// steps of the layer before (its own column and the next).
func layeredPlan(layers, width int) []weft.PlanStep {
	steps := make([]weft.PlanStep, 0, layers*width)
	for l := range layers {
		for c := range width {
			ps := weft.PlanStep{ID: fmt.Sprintf("l%03dc%04d", l, c), Type: "noop", Priority: int32(layers - l), Sink: l == layers-1}
			if l > 0 {
				prev := int32((l - 1) * width)
				ps.Deps = []int32{prev + int32(c), prev + int32((c+1)%width)}
			}
			steps = append(steps, ps)
		}
	}
	return steps
}

// drive runs a new run of steps to its end with workers goroutines per
// store, each claiming one step and finishing it with the next claim in
// the same call, as the engine does (its default of 10 parallel steps per
// process), and returns how long it took. The stores share one schema.
func drive(tb testing.TB, stores []*postgres.Store, id string, steps []weft.PlanStep, workers int) time.Duration {
	tb.Helper()
	ctx := context.Background()
	if _, _, err := stores[0].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "bench"}, Steps: steps, Now: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	finished := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	out := json.RawMessage(`null`)
	for k, s := range stores {
		for w := range workers {
			wg.Go(func() {
				name := fmt.Sprintf("s%dw%d", k, w)
				req := func() *weft.ClaimRequest {
					now := time.Now()
					return &weft.ClaimRequest{Worker: name, Max: 1, Now: now, LeaseUntil: now.Add(time.Hour)}
				}
				var c *weft.Claim
				wait := time.Duration(0)
				for {
					if c == nil {
						// Like the engine: claim, and when there is nothing, wait for
						// a wake-up or the claim's NextAt (or a poll).
						select {
						case <-finished:
							return
						case <-s.Wake():
						case <-time.After(wait):
						}
						res, err := s.Claim(ctx, req())
						if err != nil {
							tb.Error(err)
							return
						}
						if len(res.Claims) == 0 {
							wait = 100 * time.Millisecond
							if !res.NextAt.IsZero() {
								wait = time.Until(res.NextAt)
							}
							continue
						}
						c = res.Claims[0]
					}
					res, err := s.Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: time.Now(), Status: weft.StepSucceeded,
						Output: out, Next: req()})
					if err != nil {
						tb.Error(err)
						return
					}
					if res.RunStatus.Terminal() {
						once.Do(func() { close(finished) })
						return
					}
					c = nil
					if len(res.Next.Claims) > 0 {
						c = res.Next.Claims[0]
					}
				}
			})
		}
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkClaimFinish measures claim+finish throughput (steps per
// second) on wide and layered plans with one and two stores (two
// processes) sharing a schema, each with 10 workers (the engine's default
// of parallel steps) or 32, and reports how many calls shared a
// transaction and the median queue wait (ready to claimed: with every
// step of a layer ready at once, mostly waiting for a worker; see
// BenchmarkDispatch for the latency of an idle system).
func BenchmarkClaimFinish(b *testing.B) {
	for _, plan := range []struct {
		name  string
		steps []weft.PlanStep
	}{{"wide10k", widePlan(10_000)}, {"layered20x500", layeredPlan(20, 500)}} {
		for _, nstores := range []int{1, 2} {
			for _, workers := range []int{10, 32} {
				b.Run(fmt.Sprintf("%s/stores=%d/workers=%d", plan.name, nstores, workers), func(b *testing.B) {
					schema := newSchema(b)
					stores := make([]*postgres.Store, nstores)
					for k := range stores {
						stores[k] = openIn(b, schema, nil)
					}
					var total time.Duration
					var waits []time.Duration
					for i := 0; i < b.N; i++ {
						id := fmt.Sprintf("run%d", i)
						total += drive(b, stores, id, plan.steps, workers)
						list, err := stores[0].Steps(context.Background(), id)
						if err != nil {
							b.Fatal(err)
						}
						for _, st := range list {
							waits = append(waits, st.QueueWait)
						}
					}
					var txs, ops int64
					for _, s := range stores {
						t, o := s.Stats()
						txs, ops = txs+t, ops+o
					}
					b.ReportMetric(float64(ops)/float64(txs), "calls/tx")
					slices.Sort(waits)
					b.ReportMetric(float64(len(plan.steps)*b.N)/total.Seconds(), "steps/s")
					b.ReportMetric(float64(waits[len(waits)/2].Microseconds())/1000, "p50-queue-ms")
					b.ReportMetric(0, "ns/op")
				})
			}
		}
	}
}

// dispatchGap is the time between two runs of BenchmarkDispatch.
var dispatchGap = 5 * time.Millisecond

// BenchmarkDispatch measures the dispatch latency: from a run's creation
// (its step ready) to the step claimed, by workers of two stores (two
// processes) that wait for wake-ups (and look every 100ms anyway), as runs
// of one step arrive one every dispatchGap.
func BenchmarkDispatch(b *testing.B) {
	ctx := context.Background()
	schema := newSchema(b)
	stores := []*postgres.Store{openIn(b, schema, nil), openIn(b, schema, nil)}
	const runs = 1000
	var (
		created  sync.Map // run id → time.Time
		mu       sync.Mutex
		latency  []time.Duration
		finished = make(chan struct{})
		wg       sync.WaitGroup
	)
	for k, s := range stores {
		for w := range 2 {
			wg.Go(func() {
				name := fmt.Sprintf("s%dw%d", k, w)
				for {
					select {
					case <-finished:
						return
					case <-s.Wake():
					case <-time.After(100 * time.Millisecond):
					}
					for {
						now := time.Now()
						res, err := s.Claim(ctx, &weft.ClaimRequest{Worker: name, Max: 1, Now: now, LeaseUntil: now.Add(time.Hour)})

						if err != nil {
							b.Error(err)
							return
						}
						if len(res.Claims) == 0 {
							break
						}
						c := res.Claims[0]
						if at, ok := created.Load(c.RunID); ok {
							mu.Lock()
							latency = append(latency, time.Since(at.(time.Time)))
							mu.Unlock()
						}
						if _, err := s.Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: time.Now(), Status: weft.StepSucceeded,
							Output: json.RawMessage(`1`)}); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
	}
	steps := []weft.PlanStep{{ID: "only", Type: "noop", Sink: true}}
	for i := 0; i < b.N; i++ {
		for r := range runs {
			id := fmt.Sprintf("d%d.%d", i, r)
			now := time.Now()
			created.Store(id, now)
			if _, _, err := stores[r%2].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "bench"}, Steps: steps, Now: now}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(dispatchGap)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(latency)
		mu.Unlock()
		if n >= runs*b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(finished)
	wg.Wait()
	slices.Sort(latency)
	if len(latency) == 0 {
		b.Fatal("nothing was claimed")
	}
	b.ReportMetric(float64(latency[len(latency)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
