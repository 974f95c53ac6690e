package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/workflow"
)

// wideDocument is a workflow of one root and n-1 steps that depend on it.
func wideDocument(n int) string {
	var b strings.Builder
	b.WriteString(`{"id": "wide", "steps": {"root": {"type": "process"}`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `, "s%05d": {"type": "process", "depends_on": ["root"]}`, i)
	}
	b.WriteString("}}")
	return b.String()
}

// layeredWorkflow is a workflow of layers × width steps, each after the
// first layer depending on three steps of the layer before.
func layeredWorkflow(layers, width int) string {
	var b strings.Builder
	b.WriteString(`{"id": "layered", "steps": {`)
	for l := range layers {
		for w := range width {
			if l+w > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"l%03d_%03d": {"type": "process", "depends_on": [`, l, w)
			if l > 0 {
				fmt.Fprintf(&b, `"l%03d_%03d", "l%03d_%03d", "l%03d_%03d"`, l-1, w, l-1, (w+1)%width, l-1, (w+2)%width)
			}
			b.WriteString("]}")
		}
	}
	b.WriteString("}}")
	return b.String()
}

// graphBench is a server for the graph benchmarks, with a registered
// workflow and a run of it: its engine is closed, so the run stays
// pending.
func graphBench(b *testing.B, doc string) (s *Server, v *weft.WorkflowVersion, runID string) {
	store := inmem.New()
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(store, &engine.Config{Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	eng.Close()
	if s, err = New(&Config{Engine: eng, Store: store, Workflows: store, Registry: reg}); err != nil {
		b.Fatal(err)
	}
	def, err := s.parse([]byte(doc), workflow.FormatJSON)
	if err != nil {
		b.Fatal(err)
	}
	if v, err = versionOf(def); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := store.PutWorkflow(ctx, v); err != nil {
		b.Fatal(err)
	}
	g := def.Graph
	nr := &weft.NewRun{Now: time.Now(), Run: weft.Run{ID: "r1", WorkflowID: v.ID, Workflow: v.Definition}, Steps: make([]weft.PlanStep, g.Len())}
	for i := range nr.Steps {
		nr.Steps[i] = weft.PlanStep{ID: g.ID(int32(i)), Type: "process", Deps: g.Deps(int32(i))}
	}
	if _, _, err := store.CreateRun(ctx, nr); err != nil {
		b.Fatal(err)
	}
	return s, v, "r1"
}

// BenchmarkGraph measures GET /api/v1/workflows/{id}/graph and GET
// /api/v1/runs/{id}/graph on 10,000-step workflows: wide (one root, 9,999
// steps after it) and layered (100 layers of 100, three dependencies
// each); cached (the usual case: the graph is encoded once per content)
// and cold (the definition is parsed and the graph encoded at every
// request).
func BenchmarkGraph(b *testing.B) {
	for _, wf := range []struct{ name, doc string }{
		{"wide", wideDocument(10_000)},
		{"layered", layeredWorkflow(100, 100)},
	} {
		s, v, runID := graphBench(b, wf.doc)
		for _, c := range []struct {
			name, path string
			// forget drops what the cache holds: 0 nothing, 1 the encoded
			// graph, 2 everything.
			forget int
		}{
			{"workflow/cached", "/api/v1/workflows/" + v.ID + "/graph", 0},
			{"workflow/encode", "/api/v1/workflows/" + v.ID + "/graph", 1},
			{"workflow/cold", "/api/v1/workflows/" + v.ID + "/graph", 2},
			{"run/cached", "/api/v1/runs/" + runID + "/graph", 0},
		} {
			b.Run(wf.name+"/"+c.name, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, c.path, nil)
				w := &countingWriter{header: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					switch c.forget {
					case 1:
						s.defs.putGraph(v.Digest, nil)
					case 2:
						s.defs = newDefCache(64)
					}
					w.status, w.n = 0, 0
					s.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
				b.ReportMetric(float64(w.n), "resp-bytes")
			})
		}
	}
}

// countingWriter is an http.ResponseWriter that keeps only the status and
// the size of the body.
type countingWriter struct {
	header    http.Header
	status, n int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) WriteHeader(status int) { w.status = status }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}
