package dag

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// randomIDs returns n distinct short ids over a small alphabet, so that many
// share prefixes, in random order.
func randomIDs(rng *rand.Rand, n int) []string {
	const alphabet = "ab_.Z9"
	seen := make(map[string]bool, n)
	ids := make([]string, 0, n)
	for len(ids) < n {
		b := make([]byte, 1+rng.IntN(4))
		for k := range b {
			b[k] = alphabet[rng.IntN(len(alphabet))]
		}
		if s := string(b); !seen[s] {
			seen[s] = true
			ids = append(ids, s)
		}
	}
	return ids
}

// randomDAG returns a random DAG of n nodes: a hidden random topological
// order, each node depending on a few earlier nodes, duplicates included.
func randomDAG(rng *rand.Rand, n int) ([]string, [][]int32) {
	ids := randomIDs(rng, n)
	topo := rng.Perm(n) // topo[k] is the node at position k
	deps := make([][]int32, n)
	for k := 1; k < n; k++ {
		i := topo[k]
		for range rng.IntN(min(k, 5) + 1) {
			deps[i] = append(deps[i], int32(topo[rng.IntN(k)]))
		}
	}
	return ids, deps
}

// permute renames node i to p[i] and shuffles and duplicates the entries of
// each dependency list.
func permute(rng *rand.Rand, ids []string, deps [][]int32) ([]string, [][]int32) {
	n := len(ids)
	p := rng.Perm(n)
	pids := make([]string, n)
	pdeps := make([][]int32, n)
	for i := range n {
		pids[p[i]] = ids[i]
		var ds []int32
		for _, d := range deps[i] {
			ds = append(ds, int32(p[d]))
			if rng.IntN(4) == 0 {
				ds = append(ds, int32(p[d]))
			}
		}
		rng.Shuffle(len(ds), func(a, b int) { ds[a], ds[b] = ds[b], ds[a] })
		pdeps[p[i]] = ds
	}
	return pids, pdeps
}

// distinct returns deps with the duplicates removed.
func distinct(deps [][]int32) [][]int32 {
	out := make([][]int32, len(deps))
	for i, ds := range deps {
		for _, d := range ds {
			if !slices.Contains(out[i], d) {
				out[i] = append(out[i], d)
			}
		}
	}
	return out
}

// refOrder is Kahn's algorithm the slow way: repeatedly place the smallest
// unplaced id whose dependencies are all placed. ok is false when a cycle
// stops it.
func refOrder(ids []string, deps [][]int32) (order []int32, ok bool) {
	placed := make([]bool, len(ids))
	for len(order) < len(ids) {
		best := int32(-1)
	next:
		for i := range int32(len(ids)) {
			if placed[i] || (best >= 0 && ids[i] > ids[best]) {
				continue
			}
			for _, d := range deps[i] {
				if !placed[d] {
					continue next
				}
			}
			best = i
		}
		if best < 0 {
			return order, false
		}
		placed[best] = true
		order = append(order, best)
	}
	return order, true
}

func TestRandomDAGs(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := rng.IntN(60)
		if seed%10 == 0 {
			n = 200 + rng.IntN(200)
		}
		ids, deps := randomDAG(rng, n)
		g, err := New(ids, deps)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkGraph(t, seed, g, ids, distinct(deps))

		// The same graph under other node numberings and dependency
		// orders has the same plan.
		want := g.Plan()
		for range 3 {
			pids, pdeps := permute(rng, ids, deps)
			pg, err := New(pids, pdeps)
			if err != nil {
				t.Fatalf("seed %d permuted: %v", seed, err)
			}
			if got := pg.Plan(); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: permuted plan differs:\n got %+v\nwant %+v", seed, got, want)
			}
		}
	}
}

