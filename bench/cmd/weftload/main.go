// Command weftload measures weft serve under load: it builds weft, starts
// weft serve on a fresh SQLite database on a loopback port, registers a
// 5-step workflow, and has -clients concurrent clients submit -runs runs
// of it over HTTP. It then waits for every run to finish and checks them
// all through the API: none lost (every accepted run id is listed once),
// none duplicated, every one succeeded with its 5 steps.
//
// It reports: submissions accepted per second (accepted runs over the time
// from the first submission to the last answer), the p50/p90/p99/max
// submission latency, how many answers were 429 (queue full, retried after
// Retry-After), the time until every run finished and the runs and steps
// per second to there, and the server's peak resident memory (VmHWM of
// its process).
//
// Usage:
//
//	go run ./bench/cmd/weftload [-runs 10000] [-clients 50] [-max-parallel 16] [-store sqlite|memory]
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
)

// loadWorkflow has 5 steps: an input, three transforms of it in parallel,
// and a step joining them.
const loadWorkflow = `{
  "id": "load5",
  "steps": {
    "in": {"type": "input", "input": {"data": {"message": "hello", "n": 1}}},
    "upper": {"type": "process", "depends_on": ["in"], "input": {"rules": [{"type": "transform", "field": "message", "operation": "uppercase"}]}},
    "lower": {"type": "process", "depends_on": ["in"], "input": {"rules": [{"type": "transform", "field": "message", "operation": "lowercase"}]}},
    "trim": {"type": "process", "depends_on": ["in"], "input": {"rules": [{"type": "transform", "field": "message", "operation": "trim"}]}},
    "join": {"type": "process", "depends_on": ["upper", "lower", "trim"], "input": {"data": {"done": true}}}
  }
}`

