package ui_test

// Helpers that drive a page of a browser from browser_test.go: evaluate
// JavaScript (evalJS, mustEval), wait for the page (waitJS, waitTrue,
// waitVisible, waitText, textOf), build JavaScript (jsString, jsQuery,
// jsVisible, jsText), and act on it as a user (navigate, click, clickXY,
// typeText, selectOption); and TestHarness, which checks the browser and
// these helpers on a page of its own.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// evalJS evaluates a JavaScript expression on the page and decodes its
// value (JSON) into T.
func evalJS[T any](ctx context.Context, expr string) (T, error) {
	var v T
	ectx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	raw, err := chromedp.Run(ectx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		return v, err
	}
	if len(raw) == 0 {
		raw = []byte("null")
	}
	err = json.Unmarshal(raw, &v)
	return v, err
}

// mustEval is evalJS that fails t on an error.
func mustEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := evalJS[T](ctx, expr)
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// truthy is the answer of waitJS's wrapped expression.
type truthy struct {
	OK bool            `json:"ok"`
	V  json.RawMessage `json:"v"`
}

// waitJS evaluates expr on the page until its value is truthy, for at most
// timeout, and decodes that value into T. An expression that throws counts
// as not yet. what names the wait in the failure message.
func waitJS[T any](t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) T {
	t.Helper()
	wrapped := `(() => { const v = (` + expr + `); return v ? {ok: true, v: v} : {ok: false, v: v === undefined ? null : v}; })()`
	deadline := time.Now().Add(timeout)
	var last string
	for {
		res, err := evalJS[truthy](ctx, wrapped)
		switch {
		case err == nil && res.OK:
			var v T
			if err := json.Unmarshal(res.V, &v); err != nil {
				t.Fatalf("%s: the value %s: %v", what, res.V, err)
			}
			return v
		case err != nil:
			last = err.Error()
		default:
			last = "value " + string(res.V)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("waited %s for %s (%s); last: %s", timeout, what, expr, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitTrue waits up to waitTimeout for expr to be truthy on the page.
func waitTrue(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	waitJS[json.RawMessage](t, ctx, waitTimeout, what, expr)
}

// jsQuery is the JavaScript of document.querySelector(sel).
func jsQuery(sel string) string { return `document.querySelector(` + jsString(sel) + `)` }

// jsVisible is the JavaScript that tells whether the element of sel is
// shown: laid out, not hidden, and not inside a closed <dialog>/<details>.
func jsVisible(sel string) string {
	return `((el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden")(` + jsQuery(sel) + `)`
}

// jsText is the JavaScript of sel's trimmed text content (null without
// the element).
func jsText(sel string) string {
	return `((el) => el ? el.textContent.trim() : null)(` + jsQuery(sel) + `)`
}

// waitVisible waits until the element of sel is shown.
func waitVisible(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	waitTrue(t, ctx, sel+" to be visible", jsVisible(sel))
}

// waitText waits until sel's trimmed text is want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	waitTrue(t, ctx, fmt.Sprintf("%s to read %q", sel, want), jsText(sel)+` === `+jsString(want))
}

// textOf waits for sel and returns its trimmed text.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v := waitJS[[]string](t, ctx, waitTimeout, sel+" to exist", `((el) => el ? [el.textContent.trim()] : null)(`+jsQuery(sel)+`)`)
	return v[0]
}

// navigate loads url in the tab and waits for the load event.
func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	nctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
}

// click waits until sel is visible and enabled and clicks its centre with
// the mouse.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	waitTrue(t, ctx, sel+" to be visible and enabled", jsVisible(sel)+` && !`+jsQuery(sel)+`.disabled`)
	cctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(cctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// clickXY clicks the page at a point of the viewport, in CSS pixels.
func clickXY(t *testing.T, ctx context.Context, x, y float64) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(cctx, chromedp.MouseClickXY(x, y)); err != nil {
		t.Fatalf("click at (%.0f, %.0f): %v", x, y, err)
	}
}

// typeText replaces the text of the input or textarea of sel with text, as
// a paste would: it focuses the field, selects what it holds and inserts
// text (the page gets input events).
func typeText(t *testing.T, ctx context.Context, sel, text string) {
	t.Helper()
	waitVisible(t, ctx, sel)
	tctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	err := chromedp.Do(tctx,
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](jsQuery(sel)+`.select()`),
	)
	if err == nil {
		if text == "" {
			err = chromedp.Do(tctx, chromedp.KeyEvent("\b"))
		} else {
			_, err = chromedp.Call(tctx, input.InsertText, input.InsertTextParams{Text: text})
		}
	}
	if err != nil {
		t.Fatalf("type into %s: %v", sel, err)
	}
}

