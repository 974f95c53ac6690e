package httpapi

import (
	"bytes"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/workflow"
)

// postRun starts a run: POST /api/v1/runs with a RunRequest. It answers
// 201 with the new run, or 200 with the existing run of an idempotency key
// already used.
func (s *Server) postRun(w http.ResponseWriter, r *http.Request) error {
	var req RunRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if len(req.Params) > 0 && string(bytes.TrimSpace(req.Params)) != "null" && !isObject(req.Params) {
		return errorf(http.StatusBadRequest, CodeBadRequest, "$.params: expected a JSON object")
	}
	if req.MaxParallel < 0 {
		return errorf(http.StatusBadRequest, CodeBadRequest, "$.max_parallel: expected 0 (the workflow's) or a positive number, got %d", req.MaxParallel)
	}
	def, version, err := s.definition(r, &req)
	if err != nil {
		return err
	}
	id := newRunID()
	run, err := s.cfg.Engine.Submit(r.Context(), def, &engine.SubmitOptions{
		RunID: id, Params: req.Params, IdempotencyKey: req.IdempotencyKey,
		WorkflowVersion: version, MaxParallel: req.MaxParallel,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if run.ID == id {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	writeJSON(w, status, NewRunSummary(run, s.cfg.Now()))
	return nil
}

// definition returns the workflow a RunRequest names: registered (with its
// version) or inline (version 0).
func (s *Server) definition(r *http.Request, req *RunRequest) (*workflow.Definition, int, error) {
	inline := len(bytes.TrimSpace(req.Workflow)) > 0 && string(bytes.TrimSpace(req.Workflow)) != "null"
	switch {
	case inline && req.WorkflowID != "":
		return nil, 0, errorf(http.StatusBadRequest, CodeBadRequest, "give either workflow_id (a registered workflow) or workflow (an inline one), not both")
	case inline && req.Version != 0:
		return nil, 0, errorf(http.StatusBadRequest, CodeBadRequest, "$.version: only a registered workflow (workflow_id) has versions")
	case inline:
		def, err := s.inline(req.Workflow)
		return def, 0, err
	case req.WorkflowID == "":
		return nil, 0, errorf(http.StatusBadRequest, CodeBadRequest, "the request needs workflow_id (a registered workflow) or workflow (an inline one)")
	case req.Version < 0:
		return nil, 0, errorf(http.StatusBadRequest, CodeBadRequest, "$.version: expected 0 (the latest) or a version number, got %d", req.Version)
	}
	v, err := s.workflowVersion(r.Context(), req.WorkflowID, req.Version)
	if err != nil {
		return nil, 0, err
	}
	def, _, err := s.compiled(v.Digest, v.Definition)
	if err != nil {
		return nil, 0, err
	}
	return def, v.Version, nil
}

// inline parses an inline workflow: a JSON object, or a string holding a
// JSON or YAML document.
func (s *Server) inline(raw json.RawMessage) (*workflow.Definition, error) {
	raw = bytes.TrimSpace(raw)
	if raw[0] != '"' {
		return s.parse(raw, workflow.FormatJSON)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, errorf(http.StatusBadRequest, CodeBadRequest, "$.workflow: %s", jsonProblem(err))
	}
	format := workflow.FormatYAML
	if t := bytes.TrimSpace([]byte(text)); len(t) > 0 && t[0] == '{' {
		format = workflow.FormatJSON
	}
	if format == workflow.FormatYAML && int64(len(text)) > s.cfg.MaxYAMLBytes {
		return nil, yamlTooLarge(format, s.cfg.MaxYAMLBytes)
	}
	return s.parse([]byte(text), format)
}

// listRuns lists runs, newest first: GET /api/v1/runs?workflow=W&status=S&
// since=T&until=T&limit=N&cursor=C.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := &weft.RunFilter{WorkflowID: q.Get("workflow"), Cursor: q.Get("cursor")}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), "limit", 1, 1000); err != nil {
		return err
	}
	if st := q.Get("status"); st != "" {
		f.Status = weft.RunStatus(st)
		switch f.Status {
		case weft.RunPending, weft.RunRunning, weft.RunSucceeded, weft.RunFailed, weft.RunCanceled:
		default:
			return errorf(http.StatusBadRequest, CodeBadRequest, "query parameter status: expected pending, running, succeeded, failed or canceled, got %q", st)
		}
	}
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return err
	}
	runs, next, err := s.cfg.Store.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	list := &RunList{Runs: make([]*RunSummary, len(runs)), NextCursor: next}
	for i, run := range runs {
		list.Runs[i] = NewRunSummary(run, now)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// getRun returns a run's status: GET /api/v1/runs/{id}[?outputs=false].
// With outputs=false every step's output is null (the run's result is
// kept), so that the first view of a large run is small.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	outputs, err := boolParam(r.URL.Query().Get("outputs"), "outputs", true)
	if err != nil {
		return err
	}
	st, err := s.cfg.Engine.Status(r.Context(), id)
	if err != nil {
		return notFound(err, "run", id)
	}
	doc := NewRunDocument(st)
	if !outputs {
		for _, sd := range doc.Steps.Steps {
			sd.Output = nil
		}
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// getRunWorkflow returns the workflow a run runs, as recorded when it
// started (with the edits of its retries): GET /api/v1/runs/{id}/workflow.
func (s *Server) getRunWorkflow(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	run, err := s.cfg.Store.Run(r.Context(), id)
	if err != nil {
		return notFound(err, "run", id)
	}
	writeJSON(w, http.StatusOK, json.RawMessage(run.Workflow))
	return nil
}

// cancelRun cancels a run: POST /api/v1/runs/{id}/cancel. Cancelling a
// finished run changes nothing and answers 200 with it.
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	run, err := s.cfg.Engine.Cancel(r.Context(), id)
	if err != nil {
		return notFound(err, "run", id)
	}
	writeJSON(w, http.StatusOK, NewRunSummary(run, s.cfg.Now()))
	return nil
}

// retryRun retries a failed or canceled run from its failed steps, with
// edited step inputs when the body has them: POST /api/v1/runs/{id}/retry.
func (s *Server) retryRun(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req RetryRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	var opts *engine.RetryOptions
	if len(req.Inputs) > 0 {
		opts = &engine.RetryOptions{Inputs: req.Inputs}
	}
	run, err := s.cfg.Engine.Retry(r.Context(), id, opts)
	if err != nil {
		return notFound(err, "run", id)
	}
	writeJSON(w, http.StatusOK, NewRunSummary(run, s.cfg.Now()))
	return nil
}

// timeParam parses an optional RFC 3339 time query parameter.
func timeParam(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %s: expected an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", name, s)
	}
	return t, nil
}

// boolParam parses an optional boolean query parameter: true or false;
// empty gives def.
func boolParam(s, name string, def bool) (bool, error) {
	switch s {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %s: expected true or false, got %q", name, s)
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// newRunID returns a new run id: 16 random hex digits, like the engine's
// default.
func newRunID() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
