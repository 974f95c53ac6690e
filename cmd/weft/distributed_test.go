package main

// The multi-process tests of weft serve and weft worker on PostgreSQL: real
// processes (the test binary re-executed as the CLI, see TestMain), one
// fresh schema per test, webhook steps posting to a recording server in
// the test process.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// TestWorkersShareARunAndSurviveAKill: three workers run a run of 5,001
// steps (an input and 100 chains of 50 webhook steps) submitted to an
// API-only server; a third of the way in, one worker is killed. The run
// succeeds, every step succeeded exactly once, the steps the dead worker
// had in flight were taken over by others (next attempt) within the lease,
// a poll and some slack, and no other step ran twice.
func TestWorkersShareARunAndSurviveAKill(t *testing.T) {
	store := postgresStore(t)
	const chains, length = 100, 50
	const hookSteps = chains * length
	hook := newRecordingHook(t, spreadDelay)
	s := startAPIServer(t, store)
	workers := map[string]*worker{}
	for range 3 {
		w := startWorker(t, hookEnv, "--store", store, "--concurrency", "8", "--lease", workerLease.String())
		workers[w.id] = w
	}
	c := s.client("")
	began := time.Now()
	runID := startRun(t, c, chainsWorkflow("chains", chains, length, hook.URL+"/chain", ""))

	// A third of the way in, kill the worker with the most steps in
	// flight.
	for deadline := time.Now().Add(60 * time.Second); hook.answered.Load() < hookSteps/3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d webhook steps answered after 60s", hook.answered.Load(), hookSteps)
		}
	}
	st, err := c.Run(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	inFlight := map[string][]string{}
	for _, a := range st.Active {
		inFlight[a.Worker] = append(inFlight[a.Worker], fmt.Sprintf("%s#%d", a.StepID, a.Attempt))
	}
	var victim *worker
	for id, w := range workers {
		if victim == nil || len(inFlight[id]) > len(inFlight[victim.id]) {
			victim = w
		}
	}
	for id := range inFlight {
		if workers[id] == nil {
			t.Errorf("active attempts of worker %q, which is none of ours: %v", id, inFlight[id])
		}
	}
	if len(inFlight[victim.id]) == 0 {
		t.Fatalf("no worker had a step in flight at %d of %d steps: active %+v", st.Metrics.Succeeded, st.Metrics.StepsTotal, st.Active)
	}
	killed := time.Now()
	_, err = victim.signal(syscall.SIGKILL, 10*time.Second)
	t.Logf("killed worker %s at %d/%d steps succeeded (%s in); it had %d steps in flight just before: %v",
		victim.id, st.Metrics.Succeeded, st.Metrics.StepsTotal, killed.Sub(began).Round(time.Millisecond), len(inFlight[victim.id]), inFlight[victim.id])
	if err == nil {
		t.Fatalf("worker %s exited cleanly after SIGKILL", victim.id)
	}

	waitEnded(t, c, runID, 90*time.Second)
	t.Logf("run of %d steps done in %s", st.Metrics.StepsTotal, time.Since(began).Round(time.Millisecond))
	events := allEvents(t, c, runID, 0, 30*time.Second)
	checkContiguous(t, "the run's events", events, 1)
	if last := events[len(events)-1]; last.Type != weft.EventRunSucceeded {
		t.Fatalf("the run ended with %s (%s)", last.Type, jsonOf(last))
	}
	final, err := c.Run(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != weft.RunSucceeded || final.Metrics.StepsTotal != hookSteps+1 || final.Metrics.Succeeded != hookSteps+1 {
		t.Fatalf("run %s: status %s, %d of %d steps succeeded, want all %d", runID, final.Status, final.Metrics.Succeeded, final.Metrics.StepsTotal, hookSteps+1)
	}
	errs := &errorLimit{t: t, max: 30}
	defer errs.done()
	for _, id := range final.Order {
		if sd := final.Steps.Steps[id]; sd.Status != weft.StepSucceeded {
			errs.Errorf("step %s: %s (error %s)", id, sd.Status, jsonOf(sd.Error))
		}
	}

	attempts, succeeded := attemptsOf(t, events)
	if len(attempts) != hookSteps+1 {
		t.Errorf("%d steps have events, want %d", len(attempts), hookSteps+1)
	}
	// What the server listed as active just before the kill was so.
	for _, a := range st.Active {
		if got := attempts[a.StepID][a.Attempt]; got == nil || got.worker != a.Worker {
			errs.Errorf("active attempt %+v before the kill: its step_started event says %+v", a, got)
		}
	}
	// The dead worker's attempts that it never ended were in flight when
	// it died: each must be run again, by another worker, with the next
	// attempt, soon after the death.
	bound := workerLease + workerPoll + 1500*time.Millisecond
	var orphans []string
	var maxDelay time.Duration
	perWorker := map[string]int{}
	for step, as := range attempts {
		if succeeded[step] != 1 {
			errs.Errorf("step %s has %d step_succeeded events, want exactly 1", step, succeeded[step])
		}
		for n, a := range as {
			if a.outcome == weft.EventStepSucceeded {
				perWorker[a.worker]++
			}
			if a.outcome != "" {
				continue
			}
			if a.worker != victim.id {
				errs.Errorf("step %s: attempt %d by the surviving worker %s, started %s before the kill, never ended: it lost its lease while alive", step, n, a.worker, killed.Sub(a.started).Round(time.Millisecond))
				continue
			}
			orphans = append(orphans, fmt.Sprintf("%s#%d", step, n))
			next := as[n+1]
			switch {
			case next == nil:
				errs.Errorf("step %s: attempt %d was in flight on the killed worker and was never run again", step, n)
			case next.worker == victim.id || workers[next.worker] == nil:
				errs.Errorf("step %s: attempt %d, in flight on the killed worker, was run again by %q, not by a surviving worker", step, n, next.worker)
			default:
				delay := next.started.Sub(killed)
				maxDelay = max(maxDelay, delay)
				if delay > bound {
					errs.Errorf("step %s: attempt %d started %s after the kill, later than lease %s + poll %s + 1.5s", step, n+1, delay.Round(time.Millisecond), workerLease, workerPoll)
				}
				if delay < 0 {
					errs.Errorf("step %s: attempt %d started %s before the kill: the lease of attempt %d (started %s before the kill) expired while its worker was alive", step, n+1, (-delay).Round(time.Millisecond), n, killed.Sub(a.started).Round(time.Millisecond))
				}
			}
		}
	}
	sort.Strings(orphans)
	t.Logf("steps succeeded per worker: %v", perWorker)
	t.Logf("%d steps were in flight on the killed worker; max delay from the kill to their next attempt: %s (bound %s): %v",
		len(orphans), maxDelay.Round(time.Millisecond), bound, orphans)
	if len(orphans) == 0 {
		t.Errorf("the killed worker left no attempt unfinished, though it had %v in flight just before the kill", inFlight[victim.id])
	}
	if len(perWorker) != 3 {
		t.Errorf("steps succeeded by %d workers, want all 3: %v", len(perWorker), perWorker)
	}

	// Only the orphans ran more than once; the hook saw each step's
	// success-producing request, answered, within its attempt.
	deliveries, _ := hook.snapshot()
	again := 0
	for step, as := range attempts {
		if step == "in" {
			continue
		}
		key := runID + "/" + step
		ds := deliveries[key]
		if len(as) > 1 {
			again++
			if n := len(as); !slices.Contains(orphans, fmt.Sprintf("%s#%d", step, n-1)) {
				errs.Errorf("step %s ran %d times though it was not in flight on the killed worker", step, n)
			}
		} else if len(ds) != 1 {
			errs.Errorf("step %s (one attempt): %d deliveries at the hook, want 1", step, len(ds))
		}
		if len(ds) > len(as) {
			errs.Errorf("step %s: %d deliveries at the hook for %d attempts", step, len(ds), len(as))
		}
		var ok *attemptRecord
		for _, a := range as {
			if a.outcome == weft.EventStepSucceeded {
				ok = a
			}
		}
		if ok == nil {
			continue // reported above
		}
		seen := false
		for _, d := range ds {
			seen = seen || (d.answered && !d.arrived.Before(ok.started) && !d.ended.After(ok.ended))
		}
		if !seen {
			errs.Errorf("step %s: no answered delivery during its successful attempt (%s to %s); deliveries: %+v", step, ok.started.Format(time.StampMicro), ok.ended.Format(time.StampMicro), ds)
		}
	}
	for key := range deliveries {
		if step, ok := strings.CutPrefix(key, runID+"/"); !ok || attempts[step] == nil {
			errs.Errorf("a delivery with key %q, no step of the run", key)
		}
	}
	t.Logf("%d steps ran more than once (at most the %d in flight on the killed worker may)", again, len(orphans))
}

// TestMaxParallelAcrossWorkers: a run's max_parallel (3) holds across three
// workers of 8 slots each, exactly: the hook never has more than 3 of its
// requests at once, and has 3. Its steps are in a pool capped at 2 per
// worker, so that 3 at once takes two workers (else one worker would run
// them all, going from one step to the next itself, and the limit would
// not be tested across workers), while the workers could run 6. A run
// without a limit, at the same time, shows the workers do run more than 3
// steps at once.
func TestMaxParallelAcrossWorkers(t *testing.T) {
	store := postgresStore(t)
	hook := newRecordingHook(t, func(string) time.Duration { return 30 * time.Millisecond })
	s := startAPIServer(t, store)
	ids := map[string]bool{}
	for range 3 {
		ids[startWorker(t, hookEnv, "--store", store, "--concurrency", "8", "--pools", "hooks=2", "--lease", workerLease.String()).id] = true
	}
	c := s.client("")
	limited := startRun(t, c, independentWorkflow("limited", 60, 3, "hooks", hook.URL+"/limited"))
	free := startRun(t, c, independentWorkflow("free", 60, 0, "", hook.URL+"/free"))

	byWorker := map[string]int{}
	for _, runID := range []string{limited, free} {
		waitEnded(t, c, runID, 30*time.Second)
		events := allEvents(t, c, runID, 0, 10*time.Second)
		if last := events[len(events)-1]; last.Type != weft.EventRunSucceeded {
			t.Fatalf("run %s ended with %s (%s)", runID, last.Type, jsonOf(last))
		}
		attempts, succeeded := attemptsOf(t, events)
		for step, as := range attempts {
			if len(as) != 1 || succeeded[step] != 1 {
				t.Errorf("run %s, step %s: %d attempts, %d successes; want 1 of each", runID, step, len(as), succeeded[step])
			}
			if runID == limited && as[1] != nil {
				byWorker[as[1].worker]++
			}
		}
	}
	_, maxInFlight := hook.snapshot()
	t.Logf("most requests in flight: %d of the run with max_parallel 3, %d of the run without; the limited run's steps by worker: %v",
		maxInFlight["/limited"], maxInFlight["/free"], byWorker)
	if maxInFlight["/limited"] != 3 {
		t.Errorf("the run with max_parallel 3 had at most %d requests in flight at once, want exactly 3", maxInFlight["/limited"])
	}
	if maxInFlight["/free"] <= 3 {
		t.Errorf("the run without max_parallel had at most %d requests in flight at once: the test cannot tell the limit from the workers' capacity", maxInFlight["/free"])
	}
	for id := range byWorker {
		if !ids[id] {
			t.Errorf("steps run by %q, none of our workers", id)
		}
	}
	if len(byWorker) < 2 {
		t.Errorf("the limited run's steps all ran on one worker (%v), though its pool allows 2 per worker", byWorker)
	}
}

// TestServerRestartsWhileWorkersRun: the API server is killed in the middle
// of a run; the workers go on; a new server on the same store serves the
// run's events from the last one seen before the kill with no gap, and the
// run succeeds with every step run once.
func TestServerRestartsWhileWorkersRun(t *testing.T) {
	store := postgresStore(t)
	const chains, length = 4, 100
	const steps = chains*length + 2 // with "in" and "last"
	hook := newRecordingHook(t, func(string) time.Duration { return 10 * time.Millisecond })
	// The last step waits at the hook until the new server's stream has
	// caught up, so that the run is still running then and its end is
	// streamed live.
	openGate := hook.gate("/last")
	defer openGate()
	s := startAPIServer(t, store)
	for range 2 {
		startWorker(t, hookEnv, "--store", store, "--lease", workerLease.String())
	}
	c := s.client("")
	runID := startRun(t, c, chainsWorkflow("restart", chains, length, hook.URL+"/chain", hook.URL+"/last"))

	// Follow the events until a quarter of the steps are done, then kill
	// the server.
	var mu sync.Mutex
	var before []weft.Event
	succeededBefore := 0
	ctx, cancel := context.WithCancel(t.Context())
	followed := make(chan error, 1)
	go func() {
		followed <- c.Events(ctx, runID, 0, func(ev weft.Event) error {
			mu.Lock()
			defer mu.Unlock()
			before = append(before, ev)
			if ev.Type == weft.EventStepSucceeded {
				succeededBefore++
			}
			return nil
		})
	}()
	// Once the hook has answered a quarter of the steps, and the stream
	// has delivered step successes (it follows the run live), kill the
	// server.
	var quarter time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n, seen := succeededBefore, len(before)
		mu.Unlock()
		answered := hook.answered.Load()
		if quarter.IsZero() && answered >= steps/4 {
			quarter = time.Now()
		}
		if !quarter.IsZero() && n > 0 {
			break
		}
		if !quarter.IsZero() && time.Since(quarter) > 5*time.Second {
			t.Fatalf("the event stream of weft serve --no-worker does not follow the run: %d events (%d step successes) delivered, while the hook answered %d steps and 5s passed since it answered %d", seen, n, answered, steps/4)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d steps answered by the hook after 30s", answered, steps)
		}
	}
	killServer(t, s)
	answeredAtKill := hook.answered.Load()
	cancel()
	if err := <-followed; err == nil {
		t.Fatal("the event stream of the killed server ended as if the run had")
	}
	// The follower has returned: before is ours alone now.
	checkContiguous(t, "events before the kill", before, 1)
	lastSeq := before[len(before)-1].Seq
	// The workers go on without a server.
	for deadline := time.Now().Add(10 * time.Second); hook.answered.Load() < answeredAtKill+20; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the workers ran %d steps in the 10s after the server was killed, want 20 or more", hook.answered.Load()-answeredAtKill)
		}
	}

	s2 := startAPIServer(t, store)
	c2 := s2.client("")
	st, err := c2.Run(t.Context(), runID)
	if err != nil || st.Status != weft.RunRunning {
		t.Fatalf("the run through the new server: %v, status %q, want running", err, st.Status)
	}
	t.Logf("server killed at %d of %d steps answered by the hook, after streaming event %d (%d step successes); %d more steps answered until the new server answered (20 awaited)",
		answeredAtKill, steps-1, lastSeq, succeededBefore, hook.answered.Load()-answeredAtKill)
	var after []weft.Event
	liveAfterGate := 0
	gateOpen := false
	ctx2, cancel2 := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel2()
	err = c2.Events(ctx2, runID, lastSeq, func(ev weft.Event) error {
		after = append(after, ev)
		if gateOpen {
			liveAfterGate++
		}
		if ev.Type == weft.EventStepStarted && ev.StepID == "last" {
			openGate()
			gateOpen = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("events after %d through the new server: %v (%d received)", lastSeq, err, len(after))
	}
	if len(after) == 0 {
		t.Fatalf("no events after %d through the new server", lastSeq)
	}
	checkContiguous(t, fmt.Sprintf("events after %d through the new server", lastSeq), after, lastSeq+1)
	if end := after[len(after)-1]; end.Type != weft.EventRunSucceeded {
		t.Fatalf("the run ended with %s (%s)", end.Type, jsonOf(end))
	}
	if liveAfterGate < 2 { // step_succeeded of "last", run_succeeded
		t.Errorf("%d events streamed after the last step was let through, want its success and the run's", liveAfterGate)
	}
	attempts, succeeded := attemptsOf(t, append(slices.Clone(before), after...))
	deliveries, _ := hook.snapshot()
	if len(attempts) != steps {
		t.Errorf("%d steps have events, want %d", len(attempts), steps)
	}
	for step, as := range attempts {
		if len(as) != 1 || succeeded[step] != 1 {
			t.Errorf("step %s: %d attempts, %d successes; want 1 of each", step, len(as), succeeded[step])
		}
		if ds := deliveries[runID+"/"+step]; step != "in" && (len(ds) != 1 || !ds[0].answered) {
			t.Errorf("step %s: deliveries %+v, want one, answered", step, ds)
		}
	}
	st, err = c2.Run(t.Context(), runID)
	if err != nil || st.Status != weft.RunSucceeded || st.Metrics.Succeeded != steps {
		t.Fatalf("the run: %v, status %s, %d of %d steps succeeded", err, st.Status, st.Metrics.Succeeded, steps)
	}
}

// TestWorkerGracefulStop: a worker on SIGTERM finishes its running step
// within --grace and exits 0; a worker whose --grace is too short stops
// the step unrecorded, exits 0, and another worker runs it again (attempt
// 2).
func TestWorkerGracefulStop(t *testing.T) {
	store := postgresStore(t)
	const stepTime = 1500 * time.Millisecond
	hook := newRecordingHook(t, func(string) time.Duration { return stepTime })
	s := startAPIServer(t, store)
	c := s.client("")
	lease := "--lease=" + workerLease.String()

	// waitOn waits until the run's step is running on w and its request
	// has reached the hook.
	waitOn := func(runID string, w *worker) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			st, err := c.Run(t.Context(), runID)
			if err != nil {
				t.Fatal(err)
			}
			deliveries, _ := hook.snapshot()
			if len(st.Active) == 1 && st.Active[0].Worker == w.id && st.Active[0].StepID == "post" && len(deliveries[runID+"/post"]) == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s: step post is not running on worker %s after 15s: status %s, active %+v, deliveries %+v", runID, w.id, st.Status, st.Active, deliveries[runID+"/post"])
			}
		}
	}

	// Enough grace: the step finishes, is recorded, then the worker exits.
	patient := startWorker(t, hookEnv, "--store", store, lease, "--grace", "10s")
	run1 := startRun(t, c, hookWorkflow(hook.URL+"/one"))
	waitOn(run1, patient)
	exited, err := patient.signal(syscall.SIGTERM, 15*time.Second)
	if err != nil {
		t.Fatalf("the worker with --grace 10s exited with %v after SIGTERM; stderr:\n%s", err, patient.stderr)
	}
	deliveries, _ := hook.snapshot()
	if ds := deliveries[run1+"/post"]; len(ds) != 1 || !ds[0].answered || exited.Before(ds[0].ended) {
		t.Fatalf("the worker with --grace 10s exited at %s; the step's deliveries: %+v; want one, answered before the worker exited: it did not let its step finish", exited.Format(time.StampMicro), ds)
	}
	waitEnded(t, c, run1, 10*time.Second)
	events := allEvents(t, c, run1, 0, 10*time.Second)
	attempts, _ := attemptsOf(t, events)
	if a := attempts["post"][1]; len(attempts["post"]) != 1 || a.outcome != weft.EventStepSucceeded || a.worker != patient.id {
		t.Errorf("run 1, step post: attempts %+v, want one, succeeded on the stopped worker %s", attempts["post"], patient.id)
	}
	if last := events[len(events)-1]; last.Type != weft.EventRunSucceeded {
		t.Errorf("run 1 ended with %s (%s)", last.Type, jsonOf(last))
	}

	// Too little grace: the step is stopped and left for another worker.
	hasty := startWorker(t, hookEnv, "--store", store, lease, "--grace", "100ms")
	run2 := startRun(t, c, hookWorkflow(hook.URL+"/two"))
	waitOn(run2, hasty)
	other := startWorker(t, hookEnv, "--store", store, lease)
	sent := time.Now()
	exited, err = hasty.signal(syscall.SIGTERM, 10*time.Second)
	if err != nil {
		t.Fatalf("the worker with --grace 100ms exited with %v after SIGTERM; stderr:\n%s", err, hasty.stderr)
	}
	t.Logf("the worker with --grace 100ms exited %s after SIGTERM", exited.Sub(sent).Round(time.Millisecond))
	if !strings.Contains(hasty.stderr.String(), "steps still running at the end of the grace period were stopped") {
		t.Errorf("the worker with --grace 100ms did not log that it stopped a step; stderr:\n%s", hasty.stderr)
	}
	waitEnded(t, c, run2, 20*time.Second)
	events = allEvents(t, c, run2, 0, 10*time.Second)
	if last := events[len(events)-1]; last.Type != weft.EventRunSucceeded {
		t.Fatalf("run 2 ended with %s (%s)", last.Type, jsonOf(last))
	}
	attempts, _ = attemptsOf(t, events)
	first, second := attempts["post"][1], attempts["post"][2]
	switch {
	case len(attempts["post"]) != 2 || first == nil || second == nil:
		t.Errorf("run 2, step post: attempts %+v, want 1 and 2", attempts["post"])
	case first.worker != hasty.id || first.outcome != "":
		t.Errorf("run 2, attempt 1: %+v, want it on the stopped worker %s with no outcome recorded", first, hasty.id)
	case second.worker != other.id || second.outcome != weft.EventStepSucceeded:
		t.Errorf("run 2, attempt 2: %+v, want it succeeded on the other worker %s", second, other.id)
	default:
		t.Logf("attempt 2 started on the other worker %s after SIGTERM", second.started.Sub(sent).Round(time.Millisecond))
	}
	deliveries, _ = hook.snapshot()
	ds := deliveries[run2+"/post"]
	if len(ds) != 2 || ds[0].answered || !ds[1].answered {
		t.Errorf("run 2: deliveries %+v, want two: the first cut short, the second answered", ds)
	}
}