func main() {
	runs := flag.Int("runs", 10000, "runs to submit")
	clients := flag.Int("clients", 50, "concurrent clients")
	maxParallel := flag.Int("max-parallel", 16, "the server's --max-parallel")
	store := flag.String("store", "sqlite", "the server's store: sqlite (a fresh database) or memory")
	cpuProfile := flag.String("cpuprofile", "", "write the server's CPU profile to `FILE`")
	flag.Parse()
	if err := run(os.Stdout, *runs, *clients, *maxParallel, *store, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "weftload:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, runs, clients, maxParallel int, storeKind, cpuProfile string) error {
	dir, err := os.MkdirTemp("", "weftload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "weft")
	build := exec.Command("go", "build", "-o", bin, "github.com/weft-dev/weft/cmd/weft")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build weft (run inside the repository): %w", err)
	}
	store := "memory"
	if storeKind == "sqlite" {
		store = "sqlite:" + filepath.Join(dir, "weft.db")
	}
	srv, err := startServer(bin, store, maxParallel, runs, cpuProfile)
	if err != nil {
		return err
	}
	defer srv.stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	c, err := httpapi.NewClient(srv.url, &httpapi.ClientOptions{HTTPClient: hc})
	if err != nil {
		return err
	}
	ctx := context.Background()
	wf, err := c.RegisterWorkflow(ctx, []byte(loadWorkflow), false)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	fmt.Fprintf(out, "weft serve at %s, store %s, --max-parallel %d; %d runs of a 5-step workflow from %d clients\n", srv.url, storeKind, maxParallel, runs, clients)

	// Submit.
	latencies := make([]time.Duration, runs)
	ids := make([]string, runs)
	var next, full atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= runs {
					return
				}
				req := &httpapi.RunRequest{WorkflowID: wf.ID, IdempotencyKey: "load-" + strconv.Itoa(i)}
				for {
					t0 := time.Now()
					r, created, err := c.StartRun(ctx, req)
					var ae *httpapi.APIError
					if errors.As(err, &ae) && ae.Is(weft.ErrQueueFull) {
						full.Add(1)
						time.Sleep(max(ae.RetryAfter, 100*time.Millisecond))
						continue
					}
					latencies[i] = time.Since(t0)
					if err == nil && !created {
						err = fmt.Errorf("submission %d: a new idempotency key gave an existing run", i)
					}
					if err != nil {
						errMu.Lock()
						firstErr = errors.Join(firstErr, err)
						errMu.Unlock()
						return
					}
					ids[i] = r.RunID
					break
				}
			}
		}()
	}
	wg.Wait()
	submitted := time.Since(start)
	if firstErr != nil {
		return firstErr
	}

	// Wait for every run to finish, then check them all.
	for {
		m, err := srv.metric("weft_runs_unfinished")
		if err != nil {
			return err
		}
		if m == 0 {
			break
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("%v runs still unfinished after 10 minutes", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	finished := time.Since(start)
	if err := checkRuns(ctx, c, ids); err != nil {
		return err
	}
	peak, err := srv.peakRSS()
	if err != nil {
		return err
	}

	slices.Sort(latencies)
	q := func(p float64) time.Duration {
		return latencies[min(len(latencies)-1, int(math.Ceil(p*float64(len(latencies))))-1)]
	}
	fmt.Fprintf(out, "accepted        %d runs in %s: %.0f submissions/s (429 answers, retried: %d)\n", runs, submitted.Round(time.Millisecond), float64(runs)/submitted.Seconds(), full.Load())
	fmt.Fprintf(out, "latency         p50 %s  p90 %s  p99 %s  max %s\n", q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), latencies[len(latencies)-1].Round(10*time.Microsecond))
	fmt.Fprintf(out, "all finished    %s after the first submission: %.0f runs/s, %.0f steps/s; every run checked: succeeded, 5 steps, listed once\n", finished.Round(time.Millisecond), float64(runs)/finished.Seconds(), 5*float64(runs)/finished.Seconds())
	fmt.Fprintf(out, "server peak RSS %.0f MiB\n", float64(peak)/(1<<20))
	return nil
}

// checkRuns lists every run and checks that each submitted id is there
// once, succeeded, and that no other run exists.
func checkRuns(ctx context.Context, c *httpapi.Client, ids []string) error {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		if want[id] {
			return fmt.Errorf("run %s was returned for two submissions", id)
		}
		want[id] = true
	}
	seen := make(map[string]bool, len(ids))
	cursor := ""
	for {
		page, err := c.ListRuns(ctx, &weft.RunFilter{Limit: 1000, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, r := range page.Runs {
			switch {
			case !want[r.RunID]:
				return fmt.Errorf("run %s was not submitted", r.RunID)
			case seen[r.RunID]:
				return fmt.Errorf("run %s listed twice", r.RunID)
			case r.Status != weft.RunSucceeded:
				return fmt.Errorf("run %s %s: %v", r.RunID, r.Status, r.Error)
			}
			seen[r.RunID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != len(ids) {
		return fmt.Errorf("%d runs listed, %d submitted: runs were lost", len(seen), len(ids))
	}
	// A sample of runs in full: 5 steps, all succeeded.
	for i := 0; i < len(ids); i += max(1, len(ids)/50) {
		doc, err := c.Run(ctx, ids[i])
		if err != nil {
			return err
		}
		if doc.Metrics.StepsTotal != 5 || doc.Metrics.Succeeded != 5 {
			return fmt.Errorf("run %s: %d of %d steps succeeded", ids[i], doc.Metrics.Succeeded, doc.Metrics.StepsTotal)
		}
	}
	return nil
}

// server is the weft serve process under load.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

var serving = regexp.MustCompile(`^weft: serving (http://\S+) `)

func startServer(bin, store string, maxParallel, runs int, cpuProfile string) (*server, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--store", store, "--log-level", "warn",
		"--max-parallel", strconv.Itoa(maxParallel), "--max-unfinished-runs", strconv.Itoa(runs + 1)}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		cmd.Process.Kill()
		return nil, errors.New("weft serve did not start")
	}
	m := serving.FindStringSubmatch(sc.Text())
	if m == nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("weft serve printed %q", sc.Text())
	}
	s.url = m[1]
	go func() {
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// metric returns the value of an unlabelled metric of /metrics.
func (s *server) metric(name string) (float64, error) {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := strings.CutPrefix(string(bytes.TrimSpace(line)), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// peakRSS returns the server process's peak resident memory in bytes.
func (s *server) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("peak memory: no VmHWM in /proc/PID/status")
}

// stop ends the server.
func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
	}
}
