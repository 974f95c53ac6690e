package main

// The harness of the multi-process tests (distributed_test.go): a fresh
// PostgreSQL schema per test, weft worker and weft serve processes (the
// test binary re-executed as the CLI, see TestMain), and a recording
// webhook server in the test process.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
)

// envPostgresDSN names the DSN of the test database, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envPostgresDSN = "WEFT_TEST_POSTGRES_DSN"

// The timing the workers of these tests run with: a dead worker's steps
// are reclaimed once its lease expires (workerLease after its last
// heartbeat, at most workerLease after its death), at the next poll of a
// surviving worker (every workerPoll, the default).
const (
	workerLease = 2 * time.Second
	workerPoll  = time.Second
)

// hookEnv lets the CLI's webhooks reach the test's servers on loopback.
var hookEnv = []string{"WEFT_ALLOW_HOSTS=127.0.0.1"}

// postgresStore returns a --store URL of a schema of its own in the test
// database, dropped with all it holds when the test ends (after the
// processes started later are stopped: cleanups run last first). Without
// a database the test is skipped, except in CI (CI=true), where that is a
// failure.
func postgresStore(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts weft serve and weft worker processes on PostgreSQL")
	}
	dsn := os.Getenv(envPostgresDSN)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", envPostgresDSN)
		}
		t.Skipf("%s is not set: no PostgreSQL to test against", envPostgresDSN)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", envPostgresDSN, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	q := u.Query()
	q.Set("weft_schema", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return u.String()
}

// worker is a weft worker process started by a test.
type worker struct {
	t      *testing.T
	id     string // the engine's worker id, as in events and leases
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

var workingLine = regexp.MustCompile(`^weft: worker (\S+) working for `)

// startWorker starts weft worker with args and waits until it works; it
// is killed when the test ends.
func startWorker(t *testing.T, env []string, args ...string) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"worker"}, args...)...)
	cmd.Env = append(append(os.Environ(), envRunCLI+"=1"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{t: t, cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-w.done
		logOnFailure(t, "weft worker "+w.id, w.stderr)
	})
	got := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		first := ""
		if lines.Scan() {
			first = lines.Text()
		}
		got <- first
		io.Copy(io.Discard, stdout)
		w.done <- cmd.Wait()
	}()
	select {
	case line := <-got:
		m := workingLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("weft worker printed %q; stderr:\n%s", line, w.stderr)
		}
		w.id = m[1]
	case <-time.After(20 * time.Second):
		t.Fatalf("weft worker did not start within 20s; stderr:\n%s", w.stderr)
	}
	return w
}

// logOnFailure logs the end of a process's standard error when the test
// failed.
func logOnFailure(t *testing.T, name string, stderr *syncBuffer) {
	if !t.Failed() {
		return
	}
	out := stderr.String()
	if len(out) > 4000 {
		out = "..." + out[len(out)-4000:]
	}
	t.Logf("%s, standard error:\n%s", name, out)
}

// startAPIServer starts weft serve --no-worker on store, whose standard
// error is logged if the test fails.
func startAPIServer(t *testing.T, store string) *server {
	t.Helper()
	s := startServer(t, nil, "--no-worker", "--store", store)
	t.Cleanup(func() { logOnFailure(t, "weft serve "+s.url, s.stderr) })
	return s
}

// signal sends sig and waits (up to within) for the process to exit; it
// returns how it exited and when.
func (w *worker) signal(sig os.Signal, within time.Duration) (exited time.Time, err error) {
	w.t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		w.t.Fatalf("signal worker %s: %v", w.id, err)
	}
	select {
	case err := <-w.done:
		exited := time.Now()
		w.done <- err // for the cleanup
		return exited, err
	case <-time.After(within):
		w.t.Fatalf("weft worker %s did not exit within %s of %v; stderr:\n%s", w.id, within, sig, w.stderr)
	}
	return time.Time{}, nil
}

// killServer kills a weft serve process with SIGKILL and waits for it to
// be gone.
func killServer(t *testing.T, s *server) {
	t.Helper()
	s.cmd.Process.Kill()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("weft serve still runs 10s after SIGKILL")
	}
}

// delivery is one request a recordingHook received.
type delivery struct {
	arrived, ended time.Time
	answered       bool // answered 200, rather than cut short by the client
}

func (d delivery) String() string {
	return fmt.Sprintf("{arrived %s, ended %s, answered %v}", d.arrived.Format(time.StampMicro), d.ended.Format(time.StampMicro), d.answered)
}

