package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/sqlite"
)

// widePlan is one root, n steps that depend on it, and a sink that
// depends on all n (bench's wide10k).
func widePlan(n int) []weft.PlanStep {
	steps := make([]weft.PlanStep, 0, n+2)
	steps = append(steps, weft.PlanStep{ID: "root", Type: "noop", Priority: 2})
	sinkDeps := make([]int32, n)
	for i := range n {
		steps = append(steps, weft.PlanStep{ID: fmt.Sprintf("s%05d", i), Type: "noop", Deps: []int32{0}, Priority: 1})
		sinkDeps[i] = int32(i + 1)
	}
	steps = append(steps, weft.PlanStep{ID: "sink", Type: "noop", Deps: sinkDeps, Sink: true})
	return steps
}

// drive runs a run to its end with workers goroutines, each claiming one
// step and finishing it with the next claim in the same call, as the
// engine does, and returns how long it took.
func drive(tb testing.TB, s weft.Store, id string, steps []weft.PlanStep, workers int) time.Duration {
	ctx := context.Background()
	now := time.Now()
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "bench"}, Steps: steps, Now: now}); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var done sync.Once
	finished := make(chan struct{})
	out := json.RawMessage(`null`)
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprintf("w%d", w)
			req := func() *weft.ClaimRequest {
				return &weft.ClaimRequest{Worker: name, Max: 1, Now: now, LeaseUntil: now.Add(time.Hour)}
			}
			var queue []*weft.Claim
			for {
				if len(queue) == 0 {
					select {
					case <-finished:
						return
					default:
					}
					res, err := s.Claim(ctx, req())
					if err != nil {
						tb.Error(err)
						return
					}
					if len(res.Claims) == 0 {
						time.Sleep(50 * time.Microsecond)
						continue
					}
					queue = res.Claims
				}
				c := queue[0]
				queue = queue[1:]
				res, err := s.Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepSucceeded, Output: out, Next: req()})
				if err != nil {
					tb.Error(err)
					return
				}
				if res.RunStatus.Terminal() {
					done.Do(func() { close(finished) })
					return
				}
				queue = append(queue, res.Next.Claims...)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	run, err := s.Run(ctx, id)
	if err != nil || run.Status != weft.RunSucceeded {
		tb.Fatalf("run %s: %v, %v", id, run.Status, err)
	}
	return d
}

// BenchmarkSQLiteFinish measures claim+finish throughput on a wide run
// (bench's wide10k: a root, 10,000 steps, a sink depending on all of them)
// driven by 8 or 64 workers (the engine's parallelism in package bench),
// each finishing a step with the next claim in the same call, as the
// engine does. Each iteration runs it on SQLite (a new file) and in
// memory, and reports the steps per second of each and their ratio.
func BenchmarkSQLiteFinish(b *testing.B) {
	for _, workers := range []int{8, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			steps := widePlan(10_000)
			var sqlTime, memTime time.Duration
			dir := b.TempDir()
			for i := range b.N {
				s, err := sqlite.Open(filepath.Join(dir, fmt.Sprintf("bench%d.db", i)), nil)
				if err != nil {
					b.Fatal(err)
				}
				sqlTime += drive(b, s, "r", steps, workers)
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				memTime += drive(b, inmem.New(), "r", steps, workers)
			}
			total := float64(len(steps) * b.N)
			b.ReportMetric(total/sqlTime.Seconds(), "sqlite-steps/s")
			b.ReportMetric(total/memTime.Seconds(), "inmem-steps/s")
			b.ReportMetric(sqlTime.Seconds()/memTime.Seconds(), "sqlite/inmem-time")
			b.ReportMetric(0, "ns/op")
		})
	}
}
