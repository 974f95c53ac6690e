package runstate

import (
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

func TestClock(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	var c Clock
	for _, tc := range []struct{ now, want int }{{3, 3}, {5, 5}, {4, 5}, {5, 5}, {6, 6}, {1, 6}} {
		if got := c.Now(at(tc.now)); !got.Equal(at(tc.want)) {
			t.Fatalf("Now(%d) = %v, want %d", tc.now, got.Unix(), tc.want)
		}
	}
	c.See(at(2))
	c.See(at(9))
	if got := c.Now(at(7)); !got.Equal(at(9)) {
		t.Fatalf("after See(9): Now(7) = %v, want 9", got.Unix())
	}
}

func TestClockedKeepsRequest(t *testing.T) {
	t0, t1 := time.Unix(1, 0), time.Unix(2, 0)
	f := &weft.StepFinish{Now: t0}
	if g := ClockedFinish(f, t0); g != f {
		t.Error("ClockedFinish copied a finish whose time is unchanged")
	}
	if g := ClockedFinish(f, t1); g == f || !g.Now.Equal(t1) || !f.Now.Equal(t0) {
		t.Errorf("ClockedFinish(f, 2) = %v, f.Now = %v; want a copy at 2, f unchanged", g.Now.Unix(), f.Now.Unix())
	}
	c := &weft.RunCancel{Now: t0}
	if g := ClockedCancel(c, t1); !g.Now.Equal(t1) || !c.Now.Equal(t0) {
		t.Error("ClockedCancel did not copy")
	}
	r := &weft.RunRetry{Now: t0}
	if g := ClockedRetry(r, t1); !g.Now.Equal(t1) || !r.Now.Equal(t0) {
		t.Error("ClockedRetry did not copy")
	}
}
