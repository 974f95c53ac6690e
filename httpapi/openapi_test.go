package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/weft-dev/weft/httpapi"
)

// spec validates answers against the response schemas of the OpenAPI
// document the server serves.
type spec struct {
	t        *testing.T
	doc      map[string]any
	compiler *jsonschema.Compiler
	seen     map[string]bool // "METHOD PATH STATUS" checked
}

const specURL = "https://weft.invalid/openapi.json"

func newSpec(t *testing.T, h *harness) *spec {
	a := h.do("GET", "/api/v1/openapi.json", "", nil)
	if a.status != 200 {
		t.Fatalf("openapi.json: %d", a.status)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.body))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(specURL, doc); err != nil {
		t.Fatal(err)
	}
	return &spec{t: t, doc: doc.(map[string]any), compiler: c, seen: map[string]bool{}}
}

// pointer escapes a JSON pointer token.
func pointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check validates an answer to METHOD path (a route pattern such as
// /api/v1/runs/{id}) against the document: the status must be documented
// and a JSON body must match its schema.
func (s *spec) check(method, path string, a *answer) {
	s.t.Helper()
	m := strings.ToLower(method)
	ops, _ := s.doc["paths"].(map[string]any)[path].(map[string]any)
	op, _ := ops[m].(map[string]any)
	if op == nil {
		s.t.Fatalf("%s %s is not documented", method, path)
	}
	status := strconv.Itoa(a.status)
	resp, _ := op["responses"].(map[string]any)[status].(map[string]any)
	if resp == nil {
		s.t.Errorf("%s %s answered %s, which is not documented: %s", method, path, status, a.body)
		return
	}
	s.seen[method+" "+path+" "+status] = true
	content, _ := resp["content"].(map[string]any)
	ct := a.header.Get("Content-Type")
	if content["application/json"] == nil || !strings.HasPrefix(ct, "application/json") {
		return
	}
	ptr := fmt.Sprintf("#/paths/%s/%s/responses/%s/content/application~1json/schema", pointer(path), m, status)
	sch, err := s.compiler.Compile(specURL + ptr)
	if err != nil {
		s.t.Fatalf("schema %s: %v", ptr, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.body))
	if err != nil {
		s.t.Fatalf("%s %s: not JSON: %v", method, path, err)
	}
	if err := sch.Validate(inst); err != nil {
		s.t.Errorf("%s %s %s: the answer does not match the documented schema: %v\nanswer: %s", method, path, status, err, a.body)
	}
}

// event validates an event of a stream against the Event schema.
func (s *spec) event(data string) {
	s.t.Helper()
	sch, err := s.compiler.Compile(specURL + "#/components/schemas/Event")
	if err != nil {
		s.t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(data))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		s.t.Errorf("event does not match the Event schema: %v\n%s", err, data)
	}
}

