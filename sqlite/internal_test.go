package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// exec runs a statement on the writer connection, outside the
// operations.
func (s *Store) execWriter(q string) error {
	return s.do(context.Background(), "test", func(tx *wtx) error {
		_, err := tx.w.exec(q)
		return err
	})
}

// TestDiskFull: a write that does not fit fails with a clear error and
// leaves nothing behind; the store goes on working once there is room.
// The full disk is SQLite's max_page_count.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "weft.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := func(n int) []weft.PlanStep {
		steps := make([]weft.PlanStep, n)
		for i := range steps {
			steps[i] = weft.PlanStep{ID: fmt.Sprintf("step-with-a-longish-name-%06d", i), Type: "test", Sink: true}
		}
		return steps
	}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "small"}, Steps: plan(2), Now: base}); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.rdb.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := s.execWriter(fmt.Sprintf("PRAGMA max_page_count = %d", pages+5)); err != nil {
		t.Fatal(err)
	}

	// A big run and, in the same transaction or not, a claim.
	var wg sync.WaitGroup
	var createErr, claimErr error
	wg.Go(func() {
		_, _, createErr = s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "big"}, Steps: plan(20_000), Now: base})
	})
	wg.Go(func() {
		_, claimErr = s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 1, Now: base, LeaseUntil: base.Add(time.Minute)})
	})
	wg.Wait()
	if createErr == nil || !strings.Contains(createErr.Error(), "full") {
		t.Errorf("CreateRun on a full disk: %v; want an error saying the disk is full", createErr)
	}
	t.Log(createErr, claimErr)
	if _, err := s.Run(ctx, "big"); !errors.Is(err, weft.ErrNotFound) {
		t.Errorf("Run(big) after the failed CreateRun: %v; want ErrNotFound", err)
	}
	var n int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM steps WHERE run_seq NOT IN (SELECT seq FROM runs)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("steps without a run: %d, %v", n, err)
	}

	// Room again: the small run goes on as if nothing happened (the claim
	// made with the failed transaction, if it was, was undone with it).
	if err := s.execWriter("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 5, Now: base, LeaseUntil: base.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	want := 2
	if claimErr == nil {
		want = 1 // the first claim committed
	}
	if len(res.Claims) != want {
		t.Errorf("claimed %d steps; want %d", len(res.Claims), want)
	}
	ids, err := s.UnfinishedRuns(ctx)
	if err != nil || !slices.Equal(ids, []string{"small"}) {
		t.Errorf("UnfinishedRuns = %q, %v", ids, err)
	}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "big"}, Steps: plan(20_000), Now: base}); err != nil {
		t.Errorf("CreateRun once there is room: %v", err)
	}
}

// TestGroupCommit: completions arriving together share transactions, and
// each caller gets its own result.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "weft.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 400
	steps := make([]weft.PlanStep, n)
	for i := range steps {
		steps[i] = weft.PlanStep{ID: fmt.Sprintf("s%d", i), Type: "test", Sink: true}
	}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: steps, Now: base}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: n, Now: base, LeaseUntil: base.Add(time.Minute)})
	if err != nil || len(res.Claims) != n {
		t.Fatalf("Claim = %d claims, %v", len(res.Claims), err)
	}
	tx0, ops0 := s.stats.transactions.Load(), s.stats.operations.Load()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k, c := range res.Claims {
		wg.Go(func() {
			l := c.Lease()
			if k%10 == 0 {
				l.Attempt = 2 // not the current attempt: lease lost, alone
			}
			_, errs[k] = s.Finish(ctx, &weft.StepFinish{Lease: l, Now: base, Status: weft.StepSucceeded,
				Output: []byte(fmt.Sprintf("%d", k))})
		})
	}
	wg.Wait()
	for k, err := range errs {
		if lost := k%10 == 0; lost != errors.Is(err, weft.ErrLeaseLost) || (!lost && err != nil) {
			t.Errorf("Finish %d: %v", k, err)
		}
	}
	txs, ops := s.stats.transactions.Load()-tx0, s.stats.operations.Load()-ops0
	t.Logf("%d operations in %d transactions", ops, txs)
	if ops != n || txs >= n/2 {
		t.Errorf("%d operations in %d transactions; want %d in fewer than %d", ops, txs, n, n/2)
	}
	list, err := s.Steps(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for k, st := range list {
		want := weft.StepSucceeded
		if k%10 == 0 {
			want = weft.StepRunning
		}
		if st.Status != want {
			t.Errorf("step %d is %s; want %s", k, st.Status, want)
		}
	}
}

// TestAdmitPanics: a panic in Admit reaches the caller of Claim, and the
// claim is undone.
func TestAdmitPanics(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "weft.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	res, err := s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 2, Now: base, LeaseUntil: base.Add(time.Minute)})
	if err != nil || len(res.Claims) != 2 || res.Claims[0].Attempt != 1 {
		t.Errorf("Claim after the panic = %v, %v; want both steps, attempt 1", res, err)
	}
}
