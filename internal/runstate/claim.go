package runstate

import (
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// Queue is a store's ready work as ClaimReady sees it: the runs that have
// ready steps and room to start them, oldest first, each with its heap of
// ready steps (sched.ReadyHeap). R is the store's handle of a run. The
// in-memory and SQLite stores implement it over the runs they hold;
// PostgreSQL, which reads a run's ready steps page by page, serves claims
// its own way, in the same order.
type Queue[R any] interface {
	// PopRun removes from the queue and returns the oldest run that may
	// have ready steps and room; ok is false when there is none left. Its
	// error (reading the run) fails the claim.
	PopRun() (r R, ok bool, err error)
	// Activate puts run r back in the queue if it has ready steps and
	// room, and is not there yet.
	Activate(r R)
	// ReadySteps returns run r's ready steps.
	ReadySteps(r R) *sched.ReadyHeap
	// HasRoom reports whether run r may start one more step: it is not
	// over, and its running steps are fewer than its MaxParallel (if any).
	HasRoom(r R) bool
	// ClaimOf returns the claim by req of run r's ready node i (its next
	// attempt, with its dependencies' results), not recorded yet.
	ClaimOf(r R, i int32, req *weft.ClaimRequest) *weft.Claim
	// Start records claim c of run r's node i: the step runs.
	Start(r R, i int32, c *weft.Claim, req *weft.ClaimRequest)
}

// ClaimReady serves request req from q, appending to res.Claims: runs
// oldest first, in each run its ready steps highest priority first, while
// the run has room, until req.Max steps are claimed. req.Admit is asked
// about each claim; a step it refuses stays ready, and its run is put back
// in the queue after the others, to be asked again by the next claim. It
// returns the error of q.PopRun.
func ClaimReady[R any](q Queue[R], req *weft.ClaimRequest, res *weft.ClaimResult) error {
	var revisit []R
	var refused []sched.Ready
	for len(res.Claims) < req.Max {
		r, ok, err := q.PopRun()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		ready := q.ReadySteps(r)
		refused = refused[:0]
		for len(res.Claims) < req.Max && len(*ready) > 0 && q.HasRoom(r) {
			it := ready.Pop()
			c := q.ClaimOf(r, it.Index, req)
			if req.Admit != nil && !req.Admit(c) {
				refused = append(refused, it)
				continue
			}
			q.Start(r, it.Index, c, req)
			res.Claims = append(res.Claims, c)
		}
		for _, it := range refused {
			ready.Push(it)
		}
		if len(refused) > 0 {
			revisit = append(revisit, r) // refused now, maybe admitted next time
		} else {
			q.Activate(r)
		}
	}
	for _, r := range revisit {
		q.Activate(r)
	}
	return nil
}
