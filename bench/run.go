package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/sqlite"
	"github.com/weft-dev/weft/workflow"
)

// The variants a workload runs in.
const (
	// VariantEngine is weft's engine over the in-memory store, running a
	// workflow validated (and encoded) beforehand.
	VariantEngine = "engine"
	// VariantEngineValidate is VariantEngine with workflow.Validate and the
	// run's workflow encoding inside the measured time.
	VariantEngineValidate = "engine+validate"
	// VariantEngineSQLite is VariantEngine over the SQLite store: durable
	// steps, a fresh database file per run.
	VariantEngineSQLite = "engine-sqlite"
	// VariantFloor is RunFloor, baseline (a).
	VariantFloor = "floor"
	// VariantLevels is RunLevels, baseline (b).
	VariantLevels = "levels"
)

// Variants lists the variants in the order they are reported.
var Variants = []string{VariantEngine, VariantEngineValidate, VariantEngineSQLite, VariantFloor, VariantLevels}

// Runner runs one workload in one variant, as many times as asked. Each run
// is three calls: Prepare (not measured: a fresh store and engine, the
// execution count reset, garbage collected), Run (measured: submit to
// done), and Check (not measured: the outcome checked and the engine
// closed). A Runner is not safe for concurrent use.
type Runner struct {
	// W is the workload and Variant the variant.
	W       *Workload
	Variant string

	x    *Executors
	reg  *weft.Registry
	opts *workflow.Options
	def  *workflow.Definition // engine: validated once, in NewRunner
	job  *Job                 // floor, levels

	// The current run.
	n        int
	eng      *engine.Engine
	closeDB  func() error // engine-sqlite: the run's database
	dir      string       // engine-sqlite: where its files go
	status   *engine.Status
	err      error
	prepared bool
}

// NewRunner prepares w for the variant: for the engine, the registry and
// (for VariantEngine) the validated definition, already encoded; for the
// baselines, the Job. hook, when not nil, becomes the executors' Hook.
func NewRunner(w *Workload, variant string, hook func(stepID string, begin bool)) (*Runner, error) {
	r := &Runner{W: w, Variant: variant, x: &Executors{Hook: hook}}
	r.reg = r.x.Registry()
	r.opts = &workflow.Options{Registry: r.reg}
	switch variant {
	case VariantEngine, VariantEngineSQLite:
		def, err := workflow.Validate(w.Workflow, r.opts)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", w.Name, err)
		}
		// Encode the workflow now (it is cached in the definition), so that
		// every measured run of a validated workflow costs the same.
		if _, err := def.Source(); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", w.Name, err)
		}
		r.def = def
	case VariantEngineValidate:
	case VariantFloor, VariantLevels:
		job, err := NewJob(w.Workflow, r.reg)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", w.Name, err)
		}
		r.job = job
	default:
		return nil, fmt.Errorf("bench: unknown variant %q (want one of %v)", variant, Variants)
	}
	return r, nil
}

// Prepare readies the next run.
func (r *Runner) Prepare() error {
	if r.prepared {
		return errors.New("bench: Prepare called twice without Check")
	}
	r.n++
	r.status, r.err = nil, nil
	r.x.Reset()
	if r.Variant == VariantEngine || r.Variant == VariantEngineValidate || r.Variant == VariantEngineSQLite {
		var store weft.Store = inmem.New()
		if r.Variant == VariantEngineSQLite {
			if r.dir == "" {
				dir, err := os.MkdirTemp("", "weftbench-")
				if err != nil {
					return err
				}
				r.dir = dir
			}
			path := filepath.Join(r.dir, fmt.Sprintf("run%d.db", r.n))
			db, err := sqlite.Open(path, nil)
			if err != nil {
				return err
			}
			store, r.closeDB = db, func() error {
				err := db.Close()
				for _, suffix := range []string{"", "-wal", "-shm"} {
					os.Remove(path + suffix)
				}
				return err
			}
		}
		eng, err := engine.New(store, &engine.Config{
			Registry:         r.reg,
			MaxParallelSteps: r.W.Parallel,
		})
		if err != nil {
			return err
		}
		r.eng = eng
	}
	runtime.GC()
	r.prepared = true
	return nil
}

// Run performs the prepared run and returns its error, which Check returns
// too.
func (r *Runner) Run(ctx context.Context) error {
	if !r.prepared {
		return errors.New("bench: Run without Prepare")
	}
	id := r.W.Name + "-" + strconv.Itoa(r.n)
	switch r.Variant {
	case VariantEngine, VariantEngineValidate, VariantEngineSQLite:
		def := r.def
		if def == nil {
			def, r.err = workflow.Validate(r.W.Workflow, r.opts)
			if r.err != nil {
				return r.err
			}
		}
		r.status, r.err = r.eng.Execute(ctx, def, &engine.SubmitOptions{RunID: id})
	case VariantFloor:
		r.err = RunFloor(ctx, r.job, r.W.Parallel, id)
	case VariantLevels:
		r.err = RunLevels(ctx, r.job, r.W.Parallel, id)
	}
	return r.err
}

// Check ends the run (closing its engine) and returns an error unless it
// succeeded with every step executed exactly once.
func (r *Runner) Check() error {
	if !r.prepared {
		return errors.New("bench: Check without Prepare")
	}
	r.prepared = false
	if r.eng != nil {
		r.eng.Close()
		r.eng = nil
	}
	if r.closeDB != nil {
		if err := r.closeDB(); err != nil {
			return fmt.Errorf("%s/%s: close the database: %w", r.W.Name, r.Variant, err)
		}
		r.closeDB = nil
		os.Remove(r.dir)
		r.dir = ""
	}
	want := r.W.Steps()
	if r.err != nil {
		return fmt.Errorf("%s/%s: run failed: %w", r.W.Name, r.Variant, r.err)
	}
	if r.status != nil {
		st := r.status
		if st.State != weft.RunSucceeded || st.Metrics.Succeeded != want || st.Metrics.Retries != 0 {
			return fmt.Errorf("%s/%s: run %s: %s with %d of %d steps succeeded and %d retries",
				r.W.Name, r.Variant, st.RunID, st.State, st.Metrics.Succeeded, want, st.Metrics.Retries)
		}
	}
	return r.x.checkCalls(r.W.Name+"/"+r.Variant, want)
}

// Slept returns the time the last run's sleep steps actually took, summed
// (see Executors.Slept).
func (r *Runner) Slept() time.Duration { return r.x.Slept() }

// Status returns the engine's status of the last run, or nil for a
// baseline.
func (r *Runner) Status() *engine.Status { return r.status }

// Once prepares, runs and checks one run and returns its wall time.
func (r *Runner) Once(ctx context.Context) (time.Duration, error) {
	if err := r.Prepare(); err != nil {
		return 0, err
	}
	start := time.Now()
	r.Run(ctx)
	elapsed := time.Since(start)
	return elapsed, r.Check()
}
