package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/sqlite"
	"github.com/weft-dev/weft/workflow"
)

// The crash test runs a 2,000-step workflow on SQLite in a child process
// (this test binary, re-executed) and SIGKILLs it at 20 random moments,
// resuming the run each time. The child's executor logs every attempt it
// starts to a side file.

const (
	crashEnvDB  = "WEFT_CRASH_DB"  // the child's database
	crashEnvLog = "WEFT_CRASH_LOG" // the child's attempt log
)

// crashWorkflow is 20 layers × 100 steps, each depending on 2 steps of the
// previous layer; a step's output is derived from its id and its data.
func crashWorkflow() *weft.Workflow {
	r := rand.New(rand.NewPCG(3, 5))
	wf := &weft.Workflow{ID: "crash", Steps: map[string]*weft.Step{}}
	for l := range 20 {
		for i := range 100 {
			st := &weft.Step{Type: "work"}
			if l > 0 {
				a, b := r.IntN(100), r.IntN(100)
				st.DependsOn = append(st.DependsOn, fmt.Sprintf("s%02d_%02d", l-1, a))
				if b != a {
					st.DependsOn = append(st.DependsOn, fmt.Sprintf("s%02d_%02d", l-1, b))
				}
			}
			wf.Steps[fmt.Sprintf("s%02d_%02d", l, i)] = st
		}
	}
	return wf
}

// crashRegistry has the "work" executor: it logs "STEP ATTEMPT" when an
// attempt starts (when log is not nil), sleeps a little, and outputs the
// length of its data plus a hash of its id.
func crashRegistry(log *os.File) *weft.Registry {
	reg := &weft.Registry{}
	reg.Register("work", weft.ExecutorFunc(func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		if log != nil {
			if _, err := fmt.Fprintf(log, "%s %d\n", sc.StepID, sc.Attempt); err != nil {
				return nil, err
			}
		}
		time.Sleep(time.Duration(3+int(sc.StepID[len(sc.StepID)-1])%8) * time.Millisecond)
		h := 0
		for _, c := range sc.StepID + string(sc.Data) {
			h = (h*31 + int(c)) % 1000003
		}
		return json.Marshal(map[string]any{"id": sc.StepID, "h": h})
	}))
	return reg
}

// crashChild is the child process: it submits or resumes the run and
// waits for it.
func crashChild() {
	log, err := os.OpenFile(os.Getenv(crashEnvLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	store, err := sqlite.Open(os.Getenv(crashEnvDB), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	reg := crashRegistry(log)
	eng, err := engine.New(store, &engine.Config{Registry: reg, MaxParallelSteps: 8,
		LeaseDuration: time.Second, PollInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	// Every child submits with the same idempotency key: the first one that
	// gets that far creates the run, the others get it back and resume it.
	ctx := context.Background()
	def, err := workflow.Validate(crashWorkflow(), &workflow.Options{Registry: reg})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	run, err := eng.Submit(ctx, def, &engine.SubmitOptions{RunID: "crash-run", IdempotencyKey: "crash"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if _, err := eng.Wait(ctx, run.ID); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test kills a child process 20 times: not with -short")
	}
	dir := t.TempDir()
	db, logPath := filepath.Join(dir, "weft.db"), filepath.Join(dir, "attempts.log")
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnvDB+"="+db, crashEnvLog+"="+logPath)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	r := rand.New(rand.NewPCG(11, 13))
	child := start()
	for kill := range 20 {
		time.Sleep(time.Duration(150+r.IntN(350)) * time.Millisecond)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		child.Wait()
		child = start()
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the last child: %v", err)
		}
	case <-time.After(3 * time.Minute):
		child.Process.Kill()
		t.Fatal("the run did not finish in 3 minutes after the last resume")
	}

	store, err := sqlite.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	run, err := store.Run(ctx, "crash-run")
	if err != nil || run.Status != weft.RunSucceeded {
		t.Fatalf("run: %+v, %v", run, err)
	}
	steps, err := store.Steps(ctx, "crash-run")
	if err != nil {
		t.Fatal(err)
	}
	// Every step's success is recorded exactly once.
	events, err := store.Events(ctx, "crash-run", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	succeeded := map[string]int{}
	for _, ev := range events {
		if ev.Type == weft.EventStepSucceeded {
			succeeded[ev.StepID]++
		}
	}
	// The outputs equal those of an uninterrupted run.
	ref := referenceOutputs(t)
	final := map[string]int{}
	for _, s := range steps {
		final[s.StepID] = s.Attempts
		if s.Status != weft.StepSucceeded || succeeded[s.StepID] != 1 {
			t.Errorf("%s: %s, %d success events", s.StepID, s.Status, succeeded[s.StepID])
		}
		if string(s.Output) != ref[s.StepID] {
			t.Errorf("%s: output %s, uninterrupted run %s", s.StepID, s.Output, ref[s.StepID])
		}
	}
	if len(steps) != 2000 {
		t.Fatalf("%d steps", len(steps))
	}
	// No step ran again after its success was committed: an attempt after
	// it would carry a higher number than the one recorded.
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines, reruns := 0, 0
	for sc.Scan() {
		var id string
		var attempt int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &id, &attempt); err != nil {
			if strings.TrimSpace(sc.Text()) != "" {
				t.Errorf("log line %q: %v", sc.Text(), err)
			}
			continue
		}
		lines++
		if attempt > final[id] {
			t.Errorf("%s ran attempt %d after its success at attempt %d was committed", id, attempt, final[id])
		}
		if attempt > 1 {
			reruns++
		}
	}
	t.Logf("2000 steps, 20 kills: %d attempts logged, %d of them reruns of steps interrupted by a kill", lines, reruns)
}

// referenceOutputs runs the workflow in memory, uninterrupted.
func referenceOutputs(t *testing.T) map[string]string {
	reg := crashRegistry(nil)
	def, err := workflow.Validate(crashWorkflow(), &workflow.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(inmem.New(), &engine.Config{Registry: reg, MaxParallelSteps: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	st, err := eng.Execute(context.Background(), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, s := range st.Steps {
		out[id] = string(s.Output)
	}
	return out
}
