package ui_test

// The browser of the dashboard's end-to-end tests: headless Chromium driven
// over the DevTools protocol (chromedp), the per-page state that records
// console messages, JavaScript errors and exceptions (which fail a test
// unless it takes them with expectJSErrors), and screenshots. The rest of
// the harness: page_test.go (helpers to drive a page), fixture_test.go (the
// server and its "gate" step type), workflows_test.go (big workflows).
//
// Chromium is WEFT_TEST_CHROMIUM, else /usr/bin/chromium, else "chromium"
// on PATH. Without one the browser tests skip, unless CI=true: then they
// fail (.ci/run installs Debian's chromium). Screenshots go to one
// temporary directory per go test process, logged once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
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
