package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/weft-dev/weft/dag"
	"github.com/weft-dev/weft/workflow"
)

// GraphDocument is the dependency graph of a workflow: what GET
// /api/v1/runs/{id}/graph (the workflow a run runs, as recorded) and GET
// /api/v1/workflows/{id}/graph (a registered version) return. Nodes are in
// the graph's deterministic topological order (dag.Graph.Order) and refer
// to each other by their index in Nodes, so that the document of a
// 10,000-step workflow stays small. It depends only on the workflow's
// content: the server encodes it once per content.
type GraphDocument struct {
	WorkflowID string `json:"workflow_id"`
	PlanSummary
	Nodes []GraphNode `json:"nodes"`
	// CriticalPath is a longest path from a root to a sink, as indices
	// into Nodes (dag.Graph.CriticalPath).
	CriticalPath []int32 `json:"critical_path"`
}

// GraphNode is a step in a GraphDocument.
type GraphNode struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Level is the length of the longest path from a root to the step
	// (dag.Graph.Level): steps of one level do not depend on each other.
	Level int32 `json:"level"`
	// Deps are the step's dependencies as indices into
	// GraphDocument.Nodes, in the order of its depends_on.
	Deps []int32 `json:"deps"`
}

// PlanSummary sums up a workflow's graph: its steps and distinct
// dependencies (edges), its number of levels (depth: the steps on its
// critical path) and the size of its largest level (width).
type PlanSummary struct {
	Steps int `json:"steps"`
	Edges int `json:"edges"`
	Depth int `json:"depth"`
	Width int `json:"width"`
}

// summarizePlan returns the summary of a graph whose critical path is
// path.
func summarizePlan(g *dag.Graph, path []int32) PlanSummary {
	return PlanSummary{Steps: g.Len(), Edges: g.Edges(), Depth: len(path), Width: g.Width()}
}

// NewGraphDocument returns the graph document of a workflow definition.
func NewGraphDocument(def *workflow.Definition) *GraphDocument {
	g := def.Graph
	order := g.Order()
	at := make([]int32, g.Len()) // node → index in Nodes
	for k, u := range order {
		at[u] = int32(k)
	}
	path := g.CriticalPath()
	for k, u := range path {
		path[k] = at[u]
	}
	doc := &GraphDocument{
		WorkflowID:   def.Workflow.ID,
		PlanSummary:  summarizePlan(g, path),
		Nodes:        make([]GraphNode, len(order)),
		CriticalPath: path,
	}
	deps := make([]int32, 0, g.Edges()) // one array for every node's deps
	for k, u := range order {
		id := g.ID(u)
		start := len(deps)
		for _, d := range g.Deps(u) {
			deps = append(deps, at[d])
		}
		doc.Nodes[k] = GraphNode{ID: id, Level: g.Level(u), Deps: deps[start:len(deps):len(deps)]}
		if st := def.Workflow.Steps[id]; st != nil {
			doc.Nodes[k].Type = st.Type
		}
	}
	return doc
}

// getRunGraph returns the graph of the workflow a run runs, as recorded
// (with the edits of its retries): GET /api/v1/runs/{id}/graph.
func (s *Server) getRunGraph(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	run, err := s.cfg.Store.Run(r.Context(), id)
	if err != nil {
		return notFound(err, "run", id)
	}
	return s.writeGraph(w, "", run.Workflow)
}

// getWorkflowGraph returns the graph of a registered workflow:
// GET /api/v1/workflows/{id}/graph[?version=N].
func (s *Server) getWorkflowGraph(w http.ResponseWriter, r *http.Request) error {
	v, err := s.requestedWorkflow(r)
	if err != nil {
		return err
	}
	return s.writeGraph(w, v.Digest, v.Definition)
}

// writeGraph answers with the graph of a recorded workflow document (see
// compiled for digest), encoded once per content.
func (s *Server) writeGraph(w http.ResponseWriter, digest string, doc []byte) error {
	def, digest, err := s.compiled(digest, doc)
	if err != nil {
		return err
	}
	b := s.defs.graph(digest)
	if b == nil {
		if b, err = json.Marshal(NewGraphDocument(def)); err != nil {
			return err
		}
		s.defs.putGraph(digest, b)
	}
	writeRawJSON(w, http.StatusOK, b)
	return nil
}
