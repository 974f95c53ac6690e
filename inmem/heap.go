package inmem

import (
	"time"

	"github.com/weft-dev/weft"
)

// ordered is an element of a heap: before reports whether it comes out
// before other.
type ordered[T any] interface {
	before(other T) bool
}

// heapPush and heapPop keep a binary min-heap (by before) in a slice.
func heapPush[T ordered[T]](h []T, x T) []T {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !x.before(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
	return h
}

func heapPop[T ordered[T]](h []T) (T, []T) {
	top := h[0]
	n := len(h) - 1
	x := h[n]
	var zero T
	h[n] = zero
	h = h[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].before(h[c]) {
			c++
		}
		if !h[c].before(x) {
			break
		}
		h[i] = h[c]
		i = c
	}
	if n > 0 {
		h[i] = x
	}
	return top, h
}

// readyItem is a ready step of a run: higher priority first, then lower
// node index.
type readyItem struct {
	prio int32
	i    int32
}

func (a readyItem) before(b readyItem) bool {
	return a.prio > b.prio || (a.prio == b.prio && a.i < b.i)
}

type readyHeap []readyItem

func (h *readyHeap) push(x readyItem) { *h = heapPush(*h, x) }
func (h *readyHeap) pop() readyItem {
	x, rest := heapPop(*h)
	*h = rest
	return x
}

// runHeap orders runs by creation: the oldest run is served first.
type runHeap []runRef

// runRef adapts *run to ordered.
type runRef struct{ r *run }

func (a runRef) before(b runRef) bool { return a.r.seq < b.r.seq }

func (h *runHeap) push(r *run) { *h = heapPush(*h, runRef{r}) }
func (h *runHeap) pop() *run {
	x, rest := heapPop(*h)
	*h = rest
	return x.r
}

// retryItem is a step waiting out a retry delay until at.
type retryItem struct {
	at time.Time
	r  *run
	i  int32
}

func (a retryItem) before(b retryItem) bool { return a.at.Before(b.at) }

// stale reports an entry whose step no longer waits for it (its run was
// canceled, or it was rescheduled).
func (a retryItem) stale() bool {
	st := &a.r.steps[a.i]
	return st.Status != weft.StepRetrying || !st.retryAt.Equal(a.at)
}

type retryHeap []retryItem

func (h *retryHeap) push(x retryItem) { *h = heapPush(*h, x) }
func (h *retryHeap) pop() retryItem {
	x, rest := heapPop(*h)
	*h = rest
	return x
}
