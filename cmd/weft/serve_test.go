package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
)

// envRunCLI makes the test binary run the CLI instead of the tests (see
// TestMain), so that tests can start weft serve as a process of its own.
const envRunCLI = "WEFT_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(envRunCLI) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// server is a weft serve process started by a test.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan error
}

// syncBuffer is a buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var servingLine = regexp.MustCompile(`^weft: serving (http://\S+) `)

// startServer starts weft serve with args (plus --addr 127.0.0.1:0) and
// waits until it serves.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), envRunCLI+"=1"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	lines := bufio.NewScanner(stdout)
	got := make(chan string, 1)
	go func() {
		first := ""
		if lines.Scan() {
			first = lines.Text()
		}
		got <- first
		io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	select {
	case line := <-got:
		m := servingLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("weft serve printed %q; stderr:\n%s", line, s.stderr)
		}
		s.url = m[1]
	case <-time.After(20 * time.Second):
		t.Fatalf("weft serve did not start; stderr:\n%s", s.stderr)
	}
	return s
}

// stop sends SIGTERM and waits for the process to exit.
func (s *server) stop(within time.Duration) error {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(within):
		s.t.Fatalf("weft serve did not stop within %s of SIGTERM; stderr:\n%s", within, s.stderr)
	}
	return nil
}

