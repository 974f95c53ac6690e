package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/inmem"
)

// harness is a server over an in-memory store, with step types for tests:
// "block" waits until released (or canceled), "fail" fails for good when its
// input has "fail": true, "flaky" fails (to be retried) at its first
// "fail_times" attempts.
type harness struct {
	t       *testing.T
	srv     *httptest.Server
	api     *httpapi.Server
	eng     *engine.Engine
	store   *inmem.Store
	client  *httpapi.Client
	token   string
	release chan struct{}
}

// options tune a harness.
type options struct {
	api    func(*httpapi.Config)
	engine func(*engine.Config)
	token  string
	// readTimeout is the http.Server's ReadTimeout.
	readTimeout time.Duration
}

func newHarness(t *testing.T, o *options) *harness {
	t.Helper()
	if o == nil {
		o = &options{}
	}
	h := &harness{t: t, store: inmem.New(), token: o.token, release: make(chan struct{})}
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.Register("block", weft.ExecutorFunc(func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		select {
		case <-h.release:
			return json.RawMessage(`{"released":true}`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	reg.Register("fail", weft.ExecutorFunc(func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		var in struct {
			Fail bool `json:"fail"`
		}
		json.Unmarshal(sc.Input, &in)
		if in.Fail {
			return nil, weft.Permanent(weft.Errorf(weft.CodeInvalid, "told to fail"))
		}
		return json.RawMessage(`{"ok":true}`), nil
	}))
	reg.Register("flaky", weft.ExecutorFunc(func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		var in struct {
			FailTimes int `json:"fail_times"`
		}
		json.Unmarshal(sc.Input, &in)
		if sc.Attempt <= in.FailTimes {
			return nil, weft.Errorf(weft.CodeUnavailable, "attempt %d failed", sc.Attempt)
		}
		return json.RawMessage(`{"ok":true}`), nil
	}))
	ecfg := &engine.Config{Registry: reg, MaxParallelSteps: 8, PollInterval: 50 * time.Millisecond}
	if o.engine != nil {
		o.engine(ecfg)
	}
	h.eng, err = engine.New(h.store, ecfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &httpapi.Config{Engine: h.eng, Store: h.store, Workflows: h.store, Registry: reg, Token: o.token, KeepAlive: 50 * time.Millisecond}
	if o.api != nil {
		o.api(cfg)
	}
	h.api, err = httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(h.api)
	h.srv.Config.ReadTimeout = o.readTimeout
	h.srv.Start()
	h.client, err = httpapi.NewClient(h.srv.URL, &httpapi.ClientOptions{Token: o.token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.releaseAll()
		h.api.Close()
		h.srv.Close()
		h.eng.Close()
	})
	return h
}

var releaseMu sync.Mutex

// releaseAll lets every block step finish.
func (h *harness) releaseAll() {
	releaseMu.Lock()
	defer releaseMu.Unlock()
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// answer is an HTTP answer read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the harness's token (unless the header is set)
// and reads the answer.
func (h *harness) do(method, path, contentType string, body []byte, header ...string) *answer {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// json decodes the answer's body into v.
func (a *answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.status, err, a.body)
	}
}

// wantError checks that the answer is an error with status and code.
func (a *answer) wantError(t *testing.T, status int, code string) httpapi.ErrorBody {
	t.Helper()
	var e httpapi.ErrorBody
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	a.json(t, &e)
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %s with a message", e.Error, code)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	return e
}

// wait follows a run to its end and returns its document.
func (h *harness) wait(runID string) *httpapi.RunDocument {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.client.Events(ctx, runID, 0, func(weft.Event) error { return nil }); err != nil {
		h.t.Fatalf("follow run %s: %v", runID, err)
	}
	doc, err := h.client.Run(ctx, runID)
	if err != nil {
		h.t.Fatal(err)
	}
	return doc
}

// waitStep waits until a step of a run is running.
func (h *harness) waitStep(runID, stepID string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		doc, err := h.client.Run(context.Background(), runID)
		if err == nil && doc.Steps.Steps[stepID] != nil && doc.Steps.Steps[stepID].Status == weft.StepRunning {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("step %s of run %s never started", stepID, runID)
}

const basicWorkflow = `{"id": "basic", "steps": {
  "collect_data": {"type": "input", "input": {"data": {"message": "hello"}}},
  "process_data": {"type": "process", "depends_on": ["collect_data"], "input": {"rules": [{"type": "transform", "field": "message", "operation": "uppercase"}]}}
}}`

// blockWorkflow has one step that runs until released.
const blockWorkflow = `{"id": "blocker", "steps": {"wait": {"type": "block"}}}`

// failWorkflow fails at its second step, unless retried with edited input.
const failWorkflow = `{"id": "failer", "steps": {
  "first": {"type": "input", "input": {"data": {"n": 1}}},
  "second": {"type": "fail", "depends_on": ["first"], "input": {"fail": true}}
}}`

func inlineRun(wf string) []byte {
	return []byte(fmt.Sprintf(`{"workflow": %s}`, wf))
}

// startRun starts a run and returns its summary.
func (h *harness) startRun(body []byte) *httpapi.RunSummary {
	h.t.Helper()
	a := h.do("POST", "/api/v1/runs", "application/json", body)
	if a.status != http.StatusCreated {
		h.t.Fatalf("start run: %d %s", a.status, a.body)
	}
	var run httpapi.RunSummary
	a.json(h.t, &run)
	return &run
}

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t, &options{token: "s3cret"})
	a := h.do("GET", "/healthz", "", nil, "Authorization", "")
	if a.status != 200 || !strings.Contains(string(a.body), `"ok"`) {
		t.Fatalf("healthz: %d %s", a.status, a.body)
	}
	if a := h.do("GET", "/readyz", "", nil); a.status != 200 {
		t.Fatalf("readyz: %d %s", a.status, a.body)
	}
	h.api.Close()
	h.do("GET", "/readyz", "", nil).wantError(t, 503, httpapi.CodeUnavailable)
}

func TestErrorsAreJSON(t *testing.T) {
	h := newHarness(t, nil)
	h.do("GET", "/api/v1/nope", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	a := h.do("DELETE", "/api/v1/runs", "", nil)
	a.wantError(t, 405, httpapi.CodeMethod)
	if allow := a.header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow %q, want GET, POST", allow)
	}
	h.do("GET", "/api/v1/runs/nope", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	h.do("POST", "/api/v1/runs/nope/cancel", "", nil).wantError(t, 404, httpapi.CodeNotFound)
	for _, tc := range []struct {
		body, want string
	}{
		{`{`, "ends before"},
		{`{"workflow_id": }`, "JSON syntax error at byte"},
		{`{"workflow_id": 3}`, "$.workflow_id: expected string"},
		{`{"workflow_id": "x", "colour": 1}`, `unknown field "colour"`},
		{`{"workflow_id": "x"} {}`, "after its JSON value"},
		{``, "needs a JSON body"},
		{`{}`, "needs workflow_id"},
		{`{"workflow_id": "x", "workflow": {"id": "y"}}`, "not both"},
		{`{"workflow_id": "x", "params": [1]}`, "$.params: expected a JSON object"},
		{`{"workflow_id": "x", "max_parallel": -1}`, "$.max_parallel"},
	} {
		e := h.do("POST", "/api/v1/runs", "application/json", []byte(tc.body)).wantError(t, 400, httpapi.CodeBadRequest)
		if !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("body %q: message %q, want it to contain %q", tc.body, e.Error.Message, tc.want)
		}
	}
	h.do("POST", "/api/v1/runs", "text/csv", []byte(`a,b`)).wantError(t, 415, httpapi.CodeUnsupported)
	h.do("GET", "/api/v1/runs?status=done", "", nil).wantError(t, 400, httpapi.CodeBadRequest)
	h.do("GET", "/api/v1/runs?since=yesterday", "", nil).wantError(t, 400, httpapi.CodeBadRequest)
	h.do("GET", "/api/v1/runs?limit=0", "", nil).wantError(t, 400, httpapi.CodeBadRequest)
	h.do("GET", "/api/v1/runs?cursor=garbage", "", nil).wantError(t, 400, string(weft.CodeInvalid))
	h.do("GET", "/api/v1/runs/x/events", "", nil, "Last-Event-ID", "-3").wantError(t, 400, httpapi.CodeBadRequest)
}

// failingStore fails ListRuns with an error that holds a path, which must
// not reach the client.
type failingStore struct{ *inmem.Store }

func (failingStore) ListRuns(context.Context, *weft.RunFilter) ([]*weft.Run, string, error) {
	return nil, "", errors.New("open /var/secret/weft.db: disk on fire")
}

func TestInternalErrorsHideTheirText(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, &options{api: func(c *httpapi.Config) {
		c.Store = failingStore{c.Store.(*inmem.Store)}
		c.Logger = newTestLogger(&logs)
	}})
	e := h.do("GET", "/api/v1/runs", "", nil).wantError(t, 500, httpapi.CodeInternal)
	if strings.Contains(e.Error.Message, "secret") || strings.Contains(e.Error.Message, "fire") {
		t.Errorf("the client sees the internal error: %q", e.Error.Message)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the log lacks the error: %s", logs.String())
	}
	h.do("GET", "/readyz", "", nil).wantError(t, 503, httpapi.CodeUnavailable)
}
