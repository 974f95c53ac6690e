package ui_test

// End-to-end scenarios of the web dashboard in headless Chromium, written
// against its DOM contract: hash routes (#/runs, #/runs/{id},
// #/workflows, #/workflows/{id}, #/new), the token dialog, the runs table
// and its filters, the run page (#run-status, canvas#dag, #cancel-run,
// #retry-run, window.weftDAG), the step panel (aside#step-panel and its
// [data-field] elements), the workflow page (select#workflow-version,
// pre#workflow-definition, form#start-run) and the editor (#wf-editor,
// #wf-validate, #wf-register, ul#wf-errors).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// openDashboard skips t until the dashboard has landed, starts a browser
// and opens the dashboard at a hash route, such as "#/runs".
func openDashboard(t *testing.T, fx *fixture, route string) context.Context {
	t.Helper()
	fx.needDashboard(t)
	ctx := browser(t)
	navigate(t, ctx, fx.page(route))
	if title := mustEval[string](t, ctx, `document.title`); !strings.HasPrefix(title, "weft") {
		t.Errorf("document.title %q, want it to start with weft", title)
	}
	return ctx
}

// gatedWorkflow is "first" (input) → "hold" (a gate of key) → "after"
// (process).
func gatedWorkflow(id, key string) []byte {
	return []byte(fmt.Sprintf(`{"id": %q, "steps": {
		"first": {"type": "input", "input": {"data": {"n": 1}}},
		"hold": {"type": "gate", "depends_on": ["first"], "input": {"key": %q}},
		"after": {"type": "process", "depends_on": ["hold"]}}}`, id, key))
}

