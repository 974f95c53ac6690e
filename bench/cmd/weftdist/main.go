// Command weftdist measures weft distributed over PostgreSQL: steps per
// second with 1 and 2 weft worker processes, and the dispatch latency of a
// step (ready to started), against baselines measured in the same
// invocation.
//
// It builds weft, then runs each workload (-workloads) in these variants:
//
//   - "inmem in-process": an engine in this process on the in-memory
//     store, running the steps itself (the engine's floor);
//   - "postgres in-process": the same engine over the PostgreSQL store, no
//     other process;
//   - "N worker(s)", for each N of -workers: N weft worker processes
//     (--store postgres://...&weft_schema=S --concurrency C) run the steps,
//     while this process only submits the run (an engine with NoWorker)
//     and waits for its end.
//
// Every PostgreSQL run gets a fresh schema (weftdist_RANDOM), dropped after
// it; worker processes are started (and have printed their first line)
// before the clock starts, and stopped after the run. The workloads have
// the shapes of the bench package's (wide10k: a root, 10,000 steps, a sink;
// layered100k: 100 layers of 1,000 steps, each depending on 3 of the layer
// before; chain1k and chain10k: chains), with built-in steps only, since
// the workers run the real weft binary: each step is an input step with a
// small constant datum. The generated document is parsed by
// workflow.Parse once, outside the measured time.
//
// A run's wall time is from just before Submit to the run's end as the
// store records it (when its last step's executor returned; every process
// runs on this machine's clock). Steps per second are steps over wall
// time. After each run, outside the measured time, it checks the run
// succeeded; that the store holds every step succeeded at its first
// attempt, none started before it was ready; that the events show every
// step started exactly once, by the engine or by one of the workers, and
// succeeded once. A failed check stops the program with an error, except
// steps that succeeded after more than one attempt (a lease that expired
// and was reclaimed, say): those runs are kept, counted in the table's
// re-runs column and explained after it, and the program exits with an
// error once the report is printed.
//
// Latencies, from the steps' records (p50 and p99 over a run's steps, the
// median over rounds):
//
//   - dispatch: from a step becoming ready (its last dependency's executor
//     returned) to its attempt starting on a worker (its claim came back).
//     On wide and layered workloads every slot is busy most of the time, so
//     this is mostly waiting for a free slot; on a chain (each step ready
//     only once the one before ended, so a slot is always free) it is the
//     dispatch alone: recording the previous step's success and claiming
//     the next.
//   - queue: the store's own queue wait (ready to the claim request),
//     which is 0 for a step claimed by the worker that finished its
//     dependency in the same store call.
//
// It also reports CPU time per step (Linux only, read from /proc): of the
// weft processes that ran the steps (this one in-process, else the
// workers), of this process as the submitter of worker variants, and of
// the PostgreSQL backends serving the run's connections (found by their
// application_name, the run's schema; the server's background processes
// are not counted).
//
// -cpuprofile DIR adds a round per workload, not counted but checked, in
// which every worker writes its CPU profile (weft worker --cpuprofile) and
// the in-process PostgreSQL variant profiles this process. In that round,
// since pg_stat_statements needs a server restarted with it preloaded, it
// also samples pg_stat_activity for the run's backends every 5 ms (what
// they were doing: idle, waiting for their client inside a transaction,
// running which statement, waiting for a lock or for WAL), and routes the
// connections that run the steps through a proxy that counts, per step,
// round trips, transactions, statements executed, bytes, and the calls of
// each statement. The proxy adds latency, so that round's times are not
// comparable with the table's.
//
// Rounds: each workload runs every variant -warmup times (not counted),
// then -n rounds, each running every variant once, in an order that
// rotates from round to round, so that a busy machine slows all variants
// alike. The table shows medians; compare its ratios, not times from
// different invocations.
//
// Usage:
//
//	go run ./bench/cmd/weftdist [-workloads wide10k,layered100k,chain1k] [-workers 1,2] [-concurrency 16] [-n 3] [-warmup 1] [-dsn postgres://...] [-cpuprofile DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// envDSN names the environment variable that gives -dsn its default, as for
// the PostgreSQL store's tests.
const envDSN = "WEFT_TEST_POSTGRES_DSN"

// fallbackDSN is -dsn's default when envDSN is not set.
const fallbackDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// config is what one invocation measures.
type config struct {
	specs       []spec
	workers     []int
	concurrency int
	rounds      int
	warmup      int
	dsn         string
	profileDir  string
	// bin is a weft binary to use; empty builds one.
	bin string
}

func main() {
	workloads := flag.String("workloads", defaultWorkloads, "comma-separated workloads: wide10k, layered100k, chain1k, chain10k")
	workers := flag.String("workers", "1,2", "comma-separated numbers of weft worker processes, one variant each")
	concurrency := flag.Int("concurrency", 16, "each worker's --concurrency, and the in-process engines' MaxParallelSteps")
	n := flag.Int("n", 3, "measured rounds (each runs every variant once); the table shows medians")
	warmup := flag.Int("warmup", 1, "rounds run first and not counted")
	dsn := flag.String("dsn", defaultDSN(), "PostgreSQL URL (default $"+envDSN+", else "+fallbackDSN+")")
	profileDir := flag.String("cpuprofile", "", "write CPU profiles of an extra, uncounted round to `DIR` (one per worker, one of the in-process postgres variant)")
	flag.Parse()
	cfg := config{concurrency: *concurrency, rounds: *n, warmup: *warmup, dsn: *dsn, profileDir: *profileDir}
	var err error
	if cfg.specs, err = specsByName(*workloads); err == nil {
		cfg.workers, err = parseWorkers(*workers)
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = run(ctx, os.Stdout, os.Stderr, &cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "weftdist:", err)
		os.Exit(1)
	}
}

