package ui_test

// Workflow documents built by the browser tests: workflowJSON and stepJSON,
// the wide workflows (a source, n parallel steps, a sink; wideWorkflow,
// wideGatedWorkflow), the layered workflows with crossing edges
// (layeredWorkflow), their step ids, and stepIDs.

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// workflowJSON is a workflow document built by a test.
type workflowJSON struct {
	ID    string              `json:"id"`
	Steps map[string]stepJSON `json:"steps"`
}

type stepJSON struct {
	Type      string   `json:"type"`
	DependsOn []string `json:"depends_on,omitempty"`
	Input     any      `json:"input,omitempty"`
}

func (w *workflowJSON) encode() []byte {
	b, err := json.Marshal(w)
	if err != nil {
		panic(err)
	}
	return b
}

// wideStepID is the id of the i-th (1-based) process step of a wide
// workflow.
func wideStepID(i int) string { return fmt.Sprintf("p%05d", i) }

// wide is a workflow "source" (input) → n process steps (pass-through) →
// "sink" (the step given).
func wide(id string, n int, sink stepJSON) *workflowJSON {
	w := &workflowJSON{ID: id, Steps: make(map[string]stepJSON, n+2)}
	w.Steps["source"] = stepJSON{Type: "input", Input: map[string]any{"data": map[string]any{"n": 1}}}
	sink.DependsOn = make([]string, 0, n)
	for i := 1; i <= n; i++ {
		w.Steps[wideStepID(i)] = stepJSON{Type: "process", DependsOn: []string{"source"}}
		sink.DependsOn = append(sink.DependsOn, wideStepID(i))
	}
	w.Steps["sink"] = sink
	return w
}

// wideWorkflow is a workflow of n+2 steps: "source" (input) → n process
// steps p00001… (pass-through) → "sink" (output of them all). n is at most
// 10,000 (the dependencies one step may have).
func wideWorkflow(n int) []byte {
	return wide(fmt.Sprintf("wide_%d", n), n, stepJSON{Type: "output"}).encode()
}

// wideGatedWorkflow is wideWorkflow with gates as its source (key
// sourceKey) and its sink (key sinkKey), so that a test can hold the run
// before its fan-out and before its end.
func wideGatedWorkflow(n int, sourceKey, sinkKey string) []byte {
	w := wide(fmt.Sprintf("wide_%d_gated", n), n, stepJSON{Type: "gate", Input: map[string]any{"key": sinkKey}})
	w.Steps["source"] = stepJSON{Type: "gate", Input: map[string]any{"key": sourceKey}}
	return w.encode()
}

// layeredStepID is the id of step j of layer l of a layered workflow.
func layeredStepID(l, j int) string { return fmt.Sprintf("l%03d_%04d", l, j) }

// layeredWorkflow is a workflow of n steps: layers of width steps (the
// first of input steps, the others of process steps each depending on
// steps j and j+1 of the layer before, so that the graph has crossing
// edges), then one output step "sink" depending on every step that no
// other depends on. Every step outputs a small constant.
func layeredWorkflow(n, width int) []byte {
	if n < 2 || width < 1 {
		panic("layeredWorkflow needs n ≥ 2 and width ≥ 1")
	}
	w := &workflowJSON{ID: fmt.Sprintf("layered_%d_%d", n, width), Steps: make(map[string]stepJSON, n)}
	hasDependent := map[string]bool{}
	var prev []string
	for left, l := n-1, 0; left > 0; l++ {
		var layer []string
		for j := 0; j < width && left > 0; j, left = j+1, left-1 {
			id := layeredStepID(l, j)
			data := map[string]any{"data": map[string]any{"layer": l, "i": j}}
			if l == 0 {
				w.Steps[id] = stepJSON{Type: "input", Input: data}
			} else {
				deps := []string{prev[j%len(prev)]}
				if d := prev[(j+1)%len(prev)]; d != deps[0] {
					deps = append(deps, d)
				}
				for _, d := range deps {
					hasDependent[d] = true
				}
				w.Steps[id] = stepJSON{Type: "process", DependsOn: deps, Input: data}
			}
			layer = append(layer, id)
		}
		prev = layer
	}
	var sinks []string
	for id := range w.Steps {
		if !hasDependent[id] {
			sinks = append(sinks, id)
		}
	}
	slices.Sort(sinks)
	w.Steps["sink"] = stepJSON{Type: "output", DependsOn: sinks}
	return w.encode()
}

// stepIDs returns the step ids of a workflow document.
func stepIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var w struct {
		Steps map[string]json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(doc, &w); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(w.Steps))
	for id := range w.Steps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
