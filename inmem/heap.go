package inmem

import (
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// runHeap orders runs by creation: the oldest run is served first.
type runHeap []runRef

// runRef adapts *run to ordered.
type runRef struct{ r *run }

func (a runRef) Before(b runRef) bool { return a.r.seq < b.r.seq }

func (h *runHeap) push(r *run) { *h = sched.Push(*h, runRef{r}) }
func (h *runHeap) pop() *run {
	x, rest := sched.Pop(*h)
	*h = rest
	return x.r
}

// retryItem is a step waiting out a retry delay until at.
type retryItem struct {
	at time.Time
	r  *run
	i  int32
}

func (a retryItem) Before(b retryItem) bool { return a.at.Before(b.at) }

// stale reports an entry whose step no longer waits for it (its run was
// canceled, or it was rescheduled).
func (a retryItem) stale() bool {
	st := &a.r.steps[a.i]
	return st.Status != weft.StepRetrying || !st.retryAt.Equal(a.at)
}

type retryHeap []retryItem

func (h *retryHeap) push(x retryItem) { *h = sched.Push(*h, x) }
func (h *retryHeap) pop() retryItem {
	x, rest := sched.Pop(*h)
	*h = rest
	return x
}
