// Package bench measures weft's engine against two hand-written baselines
// on deterministic synthetic workflows.
//
// The workloads (see [Wide], [Chain], [Layered], [Sleepmix] and [All]) are
// generated from fixed seeds, so every run of every variant executes the
// same graph with the same step durations. Their steps have the types
// "noop" (returns at once) and "sleep" (waits the number of milliseconds in
// its input, {"ms": 7}); both are registered by [Executors] and are not
// product step types.
//
// A workload runs in one of four variants (see [Runner]):
//
//   - "engine": weft's engine over the in-memory store, on a workflow
//     validated beforehand: submit to done (engine.Execute).
//   - "engine+validate": the same, with workflow.Validate (validation,
//     planning, template compilation) and the document's encoding inside the
//     measured time: what a user pays for a Go-built workflow run once.
//   - "floor": [RunFloor], the minimal executor: one goroutine per step
//     waiting on its dependencies' done channels, and a semaphore.
//   - "levels": [RunLevels], level-by-level batches with a barrier after
//     each level: the original (seed) design.
//
// For sleep workloads, [Workload.Bound] gives the lower bound on the
// makespan, max(critical path, total work / slots), and
// [Workload.Simulate] the makespan a scheduling policy reaches with no
// overhead at all.
//
// The benchmarks (go test -bench . ./bench) and the program
// bench/cmd/weftbench report the times and their ratios; README.md in this
// directory has the results and how to reproduce them.
package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/dag"
)

// The step types of the workloads.
const (
	TypeNoop  = "noop"
	TypeSleep = "sleep"
)

// Workload is a generated workflow and how to run it.
type Workload struct {
	// Name names the workload, such as "layered100k".
	Name string
	// Workflow is the generated workflow. Treat it as read-only.
	Workflow *weft.Workflow
	// Parallel is the cap on running steps for every variant: the
	// engine's MaxParallelSteps and the baselines' semaphore.
	Parallel int
	// Sleep holds each sleep step's duration by step id (also in the
	// step's input as {"ms": N}); nil when the workload has none.
	Sleep map[string]time.Duration
}

// Steps returns the number of steps.
func (w *Workload) Steps() int { return len(w.Workflow.Steps) }

// The seed of every generated workload: change it and every number in
// README.md changes.
const seed = 20250601

// DefaultParallel is the parallelism of the noop workloads.
const DefaultParallel = 64

// SleepmixParallel is the parallelism of the sleepmix workloads (engine cap,
// the workflow's max_parallel and the baselines' semaphore).
const SleepmixParallel = 16

// Names lists the four workloads of the issue, in the order they are
// reported.
var Names = []string{"wide10k", "chain10k", "layered100k", "sleepmix"}

// ByName generates the workload of that name (one of Names), or returns
// nil. Generating one at a time keeps the others' memory from weighing on
// the garbage collector while it runs.
func ByName(name string) *Workload {
	switch name {
	case "wide10k":
		return Wide(name, 10_000)
	case "chain10k":
		return Chain(name, 10_000)
	case "layered100k":
		return Layered(name, 100, 1_000, 3)
	case "sleepmix":
		return Sleepmix(name, 20, 50, 2, 1, 20, SleepmixParallel)
	}
	return nil
}

// All returns the workloads of Names.
func All() []*Workload {
	ws := make([]*Workload, len(Names))
	for i, name := range Names {
		ws[i] = ByName(name)
	}
	return ws
}

// Small returns small versions of the four workloads, quick enough for
// unit tests under the race detector, with a parallelism of 4 (3 for
// sleepmix_small) so that the cap is reached.
func Small() []*Workload {
	ws := []*Workload{
		Wide("wide_small", 100),
		Chain("chain_small", 50),
		Layered("layered_small", 10, 30, 3),
	}
	for _, w := range ws {
		w.Parallel = 4
	}
	return append(ws, Sleepmix("sleepmix_small", 4, 8, 2, 1, 3, 3))
}

func newWorkflow(id string, n int) *weft.Workflow {
	return &weft.Workflow{ID: id, Steps: make(map[string]*weft.Step, n)}
}

func addStep(wf *weft.Workflow, id, typ string, input json.RawMessage, deps []string) {
	if deps == nil {
		deps = []string{}
	}
	wf.Steps[id] = &weft.Step{ID: id, Type: typ, Input: input, DependsOn: deps}
}

// Wide returns a fan-out/fan-in: one root, n steps depending on it, and
// one sink depending on all n (n+2 noop steps). n must be at most
// weft.DefaultMaxDependencies for the sink to validate.
func Wide(name string, n int) *Workload {
	wf := newWorkflow(name, n+2)
	addStep(wf, "root", TypeNoop, nil, nil)
	mid := make([]string, n)
	for i := range n {
		mid[i] = fmt.Sprintf("w%05d", i)
		addStep(wf, mid[i], TypeNoop, nil, []string{"root"})
	}
	addStep(wf, "sink", TypeNoop, nil, mid)
	return &Workload{Name: name, Workflow: wf, Parallel: DefaultParallel}
}

