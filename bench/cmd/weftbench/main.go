// Command weftbench runs the bench workloads in every variant, interleaved,
// and prints a table of their times and ratios, and whether the targets
// hold:
//
//   - wide10k, chain10k and layered100k: the engine within 2× of the floor
//     (median over the rounds);
//   - sleepmix: the engine's makespan within 1.05× of the lower bound
//     max(critical path, total work / 16), and below the levels baseline.
//
// For each workload it first runs every variant once (a warm-up, not
// counted), then -n rounds, each running every variant once, in an order
// that rotates from round to round, so that a noisy machine slows all
// variants alike. Every run is checked: it must succeed with every step
// executed exactly once.
//
// Columns: the median, 90th percentile (nearest rank) and minimum wall
// time of a run, submit to done; the median CPU time the process used
// during a run (all goroutines, GC included; Unix only); and the ratios of
// the median to the floor's median, to the lower bound and to the levels
// baseline's median. For sleepmix it also prints the makespan each
// scheduling policy would reach with no overhead at all (bench.Simulate),
// and how late the timers fired: the lower bound counts nominal sleeps,
// but a Go timer fires some hundreds of microseconds late, in every
// variant alike.
//
// Usage:
//
//	go run ./bench/cmd/weftbench [-n 8] [-workloads wide10k,chain10k,layered100k,sleepmix] [-variants engine,engine+validate,floor,levels]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weft-dev/weft/bench"
)

