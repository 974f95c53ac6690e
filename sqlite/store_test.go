package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/sqlite"
	"github.com/weft-dev/weft/storetest"
)

// open opens a store in a new file of the test's temporary directory and
// closes it when the test ends.
func open(t testing.TB, opts *sqlite.Options) *sqlite.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "weft.db"), opts)
}

// openAt opens the store at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts *sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) weft.Store { return open(t, nil) })
}

// TestConformanceNoCache runs the suite with every operation in a
// transaction of its own, and with the writer keeping no run in memory
// from one transaction to the next (so that runs are read back from the
// file all the time).
func TestConformanceNoCache(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite again, with other options")
	}
	storetest.Run(t, func(t *testing.T) weft.Store {
		if strings.HasSuffix(t.Name(), "/LongSkipChain") {
			t.Skip("reading back a 100,000-step run at every operation only makes the suite slow")
		}
		return open(t, &sqlite.Options{MaxBatch: 1, CacheSteps: 1})
	})
}

var (
	ctx  = context.Background()
	base = time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)
)

// chain is a plan of n steps, each depending on the one before.
func chain(n int) []weft.PlanStep {
	steps := make([]weft.PlanStep, n)
	for i := range steps {
		steps[i] = weft.PlanStep{ID: fmt.Sprintf("s%d", i), Type: "test", Priority: int32(n - i)}
		if i > 0 {
			steps[i].Deps = []int32{int32(i - 1)}
		}
	}
	steps[n-1].Sink = true
	return steps
}

func create(t *testing.T, s weft.Store, id string, steps []weft.PlanStep) {
	t.Helper()
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: id, WorkflowID: "wf"}, Steps: steps, Now: base}); err != nil {
		t.Fatalf("CreateRun(%s): %v", id, err)
	}
}

// step claims the one ready step and finishes it as succeeded with
// output out.
func step(t *testing.T, s weft.Store, now time.Time, out string) *weft.Claim {
	t.Helper()
	res, err := s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 1, Now: now, LeaseUntil: now.Add(time.Minute)})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("Claim = %v, %v; want one claim", res, err)
	}
	c := res.Claims[0]
	if _, err := s.Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepSucceeded, Output: json.RawMessage(out)}); err != nil {
		t.Fatalf("Finish(%s): %v", c.StepID, err)
	}
	return c
}

// rawDB opens the file with plain database/sql, for what the store does
// not show.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	var v int
	if err := rawDB(t, path).QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	create(t, s, "r", chain(2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v, want := userVersion(t, path), sqlite.SchemaVersion(); v != want || want < 1 {
		t.Errorf("user_version of a new database = %d; want the latest, %d", v, want)
	}
	var mode string
	if err := rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}

	// Reopened: the same version, the data kept.
	s = openAt(t, path, nil)
	if run, err := s.Run(ctx, "r"); err != nil || run.Status != weft.RunPending {
		t.Errorf("Run after reopening = %v, %v; want the pending run", run, err)
	}
	if v := userVersion(t, path); v != sqlite.SchemaVersion() {
		t.Errorf("user_version after reopening = %d", v)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	newer := sqlite.SchemaVersion() + 1
	db := rawDB(t, path)
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, newer)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(path, nil)
	want := fmt.Sprintf("database schema version %d is newer than this weft supports (%d): upgrade weft", newer, sqlite.SchemaVersion())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open of a newer database: %v; want an error saying %q", err, want)
	}
	if v := userVersion(t, path); v != newer {
		t.Errorf("user_version after the refusal = %d; want it untouched, %d", v, newer)
	}
}

func TestNotADatabase(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	b := make([]byte, 8192)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(garbage, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(garbage, nil)
	if err == nil || !strings.Contains(err.Error(), "not a SQLite database") || !strings.Contains(err.Error(), garbage) {
		t.Errorf("Open of a garbage file: %v; want an error naming the file and saying it is not a SQLite database", err)
	}
	if got, _ := os.ReadFile(garbage); !slices.Equal(got, b) {
		t.Errorf("Open changed the garbage file")
	}

	// A SQLite database of another application.
	other := filepath.Join(dir, "other.db")
	db := rawDB(t, other)
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(other, nil)
	if err == nil || !strings.Contains(err.Error(), "not a weft database") {
		t.Errorf("Open of another application's database: %v; want \"not a weft database\"", err)
	}
	var mode string
	if err := rawDB(t, other).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("journal mode of the other application's database = %q, %v; want it untouched (delete)", mode, err)
	}
}

func TestBadPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		filepath.Join(dir, "no-such-dir", "weft.db"),
		filepath.Join(file, "weft.db"), // under a file
		dir,                            // a directory
	} {
		if s, err := sqlite.Open(path, nil); err == nil {
			s.Close()
			t.Errorf("Open(%s): no error", path)
		} else if !strings.Contains(err.Error(), "cannot open") {
			t.Errorf("Open(%s): %v; want \"cannot open\"", path, err)
		}
	}
	if _, err := sqlite.Open("", nil); err == nil {
		t.Errorf("Open(\"\"): no error")
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes read-only directories")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err := sqlite.Open(filepath.Join(dir, "weft.db"), nil)
	if err == nil {
		t.Fatalf("Open in a read-only directory: no error")
	}
	t.Log(err)
}

// TestLocked: a database another connection holds for writing is waited
// for BusyTimeout, then refused with a clear error, without hanging.
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	s := openAt(t, path, &sqlite.Options{BusyTimeout: 100 * time.Millisecond})
	create(t, s, "r", chain(2))

	db := rawDB(t, path)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 1, Now: base, LeaseUntil: base.Add(time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("Claim while another connection writes: %v; want \"locked\"", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Claim took %s", d)
	}
	// Reads go on (WAL).
	if _, err := s.Run(ctx, "r"); err != nil {
		t.Errorf("Run while another connection writes: %v", err)
	}
	// Open too waits and fails.
	if s2, err := sqlite.Open(path, &sqlite.Options{BusyTimeout: 100 * time.Millisecond}); err == nil {
		s2.Close()
		t.Errorf("Open while another connection writes: no error")
	} else if !strings.Contains(err.Error(), "locked") {
		t.Errorf("Open while another connection writes: %v; want \"locked\"", err)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	// Once released, all is well.
	step(t, s, base.Add(time.Second), `1`)
}

// TestReopen: what was committed is there after Close and Open, and the
// run goes on.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	create(t, s, "r", chain(3))
	step(t, s, base.Add(time.Second), `{"n": 1}`)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, "r"); !errors.Is(err, weft.ErrClosed) {
		t.Errorf("Run after Close: %v; want ErrClosed", err)
	}
	if _, err := s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 1, Now: base}); !errors.Is(err, weft.ErrClosed) {
		t.Errorf("Claim after Close: %v; want ErrClosed", err)
	}

	s = openAt(t, path, nil)
	steps, err := s.Steps(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if steps[0].Status != weft.StepSucceeded || string(steps[0].Output) != `{"n": 1}` || steps[1].Status != weft.StepReady {
		t.Errorf("steps after reopening: %s %s %s %s; want s0 succeeded with its output, s1 ready",
			steps[0].Status, steps[0].Output, steps[1].StepID, steps[1].Status)
	}
	evs, err := s.Events(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Type)+":"+e.StepID)
	}
	if want := []string{"run_created:", "run_started:", "step_started:s0", "step_succeeded:s0"}; !slices.Equal(kinds, want) {
		t.Errorf("events after reopening = %q; want %q", kinds, want)
	}
	if ids, err := s.UnfinishedRuns(ctx); err != nil || !slices.Equal(ids, []string{"r"}) {
		t.Errorf("UnfinishedRuns after reopening = %q, %v", ids, err)
	}
	c := step(t, s, base.Add(2*time.Second), `2`)
	if len(c.Deps) != 1 || string(c.Deps[0].Output) != `{"n": 1}` {
		t.Errorf("claim after reopening has deps %+v; want s0's output", c.Deps)
	}
	step(t, s, base.Add(3*time.Second), `3`)
	if run, err := s.Run(ctx, "r"); err != nil || run.Status != weft.RunSucceeded || string(run.Result) != `3` {
		t.Errorf("run = %+v, %v; want succeeded with result 3", run, err)
	}
}

// TestTwoStores: two stores on one file (as two processes would be) see
// each other's changes: the writer's picture is dropped when another
// connection committed.
func TestTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	a := openAt(t, path, nil)
	b := openAt(t, path, nil)
	create(t, a, "r", chain(3))
	res, err := a.Claim(ctx, &weft.ClaimRequest{Worker: "a", Max: 5, Now: base, LeaseUntil: base.Add(time.Minute)})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("Claim = %v, %v", res, err)
	}
	// b sees the claim, and cancels the run.
	if steps, err := b.Steps(ctx, "r"); err != nil || steps[0].Status != weft.StepRunning {
		t.Fatalf("b's view of s0: %v", err)
	}
	if _, err := b.CancelRun(ctx, &weft.RunCancel{RunID: "r", Status: weft.RunCanceled, Now: base.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	// a, which held the run in memory, knows.
	_, err = a.Finish(ctx, &weft.StepFinish{Lease: res.Claims[0].Lease(), Now: base.Add(2 * time.Second), Status: weft.StepSucceeded})
	if !errors.Is(err, weft.ErrLeaseLost) {
		t.Errorf("Finish after another store canceled the run: %v; want ErrLeaseLost", err)
	}
	// Runs b creates are claimed by a.
	create(t, b, "r2", chain(1))
	res, err = a.Claim(ctx, &weft.ClaimRequest{Worker: "a", Max: 5, Now: base, LeaseUntil: base.Add(time.Minute)})
	if err != nil || len(res.Claims) != 1 || res.Claims[0].RunID != "r2" {
		t.Errorf("Claim after b created r2 = %v, %v; want r2's step", res, err)
	}
	// And b sees that.
	if _, err := b.Finish(ctx, &weft.StepFinish{Lease: res.Claims[0].Lease(), Now: base.Add(3 * time.Second), Status: weft.StepSucceeded,
		Output: json.RawMessage(`1`)}); err != nil {
		t.Errorf("b finishing a's claim: %v", err)
	}
	if run, err := a.Run(ctx, "r2"); err != nil || run.Status != weft.RunSucceeded {
		t.Errorf("r2 = %v, %v; want succeeded", run, err)
	}
}

// TestContextCanceled: an operation whose context is done does nothing.
func TestContextCanceled(t *testing.T) {
	s := open(t, nil)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.CreateRun(c, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: chain(1), Now: base}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateRun with a canceled context: %v", err)
	}
	if _, err := s.Run(ctx, "r"); !errors.Is(err, weft.ErrNotFound) {
		t.Errorf("Run: %v; want ErrNotFound", err)
	}
}

