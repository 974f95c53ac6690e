package ui_test

// The server fixture of the browser tests: an in-memory store, an engine
// and httpapi.Server on 127.0.0.1 (newFixture), its methods to register,
// submit and follow runs over the API, and the "gate" step type that the
// test holds, releases or fails (gates); and TestFixture, which checks them.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/inmem"
)

// fixtureOptions configure newFixture. A nil *fixtureOptions means the
// defaults.
type fixtureOptions struct {
	// Token is the bearer token the server requires; "" for none.
	Token string
	// MaxParallel is the engine's MaxParallelSteps; default 32.
	MaxParallel int
	// APIOnly makes the server's engine run no steps (as weft serve
	// --no-worker): a second engine on the same store, a worker, runs
	// them, and the server's event streams read the worker's events from
	// the store. The server polls for work every hour, so only its
	// subscription poll interval (Engine.Config.SubscribePollInterval)
	// brings the events.
	APIOnly bool
}

// fixture is a weft server for a browser test: an in-memory store, an
// engine polling every 10ms with the built-in step types and "gate", and
// httpapi.Server on an httptest server at 127.0.0.1.
type fixture struct {
	t *testing.T
	// URL is the server's base URL, such as http://127.0.0.1:40123.
	URL    string
	Token  string
	Client *httpapi.Client
	Store  *inmem.Store
	Engine *engine.Engine
	API    *httpapi.Server
	Server *httptest.Server
	gates  *gates
}

// newFixture starts a server for t, closed at t's end.
//
// The step type "gate" takes the input {"key": "k", "fail": bool}: it
// returns {"key": "k", "ok": true} at once, unless the test armed its key
// (fx.arm): then it waits for fx.release (or the step's cancellation). It
// fails for good (code gate_failed, never retried) when its input says
// "fail": true or the test called fx.setFail(key, true).
func newFixture(t *testing.T, opts *fixtureOptions) *fixture {
	t.Helper()
	if opts == nil {
		opts = &fixtureOptions{}
	}
	fx := &fixture{t: t, Token: opts.Token, Store: inmem.New(), gates: newGates()}
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("gate", weft.ExecutorFunc(fx.gates.execute)); err != nil {
		t.Fatal(err)
	}
	par := opts.MaxParallel
	if par <= 0 {
		par = 32
	}
	cfg := &engine.Config{Registry: reg, MaxParallelSteps: par, PollInterval: 10 * time.Millisecond}
	if opts.APIOnly {
		worker, err := engine.New(fx.Store, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { worker.Close() })
		cfg = &engine.Config{Registry: reg, NoWorker: true, PollInterval: time.Hour}
	}
	fx.Engine, err = engine.New(fx.Store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fx.API, err = httpapi.New(&httpapi.Config{Engine: fx.Engine, Store: fx.Store, Workflows: fx.Store, Registry: reg, Token: opts.Token})
	if err != nil {
		t.Fatal(err)
	}
	fx.Server = httptest.NewServer(fx.API) // listens on 127.0.0.1
	fx.URL = fx.Server.URL
	fx.Client, err = httpapi.NewClient(fx.URL, &httpapi.ClientOptions{Token: opts.Token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fx.gates.releaseAll()
		fx.API.Close()
		fx.Server.Close()
		fx.Engine.Close()
	})
	return fx
}

// needDashboard skips t while the dashboard has not landed: GET / answers
// 404 and httpapi/ui has no static/index.html. A dashboard whose files are
// there but that the server does not serve fails t.
func (fx *fixture) needDashboard(t *testing.T) {
	t.Helper()
	resp, err := http.Get(fx.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return
	}
	if _, err := os.Stat(filepath.Join("static", "index.html")); err == nil && resp.StatusCode == http.StatusNotFound {
		t.Fatalf("httpapi/ui/static/index.html exists but GET / answers %s: the server does not serve the dashboard", resp.Status)
	}
	if resp.StatusCode == http.StatusNotFound {
		t.Skip("dashboard not yet landed: GET / answers 404")
	}
	t.Fatalf("GET /: %s", resp.Status)
}

// page returns the dashboard's URL for a hash route, such as "#/runs".
func (fx *fixture) page(route string) string { return fx.URL + "/" + route }

// ctx is a context for one API call.
func (fx *fixture) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// register registers a workflow document (JSON) over the API.
func (fx *fixture) register(doc []byte) *httpapi.WorkflowDocument {
	fx.t.Helper()
	ctx, cancel := fx.ctx()
	defer cancel()
	wf, err := fx.Client.RegisterWorkflow(ctx, doc, false)
	if err != nil {
		fx.t.Fatalf("register workflow: %v", err)
	}
	return wf
}

// submit starts a run of an inline workflow (JSON) with params (a JSON
// object, or "" for none) over the API and returns its id.
func (fx *fixture) submit(doc []byte, params string) string {
	fx.t.Helper()
	return fx.start(&httpapi.RunRequest{Workflow: doc, Params: rawParams(params)})
}

// startWorkflow starts a run of a registered workflow (latest version).
func (fx *fixture) startWorkflow(id, params string) string {
	fx.t.Helper()
	return fx.start(&httpapi.RunRequest{WorkflowID: id, Params: rawParams(params)})
}

func rawParams(params string) json.RawMessage {
	if params == "" {
		return nil
	}
	return json.RawMessage(params)
}

func (fx *fixture) start(req *httpapi.RunRequest) string {
	fx.t.Helper()
	ctx, cancel := fx.ctx()
	defer cancel()
	run, _, err := fx.Client.StartRun(ctx, req)
	if err != nil {
		fx.t.Fatalf("start run: %v", err)
	}
	return run.RunID
}

// run returns a run's document from the API.
func (fx *fixture) run(id string) *httpapi.RunDocument {
	fx.t.Helper()
	ctx, cancel := fx.ctx()
	defer cancel()
	doc, err := fx.Client.Run(ctx, id)
	if err != nil {
		fx.t.Fatalf("run %s: %v", id, err)
	}
	return doc
}

// waitRun polls the API until the run has status want, for at most
// timeout, and returns its document. It fails t early when the run ends
// with another status. It polls the runs listing (summaries), not the
// run's document, which is large for big runs.
func (fx *fixture) waitRun(id string, want weft.RunStatus, timeout time.Duration) *httpapi.RunDocument {
	fx.t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		status := fx.runStatus(id)
		switch {
		case status == want:
			return fx.run(id)
		case status.Terminal():
			doc := fx.run(id)
			fx.t.Fatalf("run %s ended %s, want %s (error: %+v)", id, doc.Status, want, doc.Error)
		}
		if time.Now().After(deadline) {
			fx.t.Fatalf("run %s is %s after %s, want %s", id, status, timeout, want)
		}
		time.Sleep(pause)
		pause = min(pause*2, 100*time.Millisecond)
	}
}

