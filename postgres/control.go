package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
)

// The operations that run in transactions of their own: cancelling and
// retrying runs, reclaiming expired leases, heartbeats.

// inTx runs fn in a transaction of its own (fn commits it); the
// transaction is rolled back when fn fails. what names the operation in
// the error.
func (s *Store) inTx(ctx context.Context, what string, fn func(t *txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.read(ctx, what, func(c *pgx.Conn) error {
		t := s.newTxn(ctx, c)
		err := fn(t)
		if err != nil {
			t.rollback()
		}
		return err
	})
}

// changeRun locks run id in a transaction of its own, lets change change
// it, commits, and returns the run's record as committed. An unknown run
// is an error wrapping weft.ErrNotFound, saying what was asked.
func (s *Store) changeRun(ctx context.Context, what, id string, change func(t *txn, r *runState) error) (*weft.Run, error) {
	var run *weft.Run
	err := s.inTx(ctx, what+" "+id, func(t *txn) error {
		t.lockRuns(lockRunByIDOneSQL, id)
		if err := t.send(); err != nil {
			return err
		}
		r := t.byID[id]
		if r == nil {
			return fmt.Errorf("%s %s: %w", what, id, weft.ErrNotFound)
		}
		if err := change(t, r); err != nil {
			return err
		}
		var err error
		run, err = t.commitRecord(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// commitRecord commits, reading the record of run r first (as committed).
func (t *txn) commitRecord(r *runState) (*weft.Run, error) {
	var rec record
	found := false
	err := t.commit(func() {
		t.queue(`SELECT `+recordColsWith("d.workflow")+` FROM `+recordFrom+` WHERE r.seq = $1`, r.seq).QueryRow(func(row pgx.Row) error {
			found = true
			return row.Scan(rec.dest()...)
		})
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("run %s: no record", r.id)
	}
	return rec.run(), nil
}

// cancelStepsSQL cancels the steps of a run (keys $1 to $4) not yet done, with reason $2
// at $3 (a running step's run time counts until then), and returns them
// with the status they had.
const cancelStepsSQL = `UPDATE steps s SET status = 'canceled', reason = $2, finished_at = $3::timestamptz,
		worker = '', lease_until = NULL,
		run_time = s.run_time + CASE WHEN o.status = 'running' AND $3::timestamptz > s.started_at
			THEN (EXTRACT(EPOCH FROM ($3::timestamptz - s.started_at)) * 1000000)::bigint * 1000 ELSE 0 END
	FROM (SELECT key, status FROM steps
		WHERE key >= $1 AND key < $4 AND status NOT IN ('succeeded', 'failed', 'skipped', 'canceled')) AS o
	WHERE s.key >= $1 AND s.key < $4 AND s.key = o.key
	RETURNING s.idx, s.step_id, o.status, s.attempts`

// CancelRun ends a run; see weft.Store.
func (s *Store) CancelRun(ctx context.Context, c *weft.RunCancel) (*weft.Run, error) {
	return s.changeRun(ctx, "cancel run", c.RunID, func(t *txn, r *runState) error {
		if r.status.Terminal() {
			return nil
		}
		c := runstate.ClockedCancel(c, r.clock.Now(c.Now))
		k := runstate.Canceling(c)
		type canceled struct {
			idx      int32
			id       string
			was      weft.StepStatus
			attempts int32
		}
		var steps []canceled
		lo, hi := runKeys(r.seq)
		t.queue(cancelStepsSQL, lo, text(k.Reason), c.Now, hi).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var cs canceled
				var was string
				if err := rows.Scan(&cs.idx, &cs.id, &was, &cs.attempts); err != nil {
					return err
				}
				cs.was = weft.StepStatus(was)
				steps = append(steps, cs)
			}
			return rows.Err()
		})
		if err := t.send(); err != nil {
			return fmt.Errorf("cancel the steps: %w", err)
		}
		slices.SortFunc(steps, func(a, b canceled) int { return int(a.idx - b.idx) })
		for _, cs := range steps {
			if e, ok := k.StepEvent(cs.was, int(cs.attempts)); ok {
				e.StepID = cs.id
				t.event(r, e)
			}
		}
		r.ready, r.running, r.remaining = 0, 0, 0
		r.status, r.err, r.finishedAt = k.Status, c.Error, c.Now
		t.event(r, k.Event)
		return nil
	})
}

// resetStepsSQL puts the failed, skipped and canceled steps of a run (keys
// $1 to $2)
// back to pending, their dependency counters recomputed from the current
// statuses (only succeeded dependencies count: the others are reset too),
// and returns them.
const resetStepsSQL = `UPDATE steps s SET status = 'pending', reason = '', error_code = NULL, error_message = NULL,
		finished_at = NULL, ready_at = NULL, retry_at = NULL, worker = '', lease_until = NULL,
		deps_succeeded = (SELECT count(*) FROM steps d
			WHERE d.key = ANY(ARRAY(SELECT (s.run_seq << 32) + i FROM unnest(s.deps) AS i)) AND d.status = 'succeeded'),
		deps_failed = 0, deps_skipped = 0, deps_canceled = 0, deps_skipped_for_failure = 0
	WHERE s.key >= $1 AND s.key < $2 AND s.status IN ('failed', 'skipped', 'canceled')
	RETURNING s.idx`

// RetryRun runs a failed or canceled run again; see weft.Store.
func (s *Store) RetryRun(ctx context.Context, rr *weft.RunRetry) (*weft.Run, error) {
	return s.changeRun(ctx, "retry run", rr.RunID, func(t *txn, r *runState) error {
		if err := runstate.CheckRetry(rr.RunID, r.status); err != nil {
			return fmt.Errorf("retry run %s: %w", rr.RunID, err)
		}
		rr := runstate.ClockedRetry(rr, r.clock.Now(rr.Now))
		if rr.Workflow != nil {
			t.queue(`UPDATE run_docs SET workflow = $2, workflow_rev = workflow_rev + 1 WHERE run_seq = $1`, r.seq, []byte(rr.Workflow))
		}
		var reset []int32
		lo, hi := runKeys(r.seq)
		t.queue(resetStepsSQL, lo, hi).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var i int32
				if err := rows.Scan(&i); err != nil {
					return err
				}
				reset = append(reset, i)
			}
			return rows.Err()
		})
		// Every pending step, the ones just reset among them.
		t.queue(allPendingSQL, lo, hi).Query(t.addSteps)
		if err := t.send(); err != nil {
			return fmt.Errorf("reset the steps: %w", err)
		}
		r.allPending, r.queuedLoaded = true, true
		slices.Sort(reset)
		// Attempt counts stay, so that attempt numbers keep increasing.
		r.remaining, r.ready, r.running, r.failed = len(reset), 0, 0, 0
		r.status, r.err, r.result, r.finishedAt = weft.RunPending, nil, nil, time.Time{}
		t.event(r, runstate.RetriedEvent(rr.Now))
		for _, i := range reset {
			if _, err := t.cascade.Decide(t.on(r), i, rr.Now); err != nil {
				return err
			}
		}
		if err := t.admit(r); err != nil {
			return err
		}
		return t.endRuns()
	})
}

