package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets of issue 7.
const (
	// targetWorkers is the number of workers the throughput target is for.
	targetWorkers = 2
	// targetStepsPerSec is the least steps per second with targetWorkers
	// workers, on the wide and layered workloads.
	targetStepsPerSec = 5000
	// targetDispatchP50 bounds the median dispatch latency.
	targetDispatchP50 = 5 * time.Millisecond
)

// median returns the median (nearest rank) of f over ms.
func median(ms []*measurement, f func(*measurement) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ms))
	for i, m := range ms {
		ds[i] = f(m)
	}
	slices.Sort(ds)
	return quantile(ds, 0.5)
}

// Accessors of a measurement's figures, for median.
func wallOf(m *measurement) time.Duration        { return m.wall }
func submitOf(m *measurement) time.Duration      { return m.submit }
func dispatch50Of(m *measurement) time.Duration  { return m.lat.dispatch.p50 }
func dispatch99Of(m *measurement) time.Duration  { return m.lat.dispatch.p99 }
func dispatchMaxOf(m *measurement) time.Duration { return m.lat.dispatch.max }
func queue50Of(m *measurement) time.Duration     { return m.lat.queue.p50 }
func queue99Of(m *measurement) time.Duration     { return m.lat.queue.p99 }
func weftCPUOf(m *measurement) time.Duration     { return m.weftCPU }
func pgCPUOf(m *measurement) time.Duration       { return m.pgCPU }
func submitCPUOf(m *measurement) time.Duration   { return m.submitCPU }

// medianRun returns the run of median wall time.
func medianRun(ms []*measurement) *measurement {
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b *measurement) int { return int(a.wall - b.wall) })
	return s[(len(s)-1)/2]
}

// report prints the table of results, what the profiling rounds saw, the
// targets' verdicts and the runs in which steps ran more than once. It
// returns the number of those runs.
func report(out io.Writer, results []*result, vs []variant) int {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tvariant\tmedian ms\tmin ms\tsteps/s\tvs inmem\tvs postgres\tsubmit ms\tdispatch p50 / p99 / max ms\tqueue p50 / p99 ms\tweft cpu µs/step\tsubmitter cpu µs/step\tpg cpu µs/step\tsteps by worker\tre-runs\t")
	for _, res := range results {
		inmem := median(res.runs[variantInmem], wallOf)
		pg := median(res.runs[variantPostgres], wallOf)
		for _, v := range vs {
			ms := res.runs[v.name]
			if len(ms) == 0 {
				continue
			}
			wall := median(ms, wallOf)
			minWall := slices.MinFunc(ms, func(a, b *measurement) int { return int(a.wall - b.wall) }).wall
			byWorker := "-"
			if v.workers > 0 {
				parts := make([]string, 0, v.workers)
				for _, n := range medianRun(ms).byWorker {
					parts = append(parts, strconv.Itoa(n))
				}
				byWorker = strings.Join(parts, " / ")
			}
			reruns := 0
			for _, m := range ms {
				reruns += m.reruns
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s / %s / %s\t%s / %s\t%s\t%s\t%s\t%s\t%d\t\n",
				res.name, v.name, msec(wall), msec(minWall), perSec(res.steps, wall),
				ratio(wall, inmem), ratio(wall, pg), msec(median(ms, submitOf)),
				msec(median(ms, dispatch50Of)), msec(median(ms, dispatch99Of)), msec(median(ms, dispatchMaxOf)),
				msec(median(ms, queue50Of)), msec(median(ms, queue99Of)),
				perStep(median(ms, weftCPUOf), res.steps), perStep(median(ms, submitCPUOf), res.steps),
				perStep(median(ms, pgCPUOf), res.steps), byWorker, reruns)
		}
	}
	tw.Flush()
	for _, res := range results {
		for _, v := range vs {
			m := res.profiled[v.name]
			if m == nil || m.diag == nil {
				continue
			}
			fmt.Fprintf(out, "\n%s / %s, profiling round (not counted: profiles on, connections through a counting proxy): %s ms, %s steps/s\n",
				res.name, v.name, msec(m.wall), perSec(res.steps, m.wall))
			who := "the workers' connections"
			if v.workers == 0 {
				who = "the engine's connections (submission included)"
			}
			fmt.Fprintf(out, "  on the wire, %s:\n", who)
			m.diag.wire.write(out, res.steps, "    ")
			if a := m.diag.activity; a != nil {
				fmt.Fprintf(out, "  pg_stat_activity of the run's backends, every 5 ms:\n")
				a.write(out, "    ")
			}
		}
	}
	fmt.Fprintf(out, "\ntarget: %d workers, at least %d steps/s (wide and layered workloads)\n", targetWorkers, targetStepsPerSec)
	for _, res := range results {
		ms := res.runs[workersName(vs, targetWorkers)]
		if res.chain || len(ms) == 0 {
			continue
		}
		rate := float64(res.steps) / median(ms, wallOf).Seconds()
		fmt.Fprintf(out, "  %-12s %s (%.0f steps/s, %.2f× the target)\n", res.name, verdict(rate >= targetStepsPerSec), rate, rate/targetStepsPerSec)
	}
	fmt.Fprintf(out, "target: dispatch p50 under %s (worker variants; on a chain a slot is always free, so it is dispatch alone; elsewhere it includes waiting for a free slot)\n", targetDispatchP50)
	for _, res := range results {
		for _, v := range vs {
			ms := res.runs[v.name]
			if v.workers == 0 || len(ms) == 0 {
				continue
			}
			what := "with queueing"
			if res.chain {
				what = "dispatch alone"
			}
			p50 := median(ms, dispatch50Of)
			fmt.Fprintf(out, "  %-12s %-10s %s (p50 %s ms, %s)\n", res.name, v.name, verdict(p50 < targetDispatchP50), msec(p50), what)
		}
	}
	failed := 0
	for _, res := range results {
		for _, v := range vs {
			for i, m := range res.runs[v.name] {
				if m.reruns > 0 {
					if failed == 0 {
						fmt.Fprintf(out, "\nCHECK FAILED: steps ran more than once (the run succeeded, every step once, but after more attempts):\n")
					}
					failed++
					fmt.Fprintf(out, "  %s / %s, round %d: %d re-runs: %s\n", res.name, v.name, i+1, m.reruns, m.rerunWhy)
				}
			}
		}
	}
	return failed
}

// workersName returns the name of the variant with n workers, or "".
func workersName(vs []variant, n int) string {
	for _, v := range vs {
		if v.workers == n {
			return v.name
		}
	}
	return ""
}

// verdict says whether a target holds.
func verdict(ok bool) string {
	if ok {
		return "HOLDS"
	}
	return "FAILS"
}

// msec formats d in milliseconds.
func msec(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.2f", ms)
	}
	return fmt.Sprintf("%.1f", ms)
}

// perSec formats steps per wall time.
func perSec(steps int, wall time.Duration) string {
	if wall <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(steps)/wall.Seconds())
}

// ratio formats a/b, or "-" without a baseline.
func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	r := float64(a) / float64(b)
	if r < 0.1 {
		return fmt.Sprintf("%.3f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// perStep formats d per step in microseconds, or "-" when not measured.
func perStep(d time.Duration, steps int) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond)/float64(steps))
}