func (s *server) client(token string) *httpapi.Client {
	c, err := httpapi.NewClient(s.url, &httpapi.ClientOptions{Token: token})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// scrape returns the value of a metric line (name with labels as written)
// of /metrics.
func scrape(t *testing.T, url, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// TestServeEndToEnd starts weft serve, submits both seed workflows over
// HTTP, follows their events to completion, reads their status, and checks
// that the metrics moved; then it uses the CLI's client commands.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts weft serve processes")
	}
	const token = "e2e-token"
	db := filepath.Join(t.TempDir(), "weft.db")
	s := startServer(t, nil, "--store", "sqlite:"+db, "--token", token, "--ai-provider", "echo")
	c := s.client(token)
	ctx := t.Context()
	before := scrape(t, s.url, token)

	results := map[string]string{}
	for _, file := range []string{"seed_basic.json", "seed_parallel.json"} {
		doc, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		wf, err := c.RegisterWorkflow(ctx, doc, false)
		if err != nil {
			t.Fatalf("register %s: %v", file, err)
		}
		run, created, err := c.StartRun(ctx, &httpapi.RunRequest{WorkflowID: wf.ID})
		if err != nil || !created {
			t.Fatalf("start %s: %v (created %v)", file, err, created)
		}
		var types []weft.EventType
		err = c.Events(ctx, run.RunID, 0, func(ev weft.Event) error {
			types = append(types, ev.Type)
			return nil
		})
		if err != nil {
			t.Fatalf("events of %s: %v", file, err)
		}
		if len(types) < 4 || types[0] != weft.EventRunCreated || types[len(types)-1] != weft.EventRunSucceeded {
			t.Fatalf("events of %s: %v", file, types)
		}
		st, err := c.Run(ctx, run.RunID)
		if err != nil || st.Status != weft.RunSucceeded || st.Metrics.Succeeded != st.Metrics.StepsTotal {
			t.Fatalf("status of %s: %v %+v", file, err, st)
		}
		results[wf.ID] = string(st.Result)
	}
	if !strings.Contains(results["simple_workflow"], `"HELLO"`) {
		t.Errorf("basic result: %s", results["simple_workflow"])
	}
	if !strings.Contains(results["parallel_workflow"], "Analyze data") {
		t.Errorf("parallel result: %s", results["parallel_workflow"])
	}

	// A run's end is counted just after its terminal event is recorded:
	// scrape until every count moved.
	wantMoved := []string{
		`weft_runs_total{status="succeeded",workflow="simple_workflow"}`,
		`weft_runs_total{status="succeeded",workflow="parallel_workflow"}`,
		`weft_steps_total{status="succeeded",type="process"}`,
		`weft_steps_total{status="succeeded",type="ai"}`,
		`weft_step_duration_seconds_count{status="succeeded",type="input"}`,
		`weft_step_queue_wait_seconds_count{type="input"}`,
	}
	var after map[string]float64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		after = scrape(t, s.url, token)
		moved := after[`weft_steps_running{type="process"}`] == 0 && after["weft_runs_unfinished"] == 0
		for _, m := range wantMoved {
			moved = moved && after[m] > before[m]
		}
		if moved || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range wantMoved {
		if after[m] <= before[m] {
			t.Errorf("%s: %v before, %v after", m, before[m], after[m])
		}
	}
	if after[`weft_steps_running{type="process"}`] != 0 || after["weft_runs_unfinished"] != 0 {
		t.Errorf("steps running %v, runs unfinished %v after all ended", after[`weft_steps_running{type="process"}`], after["weft_runs_unfinished"])
	}

	// The CLI's client commands.
	t.Setenv(envAPIToken, token)
	r := cli(t, "submit", "--server", s.url, "--wait", "../../examples/seed_basic.json")
	if r.code != 0 || !strings.Contains(r.stdout, `"HELLO"`) || !strings.Contains(r.stdout, "run_succeeded") {
		t.Fatalf("weft submit --wait: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	runID := strings.Fields(r.stdout)[1]
	if r := cli(t, "runs", "list", "--server", s.url); r.code != 0 || strings.Count(r.stdout, "succeeded") != 3 {
		t.Errorf("weft runs list --server: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, "runs", "show", "--server", s.url, runID); r.code != 0 || !strings.Contains(r.stdout, "process_data  process  succeeded") {
		t.Errorf("weft runs show --server: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, "runs", "show", "--server", s.url, runID, "--step", "process_data"); r.code != 0 || !strings.Contains(r.stdout, "step process_data (process): succeeded, 1 attempt") {
		t.Errorf("weft runs show --server --step: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, "runs", "show", "--server", s.url, runID, "--step", "nope"); r.code != exitUsage || !strings.Contains(r.stderr, `no step "nope"`) {
		t.Errorf("weft runs show --server --step of an unknown step: %d %s", r.code, r.stderr)
	}
	if r := cli(t, "runs", "show", "--server", s.url, "nope"); r.code != exitUsage || !strings.Contains(r.stderr, "not_found") {
		t.Errorf("weft runs show --server of an unknown run: %d %s", r.code, r.stderr)
	}
	if r := cli(t, "runs", "cancel", "--server", s.url, runID); r.code != 0 || r.stdout != "run "+runID+" succeeded\n" {
		t.Errorf("weft runs cancel --server of a finished run: %d %q %s", r.code, r.stdout, r.stderr)
	}
	t.Setenv(envAPIToken, "wrong")
	if r := cli(t, "runs", "list", "--server", s.url); r.code != exitUsage || !strings.Contains(r.stderr, "unauthorized") {
		t.Errorf("wrong token: %d %s", r.code, r.stderr)
	}
	if err := s.stop(10 * time.Second); err != nil {
		t.Errorf("weft serve exited with %v after SIGTERM; stderr:\n%s", err, s.stderr)
	}
}

// slowHook is a webhook that answers after a delay, to keep an output step
// running.
func slowHook(t *testing.T, delay time.Duration) *httptest.Server {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		w.Write([]byte(`{"ok": true}`))
	}))
	t.Cleanup(hook.Close)
	return hook
}

// hookWorkflow posts to url in its only step.
func hookWorkflow(url string) []byte {
	return []byte(fmt.Sprintf(`{"id": "hook", "steps": {"post": {"type": "output", "input": {"destination": "webhook", "url": %q}}}}`, url))
}

// waitRunning waits until a run's step is running.
func waitRunning(t *testing.T, c *httpapi.Client, runID, stepID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Run(context.Background(), runID)
		if err == nil && st.Steps.Steps[stepID] != nil && st.Steps.Steps[stepID].Status == weft.StepRunning {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("step %s of run %s never ran", stepID, runID)
}

// TestServeGracefulShutdown: on SIGTERM, a running step finishes within
// the grace period and is recorded; with a grace period too short, the
// step is left to the next server, which resumes the run.
func TestServeGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts weft serve processes")
	}
	db := filepath.Join(t.TempDir(), "weft.db")
	hook := slowHook(t, 1500*time.Millisecond)
	env := []string{"WEFT_ALLOW_HOSTS=127.0.0.1"}

	// The step finishes within the grace period.
	s := startServer(t, env, "--store", "sqlite:"+db, "--grace", "20s")
	c := s.client("")
	ctx := t.Context()
	run, _, err := c.StartRun(ctx, &httpapi.RunRequest{Workflow: hookWorkflow(hook.URL)})
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, c, run.RunID, "post")
	start := time.Now()
	if err := s.stop(15 * time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, s.stderr)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("weft serve stopped %s after SIGTERM: it did not wait for the step", waited)
	}
	// The grace period is too short: the step is stopped, not failed, and
	// the next server runs it again.
	run2ID := ""
	{
		s := startServer(t, env, "--store", "sqlite:"+db, "--grace", "100ms")
		c := s.client("")
		st, err := c.Run(ctx, run.RunID)
		if err != nil || st.Status != weft.RunSucceeded {
			t.Fatalf("the drained run: %v %+v", err, st)
		}
		run2, _, err := c.StartRun(ctx, &httpapi.RunRequest{Workflow: hookWorkflow(hook.URL)})
		if err != nil {
			t.Fatal(err)
		}
		run2ID = run2.RunID
		waitRunning(t, c, run2ID, "post")
		if err := s.stop(10 * time.Second); err != nil {
			t.Fatalf("exit: %v\n%s", err, s.stderr)
		}
	}
	s = startServer(t, env, "--store", "sqlite:"+db)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.stderr.String(), "unfinished_runs=") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(s.stderr.String(), "unfinished_runs=1") {
		t.Errorf("the restarted server did not report the unfinished run:\n%s", s.stderr)
	}
	c = s.client("")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Events(cctx, run2ID, 0, func(weft.Event) error { return nil }); err != nil {
		t.Fatalf("follow the resumed run: %v", err)
	}
	st, err := c.Run(ctx, run2ID)
	if err != nil || st.Status != weft.RunSucceeded || st.Steps.Steps["post"].Attempts != 2 {
		t.Fatalf("the resumed run: %v %s, attempts %d", err, st.Status, st.Steps.Steps["post"].Attempts)
	}
}

