package workflow

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

// layeredDocument returns a JSON workflow of layers × width steps in which
// every step after the first layer depends on deps distinct steps of the
// previous layer, chosen by a seeded generator.
func layeredDocument(layers, width, deps int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.Grow(layers * width * 80)
	b.WriteString(`{"id": "layered", "steps": {`)
	for l := range layers {
		for w := range width {
			if l+w > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "\n\"s%d_%d\": {\"type\": \"process\", \"depends_on\": [", l, w)
			if l > 0 {
				picked := r.Perm(width)[:deps]
				for i, p := range picked {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `"s%d_%d"`, l-1, p)
				}
			}
			b.WriteString("]}")
		}
	}
	b.WriteString("}}")
	return []byte(b.String())
}

// BenchmarkParseValidatePlan measures parse + validate + plan of layered
// DAGs: 100,000 steps with about 300,000 edges, and (without -short)
// 1,000,000 steps with about 3,000,000 edges. Targets: 300 ms and 3 s.
func BenchmarkParseValidatePlan(b *testing.B) {
	sizes := []struct {
		name          string
		layers, width int
	}{
		{"steps=100k", 100, 1000},
		{"steps=1M", 1000, 1000},
	}
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			if testing.Short() && sz.layers*sz.width > 100_000 {
				b.Skip("1M steps: not with -short")
			}
			doc := layeredDocument(sz.layers, sz.width, 3)
			opts := &Options{Format: FormatJSON, Limits: weft.Limits{MaxSteps: 2_000_000, MaxDocumentBytes: 1 << 30}}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var peak uint64
			for b.Loop() {
				def, err := Parse(doc, opts)
				if err != nil {
					b.Fatal(err)
				}
				plan := def.Graph.Plan()
				if plan.Steps != sz.layers*sz.width || plan.Depth != sz.layers {
					b.Fatalf("plan has %d steps, %d levels", plan.Steps, plan.Depth)
				}
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
