package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// What a txn reads: the runs it locks, and the steps of them it needs.

// The runs row columns a txn reads when it locks a run.
const runCols = `seq, id, status, max_parallel, result, error_code, error_message, started_at, finished_at,
	remaining, failed, ready, running, peak_parallel, last_event, prompt_tokens, completion_tokens, total_tokens, last_time`

// Locking runs: by seq or id, in seq order, waiting for them or skipping
// those another transaction holds.
const (
	lockRunsByIDSQL  = `SELECT ` + runCols + ` FROM runs WHERE id = ANY($1) ORDER BY seq FOR NO KEY UPDATE`
	lockRunsBySeqSQL = `SELECT ` + runCols + ` FROM runs WHERE seq = ANY($1) ORDER BY seq FOR NO KEY UPDATE`
	// lockRunSkipSQL is for claims, which never wait for a run.
	lockRunSkipSQL    = `SELECT ` + runCols + ` FROM runs WHERE seq = $1 FOR NO KEY UPDATE SKIP LOCKED`
	lockRunByIDOneSQL = `SELECT ` + runCols + ` FROM runs WHERE id = $1 FOR NO KEY UPDATE`
)

// lockRuns queues a statement that locks runs (one of the lock*SQL) and
// adds them to the transaction.
func (t *txn) lockRuns(sql string, args ...any) {
	t.queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			if _, held := t.runs[r.seq]; !held {
				t.runs[r.seq] = r
				t.byID[r.id] = r
				t.cache.put(r.id, runInfo{r.seq, r.maxParallel})
			}
		}
		return rows.Err()
	})
}

func scanRun(rows pgx.Rows) (*runState, error) {
	r := &runState{steps: make(map[int32]*stepState)}
	var (
		status                                               string
		errCode, errMsg                                      pgtype.Text
		started, finished, last                              pgtype.Timestamptz
		maxParallel, remaining, failed, ready, running, peak int32
	)
	err := rows.Scan(&r.seq, &r.id, &status, &maxParallel, &r.result, &errCode, &errMsg, &started, &finished,
		&remaining, &failed, &ready, &running, &peak, &r.lastEvent,
		&r.usage.PromptTokens, &r.usage.CompletionTokens, &r.usage.TotalTokens, &last)
	if err != nil {
		return nil, fmt.Errorf("read a run: %w", err)
	}
	r.status, r.err = weft.RunStatus(status), errorInfo(errCode, errMsg)
	r.startedAt, r.finishedAt = timeOf(started), timeOf(finished)
	r.clock.Last = timeOf(last)
	r.maxParallel, r.remaining, r.failed = int(maxParallel), int(remaining), int(failed)
	r.ready, r.running, r.peak = int(ready), int(running), int(peak)
	return r, nil
}

// stepCols are the steps columns a txn reads of a step (all but its
// dependencies and output), after its run_seq; the table is aliased s.
const stepCols = `s.run_seq, s.idx, s.step_id, s.type, s.pool, s.priority, s.trigger, s.sink, s.dependents,
	s.status, s.reason, s.attempts, s.error_code, s.error_message, s.worker, s.lease_until, s.ready_at,
	s.retry_at, s.started_at, s.first_started_at, s.finished_at, s.queue_wait, s.run_time,
	s.prompt_tokens, s.completion_tokens, s.total_tokens, s.deps_total, s.deps_succeeded, s.deps_failed,
	s.deps_skipped, s.deps_canceled, s.deps_skipped_for_failure`

// scanStep reads a row of stepCols, followed by the columns of extra.
func scanStep(rows pgx.Rows, extra ...any) (int64, *stepState, error) {
	st := &stepState{}
	var (
		seq                                                 int64
		status, trigger                                     string
		errCode, errMsg                                     pgtype.Text
		lease, ready, retry, started, first, finished       pgtype.Timestamptz
		queueWait, runTime                                  int64
		prio, attempts, total, succ, failed, skip, canc, sf int32
	)
	dest := []any{&seq, &st.idx, &st.id, &st.typ, &st.pool, &prio, &trigger, &st.sink, &st.dependents,
		&status, &st.reason, &attempts, &errCode, &errMsg, &st.worker, &lease, &ready,
		&retry, &started, &first, &finished, &queueWait, &runTime,
		&st.usage.PromptTokens, &st.usage.CompletionTokens, &st.usage.TotalTokens, &total, &succ, &failed,
		&skip, &canc, &sf}
	if err := rows.Scan(append(dest, extra...)...); err != nil {
		return 0, nil, fmt.Errorf("read a step: %w", err)
	}
	st.priority, st.trigger, st.status, st.attempts = prio, weft.Trigger(trigger), weft.StepStatus(status), int(attempts)
	st.err = errorInfo(errCode, errMsg)
	st.leaseUntil, st.readyAt, st.retryAt = timeOf(lease), timeOf(ready), timeOf(retry)
	st.startedAt, st.firstStartedAt, st.finishedAt = timeOf(started), timeOf(first), timeOf(finished)
	st.queueWait, st.runTime = time.Duration(queueWait), time.Duration(runTime)
	st.counts = weft.DepCounts{Total: int(total), Succeeded: int(succ), Failed: int(failed), Skipped: int(skip),
		Canceled: int(canc), SkippedForFailure: int(sf)}
	return seq, st, nil
}

