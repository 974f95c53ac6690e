package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/bench"
	"github.com/weft-dev/weft/executor"
)

// testDSN returns the test database's DSN: without one the test is
// skipped, except in CI (CI=true), where that is a failure.
func testDSN(t *testing.T) string {
	t.Helper()
	d := os.Getenv(envDSN)
	if d == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", envDSN)
		}
		t.Skipf("%s is not set: no PostgreSQL to run weftdist against", envDSN)
	}
	return d
}

// TestSmall runs the program on tiny workloads with one worker and the
// profiling round: every run must pass its checks, and the report must
// have every variant, the wire counts and the targets. It checks the
// program, not the speed.
func TestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weft, starts weft worker processes and needs PostgreSQL")
	}
	cfg := &config{
		specs: []spec{
			{name: "wide200", gen: func() *bench.Workload { return bench.Wide("wide200", 200) }},
			{name: "chain50", gen: func() *bench.Workload { return bench.Chain("chain50", 50) }, chain: true},
		},
		workers: []int{1}, concurrency: 4, rounds: 1, dsn: testDSN(t), profileDir: t.TempDir(),
	}
	var out, progress strings.Builder
	if err := run(context.Background(), &out, &progress, cfg); err != nil {
		t.Fatalf("%v\n%s\n%s", err, progress.String(), out.String())
	}
	report := out.String()
	for _, want := range []string{
		"wide200     inmem in-process", "wide200  postgres in-process", "wide200             1 worker",
		"chain50     inmem in-process", "chain50             1 worker",
		"wide200 / 1 worker, profiling round", "round trips", "pg_stat_activity",
		"target: 2 workers", "chain50      1 worker   ",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	for _, f := range []string{"wide200-1w-w1.pprof", "wide200-pg.pprof", "chain50-1w-w1.pprof"} {
		if st, err := os.Stat(cfg.profileDir + "/" + f); err != nil || st.Size() == 0 {
			t.Errorf("no profile %s: %v", f, err)
		}
	}
}

// steps returns n step records of a run that went well: each ready 1 ms
// after the one before, claimed 1 ms later, run for 1 ms.
func steps(n int) []*weft.StepRun {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*weft.StepRun, n)
	for i := range out {
		ready := t0.Add(time.Duration(i) * time.Millisecond)
		out[i] = &weft.StepRun{
			StepID: "s" + string(rune('a'+i)), Status: weft.StepSucceeded, Attempts: 1,
			ReadyAt: ready, StartedAt: ready.Add(time.Millisecond), FinishedAt: ready.Add(3 * time.Millisecond),
			QueueWait: time.Millisecond, RunTime: time.Millisecond,
		}
	}
	return out
}