// seedBasic is examples/seed_basic.json.
func seedBasic(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/seed_basic.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsNodeStatus is the JavaScript of a DAG node's displayed status.
func jsNodeStatus(step string) string {
	return `window.weftDAG?.status(` + jsString(step) + `)`
}

// waitNode waits until the DAG shows a step with status want.
func waitNode(t *testing.T, ctx context.Context, step, want string) {
	t.Helper()
	waitTrue(t, ctx, fmt.Sprintf("node %s to show %s", step, want), jsNodeStatus(step)+` === `+jsString(want))
}

// nodeRect is weftDAG.rect's answer.
type nodeRect struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// clickNode clicks a step's node on the canvas, at the centre of the box
// weftDAG.rect gives, and waits for the step panel to show it.
func clickNode(t *testing.T, ctx context.Context, step string) {
	t.Helper()
	waitVisible(t, ctx, "canvas#dag")
	r := mustEval[*nodeRect](t, ctx, `window.weftDAG.rect(`+jsString(step)+`)`)
	if r == nil || r.W <= 0 || r.H <= 0 {
		t.Fatalf("weftDAG.rect(%q) = %+v", step, r)
	}
	vp := mustEval[[]float64](t, ctx, `[innerWidth, innerHeight]`)
	x, y := r.X+r.W/2, r.Y+r.H/2
	if x < 0 || y < 0 || x >= vp[0] || y >= vp[1] {
		t.Fatalf("weftDAG.rect(%q) = %+v: its centre is outside the %vx%v viewport", step, r, vp[0], vp[1])
	}
	clickXY(t, ctx, x, y)
	waitPanel(t, ctx, step)
}

// waitPanel waits until the step panel is shown for step.
func waitPanel(t *testing.T, ctx context.Context, step string) {
	t.Helper()
	waitVisible(t, ctx, "aside#step-panel")
	waitText(t, ctx, `aside#step-panel [data-field="id"]`, step)
}

// panelField is the selector of a field of the step panel.
func panelField(name string) string { return `aside#step-panel [data-field="` + name + `"]` }

// jsAttempts lists the attempt numbers of the step panel's attempts
// table, one tr[data-attempt="N"] per attempt, and fails (null) when the
// table has other body rows (a "not started" row beside attempts).
const jsAttempts = `((table) => { if (!table) return null;` +
	` const rows = [...table.querySelectorAll("tr")].filter((r) => !r.closest("thead") && r.querySelector("td"));` +
	` const attempts = rows.filter((r) => r.hasAttribute("data-attempt"));` +
	` return attempts.length === rows.length ? attempts.map((r) => r.getAttribute("data-attempt")) : null;` +
	` })(document.querySelector('aside#step-panel [data-field="attempts"]'))`

// jsRunRow is the JavaScript of the runs table's row of a run.
func jsRunRow(id string) string {
	return `document.querySelector('table#runs-table tr[data-run-id=` + jsString(id) + `]')`
}

// jsRowShown tells whether the runs table shows a run.
func jsRowShown(id string) string {
	return `((r) => !!r && r.getClientRects().length > 0)(` + jsRunRow(id) + `)`
}

// waitRow waits until the runs table shows a run with status want.
func waitRow(t *testing.T, ctx context.Context, id, want string) {
	t.Helper()
	waitTrue(t, ctx, fmt.Sprintf("the runs table to show run %s %s", id, want),
		jsRowShown(id)+` && `+jsRunRow(id)+`.querySelector("td.status")?.textContent.trim() === `+jsString(want))
}

// waitHash waits until location.hash matches pattern (a JavaScript
// regular expression) and returns its first group.
func waitHash(t *testing.T, ctx context.Context, pattern string) string {
	t.Helper()
	return waitJS[string](t, ctx, waitTimeout, "location.hash to match "+pattern,
		`(new RegExp(`+jsString(pattern)+`).exec(location.hash) || [])[1]`)
}

// pasteWorkflow puts a document in the new-workflow editor and checks
// that the editor holds it.
func pasteWorkflow(t *testing.T, ctx context.Context, doc []byte) {
	t.Helper()
	typeText(t, ctx, "textarea#wf-editor", string(doc))
	got := mustEval[string](t, ctx, `document.querySelector("textarea#wf-editor").value`)
	if strings.TrimSpace(got) != strings.TrimSpace(string(doc)) {
		t.Fatalf("the editor holds\n%s\nwant\n%s", got, doc)
	}
}

// TestDashboardToken: on a server with a token, the dashboard asks for it
// (the API answers 401), keeps it for the tab and loads the runs.
func TestDashboardToken(t *testing.T) {
	const token = "e2e-s3cret-token"
	fx := newFixture(t, &fixtureOptions{Token: token})
	fx.needDashboard(t)
	id := fx.submit(seedBasic(t), "")
	fx.waitRun(id, weft.RunSucceeded, 10*time.Second)

	ctx := openDashboard(t, fx, "#/runs")
	waitTrue(t, ctx, "the token dialog to open", `document.querySelector("dialog#token-dialog")?.open`)
	waitVisible(t, ctx, "input#token-input")
	screenshot(t, ctx, "token-dialog")

	typeText(t, ctx, "input#token-input", token)
	click(t, ctx, "button#token-submit")
	waitTrue(t, ctx, "the token dialog to close", `!document.querySelector("dialog#token-dialog").open`)
	waitRow(t, ctx, id, "succeeded")
	if !mustEval[bool](t, ctx, `Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes(`+jsString(token)+`))`) {
		t.Error("the token is not in sessionStorage")
	}
	screenshot(t, ctx, "runs-loaded")

	// A reload keeps the token: no dialog, the runs load.
	navigate(t, ctx, fx.page("#/runs"))
	waitRow(t, ctx, id, "succeeded")
	if mustEval[bool](t, ctx, `document.querySelector("dialog#token-dialog").open`) {
		t.Error("the token dialog opened again after a reload")
	}
}

// TestDashboardSeedBasic registers examples/seed_basic.json in the editor,
// starts it from its workflow page, watches every node succeed, clicks the
// process step on the canvas and reads its output in the step panel.
func TestDashboardSeedBasic(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := openDashboard(t, fx, "#/runs")
	for _, nav := range []string{"#/runs", "#/workflows", "#/new"} {
		waitVisible(t, ctx, `a[href="`+nav+`"]`)
	}
	waitVisible(t, ctx, "table#runs-table")

	click(t, ctx, `a[href="#/new"]`)
	doc := seedBasic(t)
	pasteWorkflow(t, ctx, doc)
	click(t, ctx, "button#wf-register")
	waitHash(t, ctx, `^#/workflows/(simple_workflow)(?:$|[/?])`)
	if _, err := fx.Client.Workflow(context.Background(), "simple_workflow", 0); err != nil {
		t.Fatalf("the editor's register did not register: %v", err)
	}

	waitTrue(t, ctx, "the definition to show", jsText("pre#workflow-definition")+`?.includes("process_data")`)
	waitTrue(t, ctx, "a version to choose", `document.querySelector("select#workflow-version")?.options.length >= 1`)
	waitVisible(t, ctx, "form#start-run")
	screenshot(t, ctx, "workflow-page")
	click(t, ctx, "button#start-run-submit")
	runID := waitHash(t, ctx, `^#/runs/([^/?]+)`)

	waitText(t, ctx, "#run-status", "succeeded")
	waitVisible(t, ctx, "canvas#dag")
	waitNode(t, ctx, "collect_data", "succeeded")
	waitNode(t, ctx, "process_data", "succeeded")
	screenshot(t, ctx, "run-succeeded")
	// The run's result, formatted when opened.
	click(t, ctx, "details:has(#run-result) > summary")
	waitTrue(t, ctx, "the run's result", jsText("#run-result")+`?.includes('"HELLO"')`)

	clickNode(t, ctx, "process_data")
	waitText(t, ctx, panelField("status"), "succeeded")
	out := textOf(t, ctx, panelField("output"))
	if !strings.Contains(out, `"HELLO"`) {
		t.Errorf("the panel's output is %q, want it to hold \"HELLO\"", out)
	}
	if in := textOf(t, ctx, panelField("input")); !strings.Contains(in, "uppercase") {
		t.Errorf("the panel's input is %q, want the step's rules", in)
	}
	if got := mustEval[[]string](t, ctx, jsAttempts); !slices.Equal(got, []string{"1"}) {
		t.Errorf("the panel's attempts table lists attempts %q, want [1] (one tr[data-attempt] per attempt)", got)
	}
	for _, f := range []string{"queue-wait", "run-time"} {
		if textOf(t, ctx, panelField(f)) == "" {
			t.Errorf("the panel's %s is empty", f)
		}
	}
	screenshot(t, ctx, "step-panel")

	run := fx.run(runID)
	if run.Status != weft.RunSucceeded || !bytes.Contains(run.Result, []byte(`"HELLO"`)) {
		t.Errorf("the API says run %s is %s with result %s", runID, run.Status, run.Result)
	}
}

// TestDashboardStartWithParams starts a registered workflow from its page
// with a parameter typed in the start form.
func TestDashboardStartWithParams(t *testing.T) {
	fx := newFixture(t, nil)
	fx.needDashboard(t)
	fx.register([]byte(`{"id": "greet", "params": {"who": "ada"}, "steps": {
		"hello": {"type": "input", "input": {"data": {"greeting": "hello {{ params.who }}"}}}}}`))
	ctx := openDashboard(t, fx, "#/workflows")
	waitTrue(t, ctx, "the workflows table to list greet", `document.querySelector('table#workflows-table tr[data-workflow-id="greet"]')`)

	navigate(t, ctx, fx.page("#/workflows/greet"))
	typeText(t, ctx, `form#start-run [data-param="who"]`, "grace")
	click(t, ctx, "button#start-run-submit")
	runID := waitHash(t, ctx, `^#/runs/([^/?]+)`)
	waitText(t, ctx, "#run-status", "succeeded")
	if run := fx.run(runID); !bytes.Contains(run.Result, []byte(`"hello grace"`)) {
		t.Errorf("run %s: result %s, want the typed parameter in it", runID, run.Result)
	}
}

// TestDashboardRunsList: the runs table lists runs with their status and
// workflow, filters them, and shows new runs and status changes by itself.
func TestDashboardRunsList(t *testing.T) {
	fx := newFixture(t, nil)
	fx.needDashboard(t)
	ok := fx.submit(seedBasic(t), "")
	bad := fx.submit([]byte(`{"id": "bad_wf", "steps": {"g": {"type": "gate", "input": {"key": "bad", "fail": true}}}}`), "")
	fx.waitRun(ok, weft.RunSucceeded, 10*time.Second)
	fx.waitRun(bad, weft.RunFailed, 10*time.Second)

	ctx := openDashboard(t, fx, "#/runs")
	waitRow(t, ctx, ok, "succeeded")
	waitRow(t, ctx, bad, "failed")
	if wf := textOf(t, ctx, `table#runs-table tr[data-run-id="`+bad+`"] td.workflow`); !strings.Contains(wf, "bad_wf") {
		t.Errorf("the workflow cell of run %s is %q", bad, wf)
	}
	waitVisible(t, ctx, `table#runs-table tr[data-run-id="`+ok+`"] td.progress`)

	selectOption(t, ctx, "select#filter-status", "failed")
	waitTrue(t, ctx, "the status filter to leave the failed run only", jsRowShown(bad)+` && !`+jsRowShown(ok))
	selectOption(t, ctx, "select#filter-status", "")
	typeText(t, ctx, "input#filter-workflow", "simple_workflow")
	waitTrue(t, ctx, "the workflow filter to leave simple_workflow's run only", jsRowShown(ok)+` && !`+jsRowShown(bad))
	typeText(t, ctx, "input#filter-workflow", "")
	waitTrue(t, ctx, "both runs back", jsRowShown(ok)+` && `+jsRowShown(bad))

	// Live: a new run appears, and its status changes, without a reload.
	fx.arm("live")
	live := fx.submit(gatedWorkflow("live_wf", "live"), "")
	fx.waitHeld("live", 1, 10*time.Second)
	waitRow(t, ctx, live, "running")
	screenshot(t, ctx, "live-running")
	fx.release("live")
	waitRow(t, ctx, live, "succeeded")
}

// TestDashboardCancel cancels a run whose gate step is held: the run and
// the gate show canceled.
func TestDashboardCancel(t *testing.T) {
	fx := newFixture(t, nil)
	fx.needDashboard(t)
	fx.arm("hold")
	id := fx.submit(gatedWorkflow("gated", "hold"), "")
	fx.waitHeld("hold", 1, 10*time.Second)

	ctx := openDashboard(t, fx, "#/runs/"+id)
	waitText(t, ctx, "#run-status", "running")
	waitNode(t, ctx, "first", "succeeded")
	waitNode(t, ctx, "hold", "running")
	waitTrue(t, ctx, "cancel enabled and retry disabled", `!document.querySelector("button#cancel-run").disabled && document.querySelector("button#retry-run").disabled`)
	screenshot(t, ctx, "held")

	click(t, ctx, "button#cancel-run")
	waitText(t, ctx, "#run-status", "canceled")
	waitNode(t, ctx, "hold", "canceled")
	waitNode(t, ctx, "after", "canceled")
	waitTrue(t, ctx, "cancel disabled and retry enabled", `document.querySelector("button#cancel-run").disabled && !document.querySelector("button#retry-run").disabled`)
	clickNode(t, ctx, "hold")
	waitText(t, ctx, panelField("status"), "canceled")
	screenshot(t, ctx, "canceled")

	run := fx.waitRun(id, weft.RunCanceled, 10*time.Second)
	if st := run.Steps.Steps["hold"].Status; st != weft.StepCanceled {
		t.Errorf("the API says the gate is %s, want canceled", st)
	}
}

// TestDashboardRetry: a run fails at its gate; with the failure gone, retry
// makes it succeed, and the step panel lists both attempts.
func TestDashboardRetry(t *testing.T) {
	fx := newFixture(t, nil)
	fx.needDashboard(t)
	fx.setFail("flaky", true)
	id := fx.submit(gatedWorkflow("flaky_wf", "flaky"), "")
	fx.waitRun(id, weft.RunFailed, 10*time.Second)

	ctx := openDashboard(t, fx, "#/runs/"+id)
	waitText(t, ctx, "#run-status", "failed")
	waitNode(t, ctx, "hold", "failed")
	waitTrue(t, ctx, "retry enabled and cancel disabled", `!document.querySelector("button#retry-run").disabled && document.querySelector("button#cancel-run").disabled`)
	clickNode(t, ctx, "hold")
	waitText(t, ctx, panelField("status"), "failed")
	waitTrue(t, ctx, "the panel to show the error", jsText(panelField("error"))+`?.includes("told to fail")`)
	screenshot(t, ctx, "failed")

	// The legend lists the steps of a status: the way to a 10,000-step
	// run's failures.
	click(t, ctx, `.legend button[data-status="failed"]`)
	waitTrue(t, ctx, "the failed steps' list", `[...document.querySelectorAll("#step-list li[data-step]")].map((li) => li.dataset.step).join() === "hold"`)
	click(t, ctx, `#step-list li[data-step="hold"] a`)
	waitPanel(t, ctx, "hold")

	fx.setFail("flaky", false)
	click(t, ctx, "button#retry-run")
	waitText(t, ctx, "#run-status", "succeeded")
	waitNode(t, ctx, "hold", "succeeded")
	waitNode(t, ctx, "after", "succeeded")
	mustEval[bool](t, ctx, `window.weftDAG.select("hold") || true`)
	waitPanel(t, ctx, "hold")
	waitText(t, ctx, panelField("status"), "succeeded")
	waitTrue(t, ctx, "the panel to list attempts 1 and 2", jsAttempts+`?.join() === "1,2"`)
	screenshot(t, ctx, "retried")

	if run := fx.run(id); run.Steps.Steps["hold"].Attempts != 2 || fx.gateCalls("flaky") != 2 {
		t.Errorf("the API says %d attempts (the gate ran %d times), want 2", run.Steps.Steps["hold"].Attempts, fx.gateCalls("flaky"))
	}
}

// TestDashboardValidation: the editor shows a problem at its JSON path (and
// line), refuses to register, and registers once it is fixed.
func TestDashboardValidation(t *testing.T) {
	fx := newFixture(t, nil)
	bad := `{
  "id": "bad_deps",
  "steps": {
    "fetch": {"type": "input", "input": {"data": {"n": 1}}},
    "b": {"type": "process", "depends_on": ["fetc"]}
  }
}`
	const path, line = "$.steps.b.depends_on[0]", "5"
	ctx := openDashboard(t, fx, "#/new")
	pasteWorkflow(t, ctx, []byte(bad))
	click(t, ctx, "button#wf-validate")
	li := `ul#wf-errors li[data-path="` + path + `"]`
	waitVisible(t, ctx, li)
	if text := textOf(t, ctx, li); !strings.Contains(text, "fetc") {
		t.Errorf("the problem reads %q, want it to name the unknown dependency", text)
	}
	if n := mustEval[int](t, ctx, `document.querySelectorAll("ul#wf-errors li").length`); n != 1 {
		t.Errorf("%d problems listed, want 1", n)
	}
	if got := mustEval[*string](t, ctx, jsQuery(li)+`.getAttribute("data-line")`); got == nil || *got != line {
		t.Errorf("data-line %v, want %s", got, line)
	}
	screenshot(t, ctx, "problem")

	click(t, ctx, "button#wf-register")
	waitVisible(t, ctx, li)
	if hash := mustEval[string](t, ctx, `location.hash`); hash != "#/new" {
		t.Errorf("an invalid workflow navigated to %s", hash)
	}
	if _, err := fx.Client.Workflow(context.Background(), "bad_deps", 0); err == nil {
		t.Error("an invalid workflow was registered")
	}

	pasteWorkflow(t, ctx, []byte(strings.Replace(bad, `"fetc"`, `"fetch"`, 1)))
	click(t, ctx, "button#wf-validate")
	waitTrue(t, ctx, "the problems to go", `document.querySelectorAll("ul#wf-errors li").length === 0`)
	click(t, ctx, "button#wf-register")
	waitHash(t, ctx, `^#/workflows/(bad_deps)(?:$|[/?])`)
}

// TestDashboardValidationYAML: a YAML document's problems are placed at
// their lines too (the gutter marks them), and the fixed document
// registers.
func TestDashboardValidationYAML(t *testing.T) {
	fx := newFixture(t, nil)
	bad := `id: yaml_wf
steps:
  fetch:
    type: input
    input:
      data: {n: 1}
  b:
    type: proces
    depends_on: [fetch]
`
	ctx := openDashboard(t, fx, "#/new")
	pasteWorkflow(t, ctx, []byte(bad))
	click(t, ctx, "button#wf-validate")
	li := `ul#wf-errors li[data-path="$.steps.b.type"]`
	waitVisible(t, ctx, li)
	if text := textOf(t, ctx, li); !strings.Contains(text, "proces") || !strings.Contains(text, "process") {
		t.Errorf("the problem reads %q, want the unknown type and the suggestion", text)
	}
	if got := mustEval[*string](t, ctx, jsQuery(li)+`.getAttribute("data-line")`); got == nil || *got != "8" {
		t.Errorf("data-line %v, want 8", got)
	}
	if marked := mustEval[[]string](t, ctx, `[...document.querySelectorAll(".editor .gutter .bad")].map((e) => e.textContent)`); len(marked) != 1 || marked[0] != "8" {
		t.Errorf("the gutter marks lines %q, want [8]", marked)
	}
	pasteWorkflow(t, ctx, []byte(strings.Replace(bad, "type: proces\n", "type: process\n", 1)))
	click(t, ctx, "button#wf-validate")
	waitTrue(t, ctx, "the problems to go", `document.querySelectorAll("ul#wf-errors li").length === 0 && document.querySelectorAll(".editor .gutter .bad").length === 0`)
	click(t, ctx, "button#wf-register")
	waitHash(t, ctx, `^#/workflows/(yaml_wf)(?:$|[/?])`)
}

// TestDashboardAPIOnly: through a server that runs no steps (weft serve
// --no-worker beside workers), the live DAG follows the steps a worker
// runs.
func TestDashboardAPIOnly(t *testing.T) {
	fx := newFixture(t, &fixtureOptions{APIOnly: true})
	fx.needDashboard(t)
	fx.arm("hold")
	id := fx.submit(gatedWorkflow("api_only", "hold"), "")
	fx.waitHeld("hold", 1, 10*time.Second)
	ctx := openDashboard(t, fx, "#/runs/"+id)
	waitNode(t, ctx, "hold", "running")
	waitText(t, ctx, "#run-status", "running")
	fx.release("hold")
	waitNode(t, ctx, "hold", "succeeded")
	waitNode(t, ctx, "after", "succeeded")
	waitText(t, ctx, "#run-status", "succeeded")
}

// TestDashboardResolvedInput: the panel shows the input a step got, its
// templates evaluated, and the input as written beside it.
func TestDashboardResolvedInput(t *testing.T) {
	fx := newFixture(t, nil)
	fx.needDashboard(t)
	id := fx.submit([]byte(`{"id": "tpl", "params": {"who": "weft"}, "steps": {
		"a": {"type": "input", "input": {"data": {"n": 2}}},
		"b": {"type": "input", "depends_on": ["a"], "input": {"data": {"msg": "hello {{ params.who }}", "twice": "{{ data.n * 2 }}"}}}}}`), "")
	fx.waitRun(id, weft.RunSucceeded, 10*time.Second)
	ctx := openDashboard(t, fx, "#/runs/"+id)
	waitNode(t, ctx, "b", "succeeded")
	clickNode(t, ctx, "b")
	waitTrue(t, ctx, "the evaluated input", jsText(panelField("input"))+`?.includes('"hello weft"') && `+jsText(panelField("input"))+`.includes('"twice": 4')`)
	if written := textOf(t, ctx, panelField("input-written")); !strings.Contains(written, "{{ params.who }}") {
		t.Errorf("the input as written reads %q", written)
	}
}

// TestDashboardTimeline: the timeline lists the steps in the order they
// started, a live run's rows follow its events, and a row opens its step.
func TestDashboardTimeline(t *testing.T) {
	fx := newFixture(t, nil)
	fx.needDashboard(t)
	fx.arm("hold")
	id := fx.submit(gatedWorkflow("tl", "hold"), "")
	fx.waitHeld("hold", 1, 10*time.Second)
	ctx := openDashboard(t, fx, "#/runs/"+id)
	waitNode(t, ctx, "hold", "running")
	click(t, ctx, "button#view-timeline")
	waitVisible(t, ctx, "canvas#timeline")
	// first ran, hold runs, after has not started: the last row.
	waitTrue(t, ctx, "rows in start order", `window.weftTimeline?.rows().join() === "first,hold,after"`)
	fx.release("hold")
	waitText(t, ctx, "#run-status", "succeeded")
	waitTrue(t, ctx, "rows after the run", `window.weftTimeline.rows().join() === "first,hold,after"`)
	screenshot(t, ctx, "timeline")
	r := mustEval[*nodeRect](t, ctx, `window.weftTimeline.rowRect("after")`)
	clickXY(t, ctx, r.X+10, r.Y+r.H/2)
	waitPanel(t, ctx, "after")
	// The choice of view is kept for the tab: the next run opens on it.
	navigate(t, ctx, fx.page("#/runs/"+id))
	waitVisible(t, ctx, "canvas#timeline")
	click(t, ctx, "button#view-graph")
	waitVisible(t, ctx, "canvas#dag")
}
