package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
)

// validate posts a document to the validate route and decodes the answer,
// which must be 200.
func (h *harness) validate(ct, doc string) *httpapi.ValidationResult {
	h.t.Helper()
	a := h.do("POST", "/api/v1/workflows/validate", ct, []byte(doc))
	if a.status != 200 {
		h.t.Fatalf("validate: %d %s", a.status, a.body)
	}
	var res httpapi.ValidationResult
	a.json(h.t, &res)
	return &res
}

func TestValidateWorkflow(t *testing.T) {
	h := newHarness(t, &options{api: func(c *httpapi.Config) { c.MaxYAMLBytes = 4096 }})
	ok := h.validate("application/json", diamondWorkflow)
	if !ok.Valid || ok.WorkflowID != "diamond" || len(ok.Errors) != 0 || ok.Errors == nil ||
		ok.Plan == nil || *ok.Plan != (httpapi.PlanSummary{Steps: 4, Edges: 4, Depth: 3, Width: 2}) {
		t.Fatalf("valid document: %+v", ok)
	}
	// Nothing was registered.
	h.do("GET", "/api/v1/workflows/diamond", "", nil).wantError(t, 404, httpapi.CodeNotFound)

	type place struct {
		path       string
		line, col  int
		suggestion string
	}
	for _, tc := range []struct {
		name, ct, doc string
		id            string
		want          []place
	}{
		{"json", "application/json", `{"id": "w", "steps": {
  "fetch": {"type": "input", "input": {"data": {}}},
  "use": {"type": "process", "depends_on": ["fetch", "fecth"]},
  "x.y": {"typ": "input"}
}}`, "w", []place{
			{`$.steps["x.y"].typ`, 4, 11, `did you mean "type"?`},
			{"$.steps.use.depends_on[1]", 3, 54, `did you mean "fetch"?`},
			{`$.steps["x.y"].type`, 4, 3, `set "type" to one of`},
		}},
		{"yaml", "application/yaml", "id: w\nsteps:\n  fetch: {type: inptu}\n  use:\n    type: process\n    depends_on: [fetch, nope]\n", "w", []place{
			{"$.steps.fetch.type", 3, 11, `did you mean "input"?`},
			{"$.steps.use.depends_on[1]", 6, 25, ""},
		}},
		{"json syntax", "application/json", "{\"id\": \"w\",\n  \"steps\": {\"a\": {\"type\": \"input\"},}}", "w", []place{
			{"$.steps", 2, 36, ""},
		}},
		{"yaml syntax", "application/yaml", "id: w\nsteps:\n  a: [\n", "", []place{{"$", 0, 0, ""}}},
		{"not an object", "application/json", `[1]`, "", []place{{"$", 1, 1, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.validate(tc.ct, tc.doc)
			if res.Valid || res.Plan != nil || res.WorkflowID != tc.id || len(res.Errors) != len(tc.want) {
				t.Fatalf("result %+v", res)
			}
			for i, w := range tc.want {
				e := res.Errors[i]
				if e.Path != w.path || e.Code == "" || e.Message == "" || !strings.HasPrefix(e.Suggestion, w.suggestion) || (w.suggestion == "") != (e.Suggestion == "") {
					t.Errorf("problem %d: %+v, want %+v", i, e, w)
				}
				if w.line == 0 && e.Line > 0 { // a line the test does not fix
					continue
				}
				if e.Line != w.line || e.Column != w.col {
					t.Errorf("problem %d (%s): at %d:%d, want %d:%d", i, e.Path, e.Line, e.Column, w.line, w.col)
				}
			}
		})
	}

	// Limits and media types as for registration.
	big := "id: w\nsteps:\n" + strings.Repeat("# a comment line\n", 300)
	h.do("POST", "/api/v1/workflows/validate", "application/yaml", []byte(big)).wantError(t, 413, httpapi.CodeTooLarge)
	h.do("POST", "/api/v1/workflows/validate", "application/xml", []byte("<x/>")).wantError(t, 415, httpapi.CodeUnsupported)

	// The client.
	res, err := h.client.ValidateWorkflow(context.Background(), []byte("id: v\nsteps: {a: {type: input, depends_on: [a]}}\n"), true)
	if err != nil || res.Valid || res.WorkflowID != "v" || len(res.Errors) == 0 || res.Errors[0].Code != weft.VSelfDependency || res.Errors[0].Line != 2 {
		t.Fatalf("client: %+v, %v", res, err)
	}
}