// TestOpenAPIShapes calls every route, in success and in error, and checks
// each answer against the OpenAPI document.
func TestOpenAPIShapes(t *testing.T) {
	h := newHarness(t, &options{token: "tok", api: func(c *httpapi.Config) {
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("weft_up 1\n"))
		})
		c.MaxYAMLBytes = 100
	}})
	s := newSpec(t, h)
	j := "application/json"

	const wfs, wf = "/api/v1/workflows", "/api/v1/workflows/{id}"
	s.check("POST", wfs, h.do("POST", wfs, j, []byte(basicWorkflow)))
	s.check("POST", wfs, h.do("POST", wfs, j, []byte(basicWorkflow)))
	s.check("POST", wfs, h.do("POST", wfs, j, []byte(`{"id": "x", "steps": {}}`)))
	s.check("POST", wfs, h.do("POST", wfs, "application/xml", []byte(`<x/>`)))
	s.check("POST", wfs, h.do("POST", wfs, "application/yaml", []byte(strings.Repeat("# long\n", 40))))
	s.check("POST", wfs, h.do("POST", wfs, j, []byte(basicWorkflow), "Authorization", ""))
	s.check("GET", wfs, h.do("GET", wfs, "", nil))
	s.check("GET", wfs, h.do("GET", wfs+"?limit=0", "", nil))
	s.check("GET", wf, h.do("GET", wfs+"/basic", "", nil))
	s.check("GET", wf, h.do("GET", wfs+"/nope", "", nil))
	s.check("GET", wf, h.do("GET", wfs+"/basic?version=x", "", nil))

	const runs, run = "/api/v1/runs", "/api/v1/runs/{id}"
	a := h.do("POST", runs, j, []byte(`{"workflow_id": "basic", "idempotency_key": "x"}`))
	s.check("POST", runs, a)
	var started httpapi.RunSummary
	a.json(t, &started)
	s.check("POST", runs, h.do("POST", runs, j, []byte(`{"workflow_id": "basic", "idempotency_key": "x"}`)))
	s.check("POST", runs, h.do("POST", runs, j, []byte(`{"workflow_id": 1}`)))
	s.check("POST", runs, h.do("POST", runs, j, []byte(`{"workflow_id": "nope"}`)))
	s.check("POST", runs, h.do("POST", runs, j, inlineRun(`{"id": "x", "steps": {}}`)))
	h.wait(started.RunID)
	id := started.RunID
	s.check("GET", runs, h.do("GET", runs, "", nil))
	s.check("GET", runs, h.do("GET", runs+"?status=nope", "", nil))
	s.check("GET", run, h.do("GET", runs+"/"+id, "", nil))
	s.check("GET", run, h.do("GET", runs+"/nope", "", nil))
	s.check("GET", run+"/workflow", h.do("GET", runs+"/"+id+"/workflow", "", nil))
	s.check("GET", run+"/workflow", h.do("GET", runs+"/nope/workflow", "", nil))
	s.check("POST", run+"/cancel", h.do("POST", runs+"/"+id+"/cancel", "", nil))
	s.check("POST", run+"/cancel", h.do("POST", runs+"/nope/cancel", "", nil))

	failed := h.startRun(inlineRun(failWorkflow))
	failedDoc := h.do("GET", runs+"/"+failed.RunID, "", nil)
	s.check("GET", run, failedDoc)
	h.wait(failed.RunID)
	s.check("GET", run, h.do("GET", runs+"/"+failed.RunID, "", nil))
	s.check("POST", run+"/retry", h.do("POST", runs+"/"+id+"/retry", "", nil))
	s.check("POST", run+"/retry", h.do("POST", runs+"/nope/retry", "", nil))
	s.check("POST", run+"/retry", h.do("POST", runs+"/"+failed.RunID+"/retry", j, []byte(`{"inputs": {"second": {"fail": 3, "x": "y"}, "first": {"data": {"n": 2}}}}`)))
	h.wait(failed.RunID)

	s.check("GET", run, h.do("GET", runs+"/"+failed.RunID+"?outputs=false", "", nil))
	s.check("GET", run, h.do("GET", runs+"/"+failed.RunID+"?outputs=maybe", "", nil))
	s.check("GET", run+"/graph", h.do("GET", runs+"/"+failed.RunID+"/graph", "", nil))
	s.check("GET", run+"/graph", h.do("GET", runs+"/nope/graph", "", nil))
	s.check("GET", wf+"/graph", h.do("GET", wfs+"/basic/graph", "", nil))
	s.check("GET", wf+"/graph", h.do("GET", wfs+"/basic/graph?version=9", "", nil))
	s.check("GET", wf+"/graph", h.do("GET", wfs+"/basic/graph?version=x", "", nil))
	const step = run + "/steps/{step}"
	s.check("GET", step, h.do("GET", runs+"/"+failed.RunID+"/steps/second", "", nil))
	s.check("GET", step, h.do("GET", runs+"/"+failed.RunID+"/steps/first", "", nil))
	s.check("GET", step, h.do("GET", runs+"/"+failed.RunID+"/steps/secnd", "", nil))
	s.check("GET", step, h.do("GET", runs+"/nope/steps/first", "", nil))
	const validate = wfs + "/validate"
	s.check("POST", validate, h.do("POST", validate, j, []byte(basicWorkflow)))
	s.check("POST", validate, h.do("POST", validate, j, []byte(`{"id": "x", "steps": {"a": {"type": "nope", "colour": 1}}}`)))
	s.check("POST", validate, h.do("POST", validate, "application/yaml", []byte("id: x\nsteps: {a: [\n")))
	s.check("POST", validate, h.do("POST", validate, "application/yaml", []byte(strings.Repeat("# long\n", 40))))
	s.check("POST", validate, h.do("POST", validate, "application/xml", []byte(`<x/>`)))

	s.check("GET", run+"/events", h.do("GET", runs+"/nope/events", "", nil))
	events := readStream(t, h, runs+"/"+id+"/events", "Authorization", "Bearer tok")
	for _, ev := range events[:len(events)-1] {
		s.event(ev.data)
	}
	s.check("GET", "/api/v1/openapi.json", h.do("GET", "/api/v1/openapi.json", "", nil))
	s.check("GET", "/healthz", h.do("GET", "/healthz", "", nil))
	s.check("GET", "/readyz", h.do("GET", "/readyz", "", nil))
	s.check("GET", "/metrics", h.do("GET", "/metrics", "", nil))
	s.check("GET", "/metrics", h.do("GET", "/metrics", "", nil, "Authorization", ""))

	// Every route was called.
	for _, want := range []string{"POST " + wfs, "GET " + wfs, "GET " + wf, "POST " + runs, "GET " + runs, "GET " + run,
		"GET " + run + "/workflow", "POST " + run + "/cancel", "POST " + run + "/retry", "GET " + run + "/events",
		"GET " + run + "/graph", "GET " + wf + "/graph",
		"GET " + run + "/steps/{step}",
		"POST " + wfs + "/validate"} {
		found := false
		for k := range s.seen {
			found = found || strings.HasPrefix(k, want+" ")
		}
		if !found {
			t.Errorf("no answer of %s was checked", want)
		}
	}
}