func checkGraph(t *testing.T, seed uint64, g *Graph, ids []string, deps [][]int32) {
	t.Helper()
	n := len(ids)
	if g.Len() != n {
		t.Fatalf("seed %d: Len = %d, want %d", seed, g.Len(), n)
	}

	// Deps: the distinct edges in the order given (deps is deduplicated
	// keeping first occurrences). Dependents: sorted by id, consistent.
	edges := 0
	dependents := make([][]int32, n)
	for i := range int32(n) {
		want := deps[i]
		if got := g.Deps(i); !slices.Equal(got, want) {
			t.Fatalf("seed %d: Deps(%d) = %v, want %v", seed, i, got, want)
		}
		edges += len(want)
		for _, d := range want {
			dependents[d] = append(dependents[d], i)
		}
	}
	for i := range int32(n) {
		want := dependents[i]
		slices.SortFunc(want, func(a, b int32) int { return compareIDs(ids, a, b) })
		if got := g.Dependents(i); !slices.Equal(got, want) {
			t.Fatalf("seed %d: Dependents(%d) = %v, want %v", seed, i, got, want)
		}
	}
	if g.Edges() != edges {
		t.Fatalf("seed %d: Edges = %d, want %d", seed, g.Edges(), edges)
	}

	// Order: a topological order with every node once, the reference one.
	order := g.Order()
	pos := make([]int, n)
	for i := range pos {
		pos[i] = -1
	}
	for k, u := range order {
		if pos[u] >= 0 {
			t.Fatalf("seed %d: node %d twice in Order", seed, u)
		}
		pos[u] = k
	}
	if len(order) != n {
		t.Fatalf("seed %d: Order has %d nodes, want %d", seed, len(order), n)
	}
	for i := range n {
		for _, d := range deps[i] {
			if pos[d] >= pos[i] {
				t.Fatalf("seed %d: %d before its dependency %d", seed, i, d)
			}
		}
	}
	if want, _ := refOrder(ids, deps); !slices.Equal(order, want) {
		t.Fatalf("seed %d: Order = %v, want %v", seed, order, want)
	}

	// Level is one more than the deepest dependency; Height one more than
	// the highest dependent.
	maxHeight := int32(0)
	for i := range int32(n) {
		want := int32(0)
		for _, d := range deps[i] {
			want = max(want, g.Level(d)+1)
		}
		if g.Level(i) != want {
			t.Fatalf("seed %d: Level(%d) = %d, want %d", seed, i, g.Level(i), want)
		}
		want = 0
		for _, v := range g.Dependents(i) {
			want = max(want, g.Height(v))
		}
		if g.Height(i) != want+1 {
			t.Fatalf("seed %d: Height(%d) = %d, want %d", seed, i, g.Height(i), want+1)
		}
		maxHeight = max(maxHeight, g.Height(i))
	}

	// Levels: every node once, at its level, each level sorted by id.
	levels := g.Levels()
	width, count := 0, 0
	for l, nodes := range levels {
		if len(nodes) == 0 {
			t.Fatalf("seed %d: level %d is empty", seed, l)
		}
		width = max(width, len(nodes))
		count += len(nodes)
		for k, u := range nodes {
			if g.Level(u) != int32(l) {
				t.Fatalf("seed %d: node %d of level %d has Level %d", seed, u, l, g.Level(u))
			}
			if k > 0 && ids[nodes[k-1]] >= ids[u] {
				t.Fatalf("seed %d: level %d not sorted: %v", seed, l, nodes)
			}
		}
	}
	if count != n || g.Width() != width {
		t.Fatalf("seed %d: Levels hold %d nodes, Width = %d, want %d and %d", seed, count, g.Width(), n, width)
	}

	// CriticalPath: a root-to-sink path as long as the depth.
	path := g.CriticalPath()
	if len(path) != int(maxHeight) || len(path) != len(levels) {
		t.Fatalf("seed %d: critical path of %d, max height %d, depth %d", seed, len(path), maxHeight, len(levels))
	}
	if n > 0 && (len(g.Deps(path[0])) != 0 || len(g.Dependents(path[len(path)-1])) != 0) {
		t.Fatalf("seed %d: critical path %v does not go from a root to a sink", seed, path)
	}
	for k := 1; k < len(path); k++ {
		if !slices.Contains(g.Deps(path[k]), path[k-1]) {
			t.Fatalf("seed %d: critical path %v: %d does not depend on %d", seed, path, path[k], path[k-1])
		}
	}
}

func compareIDs(ids []string, a, b int32) int {
	switch {
	case ids[a] < ids[b]:
		return -1
	case ids[a] > ids[b]:
		return 1
	}
	return 0
}