const (
	// expiredRunsSQL finds the runs that have steps whose lease ended.
	expiredRunsSQL = `SELECT DISTINCT run_seq FROM steps WHERE status = 'running' AND lease_until <= $1 ORDER BY run_seq`
	// reclaimSQL makes the steps of runs $1 (locked) whose lease ended at
	// or before $2 ready again, as of $2 or their run's last_time when
	// later (a run's times never go backwards), keeps their runs' counters
	// and last_time, and returns how many there were.
	reclaimSQL = `WITH moved AS (
		UPDATE steps s SET status = 'ready', worker = '', lease_until = NULL,
			ready_at = GREATEST($2::timestamptz, r.last_time)
		FROM runs r
		WHERE s.run_seq = ANY($1) AND s.status = 'running' AND s.lease_until <= $2 AND r.seq = s.run_seq
		RETURNING s.run_seq),
	counts AS (SELECT run_seq, count(*)::int AS n FROM moved GROUP BY run_seq),
	runs_changed AS (UPDATE runs r SET running = r.running - c.n, ready = r.ready + c.n,
			last_time = GREATEST(r.last_time, $2::timestamptz) FROM counts c
		WHERE r.seq = ANY($1) AND r.seq = c.run_seq)
	SELECT coalesce(sum(n), 0)::int FROM counts`
)

// ReclaimExpired makes steps with expired leases claimable again; see
// weft.Store. Any number of processes may call it at once: each step is
// reclaimed once.
func (s *Store) ReclaimExpired(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, "reclaim expired leases", func(t *txn) error {
		var seqs []int64
		rows, err := t.conn.Query(t.ctx, expiredRunsSQL, now)
		if err != nil {
			return err
		}
		if seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || len(seqs) == 0 {
			return err
		}
		// The runs are locked in seq order; what is reclaimed is decided
		// once they are, so that a racing call finds nothing left.
		t.lockRuns(lockRunsBySeqSQL, seqs)
		t.queue(reclaimSQL, seqs, now).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
		if err := t.send(); err != nil {
			return err
		}
		t.unclaimed = n
		return t.commit(nil)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// heartbeatSQL extends to $5 the lease $1-$4 (run, step, attempt, worker)
// if it is still held, unless another transaction is changing its step
// (an outcome being recorded, a run being canceled), and returns whether
// it is held.
const heartbeatSQL = `WITH cur AS (
		SELECT s.key FROM steps s
		WHERE s.step_id = $2 AND s.run_seq = (SELECT seq FROM runs WHERE id = $1)
		AND s.status = 'running' AND s.attempts = $3 AND s.worker = $4),
	locked AS (
		SELECT s.ctid FROM steps s WHERE s.key = (SELECT key FROM cur) FOR UPDATE SKIP LOCKED),
	extended AS (
		UPDATE steps s SET lease_until = $5 WHERE s.ctid = (SELECT ctid FROM locked)
		AND s.status = 'running' AND s.attempts = $3 AND s.worker = $4)
	SELECT count(*) FROM cur`

// Heartbeat extends leases; see weft.Store. It never waits for a lock: a
// lease whose step another transaction is changing is neither extended
// nor reported lost (the next heartbeat tells).
func (s *Store) Heartbeat(ctx context.Context, leases []weft.Lease, until time.Time) ([]weft.Lease, error) {
	if len(leases) == 0 {
		return nil, nil
	}
	held := make([]bool, len(leases))
	err := s.read(ctx, "heartbeat", func(c *pgx.Conn) error {
		b := &pgx.Batch{}
		for k, l := range leases {
			b.Queue(heartbeatSQL, l.RunID, l.StepID, l.Attempt, l.Worker, until).QueryRow(func(row pgx.Row) error {
				var n int64
				err := row.Scan(&n)
				held[k] = n > 0
				return err
			})
		}
		return c.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, err
	}
	var lost []weft.Lease
	for k, l := range leases {
		if !held[k] {
			lost = append(lost, l)
		}
	}
	return lost, nil
}