// TestCrash: a process killed (SIGKILL) right after Finish returned loses
// nothing Finish had returned. The test runs itself as the process.
func TestCrash(t *testing.T) {
	if path := os.Getenv("WEFT_SQLITE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	path := filepath.Join(t.TempDir(), "weft.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
		cmd.Env = append(os.Environ(), "WEFT_SQLITE_CRASH_CHILD="+path, "WEFT_SQLITE_CRASH_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		last := -1
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "finished "); ok {
				last, _ = strconv.Atoi(n)
			}
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child: %v; want killed", err)
		}
		if last < 0 {
			t.Fatalf("the child finished nothing")
		}
		s, err := sqlite.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		steps, err := s.Steps(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, st := range steps {
			if st.Status == weft.StepSucceeded {
				if string(st.Output) != strconv.Quote(st.StepID) {
					t.Errorf("step %s has output %s", st.StepID, st.Output)
				}
				done++
			}
		}
		if done != last+1 {
			t.Errorf("round %d: the child reported steps up to %d finished; %d steps succeeded in the database; want %d",
				round, last, done, last+1)
		}
		s.Close()
	}
}

// crashChild works on run r of the database at path (creating it the
// first time), reports each step it finished, and kills itself.
func crashChild(path string) {
	s, err := sqlite.Open(path, nil)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	round, _ := strconv.Atoi(os.Getenv("WEFT_SQLITE_CRASH_ROUND"))
	if round == 0 {
		if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: chain(300), Now: base}); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
	}
	// The last round's steps were reclaimed by nobody: their leases ran
	// out (the claims are made at base, leased for a minute).
	now := base.Add(time.Duration(round+1) * time.Hour)
	if _, err := s.ReclaimExpired(ctx, now); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	for k := 0; k < 40; k++ {
		res, err := s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 1, Now: now, LeaseUntil: now.Add(time.Minute)})
		if err != nil || len(res.Claims) != 1 {
			fmt.Println("claim:", err)
			os.Exit(2)
		}
		c := res.Claims[0]
		if _, err := s.Finish(ctx, &weft.StepFinish{Lease: c.Lease(), Now: now, Status: weft.StepSucceeded,
			Output: json.RawMessage(strconv.Quote(c.StepID))}); err != nil {
			fmt.Println("finish:", err)
			os.Exit(2)
		}
		fmt.Printf("finished %d\n", c.Index)
		os.Stdout.Sync()
	}
	// Claim one more and die holding it.
	s.Claim(ctx, &weft.ClaimRequest{Worker: "w", Max: 1, Now: now, LeaseUntil: now.Add(time.Minute)})
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestDuplicateStepIDs(t *testing.T) {
	s := open(t, nil)
	steps := []weft.PlanStep{{ID: "a", Type: "test"}, {ID: "a", Type: "test", Sink: true}}
	_, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "r"}, Steps: steps, Now: base})
	if weft.ErrorCode(err) != weft.CodeInvalid {
		t.Errorf("CreateRun with two steps a: %v; want an invalid error", err)
	}
	if _, err := s.Run(ctx, "r"); !errors.Is(err, weft.ErrNotFound) {
		t.Errorf("Run: %v; want ErrNotFound", err)
	}
}

// TestPathWithOddCharacters: a path is a path, not a URI.
func TestPathWithOddCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with=odd&chars#and%20more")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "weft.db")
	s := openAt(t, path, nil)
	create(t, s, "r", chain(1))
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %s: %v", path, err)
	}
	if got := s.Path(); got != path {
		t.Errorf("Path() = %q; want %q", got, path)
	}
	if run, err := s.Run(ctx, "r"); err != nil || run.ID != "r" {
		t.Errorf("Run = %v, %v", run, err)
	}
}