func main() {
	n := flag.Int("n", 8, "measured rounds per workload (each runs every variant once)")
	only := flag.String("workloads", "", "comma-separated workloads to run (default all)")
	variants := flag.String("variants", strings.Join(bench.Variants, ","), "comma-separated variants to run")
	flag.Parse()
	if err := run(os.Stdout, *n, split(*only), split(*variants)); err != nil {
		fmt.Fprintln(os.Stderr, "weftbench:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// result holds what is reported of a workload: its shape, bound and
// simulations, and its measurements by variant. It does not hold the
// workload, so that the next one runs with only its own in memory.
type result struct {
	name     string
	steps    int
	parallel int
	sleeps   bool
	bound    bench.Bound
	sims     map[bench.Policy]time.Duration
	times    map[string][]time.Duration // wall time of each run
	cpu      map[string][]time.Duration // process CPU time of each run
	slept    map[string][]time.Duration // summed actual sleeps of each run
}

func (r *result) median(v string) time.Duration { return quantile(r.times[v], 0.5) }

// measure runs r once and returns its wall time, the process's CPU time
// during it and its steps' summed actual sleeps. Prepare and Check are
// not measured.
func measure(ctx context.Context, r *bench.Runner) (wall, cpu, slept time.Duration, err error) {
	if err := r.Prepare(); err != nil {
		return 0, 0, 0, err
	}
	c0, t0 := cpuTime(), time.Now()
	r.Run(ctx)
	wall, cpu = time.Since(t0), cpuTime()-c0
	return wall, cpu, r.Slept(), r.Check()
}

func run(out io.Writer, n int, only, variants []string) error {
	if n < 1 {
		return fmt.Errorf("-n must be at least 1")
	}
	for _, v := range variants {
		if !slices.Contains(bench.Variants, v) {
			return fmt.Errorf("unknown variant %q (want some of %s)", v, strings.Join(bench.Variants, ","))
		}
	}
	begin := time.Now()
	fmt.Fprintf(out, "weftbench %s  %s/%s  %s  NumCPU=%d GOMAXPROCS=%d  rounds=%d\n",
		begin.UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		runtime.NumCPU(), runtime.GOMAXPROCS(0), n)
	ctx := context.Background()
	var results []*result
	for _, name := range bench.Names {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		w := bench.ByName(name)
		res := &result{
			name: name, steps: w.Steps(), parallel: w.Parallel, sleeps: w.Sleep != nil,
			bound: w.Bound(w.Parallel), sims: map[bench.Policy]time.Duration{},
			times: map[string][]time.Duration{}, cpu: map[string][]time.Duration{}, slept: map[string][]time.Duration{},
		}
		if res.sleeps {
			for _, p := range policies {
				res.sims[p] = w.Simulate(w.Parallel, p)
			}
		}
		runners := make([]*bench.Runner, len(variants))
		for i, v := range variants {
			r, err := bench.NewRunner(w, v, nil)
			if err != nil {
				return err
			}
			runners[i] = r
		}
		fmt.Fprintf(os.Stderr, "%s (%d steps, parallel %d): ", w.Name, w.Steps(), w.Parallel)
		for round := -1; round < n; round++ { // round -1 is the warm-up
			for k := range runners {
				r := runners[(k+max(round, 0))%len(runners)]
				wall, cpu, slept, err := measure(ctx, r)
				if err != nil {
					return err
				}
				if round >= 0 {
					res.times[r.Variant] = append(res.times[r.Variant], wall)
					res.cpu[r.Variant] = append(res.cpu[r.Variant], cpu)
					res.slept[r.Variant] = append(res.slept[r.Variant], slept)
				}
			}
			fmt.Fprint(os.Stderr, ".")
		}
		fmt.Fprintln(os.Stderr)
		results = append(results, res)
	}
	report(out, results, variants)
	fmt.Fprintf(out, "total time %s\n", time.Since(begin).Round(time.Second))
	return nil
}

var policies = []bench.Policy{bench.PolicyHeight, bench.PolicyWeighted, bench.PolicyLevels}

func report(out io.Writer, results []*result, variants []string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tvariant\tmedian ms\tp90 ms\tmin ms\tcpu ms\tvs floor\tvs bound\tvs levels\t")
	for _, res := range results {
		floor := res.median(bench.VariantFloor)
		levels := res.median(bench.VariantLevels)
		var bound time.Duration
		if res.sleeps {
			bound = res.bound.Lower
		}
		for _, v := range variants {
			ts := res.times[v]
			med := quantile(ts, 0.5)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.name, v,
				ms(med), ms(quantile(ts, 0.9)), ms(slices.Min(ts)), ms(quantile(res.cpu[v], 0.5)),
				ratio(med, floor), ratio(med, bound), ratio(med, levels))
		}
		if res.sleeps {
			fmt.Fprintf(tw, "%s\tlower bound\t%s\t\t\t\t\t\t\t\n", res.name, ms(bound))
			for _, p := range policies {
				sim := res.sims[p]
				fmt.Fprintf(tw, "%s\tsim %s\t%s\t\t\t\t\t%s\t\t\n", res.name, p, ms(sim), ratio(sim, bound))
			}
		}
	}
	tw.Flush()
	for _, res := range results {
		if !res.sleeps {
			continue
		}
		b := res.bound
		fmt.Fprintf(out, "\n%s: timers fire late, so steps take longer than their nominal sleep; with actual durations the bound is max(critical, actual work / %d):\n", res.name, res.parallel)
		for _, v := range variants {
			slept := quantile(res.slept[v], 0.5)
			late := (slept - b.Work) / time.Duration(res.steps)
			actual := max(b.Critical, slept/time.Duration(res.parallel))
			fmt.Fprintf(out, "  %-16s lateness %5.2f ms/step  actual-work bound %s ms  makespan %s ms = %s of it\n",
				v, float64(late)/float64(time.Millisecond), ms(actual), ms(res.median(v)), ratio(res.median(v), actual))
		}
	}
	fmt.Fprintln(out)
	for _, res := range results {
		eng := res.median(bench.VariantEngine)
		if eng == 0 {
			continue
		}
		if !res.sleeps {
			floor := res.median(bench.VariantFloor)
			if floor == 0 {
				continue
			}
			r := float64(eng) / float64(floor)
			fmt.Fprintf(out, "target %-12s engine ≤ 2× floor:            %s (%.2f×)\n", res.name, verdict(r <= 2), r)
			continue
		}
		b := res.bound
		r := float64(eng) / float64(b.Lower)
		fmt.Fprintf(out, "target %-12s engine ≤ 1.05× lower bound:   %s (%.3f×; bound %s = max(critical %s, work %s / %d))\n",
			res.name, verdict(r <= 1.05), r, ms(b.Lower), ms(b.Critical), ms(b.Work), b.Slots)
		if levels := res.median(bench.VariantLevels); levels > 0 {
			fmt.Fprintf(out, "target %-12s engine < levels:              %s (%s vs %s ms)\n", res.name, verdict(eng < levels), ms(eng), ms(levels))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "HOLDS"
	}
	return "FAILS"
}

// quantile returns the q-quantile of ts by the nearest-rank method, or 0
// for no times.
func quantile(ts []time.Duration, q float64) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func ratio(a, b time.Duration) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}
