package dag

// Plan is the printable summary of a graph, with nodes named by id: what
// `weft plan` shows. Build one with [Graph.Plan].
type Plan struct {
	// Steps is the number of nodes.
	Steps int `json:"steps"`
	// Edges is the number of distinct dependencies.
	Edges int `json:"edges"`
	// Width is the size of the largest level.
	Width int `json:"width"`
	// Depth is the number of levels, which is also the number of steps on
	// the critical path.
	Depth int `json:"depth"`
	// Order is the deterministic topological order (see [Graph.Order]).
	Order []string `json:"order"`
	// Levels holds the ids of each level, sorted (see [Graph.Levels]).
	Levels [][]string `json:"levels"`
	// CriticalPath is a longest path from a root to a sink (see
	// [Graph.CriticalPath]).
	CriticalPath []string `json:"critical_path"`
}

// Plan returns the string form of the graph's order, levels and critical
// path, with its counts. Its slices are never nil, so that they encode as
// JSON arrays, and the caller owns them.
func (g *Graph) Plan() *Plan {
	n := len(g.ids)
	depth := g.depth()
	p := &Plan{
		Steps:  n,
		Edges:  g.Edges(),
		Width:  g.width,
		Depth:  depth,
		Order:  make([]string, n),
		Levels: make([][]string, depth),
	}
	for k, u := range g.order {
		p.Order[k] = g.ids[u]
	}
	// One backing array for all the levels.
	all := make([]string, n)
	for k, u := range g.lvlNodes {
		all[k] = g.ids[u]
	}
	for l := range p.Levels {
		p.Levels[l] = all[g.lvlOff[l]:g.lvlOff[l+1]:g.lvlOff[l+1]]
	}
	path := g.CriticalPath()
	p.CriticalPath = make([]string, len(path))
	for k, u := range path {
		p.CriticalPath[k] = g.ids[u]
	}
	return p
}