func TestServeRefusesAnOpenAddressWithoutToken(t *testing.T) {
	t.Setenv(envAPIToken, "")
	r := cli(t, "serve", "--addr", "0.0.0.0:0", "--store", "memory")
	if r.code != exitUsage || !strings.Contains(r.stderr, "set a token") {
		t.Fatalf("serve on 0.0.0.0 without a token: %d %s", r.code, r.stderr)
	}
	r = cli(t, "serve", "--addr", ":0", "--store", "memory")
	if r.code != exitUsage {
		t.Fatalf("serve on :0 without a token: %d %s", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"--pools", "ai"}, {"--pools", "ai=0"}, {"--log-level", "loud"}, {"--max-unfinished-runs", "-1"}} {
		if r := cli(t, append([]string{"serve", "--store", "memory"}, bad...)...); r.code != exitUsage {
			t.Errorf("serve %v: %d %s", bad, r.code, r.stderr)
		}
	}
}

// TestServeRetryFromCLI: a run fails at a webhook that refuses it; weft
// runs retry --server --set points the step elsewhere and waits for it.
func TestServeRetryFromCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts weft serve processes")
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/good" {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"ok": true}`))
	}))
	defer hook.Close()
	s := startServer(t, []string{"WEFT_ALLOW_HOSTS=127.0.0.1"}, "--store", "memory")
	file := filepath.Join(t.TempDir(), "hook.json")
	if err := os.WriteFile(file, hookWorkflow(hook.URL+"/bad"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envAPIToken, "")
	r := cli(t, "submit", "--server", s.url, "--wait", file)
	if r.code != exitRunFailed || !strings.Contains(r.stdout, "run_failed") {
		t.Fatalf("submit of a failing run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	runID := strings.Fields(r.stdout)[1]
	r = cli(t, "runs", "retry", "--server", s.url, "--wait", "--set", "post.input.url="+hook.URL+"/good", runID)
	if r.code != 0 || !strings.Contains(r.stdout, "post  output  succeeded  2") {
		t.Fatalf("retry --server --wait: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, "runs", "retry", "--server", s.url, runID)
	if r.code != exitUsage || !strings.Contains(r.stderr, "invalid") {
		t.Fatalf("retry of a succeeded run: %d %s", r.code, r.stderr)
	}
	if r := cli(t, "runs", "resume", "--server", s.url, runID); r.code != exitUsage {
		t.Fatalf("runs resume --server: %d %s", r.code, r.stderr)
	}
}