// defaultDSN returns $WEFT_TEST_POSTGRES_DSN, else fallbackDSN.
func defaultDSN() string {
	if d := os.Getenv(envDSN); d != "" {
		return d
	}
	return fallbackDSN
}

// result is what was measured of one workload.
type result struct {
	name  string
	steps int
	chain bool
	// runs holds the measured runs by variant name.
	runs map[string][]*measurement
	// profiled holds the runs of the profiling round by variant name.
	profiled map[string]*measurement
}

// run measures cfg's workloads, writing the report to out and progress to
// progress.
func run(ctx context.Context, out, progress io.Writer, cfg *config) error {
	switch {
	case cfg.rounds < 1:
		return fmt.Errorf("-n must be at least 1")
	case cfg.warmup < 0:
		return fmt.Errorf("-warmup must be 0 or more")
	case cfg.concurrency < 1:
		return fmt.Errorf("-concurrency must be at least 1")
	}
	if _, err := storeURL(cfg.dsn, "check", "check"); err != nil {
		return err
	}
	e := &env{dsn: cfg.dsn, bin: cfg.bin, concurrency: cfg.concurrency, profileDir: cfg.profileDir, poll: 10 * time.Millisecond}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	admin, err := pgx.Connect(cctx, cfg.dsn)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL (-dsn): %w", err)
	}
	defer admin.Close(context.Background())
	e.admin = admin
	var pgVersion string
	if err := admin.QueryRow(ctx, `SHOW server_version`).Scan(&pgVersion); err != nil {
		return fmt.Errorf("PostgreSQL version: %w", err)
	}
	if e.bin == "" {
		dir, err := os.MkdirTemp("", "weftdist")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if e.bin, err = buildWeft(dir); err != nil {
			return err
		}
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	vs := variants(cfg.workers)
	begin := time.Now()
	// What is measured: the tree weft was built from.
	if rev, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		fmt.Fprintf(out, "weft at %s", rev)
	}
	dsnShown := cfg.dsn
	if u, err := url.Parse(cfg.dsn); err == nil {
		dsnShown = u.Redacted()
	}
	fmt.Fprintf(out, "weftdist %s  %s/%s  %s  NumCPU=%d GOMAXPROCS=%d\nPostgreSQL %s at %s  concurrency=%d  rounds=%d (+%d warm-up)\n",
		begin.UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		runtime.NumCPU(), runtime.GOMAXPROCS(0), pgVersion, dsnShown, cfg.concurrency, cfg.rounds, cfg.warmup)
	var results []*result
	for _, s := range cfg.specs {
		p, err := prepare(s)
		if err != nil {
			return err
		}
		res := &result{name: p.name, steps: p.steps, chain: p.chain, runs: map[string][]*measurement{}}
		fmt.Fprintf(progress, "%s (%d steps): ", p.name, p.steps)
		for round := -cfg.warmup; round < cfg.rounds; round++ {
			for k := range vs {
				v := vs[(k+max(round, 0))%len(vs)]
				tag := fmt.Sprintf("r%d", round)
				if round < 0 {
					tag = fmt.Sprintf("warm%d", -round)
				}
				m, err := e.runBounded(ctx, p, v, tag, false)
				if err != nil {
					fmt.Fprintln(progress)
					return err
				}
				if round >= 0 {
					res.runs[v.name] = append(res.runs[v.name], m)
				}
				fmt.Fprint(progress, ".")
			}
		}
		fmt.Fprintln(progress)
		if cfg.profileDir != "" {
			if res.profiled, err = e.profileRound(ctx, p, vs); err != nil {
				return err
			}
			fmt.Fprintf(progress, "%s: CPU profiles in %s\n", p.name, cfg.profileDir)
		}
		results = append(results, res)
	}
	failed := report(out, results, vs)
	fmt.Fprintf(out, "total time %s\n", time.Since(begin).Round(time.Second))
	if failed > 0 {
		return fmt.Errorf("%d runs had steps that ran more than once (see the report)", failed)
	}
	return nil
}

// runBounded is runOnce within 15 minutes.
func (e *env) runBounded(ctx context.Context, p *prepared, v variant, tag string, profile bool) (*measurement, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, 15*time.Minute, fmt.Errorf("%s / %s: no end after 15 minutes", p.name, v.name))
	defer cancel()
	return e.runOnce(ctx, p, v, tag, profile)
}

// profileRound runs p once more in every worker variant with the workers'
// CPU profiles on, and once in the in-process PostgreSQL variant with this
// process's CPU profile on; in both, the run's backends are sampled and the
// connections that run the steps go through a counting proxy. Its runs are
// checked but not counted; it returns them by variant name.
func (e *env) profileRound(ctx context.Context, p *prepared, vs []variant) (map[string]*measurement, error) {
	out := map[string]*measurement{}
	for _, v := range vs {
		switch {
		case v.workers > 0:
			m, err := e.runBounded(ctx, p, v, "prof", true)
			if err != nil {
				return nil, err
			}
			out[v.name] = m
		case v.name == variantPostgres:
			f, err := os.Create(filepath.Join(e.profileDir, p.name+"-"+v.slug+".pprof"))
			if err != nil {
				return nil, err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return nil, err
			}
			m, err := e.runBounded(ctx, p, v, "prof", true)
			pprof.StopCPUProfile()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, err
			}
			out[v.name] = m
		}
	}
	return out, nil
}
