package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/postgres"
)

// variant is one way of running a workload.
type variant struct {
	// name names it in the report.
	name string
	// slug names it in run ids and profile files.
	slug string
	// inmem runs the workload in this process on the in-memory store.
	inmem bool
	// workers is the number of weft worker processes that run the steps;
	// 0 runs them in this process (on PostgreSQL unless inmem).
	workers int
}

// Names of the baseline variants.
const (
	variantInmem    = "inmem in-process"
	variantPostgres = "postgres in-process"
)

// variants returns the baselines and one variant per worker count.
func variants(workers []int) []variant {
	vs := []variant{{name: variantInmem, slug: "inmem", inmem: true}, {name: variantPostgres, slug: "pg"}}
	for _, n := range workers {
		name := fmt.Sprintf("%d worker", n)
		if n > 1 {
			name += "s"
		}
		vs = append(vs, variant{name: name, slug: fmt.Sprintf("%dw", n), workers: n})
	}
	return vs
}

// env is what every run of one invocation shares.
type env struct {
	// dsn is the database's URL; admin a connection to it that creates
	// nothing and drops the runs' schemas.
	dsn   string
	admin *pgx.Conn
	// bin is the weft binary the workers run.
	bin string
	// concurrency is each worker's --concurrency and the in-process
	// engines' MaxParallelSteps.
	concurrency int
	// profileDir, when set, receives the workers' CPU profiles of the
	// profiling round.
	profileDir string
	// poll is how often the end of a run is looked for in its store.
	poll time.Duration
}

// measurement is what one run measured.
type measurement struct {
	// wall is from just before Submit to the run's end as its store
	// records it (the time its last step's executor returned).
	wall time.Duration
	// submit is how long Submit took (creating the run in the store).
	submit time.Duration
	// weftCPU is the CPU time used during the run by the weft processes
	// that ran the steps: this one for in-process variants, else the
	// workers; submitCPU is this process's for worker variants (it submits
	// the run and polls for its end). pgCPU is that of the PostgreSQL
	// backends serving the run's connections, the submitter's included
	// (not the server's background processes: WAL writer, checkpointer,
	// autovacuum). Zero when they could not be read (not Linux, or a
	// remote server).
	weftCPU, submitCPU, pgCPU time.Duration
	// lat are the steps' latencies.
	lat latencies
	// byWorker is how many steps each worker (or the in-process engine)
	// started, in the order the workers were started.
	byWorker []int
	// diag is what the profiling round saw of PostgreSQL, or nil.
	diag *diagnosis
	// reruns counts the attempts beyond each step's first: 0 in a run that
	// went well (no step fails, no lease should expire). A run with
	// re-runs is kept in the table, and makes the program fail once the
	// report is printed; rerunWhy says what happened to them.
	reruns   int
	rerunWhy string
}

// diagnosis is what a profiling run saw of PostgreSQL.
type diagnosis struct {
	// activity is what the run's backends were doing, sampled.
	activity *activity
	// wire counts what the connections that ran the steps sent.
	wire *wire
}

// hostPort returns the host:port of dsn, a postgres:// URL (port 5432 when
// it names none).
func hostPort(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// newSchema returns the name of a fresh schema for one run.
func newSchema() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "weftdist_" + hex.EncodeToString(b)
}

// submitSuffix ends the application_name of the submitter's connections
// in worker variants.
const submitSuffix = "_submit"

