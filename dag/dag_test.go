package dag

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// node is one node of a test graph: its id and the ids it depends on.
type node struct {
	id   string
	deps []string
}

// build calls New with the nodes in the given order, translating ids to
// indices.
func build(t testing.TB, nodes []node) (*Graph, error) {
	t.Helper()
	ids := make([]string, len(nodes))
	index := make(map[string]int32, len(nodes))
	for i, n := range nodes {
		ids[i] = n.id
		index[n.id] = int32(i)
	}
	deps := make([][]int32, len(nodes))
	for i, n := range nodes {
		for _, d := range n.deps {
			j, ok := index[d]
			if !ok {
				t.Fatalf("test graph: %s depends on unknown %s", n.id, d)
			}
			deps[i] = append(deps[i], j)
		}
	}
	return New(ids, deps)
}

func names(g *Graph, nodes []int32) []string {
	out := make([]string, len(nodes))
	for k, u := range nodes {
		out[k] = g.ID(u)
	}
	return out
}

func TestGraph(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []node
		order    []string
		levels   [][]string
		critical []string
		width    int
		edges    int
		heights  map[string]int32
		deps     map[string][]string // checked when set
	}{
		{
			name:     "empty",
			order:    []string{},
			levels:   [][]string{},
			critical: []string{},
		},
		{
			name:     "single",
			nodes:    []node{{"a", nil}},
			order:    []string{"a"},
			levels:   [][]string{{"a"}},
			critical: []string{"a"},
			width:    1,
			heights:  map[string]int32{"a": 1},
		},
		{
			name:     "chain",
			nodes:    []node{{"c", []string{"b"}}, {"b", []string{"a"}}, {"a", nil}},
			order:    []string{"a", "b", "c"},
			levels:   [][]string{{"a"}, {"b"}, {"c"}},
			critical: []string{"a", "b", "c"},
			width:    1,
			edges:    2,
			heights:  map[string]int32{"a": 3, "b": 2, "c": 1},
		},
		{
			name: "diamond",
			nodes: []node{
				{"d", []string{"c", "b"}}, {"c", []string{"a"}}, {"b", []string{"a"}}, {"a", nil},
			},
			order:    []string{"a", "b", "c", "d"},
			levels:   [][]string{{"a"}, {"b", "c"}, {"d"}},
			critical: []string{"a", "b", "d"},
			width:    2,
			edges:    4,
			heights:  map[string]int32{"a": 3, "b": 2, "c": 2, "d": 1},
			deps:     map[string][]string{"d": {"c", "b"}, "a": {}},
		},
		{
			name: "seed parallel",
			nodes: []node{
				{"input_a", nil},
				{"input_b", nil},
				{"process_a", []string{"input_a"}},
				{"process_b", []string{"input_b"}},
				{"ai_analysis", []string{"process_a", "process_b"}},
				{"output", []string{"ai_analysis"}},
			},
			order:    []string{"input_a", "input_b", "process_a", "process_b", "ai_analysis", "output"},
			levels:   [][]string{{"input_a", "input_b"}, {"process_a", "process_b"}, {"ai_analysis"}, {"output"}},
			critical: []string{"input_a", "process_a", "ai_analysis", "output"},
			width:    2,
			edges:    5,
			heights: map[string]int32{
				"input_a": 4, "input_b": 4, "process_a": 3, "process_b": 3, "ai_analysis": 2, "output": 1,
			},
		},
		{
			name: "fan-out fan-in",
			nodes: []node{
				{"join", []string{"d", "c", "b"}},
				{"d", []string{"a"}},
				{"c", []string{"src"}},
				{"b", []string{"src"}},
				{"a", []string{"src"}},
				{"src", nil},
			},
			order:    []string{"src", "a", "b", "c", "d", "join"},
			levels:   [][]string{{"src"}, {"a", "b", "c"}, {"d"}, {"join"}},
			critical: []string{"src", "a", "d", "join"},
			width:    3,
			edges:    7,
			heights:  map[string]int32{"src": 4, "a": 3, "b": 2, "c": 2, "d": 2, "join": 1},
			deps:     map[string][]string{"join": {"d", "c", "b"}, "src": {}},
		},
		{
			// The critical path starts at the highest root, not the smallest.
			name: "disconnected",
			nodes: []node{
				{"z", []string{"y"}}, {"m", nil}, {"b", []string{"a"}},
				{"y", []string{"x"}}, {"a", nil}, {"x", nil},
			},
			order:    []string{"a", "b", "m", "x", "y", "z"},
			levels:   [][]string{{"a", "m", "x"}, {"b", "y"}, {"z"}},
			critical: []string{"x", "y", "z"},
			width:    3,
			edges:    3,
			heights:  map[string]int32{"a": 2, "b": 1, "m": 1, "x": 3, "y": 2, "z": 1},
		},
		{
			// Ready nodes go smallest id first even when a larger one was
			// ready earlier.
			name: "smallest ready first",
			nodes: []node{
				{"b", nil}, {"a", nil}, {"c", []string{"a"}}, {"bb", []string{"a"}},
			},
			order:    []string{"a", "b", "bb", "c"},
			levels:   [][]string{{"a", "b"}, {"bb", "c"}},
			critical: []string{"a", "bb"},
			width:    2,
			edges:    2,
			heights:  map[string]int32{"a": 2, "b": 1, "bb": 1, "c": 1},
		},
		{
			name: "duplicate deps",
			nodes: []node{
				{"a", nil}, {"b", []string{"a", "a", "a"}}, {"c", []string{"b", "a", "b", "a"}},
			},
			order:    []string{"a", "b", "c"},
			levels:   [][]string{{"a"}, {"b"}, {"c"}},
			critical: []string{"a", "b", "c"},
			width:    1,
			edges:    3,
			heights:  map[string]int32{"a": 3, "b": 2, "c": 1},
			deps:     map[string][]string{"b": {"a"}, "c": {"b", "a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := build(t, tt.nodes)
			if err != nil {
				t.Fatal(err)
			}
			if g.Len() != len(tt.nodes) {
				t.Errorf("Len = %d, want %d", g.Len(), len(tt.nodes))
			}
			if got := names(g, g.Order()); !reflect.DeepEqual(got, tt.order) {
				t.Errorf("Order = %v, want %v", got, tt.order)
			}
			levels := [][]string{}
			for _, l := range g.Levels() {
				levels = append(levels, names(g, l))
			}
			if !reflect.DeepEqual(levels, tt.levels) {
				t.Errorf("Levels = %v, want %v", levels, tt.levels)
			}
			if got := names(g, g.CriticalPath()); !reflect.DeepEqual(got, tt.critical) {
				t.Errorf("CriticalPath = %v, want %v", got, tt.critical)
			}
			if g.Width() != tt.width {
				t.Errorf("Width = %d, want %d", g.Width(), tt.width)
			}
			if g.Edges() != tt.edges {
				t.Errorf("Edges = %d, want %d", g.Edges(), tt.edges)
			}
			for i := range int32(g.Len()) {
				if want, ok := tt.heights[g.ID(i)]; !ok || g.Height(i) != want {
					t.Errorf("Height(%s) = %d, want %d", g.ID(i), g.Height(i), want)
				}
			}
			for i := range int32(g.Len()) {
				if want, ok := tt.deps[g.ID(i)]; ok {
					if got := names(g, g.Deps(i)); !reflect.DeepEqual(got, want) {
						t.Errorf("Deps(%s) = %v, want %v", g.ID(i), got, want)
					}
				}
			}
			p := g.Plan()
			want := &Plan{
				Steps: len(tt.nodes), Edges: tt.edges, Width: tt.width, Depth: len(tt.levels),
				Order: tt.order, Levels: tt.levels, CriticalPath: tt.critical,
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("Plan = %+v, want %+v", p, want)
			}
		})
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name   string
		nodes  []node
		cycles [][]string
		msg    string
	}{
		{
			name:   "self-loop",
			nodes:  []node{{"b", []string{"a"}}, {"a", []string{"a", "a"}}},
			cycles: [][]string{{"a", "a"}},
			msg:    "cycle: a -> a",
		},
		{
			name:   "2-cycle",
			nodes:  []node{{"b", []string{"a"}}, {"a", []string{"b"}}},
			cycles: [][]string{{"a", "b", "a"}},
			msg:    "cycle: a -> b -> a",
		},
		{
			// r -> (a -> c -> b -> a) -> d -> e: only the cycle is reported,
			// starting at its smallest id, following "depends on".
			name: "3-cycle with tail",
			nodes: []node{
				{"e", []string{"d"}}, {"d", []string{"a"}}, {"r", nil},
				{"a", []string{"c", "r"}}, {"c", []string{"b"}}, {"b", []string{"a"}},
			},
			cycles: [][]string{{"a", "c", "b", "a"}},
			msg:    "cycle: a -> c -> b -> a",
		},
		{
			name: "two separate cycles and a self-loop",
			nodes: []node{
				{"x", []string{"y"}}, {"y", []string{"x"}}, {"n", []string{"x"}},
				{"m", []string{"m"}},
				{"d", []string{"b"}}, {"c", []string{"d"}}, {"b", []string{"c"}},
			},
			cycles: [][]string{{"b", "c", "d", "b"}, {"m", "m"}, {"x", "y", "x"}},
			msg:    "cycle: b -> c -> d -> b; cycle: m -> m; cycle: x -> y -> x",
		},
		{
			// Several cycles through a: the shortest, then the first in id
			// order.
			name: "shortest cycle in a component",
			nodes: []node{
				{"a", []string{"z", "c", "b"}}, {"b", []string{"d"}}, {"c", []string{"d"}},
				{"d", []string{"a"}}, {"z", []string{"y"}}, {"y", []string{"x"}}, {"x", []string{"d"}},
			},
			cycles: [][]string{{"a", "b", "d", "a"}},
			msg:    "cycle: a -> b -> d -> a",
		},
		{
			name:   "self-loop inside a component",
			nodes:  []node{{"b", []string{"a", "b"}}, {"a", []string{"b", "a"}}, {"c", []string{"c"}}},
			cycles: [][]string{{"a", "a"}, {"a", "b", "a"}, {"b", "b"}, {"c", "c"}},
			msg:    "cycle: a -> a; cycle: a -> b -> a; cycle: b -> b; cycle: c -> c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := build(t, tt.nodes)
			if g != nil {
				t.Errorf("New returned a graph with an error")
			}
			var ce *CycleError
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v, want *CycleError", err)
			}
			if !reflect.DeepEqual(ce.Cycles, tt.cycles) {
				t.Errorf("Cycles = %v, want %v", ce.Cycles, tt.cycles)
			}
			if err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		ids  []string
		deps [][]int32
		want string
	}{
		{"length mismatch", []string{"a", "b"}, [][]int32{nil}, "dag: 1 dependency lists for 2 nodes"},
		{"index too large", []string{"a", "b"}, [][]int32{nil, {2}}, `dag: node "b": dependency index 2 out of range [0, 2)`},
		{"negative index", []string{"a", "b"}, [][]int32{{-1}, nil}, `dag: node "a": dependency index -1 out of range [0, 2)`},
		{"duplicate id", []string{"b", "a", "b"}, [][]int32{nil, nil, nil}, `dag: duplicate node id "b"`},
		{"duplicate id sorted", []string{"a", "a"}, [][]int32{nil, nil}, `dag: duplicate node id "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(tt.ids, tt.deps)
			if err == nil || err.Error() != tt.want || g != nil {
				t.Fatalf("New = %v, %v, want error %q", g, err, tt.want)
			}
			var ce *CycleError
			if errors.As(err, &ce) {
				t.Errorf("error %v is a *CycleError", err)
			}
		})
	}
}

func TestZeroGraph(t *testing.T) {
	var g Graph
	if g.Len() != 0 || g.Edges() != 0 || g.Width() != 0 || len(g.Order()) != 0 ||
		len(g.Levels()) != 0 || len(g.CriticalPath()) != 0 {
		t.Errorf("zero Graph is not empty")
	}
	b, err := json.Marshal(g.Plan())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"steps":0,"edges":0,"width":0,"depth":0,"order":[],"levels":[],"critical_path":[]}`
	if string(b) != want {
		t.Errorf("Plan JSON = %s, want %s", b, want)
	}
}

// New must copy ids: changing them afterwards does not change the graph.
func TestNewCopiesIDs(t *testing.T) {
	ids := []string{"a", "b"}
	g, err := New(ids, [][]int32{nil, {0}})
	if err != nil {
		t.Fatal(err)
	}
	ids[0] = "changed"
	if g.ID(0) != "a" {
		t.Errorf("ID(0) = %q after changing the input", g.ID(0))
	}
}

func TestLongChain(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000-node chain")
	}
	const n = 1_000_000
	ids := make([]string, n)
	deps := make([][]int32, n)
	for i := range n {
		ids[i] = fmt.Sprintf("n%07d", i)
		if i > 0 {
			deps[i] = []int32{int32(i - 1)}
		}
	}
	g, err := New(ids, deps)
	if err != nil {
		t.Fatal(err)
	}
	if g.Level(n-1) != n-1 || g.Height(0) != n || len(g.Levels()) != n || g.Width() != 1 {
		t.Errorf("Level(last) = %d, Height(0) = %d, %d levels, width %d",
			g.Level(n-1), g.Height(0), len(g.Levels()), g.Width())
	}
	p := g.Plan()
	if p.Depth != n || len(p.CriticalPath) != n || p.Order[n-1] != ids[n-1] || p.CriticalPath[0] != ids[0] {
		t.Errorf("Plan: depth %d, critical path of %d", p.Depth, len(p.CriticalPath))
	}

	// Close the chain into one cycle of n nodes, with the ids reversed so
	// that they need sorting.
	rev := make([]string, n)
	for i := range n {
		rev[i] = ids[n-1-i]
	}
	deps[0] = []int32{n - 1}
	_, err = New(rev, deps)
	var ce *CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("New error = %v, want *CycleError", err)
	}
	// Node n-1 has the smallest id; it depends on n-2.
	if len(ce.Cycles) != 1 || len(ce.Cycles[0]) != n+1 || ce.Cycles[0][0] != rev[n-1] || ce.Cycles[0][1] != rev[n-2] {
		t.Errorf("got %d cycles, the first of %d ids", len(ce.Cycles), len(ce.Cycles[0]))
	}
}
