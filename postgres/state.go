package postgres

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
)

// stepQueued is the status, in the database only, of a step that may run
// but waits for room under its run's MaxParallel (see admit). It is
// reported as weft.StepReady.
const stepQueued weft.StepStatus = "queued"

// reported is the status a caller sees of a step in status st.
func reported(st weft.StepStatus) weft.StepStatus {
	if st == stepQueued {
		return weft.StepReady
	}
	return st
}

// runState is a run as a transaction that locked it has it: its runs row
// and the steps it has read.
type runState struct {
	seq         int64
	id          string
	status      weft.RunStatus
	maxParallel int
	result      json.RawMessage
	err         *weft.ErrorInfo
	startedAt   time.Time
	finishedAt  time.Time
	// remaining counts the steps not yet terminal, failed those finished
	// as failed, ready and running those in these statuses.
	remaining, failed, ready, running, peak int
	lastEvent                               int64
	usage                                   weft.Usage
	clock                                   runstate.Clock // last_time: the latest time recorded
	dirty                                   bool

	steps        map[int32]*stepState // by node index; nil: known not pending
	allPending   bool                 // every pending step is in steps
	loads        int                  // reads of pending steps so far
	queuedLoaded bool                 // the queued steps admission may take are in steps
	endAt        time.Time            // when remaining reached 0: the run ends then, before commit
}

// stepState is a step as a transaction has it.
type stepState struct {
	idx        int32
	id, typ    string
	pool       string
	priority   int32
	trigger    weft.Trigger
	sink       bool
	dependents []int32

	status                                                              weft.StepStatus
	reason                                                              string
	attempts                                                            int
	output                                                              json.RawMessage
	err                                                                 *weft.ErrorInfo
	worker                                                              string
	leaseUntil, readyAt, retryAt, startedAt, firstStartedAt, finishedAt time.Time
	queueWait, runTime                                                  time.Duration
	usage                                                               weft.Usage
	counts                                                              weft.DepCounts
	dirty                                                               bool
}

// move changes the status of step st of run r, keeping the run's counters
// (remaining, ready, running) and the transaction's list of steps made
// ready.
func (t *txn) move(r *runState, st *stepState, to weft.StepStatus) {
	from := st.status
	switch from {
	case weft.StepReady:
		r.ready--
	case weft.StepRunning:
		r.running--
	}
	switch to {
	case weft.StepReady:
		r.ready++
		t.fresh = append(t.fresh, st)
	case weft.StepRunning:
		r.running++
	}
	switch {
	case !from.Terminal() && to.Terminal():
		r.remaining--
		if r.remaining == 0 && r.endAt.IsZero() {
			r.endAt = st.finishedAt
		}
	case from.Terminal() && !to.Terminal():
		r.remaining++
	}
	st.status = to
	t.touch(r, st)
}

// makeReady makes a step whose dependencies allow it claimable: ready, or
// queued when its run has a MaxParallel (admit then decides).
func (t *txn) makeReady(r *runState, st *stepState, now time.Time) {
	st.readyAt = now
	if r.maxParallel > 0 {
		t.move(r, st, stepQueued)
		return
	}
	t.move(r, st, weft.StepReady)
}

// cascadeRun is run r of transaction t as the state machine's cascade
// sees it (runstate.Run): steps are read as it needs them, and what it
// changes is marked for flush.
type cascadeRun struct {
	t *txn
	r *runState
}

// Dependents returns the nodes that depend on node i (which the
// transaction has), having read those of them that are pending.
func (c *cascadeRun) Dependents(i int32) ([]int32, error) {
	deps := c.r.steps[i].dependents
	if err := c.t.ensureKnown(c.r, deps); err != nil {
		return nil, err
	}
	return deps, nil
}

// Outcome returns the status and reason of node i.
func (c *cascadeRun) Outcome(i int32) (weft.StepStatus, string) {
	st := c.r.steps[i]
	return st.status, st.reason
}

// Pending returns the counters of node i when it is pending (and known).
func (c *cascadeRun) Pending(i int32) *weft.DepCounts {
	if st := c.r.steps[i]; st != nil && st.status == weft.StepPending {
		return &st.counts
	}
	return nil
}

// Trigger returns the trigger of node i.
func (c *cascadeRun) Trigger(i int32) weft.Trigger { return c.r.steps[i].trigger }

// Counted marks node i for flush.
func (c *cascadeRun) Counted(i int32) { c.t.touch(c.r, c.r.steps[i]) }

// Ready makes node i ready, or queued (see makeReady).
func (c *cascadeRun) Ready(i int32, now time.Time) { c.t.makeReady(c.r, c.r.steps[i], now) }

// Skip makes node i skipped.
func (c *cascadeRun) Skip(i int32, reason string, now time.Time) {
	st := c.r.steps[i]
	st.reason, st.finishedAt = reason, now
	c.t.move(c.r, st, weft.StepSkipped)
	c.t.event(c.r, weft.Event{Type: weft.EventStepSkipped, StepID: st.id, Time: now, Reason: reason})
}

// on returns run r as the cascade sees it. It reuses one value (no
// allocation per call): what it returns is valid until the next call.
func (t *txn) on(r *runState) *cascadeRun {
	t.cur = cascadeRun{t, r}
	return &t.cur
}

