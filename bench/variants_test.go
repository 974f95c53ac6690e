package bench

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// recorder records, through the executors' Hook, when each step began and
// ended (on one sequence shared by all steps) and the most steps in flight.
type recorder struct {
	mu            sync.Mutex
	seq           int
	start, finish map[string]int
	count         map[string]int
	inflight      int
	peak          int
}

func newRecorder() *recorder {
	return &recorder{start: map[string]int{}, finish: map[string]int{}, count: map[string]int{}}
}

func (r *recorder) hook(id string, begin bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	if begin {
		r.count[id]++
		r.start[id] = r.seq
		r.inflight++
		r.peak = max(r.peak, r.inflight)
	} else {
		r.finish[id] = r.seq
		r.inflight--
	}
}

// check verifies that every step of w ran exactly once, started after
// each of its dependencies finished, and that no more than w.Parallel ran
// at once.
func (r *recorder) check(t *testing.T, w *Workload) {
	t.Helper()
	if len(r.count) != w.Steps() {
		t.Errorf("%d distinct steps executed, want %d", len(r.count), w.Steps())
	}
	for id, st := range w.Workflow.Steps {
		if n := r.count[id]; n != 1 {
			t.Errorf("step %s executed %d times, want once", id, n)
			continue
		}
		if r.finish[id] <= r.start[id] {
			t.Errorf("step %s: finished at %d, not after its start at %d", id, r.finish[id], r.start[id])
		}
		for _, d := range st.DependsOn {
			if r.start[id] <= r.finish[d] {
				t.Errorf("step %s started at %d, before its dependency %s finished at %d", id, r.start[id], d, r.finish[d])
			}
		}
	}
	if r.peak > w.Parallel {
		t.Errorf("%d steps ran at once, more than the cap of %d", r.peak, w.Parallel)
	}
	if r.inflight != 0 {
		t.Errorf("%d executions never ended", r.inflight)
	}
}

func TestVariantsExecuteEveryStepOnceInOrder(t *testing.T) {
	for _, w := range Small() {
		for _, v := range Variants {
			t.Run(w.Name+"/"+v, func(t *testing.T) {
				rec := newRecorder()
				r, err := NewRunner(w, v, rec.hook)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				for range 2 { // a Runner is reusable: the second run must pass too
					rec = newRecorder()
					r.x.Hook = rec.hook
					if _, err := r.Once(ctx); err != nil {
						t.Fatal(err)
					}
					rec.check(t, w)
				}
				if v == VariantLevels {
					checkBarriers(t, r.job, rec)
				}
			})
		}
	}
}

// checkBarriers verifies that no step of a level started before every
// step of the previous level finished.
func checkBarriers(t *testing.T, j *Job, rec *recorder) {
	t.Helper()
	lastFinish := 0
	for l, level := range j.levels {
		first, last := int(^uint(0)>>1), 0
		for _, i := range level {
			id := j.steps[i].id
			first = min(first, rec.start[id])
			last = max(last, rec.finish[id])
		}
		if first <= lastFinish {
			t.Errorf("level %d started at %d, before level %d ended at %d", l, first, l-1, lastFinish)
		}
		lastFinish = last
	}
}

func TestWorkloadsAreDeterministic(t *testing.T) {
	a, b := Small(), Small()
	for i := range a {
		ja, _ := json.Marshal(a[i].Workflow)
		jb, _ := json.Marshal(b[i].Workflow)
		if string(ja) != string(jb) {
			t.Errorf("%s: two generations differ", a[i].Name)
		}
	}
	if testing.Short() {
		return
	}
	want := map[string]int{"wide10k": 10_002, "chain10k": 10_000, "layered100k": 100_000, "sleepmix": 1_000}
	for _, w := range All() {
		if w.Steps() != want[w.Name] {
			t.Errorf("%s: %d steps, want %d", w.Name, w.Steps(), want[w.Name])
		}
	}
}

func TestSleepmixShape(t *testing.T) {
	w := Sleepmix("s", 20, 50, 2, 1, 20, SleepmixParallel)
	if w.Workflow.MaxParallel != SleepmixParallel || w.Parallel != SleepmixParallel {
		t.Errorf("max_parallel %d, Parallel %d, want %d", w.Workflow.MaxParallel, w.Parallel, SleepmixParallel)
	}
	for id, st := range w.Workflow.Steps {
		d := w.Sleep[id]
		if d < time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("step %s sleeps %s, outside [1ms, 20ms]", id, d)
		}
		if string(st.Input) != string(SleepInput(int(d/time.Millisecond))) {
			t.Errorf("step %s: input %s does not match its sleep %s", id, st.Input, d)
		}
		if strings.HasPrefix(id, "l000_") != (len(st.DependsOn) == 0) || (len(st.DependsOn) != 0 && len(st.DependsOn) != 2) {
			t.Errorf("step %s depends on %v: want none in the first layer, else 2", id, st.DependsOn)
		}
	}
}

