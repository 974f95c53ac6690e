package sched

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestReadyHeapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h ReadyHeap
	var all []Ready
	for i := range 500 {
		x := Ready{Prio: int32(r.IntN(10)), Index: int32(i)}
		all = append(all, x)
		h.Push(x)
	}
	slices.SortFunc(all, func(a, b Ready) int {
		if a.Before(b) {
			return -1
		}
		return 1
	})
	for i, want := range all {
		if got := h.Pop(); got != want {
			t.Fatalf("pop %d = %+v, want %+v", i, got, want)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d left", len(h))
	}
}
