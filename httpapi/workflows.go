package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/workflow"
)

// postWorkflow registers a workflow: POST /api/v1/workflows with the
// document as the body (JSON, or YAML with a YAML Content-Type). A new
// version is made when the content differs from the latest version: 201;
// otherwise the latest version is returned: 200.
func (s *Server) postWorkflow(w http.ResponseWriter, r *http.Request) error {
	body, format, err := s.readDocument(r)
	if err != nil {
		return err
	}
	def, err := s.parse(body, format)
	if err != nil {
		return err
	}
	v, err := versionOf(def)
	if err != nil {
		return err
	}
	v.CreatedAt = s.cfg.Now().UTC()
	stored, created, err := s.cfg.Workflows.PutWorkflow(r.Context(), v)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.log.Info("workflow registered", "workflow", stored.ID, "version", stored.Version, "steps", stored.Steps)
	}
	w.Header().Set("Location", "/api/v1/workflows/"+stored.ID+"?version="+strconv.Itoa(stored.Version))
	writeJSON(w, status, &WorkflowDocument{WorkflowVersion: stored, Created: created})
	return nil
}

// listWorkflows lists the registered workflows, latest versions:
// GET /api/v1/workflows?limit=N&cursor=C.
func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		return err
	}
	list, next, err := s.cfg.Workflows.ListWorkflows(r.Context(), &weft.WorkflowFilter{Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &WorkflowList{Workflows: nonNil(list), NextCursor: next})
	return nil
}

// getWorkflow returns a workflow with its definition and versions:
// GET /api/v1/workflows/{id}[?version=N].
func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	v, err := s.requestedWorkflow(r)
	if err != nil {
		return err
	}
	versions, err := s.cfg.Workflows.WorkflowVersions(r.Context(), v.ID)
	if err != nil {
		return notFound(err, "workflow", v.ID)
	}
	writeJSON(w, http.StatusOK, &WorkflowDocument{WorkflowVersion: v, Versions: versions})
	return nil
}

// requestedWorkflow returns the registered workflow a request names: the
// {id} of its path, at its ?version= (default: the latest).
func (s *Server) requestedWorkflow(r *http.Request) (*weft.WorkflowVersion, error) {
	version, err := intParam(r.URL.Query().Get("version"), "version", 1, 1<<31-1)
	if err != nil {
		return nil, err
	}
	return s.workflowVersion(r.Context(), r.PathValue("id"), version)
}

// workflowVersion returns a registered workflow at a version (0: the
// latest), or a not_found error that names what is missing.
func (s *Server) workflowVersion(ctx context.Context, id string, version int) (*weft.WorkflowVersion, error) {
	v, err := s.cfg.Workflows.Workflow(ctx, id, version)
	switch {
	case err != nil && version > 0:
		return nil, notFound(err, "workflow version", fmt.Sprintf("%s@%d", id, version))
	case err != nil:
		return nil, notFound(err, "workflow", id)
	}
	return v, nil
}

// documentFormat returns the workflow format a Content-Type names: JSON
// by default, YAML for the YAML media types.
func documentFormat(ct string) (workflow.Format, error) {
	mt, _, _ := strings.Cut(ct, ";")
	switch mt = strings.TrimSpace(strings.ToLower(mt)); {
	case mt == "" || isJSON(mt) || mt == "text/plain":
		return workflow.FormatJSON, nil
	case mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "text/x-yaml":
		return workflow.FormatYAML, nil
	}
	return 0, errorf(http.StatusUnsupportedMediaType, CodeUnsupported, "a workflow is JSON (application/json) or YAML (application/yaml), not %q", ct)
}

// readDocument reads a workflow document from the body, in the format its
// Content-Type names, under the YAML cap for YAML.
func (s *Server) readDocument(r *http.Request) ([]byte, workflow.Format, error) {
	format, err := documentFormat(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, 0, err
	}
	limit := s.cfg.MaxBodyBytes
	if format == workflow.FormatYAML && s.cfg.MaxYAMLBytes < limit {
		limit = s.cfg.MaxYAMLBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(body)) > limit {
		return nil, 0, yamlTooLarge(format, limit)
	}
	return body, format, nil
}

// yamlTooLarge is the error of a document over its limit.
func yamlTooLarge(format workflow.Format, limit int64) error {
	if format == workflow.FormatYAML {
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "a YAML workflow may have at most %d bytes; send larger workflows as JSON", limit)
	}
	return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the workflow is over the limit of %d bytes", limit)
}

// parse validates a workflow document.
func (s *Server) parse(doc []byte, format workflow.Format) (*workflow.Definition, error) {
	return workflow.Parse(doc, s.parseOptions(format))
}

// parseOptions returns the options the server parses documents of a
// format with.
func (s *Server) parseOptions(format workflow.Format) *workflow.Options {
	return &workflow.Options{Registry: s.cfg.Registry, Limits: s.cfg.Limits, Format: format}
}

// versionOf returns the registration of a definition: its canonical JSON
// and digest.
func versionOf(def *workflow.Definition) (*weft.WorkflowVersion, error) {
	src, err := canonical(def.Workflow)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	wf := def.Workflow
	return &weft.WorkflowVersion{
		ID: wf.ID, Digest: hex.EncodeToString(sum[:]), Name: wf.Name, Description: wf.Description,
		Steps: len(wf.Steps), Definition: json.RawMessage(src),
	}, nil
}

// canonical returns the canonical JSON of a workflow: object keys sorted at
// every depth, no insignificant space, numbers as written. Two documents
// with the same content (JSON or YAML, however laid out) have the same
// canonical JSON, hence the same digest.
func canonical(wf *weft.Workflow) ([]byte, error) {
	raw, err := json.Marshal(wf)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// intParam parses an optional integer query parameter within [lo, hi];
// empty gives 0.
func intParam(s, name string, lo, hi int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %s: expected an integer from %d to %d, got %q", name, lo, hi, s)
	}
	return n, nil
}

// notFound words a weft.ErrNotFound about a kind of thing and its id.
func notFound(err error, kind, id string) error {
	if errors.Is(err, weft.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "no %s %q", kind, id)
	}
	return err
}
