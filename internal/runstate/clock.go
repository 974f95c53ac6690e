package runstate

import (
	"time"

	"github.com/weft-dev/weft"
)

// Clock is a run's latest recorded time: the rule that a run's recorded
// times never go backwards, whatever the order in which calls computed
// earlier and later reach its store (several slots, several processes).
// Every store write that touches a run records its times at Now(the
// call's time): the later of the call's time and the latest time already
// recorded for the run. So a step never starts before it became ready,
// never becomes ready before a dependency that settled it finished, queue
// waits are never negative, and a run's events are in time order.
//
// Its zero value knows no time yet. Stores keep one per run (inmem on its
// run, sqlite on its cached run, postgres in the run's row, last_time).
type Clock struct {
	// Last is the latest time recorded for the run.
	Last time.Time
}

// Now returns the time to record a write made at now: the later of now and
// c.Last, which it becomes.
func (c *Clock) Now(now time.Time) time.Time {
	if now.Before(c.Last) {
		return c.Last
	}
	c.Last = now
	return now
}

// See advances c.Last to t when t is later: a time recorded otherwise (such
// as a run's times read back from a store).
func (c *Clock) See(t time.Time) {
	if t.After(c.Last) {
		c.Last = t
	}
}

// ClockedFinish returns f with Now set to now (a copy when it differs):
// the time a store records the finish at (see Clock). Next keeps its own
// Now: a claim is clocked by each run it claims from.
func ClockedFinish(f *weft.StepFinish, now time.Time) *weft.StepFinish {
	return withNow(f, now, func(f *weft.StepFinish) *time.Time { return &f.Now })
}

// ClockedCancel returns c with Now set to now (a copy when it differs).
func ClockedCancel(c *weft.RunCancel, now time.Time) *weft.RunCancel {
	return withNow(c, now, func(c *weft.RunCancel) *time.Time { return &c.Now })
}

// ClockedRetry returns r with Now set to now (a copy when it differs).
func ClockedRetry(r *weft.RunRetry, now time.Time) *weft.RunRetry {
	return withNow(r, now, func(r *weft.RunRetry) *time.Time { return &r.Now })
}

// withNow returns p, or a copy of it whose time at(p) is now when it is
// not: the caller's request is never modified.
func withNow[T any](p *T, now time.Time, at func(*T) *time.Time) *T {
	if at(p).Equal(now) {
		return p
	}
	c := *p
	*at(&c) = now
	return &c
}
