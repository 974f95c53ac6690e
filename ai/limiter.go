package ai

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits. Limiters use the real one unless given
// another, such as a fake one in tests.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the system's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// heldFor is how long a slot taken by Throttle stays held for the request
// it was taken for. A slot the request never used (its step was skipped or
// refused before calling) is dropped then: the limit is never passed, a
// slot is only wasted.
const heldFor = time.Minute

// Limiter limits requests to a rate of so many per minute: up to that
// many at once, then one every minute/perMinute (a token bucket of a
// minute's worth of requests, kept as a theoretical arrival time: GCRA). It
// is safe for concurrent use, and meant to be shared by every user of one
// provider. A nil *Limiter limits nothing.
//
// There are two ways to take a slot. Wait takes one, waiting as long as it
// takes. Throttle takes one only if it is free now, else says how long to
// wait; the slot it took is held for the next Wait, which then returns at
// once. The engine asks Throttle (through the ai step, a weft.Throttler)
// before it starts a step, so that a step waits for its provider without
// holding a worker slot, and the provider's Complete calls Wait, which also
// limits callers that did not ask Throttle.
type Limiter struct {
	perMinute int
	interval  time.Duration // between two requests at the steady rate
	tolerance time.Duration // how far ahead of the steady rate a burst may go
	clock     Clock

	mu   sync.Mutex
	tat  time.Time   // the theoretical arrival time of the next request
	held []time.Time // when Throttle took the slots not yet used by Wait
}

// NewLimiter returns a limiter of perMinute requests per minute, or nil
// (no limit) when perMinute ≤ 0. A nil clock means the real one.
func NewLimiter(perMinute int, clock Clock) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	if clock == nil {
		clock = realClock{}
	}
	interval := time.Minute / time.Duration(perMinute)
	return &Limiter{
		perMinute: perMinute,
		interval:  interval,
		tolerance: time.Duration(perMinute-1) * interval,
		clock:     clock,
	}
}

// PerMinute returns the limit, in requests per minute (0 for a nil
// limiter).
func (l *Limiter) PerMinute() int {
	if l == nil {
		return 0
	}
	return l.perMinute
}

// Throttle takes a slot if one is free now and holds it for the next Wait,
// returning 0; otherwise it takes nothing and returns how long until a
// slot is free. It never blocks.
func (l *Limiter) Throttle() time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if wait := l.takeNow(now); wait > 0 {
		return wait
	}
	l.dropExpired(now)
	l.held = append(l.held, now)
	return 0
}

// Wait takes a slot: one held by an earlier Throttle if there is one, else
// the next free one, waiting for it. It returns ctx.Err() when ctx ends
// first (the slot is then given back when no later one was taken).
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.clock.Now()
	l.dropExpired(now)
	if len(l.held) > 0 {
		l.held = l.held[1:]
		l.mu.Unlock()
		return nil
	}
	// Take the next slot, now or in the future, so that waiters are served
	// in order.
	start := later(now, l.tat.Add(-l.tolerance))
	l.tat = later(l.tat, start).Add(l.interval)
	mine := l.tat
	l.mu.Unlock()
	wait := start.Sub(now)
	if wait <= 0 {
		return ctx.Err()
	}
	if err := l.clock.Sleep(ctx, wait); err != nil {
		l.mu.Lock()
		if l.tat.Equal(mine) {
			l.tat = l.tat.Add(-l.interval)
		}
		l.mu.Unlock()
		return err
	}
	return nil
}

// takeNow takes a slot if one is free at now and returns 0, else returns
// the wait until one is free. l.mu is held.
func (l *Limiter) takeNow(now time.Time) time.Duration {
	if allowAt := l.tat.Add(-l.tolerance); now.Before(allowAt) {
		return allowAt.Sub(now)
	}
	l.tat = later(l.tat, now).Add(l.interval)
	return 0
}

// dropExpired forgets held slots older than heldFor. l.mu is held.
func (l *Limiter) dropExpired(now time.Time) {
	i := 0
	for i < len(l.held) && now.Sub(l.held[i]) >= heldFor {
		i++
	}
	if i > 0 {
		l.held = append(l.held[:0], l.held[i:]...)
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