// Chain returns n noop steps, each depending on the one before.
func Chain(name string, n int) *Workload {
	wf := newWorkflow(name, n)
	prev := ""
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		var deps []string
		if prev != "" {
			deps = []string{prev}
		}
		addStep(wf, id, TypeNoop, nil, deps)
		prev = id
	}
	return &Workload{Name: name, Workflow: wf, Parallel: DefaultParallel}
}

// layerID names step s of layer l.
func layerID(l, s int) string { return fmt.Sprintf("l%03d_s%04d", l, s) }

// pick returns k distinct indices in [0, n), chosen by rng, as step ids of
// layer l.
func pick(rng *rand.Rand, l, n, k int) []string {
	idx := make([]int, 0, k)
	for len(idx) < k {
		j := rng.IntN(n)
		if !slices.Contains(idx, j) {
			idx = append(idx, j)
		}
	}
	slices.Sort(idx)
	ids := make([]string, k)
	for i, j := range idx {
		ids[i] = layerID(l, j)
	}
	return ids
}

// Layered returns layers × width noop steps: every step after the first
// layer depends on deps distinct steps of the previous layer, drawn by a
// seeded generator. Steps of one layer that nothing picked are sinks.
func Layered(name string, layers, width, deps int) *Workload {
	rng := rand.New(rand.NewPCG(seed, 1))
	wf := newWorkflow(name, layers*width)
	for l := range layers {
		for s := range width {
			var d []string
			if l > 0 {
				d = pick(rng, l-1, width, min(deps, width))
			}
			addStep(wf, layerID(l, s), TypeNoop, nil, d)
		}
	}
	return &Workload{Name: name, Workflow: wf, Parallel: DefaultParallel}
}

// Sleepmix returns layers × width sleep steps, each sleeping a whole number
// of milliseconds drawn uniformly from [minMS, maxMS], each step after the
// first layer depending on deps distinct steps of the previous layer. The
// workflow's max_parallel and the workload's Parallel are parallel.
func Sleepmix(name string, layers, width, deps, minMS, maxMS, parallel int) *Workload {
	rng := rand.New(rand.NewPCG(seed, 2))
	wf := newWorkflow(name, layers*width)
	wf.MaxParallel = parallel
	sleep := make(map[string]time.Duration, layers*width)
	for l := range layers {
		for s := range width {
			var d []string
			if l > 0 {
				d = pick(rng, l-1, width, min(deps, width))
			}
			ms := minMS + rng.IntN(maxMS-minMS+1)
			id := layerID(l, s)
			addStep(wf, id, TypeSleep, SleepInput(ms), d)
			sleep[id] = time.Duration(ms) * time.Millisecond
		}
	}
	return &Workload{Name: name, Workflow: wf, Parallel: parallel, Sleep: sleep}
}

// SleepInput returns the input of a sleep step of ms milliseconds.
func SleepInput(ms int) json.RawMessage {
	return json.RawMessage(`{"ms":` + strconv.Itoa(ms) + `}`)
}

// Bound is the lower bound of a workload's makespan on p slots.
type Bound struct {
	// Critical is the longest path, summing the sleeps of its steps.
	Critical time.Duration
	// Work is the sum of every step's sleep.
	Work time.Duration
	// Slots is the parallelism the bound is for.
	Slots int
	// Lower is max(Critical, Work/Slots): no schedule on Slots slots can
	// finish sooner.
	Lower time.Duration
}

// graph returns the workload's graph, its nodes named by the sorted step
// ids (the engine's node order), and each node's sleep. It panics if the
// workflow is not a DAG, which no generator makes.
func (w *Workload) graph() (*dag.Graph, []time.Duration) {
	ids := w.Workflow.StepIDs()
	index := make(map[string]int32, len(ids))
	for i, id := range ids {
		index[id] = int32(i)
	}
	deps := make([][]int32, len(ids))
	sleep := make([]time.Duration, len(ids))
	for i, id := range ids {
		for _, d := range w.Workflow.Steps[id].DependsOn {
			deps[i] = append(deps[i], index[d])
		}
		sleep[i] = w.Sleep[id]
	}
	g, err := dag.New(ids, deps)
	if err != nil {
		panic(fmt.Sprintf("bench: workload %s: %v", w.Name, err))
	}
	return g, sleep
}

// Bound returns the lower bound of the workload's makespan on p slots,
// from its steps' sleeps (zero for noop steps).
func (w *Workload) Bound(p int) Bound {
	g, sleep := w.graph()
	b := Bound{Slots: p}
	finish := make([]time.Duration, g.Len()) // earliest finish on unbounded slots
	for _, u := range g.Order() {
		var start time.Duration
		for _, d := range g.Deps(u) {
			start = max(start, finish[d])
		}
		finish[u] = start + sleep[u]
		b.Critical = max(b.Critical, finish[u])
		b.Work += sleep[u]
	}
	b.Lower = max(b.Critical, b.Work/time.Duration(p))
	return b
}