// dropSchema drops schema and all it holds.
func (e *env) dropSchema(schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// runOnce runs p once in variant v, checks the outcome and returns what it
// measured. tag ends the run's id. Worker variants start their workers
// before the measured time and stop them after it; PostgreSQL variants
// run in a fresh schema, dropped at the end.
func (e *env) runOnce(ctx context.Context, p *prepared, v variant, tag string, profile bool) (m *measurement, err error) {
	runID := p.name + "-" + v.slug + "-" + tag
	fail := func(err error) (*measurement, error) {
		return nil, fmt.Errorf("%s / %s, run %s: %w", p.name, v.name, runID, err)
	}
	var (
		store weft.Store
		app   string     // the application_name of the run's connections
		diag  *diagnosis // when profiling PostgreSQL
	)
	if v.inmem {
		store = inmem.New()
	} else {
		schema := newSchema()
		app = schema
		defer func() {
			if derr := e.dropSchema(schema); derr != nil && err == nil {
				m, err = fail(derr)
			}
		}()
		// The run's connections are named after the schema, so that its
		// backends can be found: the workers' (or the in-process
		// engine's) SCHEMA, the submitter's SCHEMA_submit.
		name := schema
		if v.workers > 0 {
			name += submitSuffix
		}
		dsn, err := withParams(e.dsn, "application_name", name)
		if err != nil {
			return fail(err)
		}
		// When profiling, the connections that run the steps go through
		// a proxy that counts what they send.
		workerDSN := e.dsn
		if profile {
			px, err := startProxy(hostPort(e.dsn))
			if err != nil {
				return fail(err)
			}
			defer px.close()
			diag = &diagnosis{wire: px.w}
			if workerDSN, err = px.via(e.dsn); err != nil {
				return fail(err)
			}
			if v.workers == 0 {
				dsn, _ = px.via(dsn)
			}
		}
		pg, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
		if err != nil {
			return fail(err)
		}
		defer pg.Close()
		store = pg
		if v.workers > 0 {
			url, err := storeURL(workerDSN, schema, schema)
			if err != nil {
				return fail(err)
			}
			var ws []*worker
			defer func() {
				for _, w := range ws {
					select {
					case <-w.done:
					default:
						w.kill()
					}
				}
			}()
			for i := range v.workers {
				prof := ""
				if profile && e.profileDir != "" {
					prof = filepath.Join(e.profileDir, fmt.Sprintf("%s-%s-w%d.pprof", p.name, v.slug, i+1))
				}
				w, err := startWorker(e.bin, url, e.concurrency, prof)
				if err != nil {
					return fail(err)
				}
				ws = append(ws, w)
			}
			// Let the workers settle (their wake-up listeners connect,
			// their first claims find nothing) before the clock starts.
			time.Sleep(200 * time.Millisecond)
			m, err := e.measure(ctx, store, schema, diag, p, v, runID, ws)
			if err != nil {
				return fail(err)
			}
			return m, nil
		}
	}
	m, err = e.measure(ctx, store, app, diag, p, v, runID, nil)
	if err != nil {
		return fail(err)
	}
	return m, nil
}

// measure submits p to an engine on store (running its steps itself, or
// leaving them to workers ws), waits for the run to end, stops the
// workers, and checks the run: it succeeded; the store has every step
// succeeded at its first attempt; the events show each step started once,
// by the engine or one of the workers, and succeeded once. app, when not
// empty, is the application_name of the run's PostgreSQL connections.
//
// With diag set it also samples the run's backends in pg_stat_activity
// during the run, into diag.
func (e *env) measure(ctx context.Context, store weft.Store, app string, diag *diagnosis, p *prepared, v variant, runID string, ws []*worker) (*measurement, error) {
	cfg := &engine.Config{Registry: p.reg, MaxParallelSteps: e.concurrency}
	if len(ws) > 0 {
		// This engine only submits. Its Wait, called once the run is over
		// (see below), asks the store every poll interval whether a run
		// that other processes drive is over: a short one answers at once.
		// An engine that runs steps keeps the default (1s, as weft worker's
		// --poll): it is also how often it looks for expired leases.
		cfg.NoWorker, cfg.PollInterval = true, 50*time.Millisecond
	}
	eng, err := engine.New(store, cfg)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	pids := []int{os.Getpid()}
	if len(ws) > 0 {
		pids = pids[:0]
		for _, w := range ws {
			pids = append(pids, w.pid())
		}
	}
	self0, selfOK := procCPU(os.Getpid())
	runtime.GC()
	var pg0, pg1 map[int]time.Duration
	if app != "" {
		if pg0, err = backendCPU(ctx, e.admin, app); err != nil {
			return nil, err
		}
	}
	var samp *sampler
	if diag != nil {
		if samp, err = startSampler(ctx, e.dsn, app, 5*time.Millisecond); err != nil {
			return nil, err
		}
		defer func() {
			if samp != nil {
				samp.finish()
			}
		}()
	}
	weft0, weftOK := cpuOf(pids)
	t0 := time.Now()
	if _, err := eng.Submit(ctx, p.def, &engine.SubmitOptions{RunID: runID}); err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	m := &measurement{submit: time.Since(t0)}
	// The run's end: looked for every poll interval in the store's list
	// of unfinished runs (an index lookup; the run's record would carry
	// its whole workflow document, megabytes for layered100k), then read
	// from the run's record once. Its FinishedAt is when the last step's
	// executor returned, on this machine's clock whichever process ran
	// it, so the wall time does not depend on the poll interval.
	for {
		ids, err := store.UnfinishedRuns(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the unfinished runs: %w", err)
		}
		if !slices.Contains(ids, runID) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(e.poll):
		}
	}
	ended := time.Now()
	weft1, _ := cpuOf(pids)
	self1, _ := procCPU(os.Getpid())
	if selfOK && len(ws) > 0 {
		m.submitCPU = self1 - self0
	}
	if samp != nil {
		diag.activity, err = samp.finish()
		samp = nil
		if err != nil {
			return nil, err
		}
	}
	if weftOK {
		m.weftCPU = weft1 - weft0
	}
	if app != "" {
		if pg1, err = backendCPU(ctx, e.admin, app); err != nil {
			return nil, err
		}
		m.pgCPU = cpuDelta(pg0, pg1)
	}
	rec, err := store.Run(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("read the run: %w", err)
	}
	if rec.Status != weft.RunSucceeded {
		return nil, fmt.Errorf("the run %s: %v", rec.Status, rec.Error)
	}
	m.wall = rec.FinishedAt.Sub(t0)
	if m.wall <= 0 || rec.FinishedAt.After(ended) {
		return nil, fmt.Errorf("the run finished at %s, outside [%s, %s] when it was submitted and seen finished",
			rec.FinishedAt.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), ended.Format(time.RFC3339Nano))
	}

	// Checks, outside the measured time.
	st, err := eng.Wait(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("wait: %w", err)
	}
	if st.State != weft.RunSucceeded || st.Metrics.StepsTotal != p.steps || st.Metrics.Succeeded != p.steps {
		return nil, fmt.Errorf("status: %s, %d of %d steps succeeded (%d total)",
			st.State, st.Metrics.Succeeded, p.steps, st.Metrics.StepsTotal)
	}
	var stopErr error
	for _, w := range ws {
		stopErr = errors.Join(stopErr, w.stop())
	}
	if stopErr != nil {
		return nil, stopErr
	}
	steps, err := store.Steps(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("read the steps: %w", err)
	}
	reruns := 0
	if m.lat, reruns, err = checkSteps(steps, p.steps); err != nil {
		return nil, err
	}
	events, err := allEvents(ctx, store, runID)
	if err != nil {
		return nil, err
	}
	ids := []string{eng.WorkerID()}
	if len(ws) > 0 {
		ids = ids[:0]
		for _, w := range ws {
			ids = append(ids, w.id)
		}
	}
	byWorker, restarts, err := checkEvents(events, p.steps, ids)
	if err != nil {
		return nil, err
	}
	if reruns != restarts || reruns != st.Metrics.Retries {
		return nil, fmt.Errorf("the steps record %d attempts beyond their first, the events %d, the status %d retries",
			reruns, restarts, st.Metrics.Retries)
	}
	if reruns > 0 {
		m.reruns, m.rerunWhy = reruns, explainReruns(events)
	}
	for _, id := range ids {
		m.byWorker = append(m.byWorker, byWorker[id])
	}
	m.diag = diag
	return m, nil
}

// allEvents reads a run's whole event history.
func allEvents(ctx context.Context, store weft.Store, runID string) ([]weft.Event, error) {
	const page = 10_000
	var out []weft.Event
	var after int64
	for {
		evs, err := store.Events(ctx, runID, after, page)
		if err != nil {
			return nil, fmt.Errorf("read the events: %w", err)
		}
		out = append(out, evs...)
		if len(evs) < page {
			return out, nil
		}
		after = evs[len(evs)-1].Seq
	}
}

// cpuOf returns the CPU time the processes pids have used, and whether it
// could be read for all of them.
func cpuOf(pids []int) (time.Duration, bool) {
	var total time.Duration
	for _, pid := range pids {
		cpu, ok := procCPU(pid)
		if !ok {
			return 0, false
		}
		total += cpu
	}
	return total, true
}

// parseWorkers reads -workers: a comma-separated list of worker counts,
// each at least 1.
func parseWorkers(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("-workers %q: want worker counts such as 1,2", s)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}
