package ui_test

// The browser end-to-end harness of the dashboard: headless Chromium driven
// over the DevTools protocol (chromedp), a server fixture (in-memory store,
// engine, httpapi.Server on 127.0.0.1) with a "gate" step type that the test
// controls, and helpers to submit and follow runs and to build big
// workflows.
//
// Chromium is WEFT_TEST_CHROMIUM, else /usr/bin/chromium, else "chromium"
// on PATH. Without one the browser tests skip, unless CI=true: then they
// fail (.ci/run installs Debian's chromium). Screenshots go to one
// temporary directory per go test process, logged once.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/inmem"
)

const (
	// browserTimeout bounds each test's browser: its context ends then.
	browserTimeout = 60 * time.Second
	// waitTimeout is how long waitTrue and the helpers built on it wait for
	// the page.
	waitTimeout = 20 * time.Second
	// actionTimeout bounds one click, key press or navigation.
	actionTimeout = 15 * time.Second
)

// chromiumFlags are the switches Chromium gets besides headless mode, a
// fresh user data directory and the window size: the ones that work on
// this project's machines (a closed network, root, no GPU).
var chromiumFlags = []string{
	"no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update",
	"disable-sync", "disable-dev-shm-usage",
}

// chromiumPath returns the Chromium to drive: $WEFT_TEST_CHROMIUM, else
// /usr/bin/chromium, else chromium on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("WEFT_TEST_CHROMIUM"); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("WEFT_TEST_CHROMIUM=%s: %v", p, err)
		}
		return found, nil
	}
	if st, err := os.Stat("/usr/bin/chromium"); err == nil && !st.IsDir() {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("no Chromium found: set WEFT_TEST_CHROMIUM, or install Debian's chromium (apt-get install chromium)")
}

// pageKey keys the *pageState of a browser context.
type pageKey struct{}

// pageState is what the harness records of a page: its JavaScript errors
// (console.error calls, uncaught exceptions, JavaScript and security errors
// of the browser log), which fail the test unless it expects them, and its
// console and dialogs, printed when the test fails.
type pageState struct {
	mu      sync.Mutex
	errors  []string
	console []string // the last maxConsole console messages, of every kind
}

const maxConsole = 200

// listen records an event of the page. It runs on the loop that reads the
// tab's messages: it must return at once and send no command.
func (p *pageState) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		p.record("console."+string(ev.Type), argsText(ev.Args)+stackPlace(ev.StackTrace), ev.Type == runtime.ConsoleAPICalledTypeError)
	case *runtime.EventExceptionThrown:
		p.record("uncaught exception", exceptionText(ev.ExceptionDetails), true)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e == nil {
			return
		}
		place := ""
		if e.URL != "" {
			place = fmt.Sprintf(" (%s:%d)", e.URL, e.LineNumber+1)
		}
		isErr := e.Level == cdplog.EntryLevelError && (e.Source == cdplog.EntrySourceJavascript || e.Source == cdplog.EntrySourceSecurity)
		p.record("log."+string(e.Source)+"."+string(e.Level), e.Text+place, isErr)
	}
}

// record keeps a message, and an error.
func (p *pageState) record(kind, text string, isErr bool) {
	msg := kind + ": " + text
	p.mu.Lock()
	defer p.mu.Unlock()
	if isErr {
		p.errors = append(p.errors, msg)
	}
	p.console = append(p.console, msg)
	if len(p.console) > maxConsole {
		p.console = p.console[len(p.console)-maxConsole:]
	}
}

// note adds a line to the console record (dialogs the harness answered).
func (p *pageState) note(msg string) { p.record("harness", msg, false) }

// takeErrors returns the errors recorded and forgets them.
func (p *pageState) takeErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := p.errors
	p.errors = nil
	return errs
}

// consoleLog returns the console record.
func (p *pageState) consoleLog() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// argsText formats console arguments as the console shows them, roughly.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, remoteText(a))
	}
	return strings.Join(parts, " ")
}

