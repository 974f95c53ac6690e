package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// copyThreshold is the number of steps from which CreateRun writes them
// with COPY rather than with the statement that creates the run.
const copyThreshold = 1000

const (
	// createRunSQL creates a run (its runs row, docs and run_created
	// event) unless its idempotency key is taken, and returns its seq.
	createRunSQL = `WITH r AS (
		INSERT INTO runs (id, workflow_id, workflow_version, status, idempotency_key, max_parallel, deadline,
			created_at, step_count, remaining, ready, last_event, last_time)
		VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $8, $9, 1, $12)
		ON CONFLICT (idempotency_key) DO NOTHING
		RETURNING seq),
	d AS (INSERT INTO run_docs (run_seq, params, workflow) SELECT seq, $10, $11 FROM r),
	e AS (INSERT INTO events (run_seq, seq, type, time) SELECT seq, 1, 'run_created', $12 FROM r)`
	// createStepsSQL is createRunSQL's continuation that writes the steps
	// too: their dependencies and dependents are slices of two flat
	// arrays.
	createStepsSQL = createRunSQL + `,
	s AS (INSERT INTO steps (key, run_seq, idx, step_id, type, pool, priority, trigger, sink, deps, dependents,
			deps_total, status, ready_at)
		SELECT (r.seq << 32) + u.idx, r.seq, u.idx, u.step_id, u.type, u.pool, u.priority, u.trigger, u.sink,
			($13::int[])[u.dep_lo + 1 : u.dep_hi], ($14::int[])[u.dnt_lo + 1 : u.dnt_hi],
			u.dep_hi - u.dep_lo, u.status, u.ready_at
		FROM r, unnest($15::int[], $16::text[], $17::text[], $18::text[], $19::int[], $20::text[], $21::bool[],
			$22::int[], $23::int[], $24::int[], $25::int[], $26::text[], $27::timestamptz[])
			AS u(idx, step_id, type, pool, priority, trigger, sink, dep_lo, dep_hi, dnt_lo, dnt_hi, status, ready_at))
	SELECT seq FROM r`
)

// keyedRunSQL reads the run an idempotency key belongs to.
var keyedRunSQL = `SELECT ` + recordColsWith("d.workflow") + ` FROM ` + recordFrom + ` WHERE r.idempotency_key = $1`

// stepColumnNames are the columns COPY writes, in the order of
// copySource's rows.
var stepColumnNames = []string{"key", "run_seq", "idx", "step_id", "type", "pool", "priority", "trigger", "sink",
	"deps", "dependents", "deps_total", "status", "ready_at"}

// CreateRun stores a new run; see weft.Store. Concurrent calls with one
// idempotency key create one run, which they all return.
func (s *Store) CreateRun(ctx context.Context, nr *weft.NewRun) (*weft.Run, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if s.isClosed() {
		return nil, false, s.wrap("create run", weft.ErrClosed)
	}
	if nr.Run.ID == "" {
		return nil, false, fmt.Errorf("postgres: create run: %w", weft.Errorf(weft.CodeInvalid, "a run needs an id"))
	}
	if len(nr.Steps) == 0 {
		return nil, false, fmt.Errorf("postgres: create run %s: %w", nr.Run.ID, weft.Errorf(weft.CodeInvalid, "a run needs at least one step"))
	}
	p, err := newPlan(nr)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create run %s: %w", nr.Run.ID, err)
	}
	rec := nr.Run
	rec.Status, rec.Result, rec.Error, rec.PeakParallel, rec.Usage = weft.RunPending, nil, nil, 0, weft.Usage{}
	rec.StartedAt, rec.FinishedAt = time.Time{}, time.Time{}
	// A new run: no step done (a root always runs), one event
	// (run_created).
	rec.StepCount, rec.StepsDone, rec.StepsRunning, rec.StepsFailed, rec.LastEvent = len(nr.Steps), 0, 0, 0, 1
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = nr.Now
	}
	run, created, err := s.createRun(ctx, &rec, nr, p)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "runs_id_unique" {
			return nil, false, fmt.Errorf("postgres: create run %s: %w", nr.Run.ID, weft.Errorf(weft.CodeInvalid, "a run with this id exists"))
		}
		return nil, false, s.wrap("create run "+nr.Run.ID, err)
	}
	return run, created, nil
}

