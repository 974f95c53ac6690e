package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests of the views of weft run: the console, the live view, interrupts.

// TestConsoleLines writes lines from many goroutines, as the view and
// output steps do, and checks that no line is broken, on a terminal too.
func TestConsoleLines(t *testing.T) {
	for _, live := range []bool{false, true} {
		var buf bytes.Buffer
		c := &console{w: &buf, live: live}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					if g%2 == 0 {
						fmt.Fprintf(c, "step-output %d %d\n", g, i)
					} else {
						c.line(fmt.Sprintf("view-line %d %d", g, i))
						c.setStatus(fmt.Sprintf("%d/%d done", i, 200))
					}
				}
			}()
		}
		wg.Wait()
		c.clearStatus()
		n := 0
		out := buf.String()
		if live {
			// The erased status line is left after the last line.
			i := strings.LastIndex(out, "\n")
			if tail := out[i+1:]; strings.Trim(tail, "\r ") != "" && !strings.HasSuffix(tail, "\r") {
				t.Errorf("the status line was not erased: %q", tail)
			}
			out = out[:i+1]
		}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			// On a terminal a line may follow an erased status line: the
			// last carriage return starts what is seen.
			if i := strings.LastIndex(l, "\r"); i >= 0 {
				l = l[i+1:]
			}
			if !regexp.MustCompile(`^(step-output|view-line) \d \d+$`).MatchString(l) {
				t.Errorf("live %v: broken line %q", live, l)
			}
			n++
		}
		if n != 8*200 {
			t.Errorf("live %v: %d lines, want %d", live, n, 8*200)
		}
	}
}

// terminal is a fake terminal: a buffer that says it is a terminal.
type terminal struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *terminal) IsTerminal() bool { return true }

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Write(p)
}

func (t *terminal) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// screen returns what a terminal shows of out: each carriage return goes
// back to the start of the line, overwriting it.
func screen(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		var line []rune
		pos := 0
		for _, r := range l {
			if r == '\r' {
				pos = 0
				continue
			}
			if pos < len(line) {
				line[pos] = r
			} else {
				line = append(line, r)
			}
			pos++
		}
		lines = append(lines, strings.TrimRight(string(line), " "))
	}
	return strings.Join(lines, "\n")
}

func TestRunLiveView(t *testing.T) {
	noAIEnv(t)
	var term terminal
	var stderr bytes.Buffer
	start := time.Now()
	code := run(t.Context(), []string{"run", "../../examples/seed_parallel.json"}, &term, &stderr)
	elapsed := time.Since(start)
	if code != exitRunFailed || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	out := term.String()
	if !strings.Contains(out, "\r") || !strings.Contains(out, " done, ") {
		t.Errorf("no status line drawn:\n%q", out)
	}
	// The status line is drawn at the start, then at most every 100ms
	// (and again under each failure line).
	if n, most := strings.Count(out, " done, "), 3+int(elapsed/liveInterval); n > most {
		t.Errorf("status line drawn %d times in %v, want at most %d", n, elapsed, most)
	}
	shown := normalizeRun(screen(out))
	want := `run <RUN> started: workflow parallel_workflow, 6 steps
step ai_analysis failed (attempt 1, <DUR>): invalid: ai step: no AI provider is configured: use --ai-provider echo for an offline dry run, or set WEFT_AI_BASE_URL (an OpenAI-compatible server) or WEFT_AI_API_KEY (OpenAI); in Go, set executor.Config.AI
STEP         TYPE     STATUS     ATTEMPTS  DURATION  ERROR
input_a      input    succeeded  1         <DUR>
input_b      input    succeeded  1         <DUR>
process_a    process  succeeded  1         <DUR>
process_b    process  succeeded  1         <DUR>
ai_analysis  ai       failed     1         <DUR>         invalid: ai step: no AI provider is configured: use --ai-pr…
output       output   skipped    0         -         (upstream_failed)
run <RUN> failed in <DUR>: 6 steps, 4 succeeded, 1 failed, 1 skipped
error: invalid: step ai_analysis failed: ai step: no AI provider is configured: use --ai-provider echo for an offline dry run, or set WEFT_AI_BASE_URL (an OpenAI-compatible server) or WEFT_AI_API_KEY (OpenAI); in Go, set executor.Config.AI
null
`
	// Durations of different widths shift the columns after them.
	shown = regexp.MustCompile(`<DUR> +`).ReplaceAllString(shown, "<DUR> ")
	want = regexp.MustCompile(`<DUR> +`).ReplaceAllString(want, "<DUR> ")
	if shown != want {
		t.Errorf("screen:\n%s\nwant:\n%s", shown, want)
	}
}

