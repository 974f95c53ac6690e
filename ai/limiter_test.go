package ai_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/aitest"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// TestLimiterSpacing: N requests per minute pass at once, the N+1th waits
// a minute/N, and slots come back at that pace.
func TestLimiterSpacing(t *testing.T) {
	clock := aitest.NewClock(t0)
	l := ai.NewLimiter(3, clock)
	if l.PerMinute() != 3 {
		t.Fatalf("PerMinute = %d", l.PerMinute())
	}
	for i := range 3 {
		if d := l.Throttle(); d != 0 {
			t.Fatalf("request %d waits %s, want 0", i+1, d)
		}
	}
	if d := l.Throttle(); d != 20*time.Second {
		t.Fatalf("the 4th request waits %s, want 20s", d)
	}
	clock.Advance(15 * time.Second)
	if d := l.Throttle(); d != 5*time.Second {
		t.Fatalf("15s later the 4th request waits %s, want 5s", d)
	}
	clock.Advance(5 * time.Second)
	if d := l.Throttle(); d != 0 {
		t.Fatalf("20s later the 4th request waits %s, want 0", d)
	}
	if d := l.Throttle(); d != 20*time.Second {
		t.Fatalf("the 5th request waits %s, want 20s", d)
	}
	// After a quiet minute, a whole burst again, and no more.
	clock.Advance(2 * time.Minute)
	for i := range 3 {
		if d := l.Throttle(); d != 0 {
			t.Fatalf("after a pause, request %d waits %s", i+1, d)
		}
	}
	if d := l.Throttle(); d != 20*time.Second {
		t.Fatalf("after a pause, the 4th request waits %s, want 20s", d)
	}
}

// TestLimiterWait: Wait takes the slots Throttle held at once, then waits
// its turn, in order.
func TestLimiterWait(t *testing.T) {
	clock := aitest.NewClock(t0)
	l := ai.NewLimiter(60, clock) // one a second
	ctx := context.Background()
	for range 60 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := clock.Slept(); len(s) != 0 {
		t.Fatalf("the first 60 waited %v", s)
	}
	for range 3 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := clock.Slept(); !slices.Equal(s, []time.Duration{time.Second, time.Second, time.Second}) {
		t.Fatalf("slept %v, want 1s three times", s)
	}

	// A slot taken by Throttle is used by the next Wait, without waiting.
	clock.Advance(time.Second)
	if d := l.Throttle(); d != 0 {
		t.Fatalf("Throttle = %s", d)
	}
	if d := l.Throttle(); d != time.Second {
		t.Fatalf("Throttle after the last slot = %s, want 1s", d)
	}
	if err := l.Wait(ctx); err != nil || len(clock.Slept()) != 3 {
		t.Fatalf("Wait with a held slot: %v, slept %v", err, clock.Slept())
	}
	// The held slot is used up: the next Wait waits.
	if err := l.Wait(ctx); err != nil || len(clock.Slept()) != 4 {
		t.Fatalf("Wait without a held slot: %v, slept %v", err, clock.Slept())
	}
}

// TestLimiterHeldExpires: a slot Throttle took and nobody used is dropped
// after a minute.
func TestLimiterHeldExpires(t *testing.T) {
	clock := aitest.NewClock(t0)
	l := ai.NewLimiter(1, clock)
	if d := l.Throttle(); d != 0 {
		t.Fatal(d)
	}
	clock.Advance(time.Minute)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The held slot had expired, but the bucket refilled: no wait.
	if s := clock.Slept(); len(s) != 0 {
		t.Fatalf("slept %v", s)
	}
	if d := l.Throttle(); d != time.Minute {
		t.Fatalf("Throttle = %s, want 1m", d)
	}
}

// TestLimiterWaitCanceled: a canceled Wait gives its slot back.
func TestLimiterWaitCanceled(t *testing.T) {
	clock := aitest.NewClock(t0)
	l := ai.NewLimiter(2, clock)
	bg := context.Background()
	if l.Wait(bg) != nil || l.Wait(bg) != nil {
		t.Fatal("the first two Waits failed")
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	for range 3 {
		if err := l.Wait(ctx); err != context.Canceled {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	}
	if d := l.Throttle(); d != 30*time.Second {
		t.Fatalf("Throttle after canceled waits = %s, want 30s (their slots given back)", d)
	}
}

func TestLimiterNil(t *testing.T) {
	if l := ai.NewLimiter(0, nil); l != nil {
		t.Fatalf("NewLimiter(0) = %v, want nil", l)
	}
	var l *ai.Limiter
	if l.Throttle() != 0 || l.Wait(context.Background()) != nil || l.PerMinute() != 0 {
		t.Error("a nil limiter limits")
	}
}

// TestLimiterRealClock waits for real, briefly, from many goroutines.
func TestLimiterRealClock(t *testing.T) {
	l := ai.NewLimiter(6000, nil) // one every 10ms after 6000
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				l.Throttle()
				if err := l.Wait(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