// runStatus returns a run's status from the runs listing.
func (fx *fixture) runStatus(id string) weft.RunStatus {
	fx.t.Helper()
	ctx, cancel := fx.ctx()
	defer cancel()
	list, err := fx.Client.ListRuns(ctx, &weft.RunFilter{Limit: 1000})
	if err != nil {
		fx.t.Fatalf("list runs: %v", err)
	}
	for _, r := range list.Runs {
		if r.RunID == id {
			return r.Status
		}
	}
	return fx.run(id).Status
}

// waitStep polls the API until a step of a run has status want.
func (fx *fixture) waitStep(id, step string, want weft.StepStatus, timeout time.Duration) *httpapi.StepDocument {
	fx.t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		doc := fx.run(id)
		if st := doc.Steps.Steps[step]; st != nil && st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			got := "missing"
			if st := doc.Steps.Steps[step]; st != nil {
				got = string(st.Status)
			}
			fx.t.Fatalf("step %s of run %s is %s after %s, want %s", step, id, got, timeout, want)
		}
		time.Sleep(pause)
		pause = min(pause*2, 250*time.Millisecond)
	}
}

// arm makes gate steps of key wait for release.
func (fx *fixture) arm(key string) { fx.gates.arm(key) }

// release lets the gate steps of key that wait go, and those to come pass.
func (fx *fixture) release(key string) { fx.gates.release(key) }

// setFail makes gate steps of key fail for good (true) or succeed.
func (fx *fixture) setFail(key string, fail bool) { fx.gates.setFail(key, fail) }

// waitHeld waits until n gate attempts of key are waiting for release.
func (fx *fixture) waitHeld(key string, n int, timeout time.Duration) {
	fx.t.Helper()
	if !fx.gates.waitHeld(key, n, timeout) {
		fx.t.Fatalf("gate %q: %d attempts waiting after %s, want %d", key, fx.gates.held(key), timeout, n)
	}
}

// gateCalls returns how many attempts gate steps of key have made.
func (fx *fixture) gateCalls(key string) int { return fx.gates.callCount(key) }

// gates is the test's control of the "gate" step type.
type gates struct {
	mu      sync.Mutex
	armed   map[string]chan struct{} // closed by release
	fail    map[string]bool
	waiting map[string]int
	calls   map[string]int
	changed chan struct{} // closed and replaced at every change
}

func newGates() *gates {
	return &gates{armed: map[string]chan struct{}{}, fail: map[string]bool{}, waiting: map[string]int{}, calls: map[string]int{}, changed: make(chan struct{})}
}

// changedLocked wakes the waiters of waitHeld; g.mu is held.
func (g *gates) changedLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *gates) arm(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.armed[key] == nil {
		g.armed[key] = make(chan struct{})
	}
}

func (g *gates) release(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch := g.armed[key]; ch != nil {
		close(ch)
		delete(g.armed, key)
	}
}