// admit makes ready, highest priority first, as many of the queued steps
// of run r as its MaxParallel leaves room for (ready and running steps
// count).
func (t *txn) admit(r *runState) error {
	if r.maxParallel <= 0 || r.status.Terminal() {
		return nil
	}
	room := r.maxParallel - r.ready - r.running
	if room <= 0 {
		return nil
	}
	if err := t.ensureQueued(r); err != nil {
		return err
	}
	var queued []*stepState
	for _, st := range r.steps {
		if st != nil && st.status == stepQueued {
			queued = append(queued, st)
		}
	}
	slices.SortFunc(queued, func(a, b *stepState) int {
		if c := cmp.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	for _, st := range queued[:min(room, len(queued))] {
		t.move(r, st, weft.StepReady)
	}
	return nil
}

// finishOne records the outcome of a claimed attempt (see weft.Store's
// Finish) and returns how many steps it made ready. An unknown run or step,
// or a lease no longer held, is an opError, with nothing changed.
func (t *txn) finishOne(f *weft.StepFinish) (*runState, int, error) {
	l := f.Lease
	r := t.byID[l.RunID]
	if r == nil {
		return nil, 0, opError{fmt.Errorf("run %s: %w", l.RunID, weft.ErrNotFound)}
	}
	st := r.steps[l.Index]
	if st == nil || st.id != l.StepID {
		var err error
		if st, err = t.stepByID(r, l.StepID); err != nil {
			return nil, 0, err
		}
		if st == nil {
			return nil, 0, opError{fmt.Errorf("run %s step %s: %w", l.RunID, l.StepID, weft.ErrNotFound)}
		}
	}
	if st.status != weft.StepRunning || st.attempts != l.Attempt || st.worker != l.Worker {
		return nil, 0, opError{fmt.Errorf("run %s step %s attempt %d: %w", l.RunID, l.StepID, l.Attempt, weft.ErrLeaseLost)}
	}
	f = runstate.ClockedFinish(f, r.clock.Now(f.Now))
	st.worker, st.leaseUntil = "", time.Time{}
	if !f.StartedAt.IsZero() && f.Now.After(f.StartedAt) {
		st.runTime += f.Now.Sub(f.StartedAt)
	}
	st.usage.Add(f.Usage)
	r.usage.Add(f.Usage)
	switch f.Status {
	case weft.StepSucceeded:
		st.output, st.err, st.finishedAt = f.Output, nil, f.Now
	case weft.StepFailed:
		st.err, st.finishedAt = f.Error, f.Now
		r.failed++
	case weft.StepSkipped:
		st.reason, st.finishedAt = f.Reason, f.Now
	case weft.StepRetrying:
		st.err, st.retryAt, st.readyAt = f.Error, f.RetryAt, f.RetryAt
	}
	t.move(r, st, f.Status)
	e := runstate.FinishEvent(f)
	e.StepID = st.id
	t.event(r, e)
	if !st.status.Terminal() {
		return r, 0, nil
	}
	ready, err := t.cascade.Settled(t.on(r), st.idx, f.Now)
	return r, ready, err
}

// Reading what ending a run needs: its sinks, and its first failed step's
// error.
const (
	sinksSQL = `SELECT s.run_seq, s.step_id, s.status, s.output FROM steps s
		WHERE s.run_seq = ANY($1) AND s.sink ORDER BY s.run_seq, s.idx`
	firstFailedSQL = `SELECT s.step_id, s.error_code, s.error_message FROM steps s
		WHERE s.key >= $1 AND s.key < $2 AND s.status = 'failed' AND s.error_code IS NOT NULL ORDER BY s.key LIMIT 1`
)

// endRuns ends the runs whose steps are now all done: their result from
// their sinks (weft.ComposeResult), succeeded or failed (with the first
// failed step's error), and the event that says so.
func (t *txn) endRuns() error {
	var ending, failing []int64
	for _, r := range t.runs {
		if !r.endAt.IsZero() && r.remaining == 0 && !r.status.Terminal() {
			ending = append(ending, r.seq)
			if r.failed > 0 {
				failing = append(failing, r.seq)
			}
		}
	}
	if len(ending) == 0 {
		return nil
	}
	sinks := make(map[int64][]*weft.StepRun)
	firstFailed := make(map[int64]*runstate.FirstFailed)
	t.flush()
	t.queue(sinksSQL, ending).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var seq int64
			s := &weft.StepRun{}
			var status string
			var out []byte
			if err := rows.Scan(&seq, &s.StepID, &status, &out); err != nil {
				return err
			}
			s.Status, s.Output = weft.StepStatus(status), rawJSON(out)
			sinks[seq] = append(sinks[seq], s)
		}
		return rows.Err()
	})
	for _, seq := range failing {
		lo, hi := runKeys(seq)
		t.queue(firstFailedSQL, lo, hi).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var code, msg pgtype.Text
				if err := rows.Scan(&id, &code, &msg); err != nil {
					return err
				}
				firstFailed[seq] = &runstate.FirstFailed{StepID: id, Error: &weft.ErrorInfo{Code: weft.Code(code.String), Message: msg.String}}
			}
			return rows.Err()
		})
	}
	if err := t.send(); err != nil {
		return fmt.Errorf("read the sinks of ended runs: %w", err)
	}
	for _, seq := range ending {
		r := t.runs[seq]
		end := runstate.End(r.endAt, sinks[seq], r.failed, firstFailed[seq])
		r.status, r.err, r.result, r.finishedAt = end.Status, end.Error, end.Result, r.endAt
		t.event(r, end.Event)
	}
	return nil
}
