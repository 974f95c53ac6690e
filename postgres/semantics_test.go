package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// claimIDs claims up to max steps at now and returns their ids.
func claimIDs(t *testing.T, s weft.Store, max int, now time.Time) []*weft.Claim {
	t.Helper()
	res, err := s.Claim(context.Background(), claimReq("w", max, now))
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return res.Claims
}

func ids(cs []*weft.Claim) []string {
	out := make([]string, len(cs))
	for k, c := range cs {
		out[k] = c.StepID
	}
	return out
}

// TestAdmissionOrder: a capped run's steps beyond its MaxParallel wait as
// queued (reported ready) and are admitted highest priority first as
// slots free up, a retry whose delay is over competing with them by
// priority.
func TestAdmissionOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, nil)
	var steps []weft.PlanStep
	for i, p := range []int32{1, 5, 3, 4, 2, 6} {
		steps = append(steps, weft.PlanStep{ID: fmt.Sprintf("p%d", p), Type: "test", Priority: p, Sink: true})
		_ = i
	}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r", MaxParallel: 2}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Steps(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if st.Status != weft.StepReady {
			t.Errorf("step %s is %s; want ready (queued steps are reported ready)", st.StepID, st.Status)
		}
	}
	first := claimIDs(t, s, 10, base.Add(time.Second))
	if got := ids(first); !slices.Equal(got, []string{"p6", "p5"}) {
		t.Fatalf("first claim = %q; want [p6 p5] (the two highest priorities)", got)
	}
	// p6 retries; its slot goes to p4.
	if _, err := s.Finish(ctx, &weft.StepFinish{Lease: first[0].Lease(), Now: base.Add(2 * time.Second), Status: weft.StepRetrying,
		RetryAt: base.Add(10 * time.Second), Error: &weft.ErrorInfo{Code: weft.CodeUnavailable, Message: "down"}}); err != nil {
		t.Fatal(err)
	}
	if got := ids(claimIDs(t, s, 10, base.Add(3*time.Second))); !slices.Equal(got, []string{"p4"}) {
		t.Fatalf("claim after p6 retried = %q; want [p4]", got)
	}
	// p5 ends after p6's delay is over: p6 (priority 6, due) goes before
	// p3.
	res, err := s.Finish(ctx, &weft.StepFinish{Lease: first[1].Lease(), Now: base.Add(12 * time.Second), Status: weft.StepSucceeded,
		Output: json.RawMessage(`5`), Next: claimReq("w", 5, base.Add(12*time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Next.Claims); !slices.Equal(got, []string{"p6"}) || res.Next.Claims[0].Attempt != 2 {
		t.Fatalf("Next after p5 = %q; want [p6], attempt 2", got)
	}
	run, err := s.Run(ctx, "r")
	if err != nil || run.PeakParallel != 2 {
		t.Errorf("run = %+v, %v; want peak parallel 2", run, err)
	}
}

// TestLeaseIndexHint: a lease whose node index is wrong still finds its
// step by id.
func TestLeaseIndexHint(t *testing.T) {
	ctx := context.Background()
	s := open(t, nil)
	steps := []weft.PlanStep{{ID: "a", Type: "test"}, {ID: "b", Type: "test", Deps: []int32{0}, Sink: true}}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	c := claimIDs(t, s, 1, base)[0]
	l := c.Lease()
	l.Index = 7
	res, err := s.Finish(ctx, &weft.StepFinish{Lease: l, Now: base.Add(time.Second), Status: weft.StepSucceeded, Output: json.RawMessage(`1`)})
	if err != nil || res.Ready != 1 {
		t.Fatalf("Finish with a wrong index = %+v, %v; want b ready", res, err)
	}
	l.StepID = "nope"
	if _, err := s.Finish(ctx, &weft.StepFinish{Lease: l, Now: base.Add(time.Second), Status: weft.StepSucceeded}); !strings.Contains(fmt.Sprint(err), "not found") {
		t.Errorf("Finish of an unknown step = %v; want not found", err)
	}
}

// TestFreeText: messages, reasons and names that PostgreSQL's text cannot
// hold (NUL bytes, invalid UTF-8) are stored with U+FFFD instead, rather
// than failing the transaction.
func TestFreeText(t *testing.T) {
	ctx := context.Background()
	s := open(t, nil)
	steps := []weft.PlanStep{{ID: "a", Type: "test", Sink: true}}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	c := claimIDs(t, s, 1, base)[0]
	if _, err := s.Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: base, Status: weft.StepFailed,
		Error: &weft.ErrorInfo{Code: "boom", Message: "bad\x00byte \xff here"}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Steps(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got := list[0].Error; got == nil || got.Message != "bad\uFFFDbyte \uFFFD here" {
		t.Errorf("stored error = %+v; want the message with U+FFFD for the bytes text cannot hold", got)
	}
}

// TestConcurrentIdempotentCreate: CreateRun with one idempotency key from
// several stores at once creates one run, which every call returns.
func TestConcurrentIdempotentCreate(t *testing.T) {
	ctx := context.Background()
	ss := stores(t, 3, nil)
	var created atomic.Int32
	got := make([]string, 12)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for k := range got {
		wg.Go(func() {
			<-start
			run, isNew, err := ss[k%len(ss)].CreateRun(ctx, &weft.NewRun{
				Run:   weft.Run{ID: fmt.Sprintf("run%d", k), IdempotencyKey: "key"},
				Steps: []weft.PlanStep{{ID: "a", Type: "test", Sink: true}}, Now: base})
			if err != nil {
				t.Errorf("CreateRun %d: %v", k, err)
				return
			}
			if isNew {
				created.Add(1)
			}
			got[k] = run.ID
		})
	}
	close(start)
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Errorf("%d runs created; want 1", n)
	}
	for k, id := range got {
		if id != got[0] {
			t.Errorf("call %d returned run %s; call 0 returned %s", k, id, got[0])
		}
	}
	unfinished, err := ss[0].UnfinishedRuns(ctx)
	if err != nil || len(unfinished) != 1 {
		t.Errorf("UnfinishedRuns = %q, %v; want one run", unfinished, err)
	}
}

// TestWorkflowDocuments: a run's workflow document, which a store keeps
// once read, is read again once another store's RetryRun replaced it;
// ListRuns returns the documents too.
func TestWorkflowDocuments(t *testing.T) {
	ctx := context.Background()
	ss := stores(t, 2, nil)
	steps := []weft.PlanStep{{ID: "a", Type: "test", Sink: true}}
	if _, _, err := ss[0].CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r", Workflow: json.RawMessage(`{"v":1}`)}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	doc := func(s weft.Store) string {
		t.Helper()
		run, err := s.Run(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		list, _, err := s.ListRuns(ctx, nil)
		if err != nil || len(list) != 1 || string(list[0].Workflow) != string(run.Workflow) {
			t.Fatalf("ListRuns = %v, %v; want the run with workflow %s", list, err, run.Workflow)
		}
		return string(run.Workflow)
	}
	for range 2 {
		if got := doc(ss[0]); got != `{"v":1}` {
			t.Fatalf("workflow = %s; want {\"v\":1}", got)
		}
	}
	if _, err := ss[1].CancelRun(ctx, &weft.RunCancel{RunID: "r", Status: weft.RunCanceled, Now: base}); err != nil {
		t.Fatal(err)
	}
	if _, err := ss[1].RetryRun(ctx, &weft.RunRetry{RunID: "r", Now: base, Workflow: json.RawMessage(`{"v":2}`)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := doc(ss[0]); got != `{"v":2}` {
			t.Errorf("workflow after another store's RetryRun = %s; want {\"v\":2}", got)
		}
	}
}
