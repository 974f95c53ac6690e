// Package dag plans a workflow: it builds an immutable directed acyclic graph
// of steps and computes, in O(V+E) after one sort of the step ids, a
// deterministic topological order, the levels (longest path from a root; the
// seed's "batches"), each step's height (for critical-path-first scheduling),
// a critical path and the maximum width. Graphs with cycles are rejected with
// a [*CycleError] that names one cycle per strongly connected component.
//
// Nodes are identified by their index (int32) in the ids given to [New];
// every tie is broken by id in string order, so the results do not depend on
// the order in which nodes or dependencies are given. Adjacency is stored in
// compressed sparse row (CSR) form and no algorithm recurses, so graphs of
// millions of nodes and edges, including very long chains, are fine.
//
// A Graph is immutable and safe for concurrent use.
package dag

import (
	"fmt"
	"math"
	"slices"
)

// Graph is an immutable directed acyclic graph of steps. Node i is named
// ids[i]; an edge dep -> i means that node i depends on node dep. Build one
// with [New]. The zero Graph is an empty graph. Methods taking a node index
// panic if it is out of range [0, Len()).
type Graph struct {
	ids []string
	// depOff and deps hold the dependencies of node i, in the order given,
	// in deps[depOff[i]:depOff[i+1]]. depOff has n+1 entries.
	depOff, deps []int32
	// dntOff and dnts hold the dependents of node i the same way.
	dntOff, dnts []int32
	// order is the deterministic topological order.
	order []int32
	// level[i] is the longest path (in edges) from a root to i.
	level []int32
	// height[i] is the number of nodes on the longest path from i to a sink.
	height []int32
	// lvlOff and lvlNodes hold the nodes of level l, sorted by id, in
	// lvlNodes[lvlOff[l]:lvlOff[l+1]]. lvlOff has depth+1 entries.
	lvlOff, lvlNodes []int32
	// width is the size of the largest level.
	width int
}

// New builds a graph from node ids and their dependencies: deps[i] lists the
// indices of the nodes that node i depends on (edges dep -> i). The ids must
// be unique and may come in any order; they are compared as strings to break
// every tie. Duplicate entries in a deps list are ignored. New copies ids and
// does not keep deps.
//
// New returns a [*CycleError] when the graph has cycles, self-loops
// included. It returns another error when len(deps) != len(ids), when an id
// is repeated, when a dependency index is out of range, or when the graph
// has more than math.MaxInt32 nodes or distinct edges.
func New(ids []string, deps [][]int32) (*Graph, error) {
	n := len(ids)
	if len(deps) != n {
		return nil, fmt.Errorf("dag: %d dependency lists for %d nodes", len(deps), n)
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("dag: too many nodes: %d", n)
	}
	rank, byRank, err := ranks(ids)
	if err != nil {
		return nil, err
	}

	// Copy the distinct dependencies of each node, in the order given, into
	// deps CSR form, count the dependents of each node, and set self-loops
	// aside. mark[d] == i+1 when d has already been seen in deps[i].
	total := 0
	for _, ds := range deps {
		total += len(ds)
	}
	depOff := make([]int32, n+1)
	dntOff := make([]int32, n+1)
	dps := make([]int32, 0, total)
	mark := make([]int32, n)
	var selfLoops []int32
	for i, ds := range deps {
		stamp := int32(i) + 1
		for _, d := range ds {
			if d < 0 || int(d) >= n {
				return nil, fmt.Errorf("dag: node %q: dependency index %d out of range [0, %d)", ids[i], d, n)
			}
			if mark[d] == stamp {
				continue
			}
			mark[d] = stamp
			if int(d) == i {
				selfLoops = append(selfLoops, d)
				continue
			}
			dps = append(dps, d)
			dntOff[d+1]++
		}
		if len(dps) > math.MaxInt32 {
			return nil, fmt.Errorf("dag: too many edges: more than %d", math.MaxInt32)
		}
		depOff[i+1] = int32(len(dps))
	}
	if len(dps) < total/2 {
		dps = slices.Clip(slices.Clone(dps)) // many duplicates: do not keep the excess
	}
	for i := range n {
		dntOff[i+1] += dntOff[i]
	}

	// Fill the dependents, visiting dependents in id order so that each list
	// comes out sorted by id.
	cur := make([]int32, n)
	copy(cur, dntOff[:n])
	dnts := make([]int32, len(dps))
	for _, i := range byRank {
		for _, d := range dps[depOff[i]:depOff[i+1]] {
			dnts[cur[d]] = i
			cur[d]++
		}
	}

	// Kahn's algorithm, the smallest id among the ready nodes first: the
	// ranks of the ready nodes are in a priority queue. The levels are
	// computed on the way.
	indeg := mark
	ready := newRankSet(n)
	for i := range n {
		indeg[i] = depOff[i+1] - depOff[i]
		if indeg[i] == 0 {
			ready.add(rank[i])
		}
	}
	level := make([]int32, n)
	order := make([]int32, 0, n)
	for r := ready.popMin(); r >= 0; r = ready.popMin() {
		u := byRank[r]
		order = append(order, u)
		next := level[u] + 1
		for _, v := range dnts[dntOff[u]:dntOff[u+1]] {
			if level[v] < next {
				level[v] = next
			}
			indeg[v]--
			if indeg[v] == 0 {
				ready.add(rank[v])
			}
		}
	}
	if len(order) < n || len(selfLoops) > 0 {
		return nil, findCycles(ids, rank, byRank, dntOff, dnts, selfLoops)
	}

	// Heights, in reverse topological order.
	height := make([]int32, n)
	for k := n - 1; k >= 0; k-- {
		u := order[k]
		var h int32
		for _, v := range dnts[dntOff[u]:dntOff[u+1]] {
			h = max(h, height[v])
		}
		height[u] = h + 1
	}

	// Group the nodes by level, each level in id order (a counting sort).
	depth := 0
	for _, l := range level {
		depth = max(depth, int(l)+1)
	}
	lvlOff := make([]int32, depth+1)
	for _, l := range level {
		lvlOff[l+1]++
	}
	width := 0
	for l := range depth {
		width = max(width, int(lvlOff[l+1]))
		lvlOff[l+1] += lvlOff[l]
	}
	cur = cur[:depth]
	copy(cur, lvlOff)
	lvlNodes := make([]int32, n)
	for _, u := range byRank {
		l := level[u]
		lvlNodes[cur[l]] = u
		cur[l]++
	}

	return &Graph{
		ids:    slices.Clone(ids),
		depOff: depOff, deps: dps,
		dntOff: dntOff, dnts: dnts,
		order:  order,
		level:  level,
		height: height,
		lvlOff: lvlOff, lvlNodes: lvlNodes,
		width: width,
	}, nil
}
