package runstate

import (
	"slices"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// fakeRuns is a queue of runs in memory.
type fakeRuns struct {
	runs    []*fakeQRun // by age
	active  []int       // indices into runs, oldest first
	started []string
}

type fakeQRun struct {
	name    string
	k       int
	ready   sched.ReadyHeap
	running int
	max     int
	queued  bool
}

func (q *fakeRuns) PopRun() (*fakeQRun, bool, error) {
	if len(q.active) == 0 {
		return nil, false, nil
	}
	slices.Sort(q.active)
	r := q.runs[q.active[0]]
	q.active = q.active[1:]
	r.queued = false
	return r, true, nil
}

func (q *fakeRuns) Activate(r *fakeQRun) {
	if !r.queued && len(r.ready) > 0 && q.HasRoom(r) {
		r.queued = true
		q.active = append(q.active, r.k)
	}
}

func (q *fakeRuns) ReadySteps(r *fakeQRun) *sched.ReadyHeap { return &r.ready }
func (q *fakeRuns) HasRoom(r *fakeQRun) bool                { return r.max <= 0 || r.running < r.max }

func (q *fakeRuns) ClaimOf(r *fakeQRun, i int32, req *weft.ClaimRequest) *weft.Claim {
	return &weft.Claim{RunID: r.name, Index: i, StepID: r.name + string(rune('a'+i))}
}

func (q *fakeRuns) Start(r *fakeQRun, i int32, c *weft.Claim, req *weft.ClaimRequest) {
	r.running++
	q.started = append(q.started, c.StepID)
}

// TestClaimReady: oldest run first, highest priority first, MaxParallel
// kept, refused steps stay ready and are asked about again later.
func TestClaimReady(t *testing.T) {
	q := &fakeRuns{}
	for k, name := range []string{"x", "y"} {
		r := &fakeQRun{name: name, k: k}
		for i, prio := range []int32{1, 3, 2} {
			r.ready.Push(sched.Ready{Prio: prio, Index: int32(i)})
		}
		q.runs = append(q.runs, r)
		q.Activate(r)
	}
	q.runs[0].max = 2
	res := &weft.ClaimResult{}
	req := &weft.ClaimRequest{Max: 3, Admit: func(c *weft.Claim) bool { return c.StepID != "yb" }}
	if err := ClaimReady[*fakeQRun](q, req, res); err != nil {
		t.Fatal(err)
	}
	if want := []string{"xb", "xc", "yc"}; !slices.Equal(q.started, want) {
		t.Errorf("started %q; want %q", q.started, want)
	}
	if len(res.Claims) != 3 || len(q.runs[1].ready) != 2 || !q.runs[1].queued {
		t.Errorf("%d claims, y has %d ready (queued %v); want 3, 2 (yb refused, ya), queued", len(res.Claims), len(q.runs[1].ready), q.runs[1].queued)
	}
}