func TestRandomCycles(t *testing.T) {
	cyclic := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 2))
		n := 1 + rng.IntN(40)
		ids, deps := randomDAG(rng, n)
		for range 1 + rng.IntN(3) {
			i := rng.IntN(n)
			deps[i] = append(deps[i], int32(rng.IntN(n)))
		}
		_, isDAG := refOrder(ids, distinct(deps))
		g, err := New(ids, deps)
		if isDAG {
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			checkGraph(t, seed, g, ids, distinct(deps))
			continue
		}
		cyclic++
		var ce *CycleError
		if !errors.As(err, &ce) || g != nil {
			t.Fatalf("seed %d: New = %v, %v, want a *CycleError", seed, g, err)
		}
		checkCycles(t, seed, ids, distinct(deps), ce.Cycles)

		for range 3 {
			pids, pdeps := permute(rng, ids, deps)
			_, err := New(pids, pdeps)
			var pce *CycleError
			if !errors.As(err, &pce) || !reflect.DeepEqual(pce.Cycles, ce.Cycles) {
				t.Fatalf("seed %d: permuted: %v, want %v", seed, err, ce)
			}
		}
	}
	if cyclic < 100 {
		t.Errorf("only %d cyclic graphs", cyclic)
	}
}

// checkCycles checks cycles against a reachability matrix: one cycle per
// self-loop and per strongly connected component of two or more nodes,
// each a real cycle, starting at the smallest id of its component, of the
// shortest length through it, sorted by first id.
func checkCycles(t *testing.T, seed uint64, ids []string, deps [][]int32, cycles [][]string) {
	t.Helper()
	n := len(ids)
	index := make(map[string]int32, n)
	for i, id := range ids {
		index[id] = int32(i)
	}
	// reach[i][j]: a path of one or more edges i -> j following deps.
	reach := make([][]bool, n)
	for i := range reach {
		reach[i] = make([]bool, n)
		for _, d := range deps[i] {
			reach[i][d] = true
		}
	}
	for k := range n {
		for i := range n {
			if reach[i][k] {
				for j := range n {
					reach[i][j] = reach[i][j] || reach[k][j]
				}
			}
		}
	}
	wantCount := 0
	for i := range n {
		if slices.Contains(deps[i], int32(i)) {
			wantCount++
		}
		// i is the smallest node of a component of two or more nodes.
		smallest, big := true, false
		for j := range n {
			if j != i && reach[i][j] && reach[j][i] {
				big = true
				if ids[j] < ids[i] {
					smallest = false
				}
			}
		}
		if smallest && big {
			wantCount++
		}
	}
	if len(cycles) != wantCount {
		t.Fatalf("seed %d: %d cycles, want %d: %v", seed, len(cycles), wantCount, cycles)
	}
	for k, c := range cycles {
		if len(c) < 2 || c[0] != c[len(c)-1] {
			t.Fatalf("seed %d: cycle %v is not closed", seed, c)
		}
		if k > 0 && (cycles[k-1][0] > c[0] || cycles[k-1][0] == c[0] && len(cycles[k-1]) >= len(c)) {
			t.Fatalf("seed %d: cycles not sorted: %v", seed, cycles)
		}
		nodes := make([]int32, len(c))
		for j, id := range c {
			nodes[j] = index[id]
		}
		for j := 1; j < len(nodes); j++ {
			if !slices.Contains(deps[nodes[j-1]], nodes[j]) {
				t.Fatalf("seed %d: cycle %v: %s does not depend on %s", seed, c, c[j-1], c[j])
			}
			if j < len(nodes)-1 && slices.Contains(nodes[:j], nodes[j]) {
				t.Fatalf("seed %d: cycle %v repeats %s", seed, c, c[j])
			}
		}
		s := nodes[0]
		if len(c) == 2 {
			continue // a self-loop
		}
		for j := range n {
			if reach[s][j] && reach[j][s] && ids[j] < ids[s] {
				t.Fatalf("seed %d: cycle %v does not start at the smallest id %s", seed, c, ids[j])
			}
		}
		if want := shortestCycleLen(deps, s); len(c)-1 != want {
			t.Fatalf("seed %d: cycle %v has %d edges, the shortest through %s has %d", seed, c, len(c)-1, c[0], want)
		}
	}
}

// shortestCycleLen returns the number of edges of the shortest cycle through
// s of two or more nodes.
func shortestCycleLen(deps [][]int32, s int32) int {
	dist := make([]int, len(deps))
	for i := range dist {
		dist[i] = -1
	}
	dist[s] = 0
	queue := []int32{s}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, w := range deps[u] {
			if w == s && u != s {
				return dist[u] + 1
			}
			if w != s && dist[w] < 0 {
				dist[w] = dist[u] + 1
				queue = append(queue, w)
			}
		}
	}
	return -1
}