// blockingHook is a webhook receiver that holds every request until its
// client gives up, and tells when it has one.
func blockingHook(t *testing.T) (url string, seen <-chan struct{}) {
	t.Helper()
	got := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: frees the handlers
	return srv.URL, got
}

func TestRunInterrupt(t *testing.T) {
	for _, mode := range []string{"--json", "events", "--quiet"} {
		t.Run(mode, func(t *testing.T) {
			url, seen := blockingHook(t)
			file := writeWorkflow(t, fmt.Sprintf(`{"id": "slow_hook", "steps": {
  "in": {"type": "input", "input": {"data": {"message": "hello"}}},
  "notify": {"type": "output", "depends_on": ["in"], "input": {"destination": "webhook", "url": %q}},
  "after": {"type": "process", "depends_on": ["notify"]}
}}`, url))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			args := []string{"run", "--allow-hosts", "127.0.0.1", file}
			if mode != "events" {
				args = append(args, mode)
			}
			done := make(chan result, 1)
			go func() { done <- cliCtx(ctx, args...) }()
			select {
			case <-seen:
			case r := <-done:
				t.Fatalf("the run ended before the webhook was called: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			case <-time.After(10 * time.Second):
				t.Fatal("the webhook was not called within 10s")
			}
			cancel() // Ctrl-C
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("weft run did not return within 10s of the interrupt")
			}
			if r.code != exitRunFailed {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			switch mode {
			case "--json":
				doc := parseRunDoc(t, r)
				if doc.Status != "canceled" || doc.Error == nil || doc.Error.Code != "canceled" {
					t.Errorf("status %s, error %+v", doc.Status, doc.Error)
				}
				if s := doc.step(t, "in"); s.Status != "succeeded" {
					t.Errorf("in: %+v", s)
				}
				for _, id := range []string{"notify", "after"} {
					if s := doc.step(t, id); s.Status != "canceled" || s.Reason != "run_canceled" {
						t.Errorf("%s: %+v", id, s)
					}
				}
				if doc.step(t, "notify").Attempts != 1 || doc.metric(t, "canceled") != 2 {
					t.Errorf("notify attempts %d, %v canceled", doc.step(t, "notify").Attempts, doc.metric(t, "canceled"))
				}
				if !strings.Contains(r.stderr, "weft: interrupted: canceling run "+doc.RunID+"\n") {
					t.Errorf("stderr %q", r.stderr)
				}
			case "events":
				out := normalizeRun(r.stdout)
				for _, want := range []string{
					"weft: interrupted: canceling run <RUN>\n",
					"<TIME> step notify canceled (run_canceled)\n",
					"run <RUN> canceled in <DUR>: 3 steps, 1 succeeded, 2 canceled\nerror: canceled: the run was canceled\nnull\n",
				} {
					if !strings.Contains(out, want) {
						t.Errorf("stdout lacks %q:\n%s", want, out)
					}
				}
			case "--quiet":
				if r.stdout != "null\n" || !strings.Contains(r.stderr, " canceled in ") {
					t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
				}
			}
		})
	}
}

func TestRunInterruptedBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cliCtx(ctx, "run", seedBasic).expect(t, exitInterrupted, "", "weft: interrupted\n")
}
