package httpapi_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/weft-dev/weft/httpapi"
)

// diamondWorkflow is a → (b, c) → d, listed out of order.
const diamondWorkflow = `{"id": "diamond", "steps": {
  "d": {"type": "process", "depends_on": ["c", "b"]},
  "b": {"type": "input", "depends_on": ["a"], "input": {"data": {"n": 2}}},
  "c": {"type": "input", "depends_on": ["a"], "input": {"data": {"n": 3}}},
  "a": {"type": "input", "input": {"data": {"n": 1}}}
}}`

// checkDiamond checks the graph of diamondWorkflow.
func checkDiamond(t *testing.T, g *httpapi.GraphDocument) {
	t.Helper()
	if g.WorkflowID != "diamond" || g.PlanSummary != (httpapi.PlanSummary{Steps: 4, Edges: 4, Depth: 3, Width: 2}) {
		t.Fatalf("graph %s %+v", g.WorkflowID, g.PlanSummary)
	}
	want := []httpapi.GraphNode{
		{ID: "a", Type: "input", Level: 0, Deps: []int32{}},
		{ID: "b", Type: "input", Level: 1, Deps: []int32{0}},
		{ID: "c", Type: "input", Level: 1, Deps: []int32{0}},
		{ID: "d", Type: "process", Level: 2, Deps: []int32{2, 1}},
	}
	if len(g.Nodes) != len(want) {
		t.Fatalf("nodes %+v", g.Nodes)
	}
	for i, n := range g.Nodes {
		if n.ID != want[i].ID || n.Type != want[i].Type || n.Level != want[i].Level || !slices.Equal(n.Deps, want[i].Deps) {
			t.Errorf("node %d: %+v, want %+v", i, n, want[i])
		}
	}
	if !slices.Equal(g.CriticalPath, []int32{0, 1, 3}) {
		t.Errorf("critical path %v, want [0 1 3]", g.CriticalPath)
	}
}

func TestWorkflowGraph(t *testing.T) {
	h := newHarness(t, nil)
	if a := h.do("POST", "/api/v1/workflows", "application/json", []byte(diamondWorkflow)); a.status != 201 {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	a := h.do("GET", "/api/v1/workflows/diamond/graph", "", nil)
	if a.status != 200 {
		t.Fatalf("graph: %d %s", a.status, a.body)
	}
	var g httpapi.GraphDocument
	a.json(t, &g)
	checkDiamond(t, &g)
	if !bytes.Contains(a.body, []byte(`"deps":[]`)) {
		t.Errorf("a root's deps are not []: %s", a.body)
	}
	// The graph is encoded once per content: the same bytes again.
	if b := h.do("GET", "/api/v1/workflows/diamond/graph?version=1", "", nil); !bytes.Equal(b.body, a.body) {
		t.Errorf("second answer differs:\n%s\n%s", a.body, b.body)
	}
	// A second version with one more step.
	v2 := strings.Replace(diamondWorkflow, `"a": {`, `"e": {"type": "input", "depends_on": ["d"]}, "a": {`, 1)
	if a := h.do("POST", "/api/v1/workflows", "application/json", []byte(v2)); a.status != 201 {
		t.Fatalf("register v2: %d %s", a.status, a.body)
	}
	latest, err := h.client.WorkflowGraph(context.Background(), "diamond", 0)
	if err != nil || latest.Steps != 5 || latest.Nodes[4].ID != "e" || latest.Depth != 4 || !slices.Equal(latest.CriticalPath, []int32{0, 1, 3, 4}) {
		t.Fatalf("latest graph: %+v, %v", latest, err)
	}
	first, err := h.client.WorkflowGraph(context.Background(), "diamond", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkDiamond(t, first)

	e := h.do("GET", "/api/v1/workflows/diamond/graph?version=9", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	if !strings.Contains(e.Error.Message, "diamond@9") {
		t.Errorf("message %q does not name the version", e.Error.Message)
	}
	h.do("GET", "/api/v1/workflows/nope/graph", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	h.do("GET", "/api/v1/workflows/diamond/graph?version=0", "", nil).wantError(t, 400, httpapi.CodeBadRequest)
}

func TestRunGraph(t *testing.T) {
	h := newHarness(t, nil)
	inline := h.startRun(inlineRun(diamondWorkflow))
	if a := h.do("POST", "/api/v1/workflows", "application/json", []byte(diamondWorkflow)); a.status != 201 {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	registered := h.startRun([]byte(`{"workflow_id": "diamond"}`))
	for _, run := range []string{inline.RunID, registered.RunID} {
		g, err := h.client.RunGraph(context.Background(), run)
		if err != nil {
			t.Fatalf("run %s: %v", run, err)
		}
		checkDiamond(t, g)
	}
	// A registered version and its runs share a digest, hence one
	// encoding.
	wf := h.do("GET", "/api/v1/workflows/diamond/graph", "", nil)
	if run := h.do("GET", "/api/v1/runs/"+registered.RunID+"/graph", "", nil); !bytes.Equal(run.body, wf.body) {
		t.Errorf("the graphs of a run and its workflow differ:\n%s\n%s", run.body, wf.body)
	}
	h.wait(inline.RunID)
	h.wait(registered.RunID)
	h.do("GET", "/api/v1/runs/nope/graph", "", nil).wantError(t, 404, httpapi.CodeNotFound)
}