// remoteText is a remote object as text: a string as is, another value as
// its JSON or its description.
func remoteText(a *runtime.RemoteObject) string {
	if a == nil {
		return ""
	}
	if len(a.Value) > 0 {
		var s string
		if json.Unmarshal(a.Value, &s) == nil {
			return s
		}
		return string(a.Value)
	}
	if a.Description != "" {
		return a.Description
	}
	if a.UnserializableValue != "" {
		return string(a.UnserializableValue)
	}
	return string(a.Type)
}

// exceptionText formats an uncaught exception with its place.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil {
		if desc := remoteText(d.Exception); desc != "" {
			text += " " + desc
		}
	}
	if d.URL != "" {
		text += fmt.Sprintf(" (%s:%d:%d)", d.URL, d.LineNumber+1, d.ColumnNumber+1)
	}
	return text
}

// stackPlace is " (URL:LINE)" of a console call's top frame, or "".
func stackPlace(st *runtime.StackTrace) string {
	if st == nil || len(st.CallFrames) == 0 {
		return ""
	}
	f := st.CallFrames[0]
	return fmt.Sprintf(" (%s:%d)", f.URL, f.LineNumber+1)
}

// lockedBuffer keeps the tail of Chromium's output for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 16<<10 {
		b.buf = b.buf[len(b.buf)-8<<10:]
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// browser starts headless Chromium for t (a fresh profile, a 1400x900
// window) and returns the chromedp context of its tab, which ends after
// browserTimeout. At t's end it fails t if the page had JavaScript errors
// that the test did not take with expectJSErrors, saves a screenshot when
// t failed, and closes Chromium. Without Chromium it skips t, or fails it
// under CI=true.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserFor(t, browserTimeout)
}

// browserFor is browser with another timeout, for long tests.
func browserFor(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: under CI=true the dashboard's browser tests must run (.ci/run installs chromium)", err)
		}
		t.Skipf("%v: skipping this browser test", err)
	}
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.WindowSize(1400, 900),
		chromedp.CombinedOutput(out),
		// No UserDataDir option: the allocator makes a fresh temporary
		// profile for this browser and removes it when the browser ends.
	)
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	base, cancelBase := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	st := &pageState{}
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(st.listen))
	ctx := context.WithValue(tab, pageKey{}, st)
	t.Cleanup(func() {
		if t.Failed() {
			if ctx.Err() == nil {
				if path := screenshot(t, ctx, "at-failure"); path != "" {
					t.Logf("screenshot at the failure: %s", path)
				}
				if loc, err := evalJS[string](ctx, `location.href`); err == nil {
					t.Logf("the page was at %s", loc)
				}
			}
			if lines := st.consoleLog(); len(lines) > 0 {
				t.Logf("the page's console:\n\t%s", strings.Join(lines, "\n\t"))
			}
		}
		if errs := st.takeErrors(); len(errs) > 0 {
			t.Errorf("the page had %d JavaScript error(s):\n\t%s", len(errs), strings.Join(errs, "\n\t"))
		}
		cancelTab()
		cancelAlloc() // waits for Chromium to exit and its profile to go
		cancelBase()
	})
	// Start Chromium now, so that one that cannot start fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, tail(out.String(), 2000))
	}
	// Answer alert, confirm and prompt dialogs (accept), which would
	// otherwise hold the page; they are noted in the console record.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			st.note(fmt.Sprintf("answered a %s dialog (accept): %q", ev.Type, ev.Message))
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stateOf returns the page state of a context from browser.
func stateOf(ctx context.Context) *pageState {
	st, _ := ctx.Value(pageKey{}).(*pageState)
	if st == nil {
		panic("not a context from browser()")
	}
	return st
}

