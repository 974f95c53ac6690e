package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-dev/weft"
)

// maxIdle is how many empty claims in a row, across workers, mean that the
// concurrent test made no progress: a store that stalls fails instead of
// spinning until the test times out.
const maxIdle = 2_000_000

// tracked is a run of the concurrent test and what the workers saw of it.
type tracked struct {
	id       string
	plan     []weft.PlanStep
	max      int          // the run's MaxParallel, 0 for none
	running  atomic.Int32 // claims returned and not yet being finished
	inflight []atomic.Int32
	claims   []atomic.Int32
	done     []atomic.Int32 // Finish calls that returned no error
}

// testConcurrent: eight goroutines claim (Max 1 to 3) and finish the
// steps of two random DAGs at once, one of 500 steps and one of 150 capped
// at MaxParallel 3. Every step is claimed and succeeds exactly once, is
// never claimed while in flight, is claimed only after its dependencies
// succeeded (their outputs come with the claim), the capped run stays
// under its cap, and both runs succeed. Run it under -race.
func testConcurrent(h *harness) {
	const workers = 8
	rng := rand.New(rand.NewPCG(1, 2))
	var runs []*tracked
	for _, r := range []struct {
		name  string
		steps int
		max   int
	}{{"big", 500, 0}, {"capped", 150, 3}} {
		nr := h.newRun(r.name, randomDAG(rng, r.name, r.steps)...)
		nr.Run.MaxParallel = r.max
		runs = append(runs, &tracked{id: h.create(nr), plan: nr.Steps, max: r.max,
			inflight: make([]atomic.Int32, r.steps), claims: make([]atomic.Int32, r.steps), done: make([]atomic.Int32, r.steps)})
	}
	byID := map[string]*tracked{runs[0].id: runs[0], runs[1].id: runs[1]}

	var idle atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { h.worker(w, byID, &idle) })
	}
	wg.Wait()

	for _, tr := range runs {
		for i := range tr.plan {
			if c, d := tr.claims[i].Load(), tr.done[i].Load(); c != 1 || d != 1 {
				h.Errorf("step %s of %s: claimed %d times, finished %d times; want 1 and 1", tr.plan[i].ID, tr.id, c, d)
			}
		}
		run := h.run(tr.id)
		if run.Status != weft.RunSucceeded {
			h.Errorf("run %s is %s; want succeeded", tr.id, run.Status)
		}
		if tr.max > 0 && (run.PeakParallel < 1 || run.PeakParallel > tr.max) {
			h.Errorf("run %s with max_parallel %d: PeakParallel %d", tr.id, tr.max, run.PeakParallel)
		}
		for _, s := range h.steps(tr.id) {
			if s.Status != weft.StepSucceeded || s.Attempts != 1 {
				h.Errorf("step %s of %s = %s after %d attempts; want succeeded after 1", s.StepID, tr.id, s.Status, s.Attempts)
			}
		}
		evs := h.events(tr.id)
		succeeded, ends := 0, 0
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				h.Fatalf("event %d of %s has seq %d", i, tr.id, e.Seq)
			}
			switch {
			case e.Type == weft.EventStepSucceeded:
				succeeded++
			case e.Terminal():
				ends++
			}
		}
		if succeeded != len(tr.plan) || ends != 1 || evs[len(evs)-1].Type != weft.EventRunSucceeded {
			h.Errorf("run %s: %d step_succeeded events, %d run ends, last %s; want %d, 1, run_succeeded",
				tr.id, succeeded, ends, evs[len(evs)-1].Type, len(tr.plan))
		}
	}
}

