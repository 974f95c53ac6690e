package dag

// Len returns the number of nodes.
func (g *Graph) Len() int { return len(g.ids) }

// Edges returns the number of distinct edges (dependencies).
func (g *Graph) Edges() int { return len(g.deps) }

// ID returns the id of node i.
func (g *Graph) ID(i int32) string { return g.ids[i] }

// Deps returns the nodes that node i depends on, in the order given to
// [New] without the duplicates. The slice shares the graph's storage: do not modify it.
func (g *Graph) Deps(i int32) []int32 {
	return g.deps[g.depOff[i]:g.depOff[i+1]:g.depOff[i+1]]
}

// Dependents returns the nodes that depend on node i, sorted by id. The
// slice shares the graph's storage: do not modify it.
func (g *Graph) Dependents(i int32) []int32 {
	return g.dnts[g.dntOff[i]:g.dntOff[i+1]:g.dntOff[i+1]]
}

// Order returns every node once in a deterministic topological order, each
// node after all its dependencies: Kahn's algorithm taking, among the nodes
// whose dependencies are all placed, the one with the smallest id first. The
// slice shares the graph's storage: do not modify it.
func (g *Graph) Order() []int32 { return g.order[:len(g.order):len(g.order)] }

// Level returns the length, in edges, of the longest path from a root (a
// node without dependencies) to node i: roots are level 0, and every other
// node is one more than its deepest dependency. Nodes of one level do not
// depend on each other (the seed's "batches").
func (g *Graph) Level(i int32) int32 { return g.level[i] }

// depth returns the number of levels: the number of nodes on a longest path,
// 0 for the empty graph.
func (g *Graph) depth() int { return max(len(g.lvlOff)-1, 0) }

// Levels returns the nodes grouped by level (see [Graph.Level]), each level
// sorted by id. The inner slices share the graph's storage: do not modify
// them.
func (g *Graph) Levels() [][]int32 {
	levels := make([][]int32, g.depth())
	for l := range levels {
		levels[l] = g.lvlNodes[g.lvlOff[l]:g.lvlOff[l+1]:g.lvlOff[l+1]]
	}
	return levels
}

// Height returns the number of nodes on the longest path from node i to a
// sink (a node nothing depends on), node i included: sinks have height 1.
// Running the highest ready node first is critical-path-first scheduling.
func (g *Graph) Height(i int32) int32 { return g.height[i] }

// CriticalPath returns a longest path, by node count, from a root to a sink;
// its length is the number of levels. The path is deterministic: it starts at the
// root with the greatest height, ties broken by smallest id, then
// repeatedly follows the dependent with the greatest height, ties broken by
// smallest id. It returns an empty slice for the empty graph. The caller
// owns the slice.
func (g *Graph) CriticalPath() []int32 {
	path := make([]int32, 0, g.depth())
	if len(g.ids) == 0 {
		return path
	}
	// Level 0 holds the roots, in id order: the first greatest wins.
	u := highest(g.lvlNodes[:g.lvlOff[1]], g.height)
	for u >= 0 {
		path = append(path, u)
		u = highest(g.Dependents(u), g.height)
	}
	return path
}

// highest returns the first node of nodes with the greatest height, or -1
// if nodes is empty.
func highest(nodes, height []int32) int32 {
	best, h := int32(-1), int32(0)
	for _, v := range nodes {
		if height[v] > h {
			best, h = v, height[v]
		}
	}
	return best
}

// Width returns the size of the largest level: the most steps running at
// once when every step takes the same time and nothing limits parallelism.
func (g *Graph) Width() int { return g.width }