// smallSleeps is a(5ms) -> c(1ms) <- b(2ms), and d(4ms) alone: critical
// path a, c = 6ms; work 12ms.
func smallSleeps() *Workload {
	wf := newWorkflow("bound", 4)
	addStep(wf, "a", TypeSleep, SleepInput(5), nil)
	addStep(wf, "b", TypeSleep, SleepInput(2), nil)
	addStep(wf, "c", TypeSleep, SleepInput(1), []string{"a", "b"})
	addStep(wf, "d", TypeSleep, SleepInput(4), nil)
	ms := time.Millisecond
	return &Workload{Name: "bound", Workflow: wf, Sleep: map[string]time.Duration{"a": 5 * ms, "b": 2 * ms, "c": ms, "d": 4 * ms}}
}

func TestBound(t *testing.T) {
	w, ms := smallSleeps(), time.Millisecond
	for _, c := range []struct {
		p    int
		want time.Duration
	}{{1, 12 * ms}, {2, 6 * ms}, {4, 6 * ms}} {
		b := w.Bound(c.p)
		if b.Critical != 6*ms || b.Work != 12*ms || b.Lower != c.want {
			t.Errorf("p=%d: %+v, want critical 6ms, work 12ms, lower %s", c.p, b, c.want)
		}
	}
}

func TestSimulate(t *testing.T) {
	w, ms := smallSleeps(), time.Millisecond
	// On 2 slots: height-first starts a and b (height 2), then d at 2ms
	// and c at 5ms: 6ms. Weighted starts a (6ms to go) and d (4ms), then b
	// at 4ms and c at 6ms: 7ms. Levels runs a, b, d, then c: 6ms + 1ms.
	for _, c := range []struct {
		p      int
		policy Policy
		want   time.Duration
	}{
		{1, PolicyHeight, 12 * ms}, {1, PolicyWeighted, 12 * ms}, {1, PolicyLevels, 12 * ms},
		{2, PolicyHeight, 6 * ms}, {2, PolicyWeighted, 7 * ms}, {2, PolicyLevels, 7 * ms},
		{4, PolicyHeight, 6 * ms}, {4, PolicyWeighted, 6 * ms}, {4, PolicyLevels, 6 * ms},
	} {
		if got := w.Simulate(c.p, c.policy); got != c.want {
			t.Errorf("p=%d %s: %s, want %s", c.p, c.policy, got, c.want)
		}
	}
	for _, w := range Small() {
		if w.Sleep == nil {
			continue
		}
		lower := w.Bound(w.Parallel).Lower
		for _, p := range []Policy{PolicyHeight, PolicyWeighted, PolicyLevels} {
			if got := w.Simulate(w.Parallel, p); got < lower {
				t.Errorf("%s %s: %s, below the lower bound %s", w.Name, p, got, lower)
			}
		}
	}
}

// TestBaselinesStopOnError checks that a failing step fails the baselines'
// run and that its dependents do not run.
func TestBaselinesStopOnError(t *testing.T) {
	boom := errors.New("boom")
	x := &Executors{}
	reg := x.Registry()
	if err := reg.Register("fail", weft.ExecutorFunc(func(context.Context, *weft.StepContext) (json.RawMessage, error) {
		return nil, boom
	})); err != nil {
		t.Fatal(err)
	}
	wf := newWorkflow("fails", 3)
	addStep(wf, "a", "fail", nil, nil)
	addStep(wf, "b", TypeNoop, nil, []string{"a"})
	addStep(wf, "c", TypeNoop, nil, []string{"b"})
	j, err := NewJob(wf, reg)
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(context.Context, *Job, int, string) error{"floor": RunFloor, "levels": RunLevels} {
		x.Reset()
		if err := run(context.Background(), j, 2, "r"); !errors.Is(err, boom) {
			t.Errorf("%s: error %v, want boom", name, err)
		}
		if n := x.Calls(); n != 0 {
			t.Errorf("%s: %d dependents of the failed step ran", name, n)
		}
	}
}
