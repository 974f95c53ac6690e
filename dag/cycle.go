package dag

import (
	"cmp"
	"slices"
	"strings"
)

// CycleError reports the dependency cycles of a graph; [New] returns it.
type CycleError struct {
	// Cycles holds one cycle per strongly connected component of two or
	// more nodes, and one per self-loop. Each cycle is a path of ids that
	// follows "depends on" and whose last element repeats the first:
	// [a c b a] means that a depends on c, c depends on b and b depends on
	// a; a self-loop (a depends on a) is [a a].
	//
	// The cycle of a component starts at the component's smallest id and
	// is a shortest cycle through it: a breadth-first search following the
	// dependencies in id order, so the choice is deterministic. Cycles are
	// sorted by their first id, a self-loop before the longer cycle
	// starting at the same id.
	Cycles [][]string
}

// Error returns each cycle as "cycle: a -> c -> b -> a", several joined with
// "; ".
func (e *CycleError) Error() string {
	var b strings.Builder
	for k, c := range e.Cycles {
		if k > 0 {
			b.WriteString("; ")
		}
		b.WriteString("cycle: ")
		b.WriteString(strings.Join(c, " -> "))
	}
	return b.String()
}

// findCycles returns the cycles of the graph with the given dependents (in
// CSR form, sorted by rank, self-loops excluded) and self-loops. It finds
// the strongly connected components with an iterative Tarjan's algorithm,
// then one shortest cycle through the smallest node of each non-trivial
// component.
func findCycles(ids []string, rank, byRank, dntOff, dnts, selfLoops []int32) *CycleError {
	n := len(ids)
	// The dependencies of each node, sorted by rank: transpose the
	// dependents, visiting the dependencies in rank order.
	depOff := make([]int32, n+1)
	for _, v := range dnts {
		depOff[v+1]++
	}
	for i := range n {
		depOff[i+1] += depOff[i]
	}
	cur := slices.Clone(depOff[:n])
	deps := make([]int32, len(dnts))
	for _, d := range byRank {
		for _, v := range dnts[dntOff[d]:dntOff[d+1]] {
			deps[cur[v]] = d
			cur[v]++
		}
	}

	type found struct {
		first int32 // rank of the first node
		path  []int32
	}
	var cycles []found
	for _, u := range selfLoops {
		cycles = append(cycles, found{rank[u], []int32{u, u}})
	}

	// index[v] is 0 until v is visited, then its visit number from 1.
	// comp[v] is -1 while v is on the stack, then its component's number.
	index := make([]int32, n)
	low := make([]int32, n)
	comp := make([]int32, n)
	var stack []int32
	type frame struct{ v, e int32 } // node and its next edge
	var call []frame
	var visits, comps int32
	// BFS state, shared by all components: seen[v] == c+1 when v was reached
	// in the search of component c.
	var seen, parent, queue []int32

	visit := func(v int32) {
		visits++
		index[v], low[v], comp[v] = visits, visits, -1
		stack = append(stack, v)
		call = append(call, frame{v, depOff[v]})
	}
	for s := range int32(n) {
		if index[s] != 0 {
			continue
		}
		visit(s)
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.e < depOff[v+1] {
				w := deps[f.e]
				f.e++
				if index[w] == 0 {
					visit(w)
				} else if comp[w] < 0 {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			// v is the root of a component: pop it, noting its smallest node.
			c := comps
			comps++
			k := len(stack) - 1
			for stack[k] != v {
				k--
			}
			members := stack[k:]
			stack = stack[:k]
			first := v
			for _, m := range members {
				comp[m] = c
				if rank[m] < rank[first] {
					first = m
				}
			}
			if len(members) < 2 {
				continue
			}
			if seen == nil {
				seen = make([]int32, n)
				parent = make([]int32, n)
			}
			cycles = append(cycles, found{rank[first], shortestCycle(first, c, comp, depOff, deps, seen, parent, &queue)})
		}
	}

	slices.SortFunc(cycles, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(len(a.path), len(b.path)))
	})
	e := &CycleError{Cycles: make([][]string, len(cycles))}
	for k, c := range cycles {
		names := make([]string, len(c.path))
		for j, u := range c.path {
			names[j] = ids[u]
		}
		e.Cycles[k] = names
	}
	return e
}

// shortestCycle returns a shortest cycle through s inside component c, as
// the path s, ..., s following dependencies: a breadth-first search from s
// whose first edge back to s closes the cycle.
func shortestCycle(s, c int32, comp, depOff, deps, seen, parent []int32, queue *[]int32) []int32 {
	q := append((*queue)[:0], s)
	defer func() { *queue = q[:0] }()
	seen[s] = c + 1
	for h := 0; h < len(q); h++ {
		u := q[h]
		for _, w := range deps[depOff[u]:depOff[u+1]] {
			if w == s {
				// Walk back from u to s, then reverse.
				var path []int32
				path = append(path, s)
				for v := u; v != s; v = parent[v] {
					path = append(path, v)
				}
				path = append(path, s)
				slices.Reverse(path)
				return path
			}
			if comp[w] != c || seen[w] == c+1 {
				continue
			}
			seen[w] = c + 1
			parent[w] = u
			q = append(q, w)
		}
	}
	panic("dag: no cycle in a strongly connected component")
}