// TestEventsFollowARunOnWorkers: the event stream of an API-only server
// follows, live, a run that a worker (another process) runs: the step's
// start while it is still running, then its end and the run's, and the
// stream ends.
func TestEventsFollowARunOnWorkers(t *testing.T) {
	store := postgresStore(t)
	hook := newRecordingHook(t, func(string) time.Duration { return 0 })
	openGate := hook.gate("/gated")
	defer openGate()
	s := startAPIServer(t, store)
	startWorker(t, hookEnv, "--store", store, "--lease", workerLease.String())
	c := s.client("")
	runID := startRun(t, c, hookWorkflow(hook.URL+"/gated"))

	got := make(chan weft.Event, 100)
	ended := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	go func() {
		ended <- c.Events(ctx, runID, 0, func(ev weft.Event) error {
			got <- ev
			return nil
		})
	}()
	var seen []weft.EventType
	expect := func(want weft.EventType, within time.Duration) {
		t.Helper()
		timeout := time.After(within)
		for {
			select {
			case ev := <-got:
				seen = append(seen, ev.Type)
				if ev.Type == want {
					return
				}
			case <-timeout:
				st, err := c.Run(t.Context(), runID)
				t.Fatalf("the event stream of weft serve --no-worker delivered no %s within %s; it delivered %v; the run is %s (%v), active %+v",
					want, within, seen, st.Status, err, st.Active)
			}
		}
	}
	// The step waits at the hook until the stream has told of its start.
	expect(weft.EventStepStarted, workerPoll+4*time.Second)
	openGate()
	opened := time.Now()
	expect(weft.EventRunSucceeded, workerPoll+4*time.Second)
	t.Logf("run_succeeded streamed %s after the step was let through; events %v", time.Since(opened).Round(time.Millisecond), seen)
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the event stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end within 5s of run_succeeded")
	}
}
