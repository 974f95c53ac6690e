package runstate

import (
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

func TestRetryDueAndPromote(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	if !RetryDue(at(5), at(5)) || !RetryDue(at(5), at(6)) || RetryDue(at(5), at(4)) {
		t.Error("RetryDue: a delay ending at 5 is over at 5 and 6, not at 4")
	}
	c := Clock{Last: at(7)}
	if st, ready := Promote(&c, at(5)); st != weft.StepReady || !ready.Equal(at(7)) {
		t.Errorf("Promote(clock 7, 5) = %s at %v, want ready at 7", st, ready.Unix())
	}
	if st, ready := Promote(&c, at(9)); st != weft.StepReady || !ready.Equal(at(9)) || !c.Last.Equal(at(9)) {
		t.Errorf("Promote(clock 7, 9) = %s at %v, clock %v; want ready at 9, clock 9", st, ready.Unix(), c.Last.Unix())
	}
}