func (g *gates) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for key, ch := range g.armed {
		close(ch)
		delete(g.armed, key)
	}
}

func (g *gates) setFail(key string, fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail[key] = fail
}

func (g *gates) held(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting[key]
}

func (g *gates) callCount(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[key]
}

func (g *gates) waitHeld(key string, n int, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		g.mu.Lock()
		ok, changed := g.waiting[key] >= n, g.changed
		g.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// execute is the gate step type's executor.
func (g *gates) execute(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
	var in struct {
		Key  string `json:"key"`
		Fail bool   `json:"fail"`
	}
	if len(bytes.TrimSpace(sc.Input)) > 0 {
		if err := json.Unmarshal(sc.Input, &in); err != nil {
			return nil, weft.Permanent(weft.Errorf(weft.CodeInvalid, "gate: the input is not {\"key\": string, \"fail\": bool}: %v", err))
		}
	}
	g.mu.Lock()
	g.calls[in.Key]++
	ch := g.armed[in.Key]
	if ch != nil {
		g.waiting[in.Key]++
	}
	g.changedLocked()
	g.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
		}
		g.mu.Lock()
		g.waiting[in.Key]--
		g.changedLocked()
		g.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	g.mu.Lock()
	fail := in.Fail || g.fail[in.Key]
	g.mu.Unlock()
	if fail {
		return nil, weft.Permanent(weft.Errorf("gate_failed", "gate %q was told to fail", in.Key))
	}
	return json.Marshal(map[string]any{"key": in.Key, "ok": true})
}

// TestFixture checks the server fixture: the gate step type (held,
// released, failing, canceled), the generated workflows, and the token.
func TestFixture(t *testing.T) {
	fx := newFixture(t, &fixtureOptions{Token: "s3cret"})
	gated := []byte(`{"id": "gated", "steps": {
		"first": {"type": "input", "input": {"data": {"n": 1}}},
		"hold": {"type": "gate", "depends_on": ["first"], "input": {"key": "k"}}}}`)

	// Open by default.
	id := fx.submit(gated, "")
	doc := fx.waitRun(id, weft.RunSucceeded, 10*time.Second)
	if got := string(doc.Steps.Steps["hold"].Output); got != `{"key":"k","ok":true}` {
		t.Errorf("gate output %s", got)
	}

	// Held until released.
	fx.arm("k")
	id = fx.submit(gated, "")
	fx.waitHeld("k", 1, 10*time.Second)
	fx.waitStep(id, "hold", weft.StepRunning, 10*time.Second)
	fx.release("k")
	fx.waitRun(id, weft.RunSucceeded, 10*time.Second)

	// Failing for good, then retried.
	fx.setFail("k", true)
	id = fx.submit(gated, "")
	doc = fx.waitRun(id, weft.RunFailed, 10*time.Second)
	if st := doc.Steps.Steps["hold"]; st.Attempts != 1 || st.Error == nil || st.Error.Code != "gate_failed" {
		t.Errorf("failed gate: attempts %d, error %+v", st.Attempts, st.Error)
	}
	fx.setFail("k", false)
	ctx, cancel := fx.ctx()
	defer cancel()
	if _, err := fx.Client.RetryRun(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	fx.waitStep(id, "hold", weft.StepSucceeded, 10*time.Second)
	if doc = fx.waitRun(id, weft.RunSucceeded, 10*time.Second); doc.Steps.Steps["hold"].Attempts != 2 {
		t.Errorf("retried gate: %d attempts, want 2", doc.Steps.Steps["hold"].Attempts)
	}

	// Canceled while held.
	fx.arm("c")
	id = fx.submit(bytes.ReplaceAll(gated, []byte(`"key": "k"`), []byte(`"key": "c"`)), "")
	fx.waitHeld("c", 1, 10*time.Second)
	if _, err := fx.Client.CancelRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	doc = fx.waitRun(id, weft.RunCanceled, 10*time.Second)
	if st := doc.Steps.Steps["hold"].Status; st != weft.StepCanceled {
		t.Errorf("held gate of a canceled run: %s", st)
	}

	// Generated workflows validate and run.
	for _, tc := range []struct {
		doc   []byte
		steps int
	}{
		{wideWorkflow(40), 42},
		{layeredWorkflow(40, 7), 40},
		{layeredWorkflow(10, 1), 10},
	} {
		id := fx.submit(tc.doc, "")
		doc := fx.waitRun(id, weft.RunSucceeded, 20*time.Second)
		if len(doc.Order) != tc.steps || len(stepIDs(t, tc.doc)) != tc.steps {
			t.Errorf("%s: %d steps, want %d", doc.WorkflowID, len(doc.Order), tc.steps)
		}
	}

	// The API needs the token; the fixture's client has it.
	resp, err := http.Get(fx.URL + "/api/v1/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/runs without the token: %s", resp.Status)
	}
}
