package dag

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// layered returns a deterministic layered graph of n nodes in layers of
// width nodes: each node after the first layer depends on 3 distinct nodes
// of the previous layer, for about 3n edges. The ids are in ascending order
// unless shuffled, when they are assigned in a random order.
func layered(n, width int, shuffled bool) ([]string, [][]int32) {
	rng := rand.New(rand.NewPCG(42, 42))
	ids := make([]string, n)
	names := make([]int, n)
	for i := range names {
		names[i] = i
	}
	if shuffled {
		rng.Shuffle(n, func(a, b int) { names[a], names[b] = names[b], names[a] })
	}
	for i := range n {
		ids[i] = fmt.Sprintf("step_%07d", names[i])
	}
	deps := make([][]int32, n)
	flat := make([]int32, 3*n)
	half := width / 2
	for i := width; i < n; i++ {
		prev := (i/width - 1) * width
		a := rng.IntN(width)
		b := (a + 1 + rng.IntN(half-1)) % width        // a+1 .. a+half-1
		c := (a + half + rng.IntN(width-half)) % width // a+half .. a+width-1
		ds := flat[3*i : 3*i+3 : 3*i+3]
		ds[0], ds[1], ds[2] = int32(prev+a), int32(prev+b), int32(prev+c)
		deps[i] = ds
	}
	return ids, deps
}

func BenchmarkNewPlan(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		for _, shuffled := range []bool{false, true} {
			name := size.name + "/sorted_ids"
			if shuffled {
				name = size.name + "/shuffled_ids"
			}
			b.Run(name, func(b *testing.B) {
				ids, deps := layered(size.n, 1000, shuffled)
				b.ReportAllocs()
				b.ResetTimer()
				var edges int
				for b.Loop() {
					g, err := New(ids, deps)
					if err != nil {
						b.Fatal(err)
					}
					p := g.Plan()
					edges = p.Edges
				}
				b.ReportMetric(float64(edges), "edges")
			})
		}
	}
}

func TestLayered(t *testing.T) {
	ids, deps := layered(10_000, 1000, true)
	g, err := New(ids, deps)
	if err != nil {
		t.Fatal(err)
	}
	if g.Edges() != 3*(10_000-1000) || len(g.Levels()) != 10 || g.Width() != 1000 {
		t.Errorf("layered: %d edges, %d levels, width %d", g.Edges(), len(g.Levels()), g.Width())
	}
}