// addStep adds a step read of a locked run, unless the transaction has it
// already (what it has may hold changes not yet written). It returns the
// step as the transaction has it, or nil for a run not locked.
func (t *txn) addStep(seq int64, st *stepState) *stepState {
	r := t.runs[seq]
	if r == nil {
		return nil
	}
	if have := r.steps[st.idx]; have != nil {
		return have
	}
	r.steps[st.idx] = st
	return st
}

// addSteps is a callback that adds every step a query of stepCols read.
func (t *txn) addSteps(rows pgx.Rows) error {
	for rows.Next() {
		seq, st, err := scanStep(rows)
		if err != nil {
			return err
		}
		t.addStep(seq, st)
	}
	return rows.Err()
}

// Loading the steps a txn needs.
const (
	// The pending steps among some steps (by key).
	pendingAmongSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.key = ANY($1) AND s.status = 'pending'`
	// Every pending step of a run (by its key range).
	allPendingSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.key >= $1 AND s.key < $2 AND s.status = 'pending'`
	// One step of a run, by id.
	stepByIDSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.run_seq = $1 AND s.step_id = $2`
	// The queued steps of a run that admission may take (as many as its
	// max_parallel, in admission order).
	queuedSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.run_seq = $1 AND s.status = 'queued'
		ORDER BY s.priority DESC, s.idx LIMIT $2`
)

// knownLoadsBeforeAll is how many times a txn reads some pending steps of a
// run (following a cascade of skips) before it reads all of them at once.
const knownLoadsBeforeAll = 3

// ensureKnown makes sure the transaction knows whether each of the nodes
// idxs of run r is pending, reading those it does not know yet.
func (t *txn) ensureKnown(r *runState, idxs []int32) error {
	var missing []int32
	for _, i := range idxs {
		if _, ok := r.steps[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !r.allPending {
		r.loads++
		if r.loads > knownLoadsBeforeAll {
			t.flush()
			lo, hi := runKeys(r.seq)
			t.queue(allPendingSQL, lo, hi).Query(t.addSteps)
			r.allPending = true
		} else {
			t.flush()
			t.queue(pendingAmongSQL, stepKeys(r.seq, missing)).Query(t.addSteps)
		}
		if err := t.send(); err != nil {
			return fmt.Errorf("read the pending steps of run %s: %w", r.id, err)
		}
	}
	for _, i := range missing {
		if _, ok := r.steps[i]; !ok {
			r.steps[i] = nil // not pending
		}
	}
	return nil
}

// stepByID returns the step of run r with this id, or nil when there is
// none.
func (t *txn) stepByID(r *runState, id string) (*stepState, error) {
	for _, st := range r.steps {
		if st != nil && st.id == id {
			return st, nil
		}
	}
	var found *stepState
	t.flush()
	t.queue(stepByIDSQL, r.seq, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			_, st, err := scanStep(rows)
			if err != nil {
				return err
			}
			// A nil entry is a step known not to be pending, unchanged by
			// this transaction: what was just read of it is as good.
			if r.steps[st.idx] == nil {
				r.steps[st.idx] = st
			}
			found = r.steps[st.idx]
		}
		return rows.Err()
	})
	if err := t.send(); err != nil {
		return nil, fmt.Errorf("read step %s of run %s: %w", id, r.id, err)
	}
	return found, nil
}

// ensureQueued reads the queued steps of capped run r that admission may
// take, once per transaction.
func (t *txn) ensureQueued(r *runState) error {
	if r.maxParallel <= 0 || r.queuedLoaded {
		return nil
	}
	t.flush()
	t.queue(queuedSQL, r.seq, r.maxParallel).Query(t.addSteps)
	if err := t.send(); err != nil {
		return fmt.Errorf("read the queued steps of run %s: %w", r.id, err)
	}
	r.queuedLoaded = true
	return nil
}