// selectOption sets a <select>'s value and dispatches input and change
// events, as picking the option does.
func selectOption(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	waitTrue(t, ctx, fmt.Sprintf("%s to offer %q", sel, value),
		`[...(`+jsQuery(sel)+`?.options ?? [])].some(o => o.value === `+jsString(value)+`)`)
	mustEval[bool](t, ctx, `((el) => { el.value = `+jsString(value)+`; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return true; })(`+jsQuery(sel)+`)`)
}

// harnessPage is the page TestHarness drives.
const harnessPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title>
<style>body { margin: 0; font: 14px sans-serif } canvas { position: absolute; left: 300px; top: 200px; border: 1px solid #888 }</style>
</head><body>
<button id="count">count</button> <span id="out"></span>
<button id="log-error">console.error</button> <button id="throw">throw</button> <button id="ask">confirm</button>
<span id="answer"></span>
<textarea id="editor"></textarea> <span id="inputs">0</span>
<select id="pick"><option value="">any</option><option value="failed">failed</option></select> <span id="picked"></span>
<canvas id="board" width="200" height="100"></canvas> <span id="hit"></span>
<script>
let n = 0, inputs = 0;
const $ = (id) => document.getElementById(id);
$("count").addEventListener("click", () => { $("out").textContent = "clicked " + (++n); });
$("log-error").addEventListener("click", () => console.error("harness: a deliberate console error"));
$("throw").addEventListener("click", () => setTimeout(() => { throw new Error("harness: a deliberate exception"); }));
$("ask").addEventListener("click", () => { $("answer").textContent = confirm("sure?") ? "yes" : "no"; });
$("editor").addEventListener("input", () => { $("inputs").textContent = String(++inputs); });
$("pick").addEventListener("change", (e) => { $("picked").textContent = e.target.value; });
$("board").addEventListener("click", (e) => {
  const r = e.target.getBoundingClientRect();
  $("hit").textContent = Math.round(e.clientX - r.left) + "," + Math.round(e.clientY - r.top);
});
</script>
</body></html>`

// TestHarness checks the harness itself on a page of its own: clicks,
// typing, a select, a canvas click by coordinates, a dialog, caught
// JavaScript errors, and a screenshot.
func TestHarness(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(harnessPage))
	}))
	defer srv.Close()
	ctx := browser(t)
	navigate(t, ctx, srv.URL)
	if title := mustEval[string](t, ctx, `document.title`); title != "harness" {
		t.Fatalf("title %q", title)
	}
	if size := mustEval[[]int](t, ctx, `[innerWidth, innerHeight]`); size[0] != 1400 {
		t.Errorf("window %v, want 1400 wide", size)
	}

	click(t, ctx, "#count")
	click(t, ctx, "#count")
	waitText(t, ctx, "#out", "clicked 2")

	typeText(t, ctx, "#editor", "{\n  \"id\": \"x\"\n}")
	typeText(t, ctx, "#editor", "replaced")
	if v := mustEval[string](t, ctx, `document.querySelector("#editor").value`); v != "replaced" {
		t.Errorf("editor holds %q, want the typed text to replace the old", v)
	}
	if textOf(t, ctx, "#inputs") == "0" {
		t.Error("typing fired no input event")
	}
	selectOption(t, ctx, "#pick", "failed")
	waitText(t, ctx, "#picked", "failed")

	r := mustEval[struct{ X, Y, W, H float64 }](t, ctx, `(() => { const r = document.querySelector("#board").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`)
	clickXY(t, ctx, r.X+50, r.Y+30)
	waitText(t, ctx, "#hit", "50,30")

	click(t, ctx, "#ask")
	waitText(t, ctx, "#answer", "yes")

	click(t, ctx, "#log-error")
	click(t, ctx, "#throw")
	errs := expectJSErrors(t, ctx, "a deliberate console error", "a deliberate exception")
	if len(errs) != 2 || !strings.HasPrefix(errs[0], "console.error: ") || !strings.Contains(errs[1], "uncaught exception: ") {
		t.Errorf("errors taken: %q", errs)
	}
	if left := stateOf(ctx).takeErrors(); len(left) != 0 {
		t.Errorf("errors left after expectJSErrors: %q", left)
	}

	path := screenshot(t, ctx, "harness")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", path)
	}
	if wd, _ := os.Getwd(); strings.HasPrefix(path, wd) {
		t.Errorf("screenshot %s is inside the repository", path)
	}
}