// expectJSErrors waits (up to 5s) until the page has recorded, for each
// substring, a JavaScript error that contains it, and takes those errors so
// that they do not fail the test; other errors are kept. It fails t when
// one does not come, and returns the errors taken.
func expectJSErrors(t *testing.T, ctx context.Context, substrings ...string) []string {
	t.Helper()
	st := stateOf(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st.mu.Lock()
		var taken, kept []string
		want := append([]string(nil), substrings...)
		for _, e := range st.errors {
			matched := false
			for i, s := range want {
				if strings.Contains(e, s) {
					want = append(want[:i], want[i+1:]...)
					matched = true
					break
				}
			}
			if matched {
				taken = append(taken, e)
			} else {
				kept = append(kept, e)
			}
		}
		if len(want) == 0 {
			st.errors = kept
			st.mu.Unlock()
			return taken
		}
		st.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("expected JavaScript errors containing %q; the page had: %q", want, st.consoleLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shots is the directory of this process's screenshots.
var shots struct {
	once sync.Once
	dir  string
	err  error
	mu   sync.Mutex
	used map[string]bool
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// screenshot saves a full-page PNG of ctx's page as TEST-NAME.png in this
// process's screenshot directory (a temporary directory, logged once) and
// returns its path; "" when it could not be taken (t then fails).
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	shots.once.Do(func() {
		shots.dir, shots.err = os.MkdirTemp("", "weft-ui-screenshots-")
		shots.used = map[string]bool{}
		if shots.err == nil {
			t.Logf("screenshots of this test process are in %s", shots.dir)
		}
	})
	if shots.err != nil {
		t.Errorf("screenshot %s: %v", name, shots.err)
		return ""
	}
	sctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	png, err := capture(sctx)
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	base := unsafeName.ReplaceAllString(t.Name()+"-"+name, "_")
	shots.mu.Lock()
	file := base + ".png"
	for i := 2; shots.used[file]; i++ {
		file = base + "-" + strconv.Itoa(i) + ".png"
	}
	shots.used[file] = true
	shots.mu.Unlock()
	path := filepath.Join(shots.dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	return path
}

// The largest screenshot, in CSS pixels: a taller page is cut.
const maxShotWidth, maxShotHeight = 4000, 8000

// capture takes a PNG of the whole page. A page larger than the viewport
// is shown whole by resizing the viewport to it for the capture, after two
// animation frames so that canvases redraw at the new size (Chromium's
// own full-page capture resizes without letting the page redraw, and
// canvases come out blank).
func capture(ctx context.Context) ([]byte, error) {
	size, err := evalJS[[4]float64](ctx, `[document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]`)
	if err != nil {
		return nil, err
	}
	w, h, iw, ih := size[0], size[1], size[2], size[3]
	if w <= iw && h <= ih {
		return chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	w, h = max(iw, min(w, maxShotWidth)), max(ih, min(h, maxShotHeight))
	_, err = chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: int64(w), Height: int64(h), DeviceScaleFactor: 1})
	if err != nil {
		return nil, err
	}
	defer func() {
		chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		settle(ctx)
	}()
	settle(ctx)
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// settle waits for two animation frames of the page.
func settle(ctx context.Context) {
	chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))`, chromedp.EvalAwaitPromise))
}

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

// fixtureOptions configure newFixture. A nil *fixtureOptions means the
// defaults.
type fixtureOptions struct {
	// Token is the bearer token the server requires; "" for none.
	Token string
	// MaxParallel is the engine's MaxParallelSteps; default 32.
	MaxParallel int
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
	fx.Engine, err = engine.New(fx.Store, &engine.Config{Registry: reg, MaxParallelSteps: par, PollInterval: 10 * time.Millisecond})
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

// workflowJSON is a workflow document built by a test.
type workflowJSON struct {
	ID    string              `json:"id"`
	Steps map[string]stepJSON `json:"steps"`
}

type stepJSON struct {
	Type      string   `json:"type"`
	DependsOn []string `json:"depends_on,omitempty"`
	Input     any      `json:"input,omitempty"`
}

func (w *workflowJSON) encode() []byte {
	b, err := json.Marshal(w)
	if err != nil {
		panic(err)
	}
	return b
}

// wideStepID is the id of the i-th (1-based) process step of a wide
// workflow.
func wideStepID(i int) string { return fmt.Sprintf("p%05d", i) }

// wide is a workflow "source" (input) → n process steps (pass-through) →
// "sink" (the step given).
func wide(id string, n int, sink stepJSON) *workflowJSON {
	w := &workflowJSON{ID: id, Steps: make(map[string]stepJSON, n+2)}
	w.Steps["source"] = stepJSON{Type: "input", Input: map[string]any{"data": map[string]any{"n": 1}}}
	sink.DependsOn = make([]string, 0, n)
	for i := 1; i <= n; i++ {
		w.Steps[wideStepID(i)] = stepJSON{Type: "process", DependsOn: []string{"source"}}
		sink.DependsOn = append(sink.DependsOn, wideStepID(i))
	}
	w.Steps["sink"] = sink
	return w
}

// wideWorkflow is a workflow of n+2 steps: "source" (input) → n process
// steps p00001… (pass-through) → "sink" (output of them all). n is at most
// 10,000 (the dependencies one step may have).
func wideWorkflow(n int) []byte {
	return wide(fmt.Sprintf("wide_%d", n), n, stepJSON{Type: "output"}).encode()
}

// wideGatedWorkflow is wideWorkflow with gates as its source (key
// sourceKey) and its sink (key sinkKey), so that a test can hold the run
// before its fan-out and before its end.
func wideGatedWorkflow(n int, sourceKey, sinkKey string) []byte {
	w := wide(fmt.Sprintf("wide_%d_gated", n), n, stepJSON{Type: "gate", Input: map[string]any{"key": sinkKey}})
	w.Steps["source"] = stepJSON{Type: "gate", Input: map[string]any{"key": sourceKey}}
	return w.encode()
}

// layeredStepID is the id of step j of layer l of a layered workflow.
func layeredStepID(l, j int) string { return fmt.Sprintf("l%03d_%04d", l, j) }

// layeredWorkflow is a workflow of n steps: layers of width steps (the
// first of input steps, the others of process steps each depending on
// steps j and j+1 of the layer before, so that the graph has crossing
// edges), then one output step "sink" depending on every step that no
// other depends on. Every step outputs a small constant.
func layeredWorkflow(n, width int) []byte {
	if n < 2 || width < 1 {
		panic("layeredWorkflow needs n ≥ 2 and width ≥ 1")
	}
	w := &workflowJSON{ID: fmt.Sprintf("layered_%d_%d", n, width), Steps: make(map[string]stepJSON, n)}
	hasDependent := map[string]bool{}
	var prev []string
	for left, l := n-1, 0; left > 0; l++ {
		var layer []string
		for j := 0; j < width && left > 0; j, left = j+1, left-1 {
			id := layeredStepID(l, j)
			data := map[string]any{"data": map[string]any{"layer": l, "i": j}}
			if l == 0 {
				w.Steps[id] = stepJSON{Type: "input", Input: data}
			} else {
				deps := []string{prev[j%len(prev)]}
				if d := prev[(j+1)%len(prev)]; d != deps[0] {
					deps = append(deps, d)
				}
				for _, d := range deps {
					hasDependent[d] = true
				}
				w.Steps[id] = stepJSON{Type: "process", DependsOn: deps, Input: data}
			}
			layer = append(layer, id)
		}
		prev = layer
	}
	var sinks []string
	for id := range w.Steps {
		if !hasDependent[id] {
			sinks = append(sinks, id)
		}
	}
	slices.Sort(sinks)
	w.Steps["sink"] = stepJSON{Type: "output", DependsOn: sinks}
	return w.encode()
}

// stepIDs returns the step ids of a workflow document.
func stepIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var w struct {
		Steps map[string]json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(doc, &w); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(w.Steps))
	for id := range w.Steps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
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
