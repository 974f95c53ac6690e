package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/postgres"
)

var base = time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)

// stores opens n stores on one schema, as n processes would: each has its
// own pool of connections and its own writers.
func stores(t *testing.T, n int, opts *postgres.Options) []*postgres.Store {
	t.Helper()
	schema := newSchema(t)
	out := make([]*postgres.Store, n)
	for k := range out {
		out[k] = openIn(t, schema, opts)
	}
	return out
}

func claimReq(worker string, max int, now time.Time) *weft.ClaimRequest {
	return &weft.ClaimRequest{Worker: worker, Max: max, Now: now, LeaseUntil: now.Add(time.Hour)}
}

// TestConcurrentFanIn: the parents of one fan-in step, finished at once
// from goroutines of four stores (separate connections, separate
// transactions), make the child ready exactly once, with every parent's
// output among its dependencies.
func TestConcurrentFanIn(t *testing.T) {
	ctx := context.Background()
	ss := stores(t, 4, &postgres.Options{Writers: 4, MaxBatch: 1})
	const parents = 16
	for round := range 8 {
		steps := make([]weft.PlanStep, parents+1)
		deps := make([]int32, parents)
		for i := range parents {
			steps[i] = weft.PlanStep{ID: fmt.Sprintf("p%02d", i), Type: "test"}
			deps[i] = int32(i)
		}
		steps[parents] = weft.PlanStep{ID: "child", Type: "test", Deps: deps, Sink: true}
		id := fmt.Sprintf("fanin%d", round)
		if _, _, err := ss[0].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "wf"}, Steps: steps, Now: base}); err != nil {
			t.Fatal(err)
		}
		res, err := ss[0].Claim(ctx, claimReq("w", parents, base))
		if err != nil || len(res.Claims) != parents {
			t.Fatalf("claim of the parents = %v, %v; want %d claims", res, err, parents)
		}
		var ready atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k, c := range res.Claims {
			wg.Go(func() {
				<-start
				fr, err := ss[k%len(ss)].Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: base.Add(time.Second),
					Status: weft.StepSucceeded, Output: json.RawMessage(strconv.Quote(c.StepID))})
				if err != nil {
					t.Errorf("Finish(%s): %v", c.StepID, err)
					return
				}
				ready.Add(int32(fr.Ready))
			})
		}
		close(start)
		wg.Wait()
		if n := ready.Load(); n != 1 {
			t.Errorf("round %d: the Finish calls made %d steps ready; want 1", round, n)
		}
		child, err := ss[1].Claim(ctx, claimReq("w", 10, base.Add(2*time.Second)))
		if err != nil || len(child.Claims) != 1 || child.Claims[0].StepID != "child" {
			t.Fatalf("round %d: claim of the child = %+v, %v; want the child alone", round, child, err)
		}
		for k, d := range child.Claims[0].Deps {
			if want := fmt.Sprintf("p%02d", k); d.StepID != want || d.Status != weft.StepSucceeded || string(d.Output) != strconv.Quote(want) {
				t.Errorf("round %d: child dependency %d = %+v; want %s succeeded with its output", round, k, d, want)
			}
		}
		evs, err := ss[2].Events(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		succeeded := 0
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				t.Fatalf("round %d: event %d has seq %d", round, i, e.Seq)
			}
			if e.Type == weft.EventStepSucceeded {
				succeeded++
			}
		}
		if succeeded != parents {
			t.Errorf("round %d: %d step_succeeded events; want %d", round, succeeded, parents)
		}
	}
}

// TestMaxParallelAcrossStores: claimers of three stores (three processes)
// never hold more steps of a run at once than its MaxParallel, and every
// step runs once.
func TestMaxParallelAcrossStores(t *testing.T) {
	ctx := context.Background()
	ss := stores(t, 3, nil)
	const n, capped = 90, 3
	steps := make([]weft.PlanStep, n)
	for i := range steps {
		steps[i] = weft.PlanStep{ID: fmt.Sprintf("s%02d", i), Type: "test", Priority: int32(i % 7)}
		if i >= 30 {
			steps[i].Deps = []int32{int32(i - 30)}
		}
		steps[i].Sink = i >= 60
	}
	id := "capped"
	if _, _, err := ss[0].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "wf", MaxParallel: capped}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	var (
		inFlight atomic.Int32
		claimed  [n]atomic.Int32
		over     atomic.Int32
		done     atomic.Bool
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(time.Minute)
	take := func(cs []*weft.Claim) {
		for _, c := range cs {
			claimed[c.Index].Add(1)
			if inFlight.Add(1) > capped {
				over.Add(1)
			}
		}
	}
	for k, s := range ss {
		for w := range 4 {
			wg.Go(func() {
				name := fmt.Sprintf("s%dw%d", k, w)
				var queue []*weft.Claim
				for !done.Load() {
					if time.Now().After(deadline) {
						t.Errorf("worker %s: the run is not over after a minute", name)
						return
					}
					if len(queue) == 0 {
						res, err := s.Claim(ctx, claimReq(name, 2, base))
						if err != nil {
							t.Error(err)
							return
						}
						take(res.Claims)
						queue = res.Claims
						if len(queue) == 0 {
							time.Sleep(time.Millisecond)
						}
						continue
					}
					c := queue[0]
					queue = queue[1:]
					inFlight.Add(-1)
					f := &weft.StepFinish{Lease: c.Lease(), Now: base, Status: weft.StepSucceeded, Output: json.RawMessage(`1`)}
					if len(queue) == 0 {
						f.Next = claimReq(name, 1, base)
					}
					res, err := s.Finish(ctx, f)
					if err != nil {
						t.Error(err)
						return
					}
					if res.RunStatus.Terminal() {
						done.Store(true)
					}
					if res.Next != nil {
						take(res.Next.Claims)
						queue = append(queue, res.Next.Claims...)
					}
				}
			})
		}
	}
	wg.Wait()
	if o := over.Load(); o > 0 {
		t.Errorf("%d claims went past max_parallel %d", o, capped)
	}
	for i := range claimed {
		if c := claimed[i].Load(); c != 1 {
			t.Errorf("step %d claimed %d times; want 1", i, c)
		}
	}
	run, err := ss[1].Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != weft.RunSucceeded || run.PeakParallel < 1 || run.PeakParallel > capped {
		t.Errorf("run = %s, peak parallel %d; want succeeded, between 1 and %d", run.Status, run.PeakParallel, capped)
	}
}

