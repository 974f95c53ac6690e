package httpapi

import (
	"errors"
	"net/http"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/workflow"
)

// ValidationResult is the answer of POST /api/v1/workflows/validate: whether
// a workflow document is valid, with its problems placed in the text when
// it is not, and the summary of its graph when it is.
type ValidationResult struct {
	Valid bool `json:"valid"`
	// WorkflowID is the id the document declares; left out when it could
	// not be read.
	WorkflowID string `json:"workflow_id,omitempty"`
	// Errors lists every problem, in the order workflow.Parse reports
	// them; empty when the document is valid.
	Errors []Problem `json:"errors"`
	// Plan sums up the graph of a valid workflow; nil otherwise.
	Plan *PlanSummary `json:"plan,omitempty"`
}

// Problem is a validation problem with the place in the submitted text
// that its path (or, for a syntax error, its message) points at: Line and
// Column from 1, Column in characters (see workflow.Position), both left
// out (0) when unknown.
type Problem struct {
	weft.ValidationError
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// validateWorkflow validates a workflow document without registering it:
// POST /api/v1/workflows/validate, with the body and Content-Type of POST
// /api/v1/workflows and under the same limits. It answers 200 for any
// document it could read, valid or not.
func (s *Server) validateWorkflow(w http.ResponseWriter, r *http.Request) error {
	body, format, err := s.readDocument(r)
	if err != nil {
		return err
	}
	opts := s.parseOptions(format)
	def, err := workflow.Parse(body, opts)
	res := &ValidationResult{Valid: err == nil, Errors: []Problem{}}
	var ve weft.ValidationErrors
	switch {
	case err == nil:
		res.WorkflowID = def.Workflow.ID
		plan := summarizePlan(def.Graph, def.Graph.CriticalPath())
		res.Plan = &plan
	case errors.As(err, &ve):
		res.WorkflowID = workflow.DeclaredID(body, opts)
		// YAML bodies are under the YAML cap (readDocument), which bounds
		// the parse that placing their problems takes; JSON is placed in
		// linear time.
		at := workflow.LocateErrors(body, opts, ve)
		res.Errors = make([]Problem, len(ve))
		for i, e := range ve {
			res.Errors[i] = Problem{ValidationError: e, Line: at[i].Line, Column: at[i].Column}
		}
	default:
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