// recordingHook is a webhook server that records every delivery by its
// Idempotency-Key (RUN/STEP), and, by URL path, how many requests are in
// flight and the most there ever were. Each request is answered after
// delay(key); requests to a gated path wait until the gate opens first.
type recordingHook struct {
	*httptest.Server
	delay    func(key string) time.Duration
	answered atomic.Int64

	mu          sync.Mutex
	inFlight    map[string]int
	maxInFlight map[string]int
	deliveries  map[string][]delivery
	gates       map[string]chan struct{}
}

func newRecordingHook(t *testing.T, delay func(key string) time.Duration) *recordingHook {
	h := &recordingHook{
		delay: delay, inFlight: map[string]int{}, maxInFlight: map[string]int{},
		deliveries: map[string][]delivery{}, gates: map[string]chan struct{}{},
	}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() {
		h.CloseClientConnections()
		h.Close()
	})
	return h
}

func (h *recordingHook) serve(w http.ResponseWriter, r *http.Request) {
	key, path := r.Header.Get("Idempotency-Key"), r.URL.Path
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.inFlight[path]++
	h.maxInFlight[path] = max(h.maxInFlight[path], h.inFlight[path])
	gate := h.gates[path]
	i := len(h.deliveries[key])
	h.deliveries[key] = append(h.deliveries[key], delivery{arrived: time.Now()})
	h.mu.Unlock()

	answered := true
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			answered = false
		}
	}
	if answered {
		select {
		case <-time.After(h.delay(key)):
		case <-r.Context().Done():
			answered = false
		}
	}
	// Out of flight before the answer is written: the step cannot end
	// before that, so that the count never exceeds the steps running.
	h.mu.Lock()
	h.inFlight[path]--
	h.deliveries[key][i].ended, h.deliveries[key][i].answered = time.Now(), answered
	h.mu.Unlock()
	if answered {
		h.answered.Add(1)
		w.Write([]byte(`{"ok": true}`))
	}
}

// gate makes the requests to path wait until the returned function is
// called.
func (h *recordingHook) gate(path string) (open func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan struct{})
	h.gates[path] = ch
	return sync.OnceFunc(func() { close(ch) })
}

// snapshot returns a copy of the deliveries by key and the most requests
// in flight by path.
func (h *recordingHook) snapshot() (map[string][]delivery, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := make(map[string][]delivery, len(h.deliveries))
	for k, v := range h.deliveries {
		d[k] = slices.Clone(v)
	}
	m := make(map[string]int, len(h.maxInFlight))
	for k, v := range h.maxInFlight {
		m[k] = v
	}
	return d, m
}

// spreadDelay is 5 to 20 ms, fixed for a key.
func spreadDelay(key string) time.Duration {
	f := fnv.New32a()
	f.Write([]byte(key))
	return time.Duration(5+f.Sum32()%16) * time.Millisecond
}

// chainsWorkflow is an input step "in" and chains of webhook steps
// cCCC_SS (chain, step) after it, each posting to hookURL; with lastURL, a
// step "last" after every chain's end posts to lastURL.
func chainsWorkflow(workflowID string, chains, length int, hookURL, lastURL string) json.RawMessage {
	steps := map[string]any{"in": map[string]any{"type": "input", "input": map[string]any{"data": map[string]any{"n": 1}}}}
	webhook := func(to string, deps ...string) map[string]any {
		return map[string]any{"type": "output", "depends_on": deps, "input": map[string]any{"destination": "webhook", "url": to}}
	}
	var ends []string
	for c := range chains {
		prev := "in"
		for i := range length {
			step := fmt.Sprintf("c%03d_%02d", c, i)
			steps[step] = webhook(hookURL, prev)
			prev = step
		}
		ends = append(ends, prev)
	}
	if lastURL != "" {
		steps["last"] = webhook(lastURL, ends...)
	}
	doc, err := json.Marshal(map[string]any{"id": workflowID, "steps": steps})
	if err != nil {
		panic(err)
	}
	return doc
}

// independentWorkflow is n webhook steps sNN with no dependencies, each
// posting to hookURL, in pool (none if empty), run at most maxParallel at
// once (0: no limit).
func independentWorkflow(workflowID string, n, maxParallel int, pool, hookURL string) json.RawMessage {
	steps := map[string]any{}
	for i := range n {
		step := map[string]any{"type": "output", "input": map[string]any{"destination": "webhook", "url": hookURL}}
		if pool != "" {
			step["pool"] = pool
		}
		steps[fmt.Sprintf("s%02d", i)] = step
	}
	wf := map[string]any{"id": workflowID, "steps": steps}
	if maxParallel > 0 {
		wf["max_parallel"] = maxParallel
	}
	doc, err := json.Marshal(wf)
	if err != nil {
		panic(err)
	}
	return doc
}

