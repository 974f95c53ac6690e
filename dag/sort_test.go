package dag

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSortIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	randomBytes := func(alphabet string, maxLen int) string {
		b := make([]byte, rng.IntN(maxLen+1))
		for k := range b {
			b[k] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	sets := []struct {
		name string
		gen  func(i int) string
	}{
		{"numbered", func(i int) string { return fmt.Sprintf("step_%07d", i) }},
		{"unpadded", func(i int) string { return fmt.Sprintf("step_%d", i) }},
		{"long prefixes", func(i int) string {
			return fmt.Sprintf("%s_stage_%d_step_%d", []string{"extract", "load"}[i%2], i%7, i)
		}},
		// Short ids over an alphabet with NUL: padding must not confuse
		// "a" with "a\x00".
		{"nul bytes", func(int) string { return randomBytes("\x00a\xff", 12) }},
		{"binary", func(int) string { return randomBytes("\x00\x01\x7f\x80\xfe\xff", 20) }},
		{"unicode", func(int) string { return randomBytes("aé世\x00", 16) }},
	}
	for _, set := range sets {
		name, gen := set.name, set.gen
		for _, n := range []int{2, 100, radixMin - 1, radixMin, 20_000} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				seen := map[string]bool{}
				var ids []string
				for i := 0; len(ids) < n && i < 50*n; i++ {
					if s := gen(i); !seen[s] {
						seen[s] = true
						ids = append(ids, s)
					}
				}
				rng.Shuffle(len(ids), func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
				want := slices.Clone(ids)
				slices.Sort(want)
				rank, byRank, err := ranks(ids)
				if err != nil {
					t.Fatal(err)
				}
				for r, i := range byRank {
					if ids[i] != want[r] || rank[i] != int32(r) {
						t.Fatalf("rank %d: %q, want %q", r, ids[i], want[r])
					}
				}

				// A repeated id is reported.
				if len(ids) < 2 {
					return
				}
				dup := append(slices.Clone(ids), ids[len(ids)/2])
				rng.Shuffle(len(dup), func(a, b int) { dup[a], dup[b] = dup[b], dup[a] })
				if _, _, err := ranks(dup); err == nil || !strings.Contains(err.Error(), "duplicate node id") {
					t.Errorf("ranks with a duplicate: %v", err)
				}
			})
		}
	}
}

func TestRankSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	// 300,000 ranks need 4 levels of bitmaps.
	for _, n := range []int{0, 1, 63, 64, 65, 4095, 4096, 4097, 300_000} {
		s := newRankSet(n)
		in := make([]bool, n)
		want := &intHeap{} // the reference
		for step := range 3 * n {
			if step < n || rng.IntN(2) == 0 {
				r := int32(rng.IntN(n))
				if !in[r] {
					in[r] = true
					s.add(r)
					heap.Push(want, r)
				}
				continue
			}
			got := s.popMin()
			if want.Len() == 0 {
				if got != -1 {
					t.Fatalf("n=%d: popMin of an empty set = %d", n, got)
				}
				continue
			}
			if w := heap.Pop(want).(int32); got != w {
				t.Fatalf("n=%d: popMin = %d, want %d", n, got, w)
			}
			in[got] = false
		}
		for want.Len() > 0 {
			if got, w := s.popMin(), heap.Pop(want).(int32); got != w {
				t.Fatalf("n=%d: popMin = %d, want %d", n, got, w)
			}
		}
		if s.popMin() != -1 {
			t.Fatalf("n=%d: popMin of an empty set", n)
		}
	}
}

type intHeap []int32

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int32)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func BenchmarkRanks(b *testing.B) {
	ids, _ := layered(1_000_000, 1000, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ranks(ids); err != nil {
			b.Fatal(err)
		}
	}
}