// TestReclaimRace: ReclaimExpired called at once by two stores reclaims
// each expired step once.
func TestReclaimRace(t *testing.T) {
	ctx := context.Background()
	ss := stores(t, 2, nil)
	const n = 40
	for round := range 6 {
		steps := make([]weft.PlanStep, n)
		for i := range steps {
			steps[i] = weft.PlanStep{ID: fmt.Sprintf("s%02d", i), Type: "test", Sink: true}
		}
		id := fmt.Sprintf("reclaim%d", round)
		if _, _, err := ss[0].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "wf"}, Steps: steps, Now: base}); err != nil {
			t.Fatal(err)
		}
		now := base.Add(time.Duration(round) * time.Hour)
		res, err := ss[0].Claim(ctx, &weft.ClaimRequest{Worker: "dead", Max: n, Now: now, LeaseUntil: now.Add(time.Minute)})
		if err != nil || len(res.Claims) != n {
			t.Fatalf("claim = %v, %v; want %d", res, err, n)
		}
		var total atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, s := range ss {
			for range 2 {
				wg.Go(func() {
					<-start
					k, err := s.ReclaimExpired(ctx, now.Add(2*time.Minute))
					if err != nil {
						t.Error(err)
					}
					total.Add(int32(k))
				})
			}
		}
		close(start)
		wg.Wait()
		if got := total.Load(); got != n {
			t.Errorf("round %d: the racing calls reclaimed %d steps; want %d", round, got, n)
		}
		list, err := ss[1].Steps(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range list {
			if st.Status != weft.StepReady || st.Worker != "" || st.Attempts != 1 {
				t.Errorf("round %d: step %s = %s worker %q attempts %d; want ready, no worker, 1 attempt", round, st.StepID, st.Status, st.Worker, st.Attempts)
			}
		}
		again, err := ss[1].Claim(ctx, &weft.ClaimRequest{Worker: "live", Max: n, Now: now.Add(3 * time.Minute), LeaseUntil: base.Add(1000 * time.Hour)})
		if err != nil || len(again.Claims) != n || again.Claims[0].Attempt != 2 {
			t.Fatalf("claim after reclaim = %d claims, %v; want %d, attempt 2", len(again.Claims), err, n)
		}
	}
}

// TestAdmitPanics: a panic in Admit reaches the caller of Claim, and the
// claim is undone.
func TestAdmitPanics(t *testing.T) {
	ctx := context.Background()
	s := open(t, nil)
	steps := []weft.PlanStep{{ID: "a", Type: "test"}, {ID: "b", Type: "test", Sink: true}}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v; want boom", v)
			}
		}()
		s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 2, Now: base, LeaseUntil: base.Add(time.Minute),
			Admit: func(c *weft.Claim) bool {
				if c.StepID == "b" {
					panic("boom")
				}
				return true
			}})
		t.Errorf("Claim returned")
	}()
	res, err := s.Claim(ctx, claimReq("w", 2, base))
	if err != nil || len(res.Claims) != 2 || res.Claims[0].Attempt != 1 {
		t.Errorf("Claim after the panic = %v, %v; want both steps, attempt 1", res, err)
	}
}

// TestWake: a run created through one store wakes the listeners of
// another; a listener whose connection is cut connects again and wakes
// its reader.
func TestWake(t *testing.T) {
	ctx := context.Background()
	ss := stores(t, 2, nil)
	wake := ss[0].Wake()
	wait := func(what string) {
		t.Helper()
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up %s", what)
		}
	}
	wait("once listening") // the first connection wakes
	steps := []weft.PlanStep{{ID: "a", Type: "test", Sink: true}}
	if _, _, err := ss[1].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r1"}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	wait("after a run was created by another store")

	// Cut the listener's connection.
	if cut := queryInt(t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, "weft wake-ups "+ss[0].Schema()); cut != 1 {
		t.Fatalf("terminated %d listeners; want 1", cut)
	}
	wait("after the listener connected again")
	if _, _, err := ss[1].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r2"}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	wait("after a run was created, once connected again")
}

// queryInt runs a query that returns one integer, on a connection of its
// own.
func queryInt(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
