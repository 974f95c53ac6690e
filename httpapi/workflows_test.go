package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
)

func TestWorkflowVersions(t *testing.T) {
	h := newHarness(t, nil)
	post := func(ct, doc string, status int) *httpapi.WorkflowDocument {
		t.Helper()
		a := h.do("POST", "/api/v1/workflows", ct, []byte(doc))
		if a.status != status {
			t.Fatalf("register: %d, want %d: %s", a.status, status, a.body)
		}
		var d httpapi.WorkflowDocument
		a.json(t, &d)
		return &d
	}
	v1 := post("application/json", basicWorkflow, http.StatusCreated)
	if v1.ID != "basic" || v1.Version != 1 || !v1.Created || v1.Steps != 2 || len(v1.Digest) != 64 {
		t.Fatalf("first registration: %+v", v1.WorkflowVersion)
	}
	// Whitespace and key order are not content.
	again := post("", strings.ReplaceAll(basicWorkflow, "\n", " "), http.StatusOK)
	if again.Version != 1 || again.Created || again.Digest != v1.Digest {
		t.Fatalf("same content: %+v", again.WorkflowVersion)
	}
	changed := strings.Replace(basicWorkflow, `"hello"`, `"bonjour"`, 1)
	if v2 := post("application/json", changed, http.StatusCreated); v2.Version != 2 {
		t.Fatalf("changed content: version %d, want 2", v2.Version)
	}
	// The same content in YAML is the same version.
	yaml := `id: basic
steps:
  collect_data:
    type: input
    input: {data: {message: bonjour}}
  process_data:
    type: process
    depends_on: [collect_data]
    input:
      rules: [{type: transform, field: message, operation: uppercase}]
`
	if y := post("application/yaml", yaml, http.StatusOK); y.Version != 2 {
		t.Fatalf("YAML of version 2: got version %d", y.Version)
	}
	// Back to the first content: a new version (the latest changed).
	if v3 := post("application/json", basicWorkflow, http.StatusCreated); v3.Version != 3 || v3.Digest != v1.Digest {
		t.Fatalf("back to the first content: %+v", v3.WorkflowVersion)
	}

	var got httpapi.WorkflowDocument
	h.do("GET", "/api/v1/workflows/basic", "", nil).json(t, &got)
	if got.Version != 3 || len(got.Definition) == 0 || len(got.Versions) != 3 || got.Versions[0].Version != 3 {
		t.Fatalf("GET latest: version %d, %d versions, definition %d bytes", got.Version, len(got.Versions), len(got.Definition))
	}
	h.do("GET", "/api/v1/workflows/basic?version=2", "", nil).json(t, &got)
	if got.Version != 2 || !strings.Contains(string(got.Definition), "bonjour") {
		t.Fatalf("GET version 2: %+v", got.WorkflowVersion)
	}
	h.do("GET", "/api/v1/workflows/basic?version=9", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	h.do("GET", "/api/v1/workflows/nope", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	h.do("GET", "/api/v1/workflows/basic?version=x", "", nil).wantError(t, 400, httpapi.CodeBadRequest)

	post("application/json", strings.Replace(blockWorkflow, "blocker", "another", 1), http.StatusCreated)
	var list httpapi.WorkflowList
	h.do("GET", "/api/v1/workflows?limit=1", "", nil).json(t, &list)
	if len(list.Workflows) != 1 || list.Workflows[0].ID != "another" || list.NextCursor == "" {
		t.Fatalf("first page: %+v", list)
	}
	h.do("GET", "/api/v1/workflows?limit=1&cursor="+list.NextCursor, "", nil).json(t, &list)
	if len(list.Workflows) != 1 || list.Workflows[0].ID != "basic" || list.Workflows[0].Version != 3 {
		t.Fatalf("second page: %+v", list)
	}
}

func TestWorkflowProblems(t *testing.T) {
	h := newHarness(t, &options{api: func(c *httpapi.Config) { c.MaxYAMLBytes = 200 }})
	doc := `{"id": "bad", "steps": {"a": {"type": "input"}, "b": {"type": "proces", "depends_on": ["a", "c"]}}}`
	e := h.do("POST", "/api/v1/workflows", "application/json", []byte(doc)).wantError(t, 422, httpapi.CodeInvalidWorkflow)
	details, _ := e.Error.Details.([]any)
	if len(details) != 2 {
		t.Fatalf("details %v, want 2 problems", e.Error.Details)
	}
	var paths []string
	for _, d := range details {
		m := d.(map[string]any)
		paths = append(paths, m["path"].(string))
	}
	want := []string{"$.steps.b.type", "$.steps.b.depends_on[1]"}
	for _, p := range want {
		found := false
		for _, q := range paths {
			found = found || q == p
		}
		if !found {
			t.Errorf("problems at %v, want one at %s", paths, p)
		}
	}
	if !strings.Contains(string(h.do("POST", "/api/v1/workflows", "application/json", []byte(doc)).body), `"suggestion"`) {
		t.Error("the unknown type has no suggestion")
	}
	big := "id: big\nsteps:\n" + strings.Repeat("  # padding to pass the limit\n", 10) + "  a: {type: input}\n"
	h.do("POST", "/api/v1/workflows", "application/yaml", []byte(big)).wantError(t, 413, httpapi.CodeTooLarge)
	h.do("POST", "/api/v1/workflows", "application/xml", []byte(`<x/>`)).wantError(t, 415, httpapi.CodeUnsupported)
	if _, err := h.client.Workflow(t.Context(), "bad", 0); err == nil || !isNotFound(err) {
		t.Fatalf("an invalid workflow was registered: %v", err)
	}
}

func isNotFound(err error) bool {
	ae, ok := err.(*httpapi.APIError)
	return ok && ae.Is(weft.ErrNotFound)
}
