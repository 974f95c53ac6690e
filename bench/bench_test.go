package bench

import (
	"context"
	"sync"
	"testing"
	"time"
)

// The benchmarks run each workload in every variant (sub-benchmarks
// engine, engine+validate, floor, levels). One iteration is one whole run,
// submit to done; the store and engine of each run are made, and garbage
// collected, with the timer stopped, and so is the check that the run
// succeeded with every step executed exactly once (the benchmark fails
// otherwise). For comparisons prefer bench/cmd/weftbench, which interleaves
// the variants.
//
//	go test -run xxx -bench . -benchtime 5x ./bench

func BenchmarkWide10k(b *testing.B)     { benchWorkload(b, "wide10k") }
func BenchmarkChain10k(b *testing.B)    { benchWorkload(b, "chain10k") }
func BenchmarkLayered100k(b *testing.B) { benchWorkload(b, "layered100k") }
func BenchmarkSleepmix(b *testing.B)    { benchWorkload(b, "sleepmix") }

// benchWorkload generates the named workload (once for all its
// sub-benchmarks, and only when one of them is selected) and runs its
// sub-benchmarks.
func benchWorkload(b *testing.B, name string) {
	workload := sync.OnceValue(func() *Workload { return ByName(name) })
	for _, v := range Variants {
		b.Run(v, func(b *testing.B) {
			w := workload()
			r, err := NewRunner(w, v, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var total time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if err := r.Prepare(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				r.Run(ctx)
				total += time.Since(start)
				b.StopTimer()
				if err := r.Check(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			if w.Sleep != nil {
				ms := float64(total) / float64(time.Millisecond) / float64(b.N)
				bound := w.Bound(w.Parallel)
				b.ReportMetric(ms, "makespan-ms")
				b.ReportMetric(float64(bound.Lower)/float64(time.Millisecond), "bound-ms")
				b.ReportMetric(ms/(float64(bound.Lower)/float64(time.Millisecond)), "x-bound")
				if st := r.Status(); st != nil {
					b.ReportMetric(float64(st.Metrics.PeakParallel), "peak-parallel")
				}
			}
		})
	}
}
