package runstate

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// fakeRun is a run of a few nodes in memory, recording what the cascade
// did.
type fakeRun struct {
	deps     [][]int32
	triggers []weft.Trigger
	status   []weft.StepStatus
	reason   []string
	counts   []weft.DepCounts
	log      []string
	err      error
}

func newFakeRun(deps [][]int32, triggers map[int32]weft.Trigger) *fakeRun {
	n := len(deps)
	r := &fakeRun{deps: deps, triggers: make([]weft.Trigger, n), status: make([]weft.StepStatus, n),
		reason: make([]string, n), counts: make([]weft.DepCounts, n)}
	for i := range n {
		r.status[i] = weft.StepPending
		r.counts[i].Total = len(deps[i])
		r.triggers[i] = triggers[int32(i)]
	}
	return r
}

func (r *fakeRun) Dependents(i int32) ([]int32, error) {
	if r.err != nil {
		return nil, r.err
	}
	var out []int32
	for d, ds := range r.deps {
		if slices.Contains(ds, i) {
			out = append(out, int32(d))
		}
	}
	return out, nil
}

func (r *fakeRun) Outcome(i int32) (weft.StepStatus, string) { return r.status[i], r.reason[i] }

func (r *fakeRun) Pending(i int32) *weft.DepCounts {
	if r.status[i] != weft.StepPending {
		return nil
	}
	return &r.counts[i]
}

func (r *fakeRun) Trigger(i int32) weft.Trigger { return r.triggers[i] }

func (r *fakeRun) Counted(i int32) {}

func (r *fakeRun) Ready(i int32, now time.Time) {
	r.status[i] = weft.StepReady
	r.log = append(r.log, "ready "+string(rune('a'+i)))
}

func (r *fakeRun) Skip(i int32, reason string, now time.Time) {
	r.status[i], r.reason[i] = weft.StepSkipped, reason
	r.log = append(r.log, "skip "+string(rune('a'+i))+" "+reason)
}

// TestCascade: a failure skips its all_success dependents, which pass
// upstream_failed on; an all_done step runs once all are done; a
// one_failed step runs on a direct failure only.
func TestCascade(t *testing.T) {
	// a; b <- a; c <- b; d (all_done) <- b, c; e (one_failed) <- c; f <- a (one_failed)
	r := newFakeRun([][]int32{nil, {0}, {1}, {1, 2}, {2}, {0}},
		map[int32]weft.Trigger{3: weft.TriggerAllDone, 4: weft.TriggerOneFailed, 5: weft.TriggerOneFailed})
	var c Cascade
	now := time.Unix(1, 0)
	if n, err := c.Decide(r, 0, now); n != 1 || err != nil {
		t.Fatalf("Decide(root) = %d, %v; want 1, nil", n, err)
	}
	r.status[0] = weft.StepFailed
	n, err := c.Settled(r, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	// A skip's dependents are decided last in, first out.
	want := []string{"ready a", "skip b upstream_failed", "skip c upstream_failed", "skip e no_upstream_failure", "ready d", "ready f"}
	if !slices.Equal(r.log, want) {
		t.Errorf("log\n got %q\nwant %q", r.log, want)
	}
	if n != 2 {
		t.Errorf("Settled made %d ready, want 2 (d, f)", n)
	}
	if got := r.counts[2]; got.Skipped != 1 || got.SkippedForFailure != 1 {
		t.Errorf("c's counters %+v: want one dependency skipped for failure", got)
	}
}

// TestCascadeError: the store's error is returned.
func TestCascadeError(t *testing.T) {
	r := newFakeRun([][]int32{nil, {0}}, nil)
	r.status[0] = weft.StepSucceeded
	r.err = errors.New("read failed")
	var c Cascade
	if _, err := c.Settled(r, 0, time.Time{}); !errors.Is(err, r.err) {
		t.Errorf("Settled: %v, want %v", err, r.err)
	}
}

// TestRecount: only succeeded dependencies count.
func TestRecount(t *testing.T) {
	ok := map[int32]bool{1: true, 3: true}
	c := Recount([]int32{1, 2, 3}, func(i int32) bool { return ok[i] })
	if c != (weft.DepCounts{Total: 3, Succeeded: 2}) {
		t.Errorf("Recount = %+v", c)
	}
}
