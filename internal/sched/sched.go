// Package sched holds the scheduling pieces every weft store shares, so
// that stores order work the same way: a binary heap and the order of
// ready steps within a run.
package sched

// Ordered is an element of a Heap: Before reports whether it comes out
// before other.
type Ordered[T any] interface {
	Before(other T) bool
}

// Push adds x to the binary min-heap h (by Before) and returns it.
func Push[T Ordered[T]](h []T, x T) []T {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !x.Before(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
	return h
}

// Pop removes the first element of the non-empty heap h and returns it
// and the heap.
func Pop[T Ordered[T]](h []T) (T, []T) {
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
		if c+1 < n && h[c+1].Before(h[c]) {
			c++
		}
		if !h[c].Before(x) {
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

// Ready is a ready step of a run. Within a run, ready steps start highest
// priority first (the longest remaining path to a sink), then lowest node
// index.
type Ready struct {
	Prio  int32
	Index int32
}

// Before orders ready steps.
func (a Ready) Before(b Ready) bool {
	return a.Prio > b.Prio || (a.Prio == b.Prio && a.Index < b.Index)
}

// ReadyHeap is a run's ready steps, in start order.
type ReadyHeap []Ready

// Push adds a ready step.
func (h *ReadyHeap) Push(x Ready) { *h = Push(*h, x) }

// Pop removes and returns the step to start next; h must not be empty.
func (h *ReadyHeap) Pop() Ready {
	x, rest := Pop(*h)
	*h = rest
	return x
}
