package bench

import (
	"cmp"
	"container/heap"
	"time"
)

// Policy is a scheduling policy for Simulate.
type Policy int

// The policies.
const (
	// PolicyHeight is the engine's: among ready steps, the one with the
	// most steps on its longest path to a sink first, ties by step id.
	PolicyHeight Policy = iota
	// PolicyWeighted is critical-path-first by time: the ready step with
	// the longest remaining path, summing sleeps, first, ties by step id.
	PolicyWeighted
	// PolicyLevels is the levels baseline: each level's steps in id order,
	// the next level starting when the whole level is done.
	PolicyLevels
)

// String names the policy.
func (p Policy) String() string {
	switch p {
	case PolicyHeight:
		return "height-first"
	case PolicyWeighted:
		return "weighted-critical-path-first"
	case PolicyLevels:
		return "levels"
	}
	return "unknown"
}

// Simulate returns the makespan of the workload on p slots under a policy
// with no overhead at all: every step takes exactly its sleep, and a step
// starts the instant a slot and its dependencies allow. It tells what a
// policy can achieve, apart from the cost of carrying it out.
func (w *Workload) Simulate(p int, policy Policy) time.Duration {
	g, sleep := w.graph()
	n := g.Len()
	if policy == PolicyLevels {
		var total time.Duration
		for _, level := range g.Levels() {
			slots := make(durHeap, p)
			var end time.Duration
			for _, u := range level { // each to the slot free first
				at := slots[0] + sleep[u]
				slots[0] = at
				heap.Fix(&slots, 0)
				end = max(end, at)
			}
			total += end
		}
		return total
	}
	prio := make([]int64, n)
	switch policy {
	case PolicyHeight:
		for i := range n {
			prio[i] = int64(g.Height(int32(i)))
		}
	case PolicyWeighted:
		order := g.Order()
		for k := n - 1; k >= 0; k-- {
			u := order[k]
			var rest int64
			for _, v := range g.Dependents(u) {
				rest = max(rest, prio[v])
			}
			prio[u] = rest + int64(sleep[u])
		}
	}
	ready := &readyQueue{prio: prio}
	waiting := make([]int, n)
	for i := range n {
		waiting[i] = len(g.Deps(int32(i)))
		if waiting[i] == 0 {
			heap.Push(ready, int32(i))
		}
	}
	running := &finishQueue{}
	var now time.Duration
	for ready.Len() > 0 || running.Len() > 0 {
		for running.Len() < p && ready.Len() > 0 {
			u := heap.Pop(ready).(int32)
			heap.Push(running, finishing{at: now + sleep[u], u: u})
		}
		f := heap.Pop(running).(finishing)
		now = f.at
		for _, v := range g.Dependents(f.u) {
			if waiting[v]--; waiting[v] == 0 {
				heap.Push(ready, v)
			}
		}
	}
	return now
}

type durHeap []time.Duration

func (h durHeap) Len() int           { return len(h) }
func (h durHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h durHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *durHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *durHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// readyQueue orders nodes by priority, highest first, then node index.
type readyQueue struct {
	prio  []int64
	nodes []int32
}

func (q *readyQueue) Len() int { return len(q.nodes) }
func (q *readyQueue) Less(i, j int) bool {
	a, b := q.nodes[i], q.nodes[j]
	if c := cmp.Compare(q.prio[b], q.prio[a]); c != 0 {
		return c < 0
	}
	return a < b
}
func (q *readyQueue) Swap(i, j int) { q.nodes[i], q.nodes[j] = q.nodes[j], q.nodes[i] }
func (q *readyQueue) Push(x any)    { q.nodes = append(q.nodes, x.(int32)) }
func (q *readyQueue) Pop() any {
	x := q.nodes[len(q.nodes)-1]
	q.nodes = q.nodes[:len(q.nodes)-1]
	return x
}

type finishing struct {
	at time.Duration
	u  int32
}

// finishQueue orders running steps by finish time, then node index.
type finishQueue []finishing

func (q finishQueue) Len() int { return len(q) }
func (q finishQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].u < q[j].u)
}
func (q finishQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *finishQueue) Push(x any)   { *q = append(*q, x.(finishing)) }
func (q *finishQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