// createRun writes the run in one transaction, or returns the run its
// idempotency key belongs to.
func (s *Store) createRun(ctx context.Context, rec *weft.Run, nr *weft.NewRun, p *plan) (*weft.Run, bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	t := s.newTxn(ctx, conn.Conn())
	key := pgtype.Text{String: rec.IdempotencyKey, Valid: rec.IdempotencyKey != ""}
	args := []any{rec.ID, rec.WorkflowID, rec.WorkflowVersion, key, rec.MaxParallel, ts(rec.Deadline), ts(rec.CreatedAt),
		len(nr.Steps), p.ready, nilIfEmpty(rec.Params), nilIfEmpty(rec.Workflow), ts(nr.Now)}
	small := len(nr.Steps) < copyThreshold
	q := createRunSQL + ` SELECT seq FROM r`
	if small {
		q = createStepsSQL
		args = append(args, p.deps, p.dnts, p.idx, p.stepID, p.typ, p.pool, p.priority, p.trigger, p.sink,
			p.depLo, p.depHi, p.dntLo, p.dntHi, p.status, p.readyAt)
	}
	var seq int64
	found := false
	insert := func() {
		t.queue(q, args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				found = true
				if err := rows.Scan(&seq); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	}
	t.unclaimed = p.ready // roots are ready: wake the claimers
	if small {
		// One round trip: a run not created (its key taken) wrote
		// nothing, and its commit is harmless.
		err = t.commit(insert)
	} else {
		insert()
		err = t.send()
		if err == nil && found {
			_, err = t.conn.CopyFrom(ctx, pgx.Identifier{"steps"}, stepColumnNames, p.copySource(seq))
		}
		if err == nil {
			err = t.commit(nil)
		}
	}
	if err != nil {
		t.rollback()
		return nil, false, err
	}
	if found {
		s.runs.put(rec.ID, runInfo{seq, rec.MaxParallel})
		return rec, true, nil
	}
	// The key is taken: the transaction wrote nothing.
	var kept record
	err = conn.QueryRow(ctx, keyedRunSQL, rec.IdempotencyKey).Scan(kept.dest()...)
	if err != nil {
		return nil, false, fmt.Errorf("read the run of idempotency key %q: %w", rec.IdempotencyKey, err)
	}
	return kept.run(), false, nil
}

// plan is a run's steps as the database gets them: columns, with the
// dependencies and dependents of step k at deps[depLo[k]:depHi[k]] and
// dnts[dntLo[k]:dntHi[k]].
type plan struct {
	idx, priority, depLo, depHi, dntLo, dntHi []int32
	deps, dnts                                []int32
	stepID, typ, pool, trigger, status        []string
	sink                                      []bool
	readyAt                                   []pgtype.Timestamptz
	ready                                     int
}

// newPlan lays out a new run's steps: roots ready (or queued beyond the
// run's MaxParallel, highest priority first), the others pending.
func newPlan(nr *weft.NewRun) (*plan, error) {
	n := len(nr.Steps)
	p := &plan{
		idx: make([]int32, n), priority: make([]int32, n), depLo: make([]int32, n), depHi: make([]int32, n),
		dntLo: make([]int32, n), dntHi: make([]int32, n), stepID: make([]string, n), typ: make([]string, n),
		pool: make([]string, n), trigger: make([]string, n), status: make([]string, n), sink: make([]bool, n),
		readyAt: make([]pgtype.Timestamptz, n),
	}
	p.deps = make([]int32, 0, n) // never nil: an empty array, not NULL
	count := make([]int32, n+1)  // dependents per node, then offsets
	for i, ps := range nr.Steps {
		p.depLo[i] = int32(len(p.deps))
		for _, d := range ps.Deps {
			if d < 0 || int(d) >= n {
				return nil, fmt.Errorf("step %s: dependency index %d out of range", ps.ID, d)
			}
			p.deps = append(p.deps, d)
			count[d+1]++
		}
		p.depHi[i] = int32(len(p.deps))
	}
	for i := range n {
		count[i+1] += count[i]
	}
	p.dnts = make([]int32, len(p.deps))
	fill := slices.Clone(count[:n])
	for i, ps := range nr.Steps {
		for _, d := range ps.Deps {
			p.dnts[fill[d]] = int32(i)
			fill[d]++
		}
	}
	var roots []int32
	for i, ps := range nr.Steps {
		p.idx[i], p.priority[i], p.stepID[i], p.typ[i] = int32(i), ps.Priority, ps.ID, ps.Type
		p.pool[i], p.trigger[i], p.sink[i] = ps.Pool, string(ps.Trigger), ps.Sink
		p.dntLo[i], p.dntHi[i] = count[i], count[i+1]
		p.status[i] = string(weft.StepPending)
		// A step without dependencies runs (weft.Trigger.Decide), whatever
		// its trigger.
		if len(ps.Deps) == 0 {
			roots = append(roots, int32(i))
			p.readyAt[i] = ts(nr.Now)
		}
	}
	if max := nr.Run.MaxParallel; max > 0 && len(roots) > max {
		slices.SortStableFunc(roots, func(a, b int32) int { return cmp.Compare(nr.Steps[b].Priority, nr.Steps[a].Priority) })
		for _, i := range roots[max:] {
			p.status[i] = string(stepQueued)
		}
		roots = roots[:max]
	}
	for _, i := range roots {
		p.status[i] = string(weft.StepReady)
	}
	p.ready = len(roots)
	return p, nil
}

// copySource is the plan as rows for COPY into steps, for run seq.
func (p *plan) copySource(seq int64) pgx.CopyFromSource {
	k := -1
	return pgx.CopyFromFunc(func() ([]any, error) {
		k++
		if k == len(p.idx) {
			return nil, nil
		}
		row := make([]any, len(stepColumnNames))
		row[0], row[1], row[2], row[3], row[4] = stepKey(seq, p.idx[k]), seq, p.idx[k], p.stepID[k], p.typ[k]
		row[5], row[6], row[7], row[8] = p.pool[k], p.priority[k], p.trigger[k], p.sink[k]
		row[9], row[10] = p.deps[p.depLo[k]:p.depHi[k]], p.dnts[p.dntLo[k]:p.dntHi[k]]
		row[11], row[12], row[13] = p.depHi[k]-p.depLo[k], p.status[k], p.readyAt[k]
		return row, nil
	})
}