// TestCheckSteps checks that checkSteps accepts a good run, measures its
// latencies, and refuses every kind of bad one.
func TestCheckSteps(t *testing.T) {
	lat, reruns, err := checkSteps(steps(5), 5)
	if err != nil {
		t.Fatal(err)
	}
	if lat.dispatch.p50 != 2*time.Millisecond || lat.queue.p99 != time.Millisecond || reruns != 0 {
		t.Errorf("dispatch p50 %v (want 2ms: finished − run time − ready), queue p99 %v (want 1ms), %d re-runs", lat.dispatch.p50, lat.queue.p99, reruns)
	}
	twice := steps(5)
	twice[2].Attempts = 2
	if _, reruns, err := checkSteps(twice, 5); err != nil || reruns != 1 {
		t.Errorf("a step of two attempts: %d re-runs, %v; want 1, no error", reruns, err)
	}
	bad := map[string]func(s []*weft.StepRun) []*weft.StepRun{
		"a step missing":     func(s []*weft.StepRun) []*weft.StepRun { return s[1:] },
		"no attempt":         func(s []*weft.StepRun) []*weft.StepRun { s[2].Attempts = 0; return s },
		"failed":             func(s []*weft.StepRun) []*weft.StepRun { s[0].Status = weft.StepFailed; return s },
		"duplicate":          func(s []*weft.StepRun) []*weft.StepRun { s[1].StepID = s[0].StepID; return s },
		"no finish time":     func(s []*weft.StepRun) []*weft.StepRun { s[3].FinishedAt = time.Time{}; return s },
		"started before due": func(s []*weft.StepRun) []*weft.StepRun { s[4].RunTime = time.Hour; return s },
	}
	for name, spoil := range bad {
		if _, _, err := checkSteps(spoil(steps(5)), 5); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// events returns the events of a good run of steps a, b by worker w.
func events(w string) []weft.Event {
	return []weft.Event{
		{Seq: 1, Type: weft.EventRunCreated},
		{Seq: 2, Type: weft.EventStepStarted, StepID: "a", Attempt: 1, Worker: w},
		{Seq: 3, Type: weft.EventStepSucceeded, StepID: "a", Attempt: 1, Worker: w},
		{Seq: 4, Type: weft.EventStepStarted, StepID: "b", Attempt: 1, Worker: w},
		{Seq: 5, Type: weft.EventStepSucceeded, StepID: "b", Attempt: 1, Worker: w},
		{Seq: 6, Type: weft.EventRunSucceeded},
	}
}

// TestCheckEvents checks that checkEvents counts a good run's steps by
// worker and refuses every kind of bad history.
func TestCheckEvents(t *testing.T) {
	by, reruns, err := checkEvents(events("w1"), 2, []string{"w1", "w2"})
	if err != nil {
		t.Fatal(err)
	}
	if by["w1"] != 2 || by["w2"] != 0 || reruns != 0 {
		t.Errorf("by worker %v, %d re-runs; want w1: 2, none", by, reruns)
	}
	// Step a's first attempt lost its lease; w2 ran it again.
	rerun := events("w1")
	rerun[2] = weft.Event{Seq: 3, Type: weft.EventStepStarted, StepID: "a", Attempt: 2, Worker: "w2"}
	rerun = append(rerun[:3:3], append([]weft.Event{{Seq: 3, Type: weft.EventStepSucceeded, StepID: "a", Attempt: 2, Worker: "w2"}}, rerun[3:]...)...)
	for i := range rerun {
		rerun[i].Seq = int64(i + 1)
	}
	if by, reruns, err := checkEvents(rerun, 2, []string{"w1", "w2"}); err != nil || reruns != 1 || by["w2"] != 1 {
		t.Errorf("a step run again: by worker %v, %d re-runs, %v; want w2: 1, 1, no error", by, reruns, err)
	}
	if why := explainReruns(rerun); !strings.Contains(why, "1 steps started more than once; step a: attempt 1 by w1") {
		t.Errorf("explainReruns: %s", why)
	}
	bad := map[string]func(e []weft.Event) []weft.Event{
		"another worker": func(e []weft.Event) []weft.Event { e[1].Worker = "intruder"; return e },
		"second attempt": func(e []weft.Event) []weft.Event { e[3].Attempt = 2; return e },
		"started twice": func(e []weft.Event) []weft.Event {
			return append(e[:5:5], weft.Event{Seq: 6, Type: weft.EventStepStarted, StepID: "b", Attempt: 1, Worker: "w1"}, weft.Event{Seq: 7, Type: weft.EventRunSucceeded})
		},
		"started after success": func(e []weft.Event) []weft.Event {
			return append(e[:5:5], weft.Event{Seq: 6, Type: weft.EventStepStarted, StepID: "b", Attempt: 2, Worker: "w1"}, weft.Event{Seq: 7, Type: weft.EventRunSucceeded})
		},
		"failed":         func(e []weft.Event) []weft.Event { e[2].Type = weft.EventStepFailed; return e },
		"no run end":     func(e []weft.Event) []weft.Event { return e[:5] },
		"step missing":   func(e []weft.Event) []weft.Event { return append(e[:3:3], e[5]) },
		"out of order":   func(e []weft.Event) []weft.Event { e[2].Seq = 1; return e },
		"never finished": func(e []weft.Event) []weft.Event { e[4].Type = weft.EventStepStarted; e[4].StepID = "c"; return e },
	}
	for name, spoil := range bad {
		if _, _, err := checkEvents(spoil(events("w1")), 2, []string{"w1", "w2"}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDocument checks the generated document: input steps only, with the
// bench workload's dependencies.
func TestDocument(t *testing.T) {
	p, err := prepare(spec{name: "wide3", gen: func() *bench.Workload { return bench.Wide("wide3", 3) }})
	if err != nil {
		t.Fatal(err)
	}
	if p.steps != 5 {
		t.Fatalf("%d steps, want 5", p.steps)
	}
	sink := p.def.Workflow.Steps["sink"]
	if sink.Type != stepType || len(sink.DependsOn) != 3 || string(sink.Input) != stepInput {
		t.Errorf("sink: %s %v %s", sink.Type, sink.DependsOn, sink.Input)
	}
}

// BenchmarkStepTypes compares the built-in step types that can serve as a
// no-op: an input step with a datum (what weftdist uses), a process step
// with a datum and no rules, and a process step with no rules passing the
// flowing data on (here one dependency's output).
func BenchmarkStepTypes(b *testing.B) {
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, typ, input string }{
		{"input-data", "input", `{"data":1}`},
		{"process-data", "process", `{"data":1}`},
		{"process-flowing", "process", `{}`},
	} {
		exec, err := reg.Lookup(c.typ)
		if err != nil {
			b.Fatal(err)
		}
		sc := &weft.StepContext{RunID: "r", StepID: "s", Attempt: 1, Input: json.RawMessage(c.input), Data: json.RawMessage(`1`)}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := exec.Execute(context.Background(), sc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStatementKey checks how statements are named in the wire counts.
func TestStatementKey(t *testing.T) {
	for q, want := range map[string]string{
		"BEGIN": "BEGIN",
		"SELECT s.run_seq, s.idx, s.step_id, s.type, s.pool, s.priority\n\t FROM steps s WHERE s.key = ANY($1)": "SELECT … FROM steps s WHERE s.key = ANY($1)",
		"SELECT min(retry_at) FROM steps WHERE status = 'retrying'":                                             "SELECT min(retry_at) FROM steps WHERE status = 'retrying'",
	} {
		if got := statementKey(q); got != want {
			t.Errorf("statementKey(%q) = %q, want %q", q, got, want)
		}
	}
}