// worker claims and finishes steps until every run has ended. It uses
// Errorf only: it runs on its own goroutine.
func (h *harness) worker(w int, runs map[string]*tracked, idle *atomic.Int64) {
	rng := rand.New(rand.NewPCG(uint64(w), 3))
	name := fmt.Sprintf("w%d", w)
	now := at(sec)
	newReq := func(max int) *weft.ClaimRequest {
		return &weft.ClaimRequest{Worker: name, Max: max, Now: now, LeaseUntil: now.Add(time.Hour)}
	}
	var queue []*weft.Claim
	take := func(cs []*weft.Claim) {
		for _, c := range cs {
			tr := runs[c.RunID]
			if tr == nil || c.Index < 0 || int(c.Index) >= len(tr.plan) || tr.plan[c.Index].ID != c.StepID {
				h.Errorf("claimed an unknown step: %+v", *c)
				continue
			}
			if tr.inflight[c.Index].Add(1) != 1 {
				h.Errorf("step %s of %s claimed while in flight", c.StepID, c.RunID)
			}
			if n := tr.claims[c.Index].Add(1); n != 1 {
				h.Errorf("step %s of %s claimed %d times", c.StepID, c.RunID, n)
			}
			if n := tr.running.Add(1); tr.max > 0 && int(n) > tr.max {
				h.Errorf("run %s with max_parallel %d has %d steps claimed at once", c.RunID, tr.max, n)
			}
			deps := tr.plan[c.Index].Deps
			if len(c.Deps) != len(deps) {
				h.Errorf("step %s of %s claimed with %d deps; want %d", c.StepID, c.RunID, len(c.Deps), len(deps))
			} else {
				for k, d := range c.Deps {
					want := tr.plan[deps[k]].ID
					if d.StepID != want || d.Status != weft.StepSucceeded || !jsonEqual(d.Output, json.RawMessage(strconv.Quote(want))) {
						h.Errorf("step %s of %s claimed with dep %d = %s %s %s; want %s succeeded with its output",
							c.StepID, c.RunID, k, d.StepID, d.Status, d.Output, want)
					}
				}
			}
			queue = append(queue, c)
		}
	}
	for {
		if len(queue) == 0 {
			res, err := h.s.Claim(h.ctx, newReq(1+rng.IntN(3)))
			if err != nil {
				h.Errorf("Claim: %v", err)
				return
			}
			if len(res.Claims) == 0 {
				if h.allEnded(runs) {
					return
				}
				if idle.Add(1) > maxIdle {
					h.Errorf("worker %s: %d empty claims in a row and the runs are not over", name, maxIdle)
					return
				}
				runtime.Gosched()
				continue
			}
			take(res.Claims)
			continue
		}
		c := queue[0]
		queue = queue[1:]
		tr := runs[c.RunID]
		tr.inflight[c.Index].Add(-1)
		tr.running.Add(-1)
		f := &weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepSucceeded, Output: json.RawMessage(strconv.Quote(c.StepID))}
		if len(queue) == 0 && rng.IntN(2) == 0 {
			f.Next = newReq(1 + rng.IntN(2))
		}
		res, err := h.s.Finish(h.ctx, f)
		if err != nil {
			h.Errorf("Finish(%s %s): %v", c.RunID, c.StepID, err)
			continue
		}
		tr.done[c.Index].Add(1)
		idle.Store(0)
		if res.Next != nil {
			take(res.Next.Claims)
		}
	}
}

// allEnded reports whether every run has ended (or cannot be read).
func (h *harness) allEnded(runs map[string]*tracked) bool {
	for id := range runs {
		run, err := h.s.Run(h.ctx, id)
		if err != nil {
			h.Errorf("Run(%s): %v", id, err)
			return true
		}
		if !run.Status.Terminal() {
			return false
		}
	}
	return true
}

// randomDAG returns n steps, each depending on up to three of the 40
// steps before it, with the longest path to a sink as priority (as the
// engine sets it).
func randomDAG(rng *rand.Rand, prefix string, n int) []spec {
	deps := make([][]int32, n)
	for i := 1; i < n; i++ {
		lo := max(0, i-40)
		for k := min(rng.IntN(4), i-lo); len(deps[i]) < k; {
			d := int32(lo + rng.IntN(i-lo))
			if !slices.Contains(deps[i], d) {
				deps[i] = append(deps[i], d)
			}
		}
	}
	height := make([]int32, n)
	for i := n - 1; i >= 0; i-- {
		for _, d := range deps[i] {
			height[d] = max(height[d], height[i]+1)
		}
	}
	specs := make([]spec, n)
	for i := range specs {
		specs[i] = node(fmt.Sprintf("%s%03d", prefix, i), deps[i]...).prio(height[i])
	}
	return specs
}
