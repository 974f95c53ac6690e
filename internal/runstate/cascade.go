// Package runstate is the decision logic of weft's run state machine,
// shared by every store (inmem, sqlite, postgres) so that a change of
// semantics is made once: how a step's outcome counts in its dependents'
// counters, how pending steps are decided (weft.Trigger.Decide) and skips
// cascade, how a run whose steps are all done ends, what starting an
// attempt records, how an attempt's outcome is recorded as an event, and
// what cancelling and retrying a run do.
//
// Stores keep their own representation of a run (inmem's in-memory run,
// sqlite's cached rows with dirty tracking, postgres's rows loaded by one
// transaction): the cascade works through the small interface Run that
// each implements over it; the other decisions are pure functions.
package runstate

import (
	"time"

	"github.com/weft-dev/weft"
)

// Run is a run's steps as a store holds them, as the cascade sees them.
// Nodes are plan indices. Its methods are called with the store's lock
// (or transaction) held.
type Run interface {
	// Dependents returns the nodes that depend on node i. A store that
	// reads steps as it needs them reads here those of them that are
	// pending; its error is returned by Cascade's methods.
	Dependents(i int32) ([]int32, error)
	// Outcome returns the status and reason of node i, which is terminal.
	Outcome(i int32) (weft.StepStatus, string)
	// Pending returns the dependency counters of node i when it is
	// pending, and nil when it is not (or is known not to be): only a
	// pending step's counters are read, to decide it.
	Pending(i int32) *weft.DepCounts
	// Trigger returns the trigger of pending node i. (It is asked apart
	// from Pending, only when the step is decided: a store may keep it
	// away from the status, and counting an outcome in the counters of a
	// step that must still wait need not read it.)
	Trigger(i int32) weft.Trigger
	// Counted is told that the counters of pending node i changed.
	Counted(i int32)
	// Ready makes pending node i claimable as of now (ready, or queued for
	// admission under the run's MaxParallel).
	Ready(i int32, now time.Time)
	// Skip makes pending node i skipped with reason at now: terminal, with
	// its step_skipped event and the run's counters kept.
	Skip(i int32, reason string, now time.Time)
}

// Cascade decides pending steps, cascading skips without recursion. Its
// zero value is ready to use; it keeps its buffers from call to call, so
// one Cascade serves one goroutine (or lock holder) at a time.
type Cascade struct {
	stack, todo []int32
}

// Settled counts the outcome of node i, which just became terminal, in
// its pending dependents' counters and decides them (a skip cascades to
// the skipped step's dependents, and so on). It returns how many steps
// became ready, and the error of r.Dependents.
func (c *Cascade) Settled(r Run, i int32, now time.Time) (ready int, err error) {
	// decide uses c.stack: the dependents are taken one by one from a
	// list of their own.
	todo, err := c.settled(r, i, c.todo[:0])
	c.todo = todo[:0]
	if err != nil {
		return 0, err
	}
	for _, d := range todo {
		n, err := c.Decide(r, d, now)
		ready += n
		if err != nil {
			return ready, err
		}
	}
	return ready, nil
}

// Decide settles node i if it is pending and its dependencies allow it
// (weft.Trigger.Decide): ready, or skipped (then its own dependents are
// settled in turn). A node that must wait, or is not pending, is left as
// it is. It returns how many steps became ready, and the error of
// r.Dependents.
func (c *Cascade) Decide(r Run, i int32, now time.Time) (ready int, err error) {
	stack := append(c.stack[:0], i)
	defer func() { c.stack = stack[:0] }()
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		counts := r.Pending(i)
		if counts == nil {
			continue
		}
		d, reason := r.Trigger(i).Decide(*counts)
		switch d {
		case weft.DecideRun:
			r.Ready(i, now)
			ready++
		case weft.DecideSkip:
			r.Skip(i, reason, now)
			if stack, err = c.settled(r, i, stack); err != nil {
				return ready, err
			}
		}
	}
	return ready, nil
}

// settled counts terminal node i's outcome in its pending dependents'
// counters and appends them to stack.
func (c *Cascade) settled(r Run, i int32, stack []int32) ([]int32, error) {
	dependents, err := r.Dependents(i)
	if err != nil {
		return stack, err
	}
	status, reason := r.Outcome(i)
	for _, d := range dependents {
		counts := r.Pending(d)
		if counts == nil {
			continue // decided already: its counters no longer matter
		}
		Count(counts, status, reason)
		r.Counted(d)
		stack = append(stack, d)
	}
	return stack, nil
}

// Count adds a dependency's terminal outcome (status and reason) to
// counters c. A dependency skipped because of a failure upstream counts
// as skipped for failure too, so that it passes the reason on.
func Count(c *weft.DepCounts, status weft.StepStatus, reason string) {
	switch status {
	case weft.StepSucceeded:
		c.Succeeded++
	case weft.StepFailed:
		c.Failed++
	case weft.StepSkipped:
		c.Skipped++
		if reason == weft.ReasonUpstreamFailed {
			c.SkippedForFailure++
		}
	case weft.StepCanceled:
		c.Canceled++
	}
}

// Recount returns the counters of a step that goes back to pending (a
// retried run's): of its dependencies deps, only those that succeeded
// count, the others going back to pending too. succeeded reports whether
// a node succeeded.
func Recount(deps []int32, succeeded func(int32) bool) weft.DepCounts {
	c := weft.DepCounts{Total: len(deps)}
	for _, d := range deps {
		if succeeded(d) {
			c.Succeeded++
		}
	}
	return c
}