// startRun starts a run of an inline workflow.
func startRun(t *testing.T, c *httpapi.Client, wf json.RawMessage) string {
	t.Helper()
	run, created, err := c.StartRun(t.Context(), &httpapi.RunRequest{Workflow: wf})
	if err != nil || !created {
		t.Fatalf("start a run: %v (created %v)", err, created)
	}
	return run.RunID
}

// waitEnded polls the server (its run list: cheap, whatever the run's
// size) until the run ended, for up to timeout, and returns its summary.
func waitEnded(t *testing.T, c *httpapi.Client, runID string, timeout time.Duration) *httpapi.RunSummary {
	t.Helper()
	var last *httpapi.RunSummary
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		list, err := c.ListRuns(t.Context(), &weft.RunFilter{Limit: 100})
		if err != nil {
			t.Fatalf("list runs: %v", err)
		}
		for _, r := range list.Runs {
			if r.RunID == runID {
				last = r
			}
		}
		if last != nil && last.Status.Terminal() {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s has not ended after %s: %+v", runID, timeout, last)
		}
	}
}

// allEvents follows a run's events after seq after until it ends (within
// timeout) and returns them.
func allEvents(t *testing.T, c *httpapi.Client, runID string, after int64, timeout time.Duration) []weft.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var events []weft.Event
	err := c.Events(ctx, runID, after, func(ev weft.Event) error {
		events = append(events, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("events of run %s after %d: %v (%d received)", runID, after, err, len(events))
	}
	return events
}

// attemptRecord is one attempt of a step, from the run's events.
type attemptRecord struct {
	worker  string
	started time.Time
	outcome weft.EventType // step_succeeded, step_failed...; empty: none recorded
	ended   time.Time
}

func (a *attemptRecord) String() string {
	if a == nil {
		return "none"
	}
	return fmt.Sprintf("{worker %s, started %s, outcome %q, ended %s}", a.worker, a.started.Format(time.StampMicro), a.outcome, a.ended.Format(time.StampMicro))
}

// attemptsOf returns every step's attempts by attempt number, and the
// number of step_succeeded events of each step.
func attemptsOf(t *testing.T, events []weft.Event) (map[string]map[int]*attemptRecord, map[string]int) {
	t.Helper()
	attempts, succeeded := map[string]map[int]*attemptRecord{}, map[string]int{}
	for _, ev := range events {
		if ev.StepID == "" {
			continue
		}
		if attempts[ev.StepID] == nil {
			attempts[ev.StepID] = map[int]*attemptRecord{}
		}
		a := attempts[ev.StepID][ev.Attempt]
		switch ev.Type {
		case weft.EventStepStarted:
			if a != nil {
				t.Errorf("step %s: attempt %d started twice (seq %d)", ev.StepID, ev.Attempt, ev.Seq)
				continue
			}
			attempts[ev.StepID][ev.Attempt] = &attemptRecord{worker: ev.Worker, started: ev.Time}
		case weft.EventStepSucceeded, weft.EventStepFailed, weft.EventStepRetrying, weft.EventStepCanceled:
			if ev.Type == weft.EventStepSucceeded {
				succeeded[ev.StepID]++
			}
			if a == nil {
				t.Errorf("step %s: %s of attempt %d, which never started (seq %d)", ev.StepID, ev.Type, ev.Attempt, ev.Seq)
				continue
			}
			if a.outcome != "" {
				t.Errorf("step %s: attempt %d ended twice: %s, then %s (seq %d)", ev.StepID, ev.Attempt, a.outcome, ev.Type, ev.Seq)
			}
			a.outcome, a.ended = ev.Type, ev.Time
		}
	}
	return attempts, succeeded
}

// jsonOf is v as JSON, for messages.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// checkContiguous checks that events are numbered from first on, one by
// one.
func checkContiguous(t *testing.T, what string, events []weft.Event, first int64) {
	t.Helper()
	for i, ev := range events {
		if ev.Seq != first+int64(i) {
			t.Fatalf("%s: event %d (%s of %q) has seq %d, want %d: the sequence has a gap or a repeat", what, i, ev.Type, ev.StepID, ev.Seq, first+int64(i))
		}
	}
}

// errorLimit reports at most max errors of a test, then counts the rest,
// so that a failure of every step does not print thousands of lines.
type errorLimit struct {
	t      *testing.T
	max, n int
}

func (e *errorLimit) Errorf(format string, args ...any) {
	e.t.Helper()
	if e.n++; e.n <= e.max {
		e.t.Errorf(format, args...)
	}
}

// done reports how many errors were not shown.
func (e *errorLimit) done() {
	e.t.Helper()
	if e.n > e.max {
		e.t.Errorf("... and %d more errors like these", e.n-e.max)
	}
}
