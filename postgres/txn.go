package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// A txn is one transaction: its connection, the statements queued for its
// next round trip (sent together, pipelined), the runs it has locked with
// the steps it has read of them, and what it changed, written set-wise
// (flush) before the statements that must see it.
//
// Steps are read as they are needed: the steps an operation changes, their
// pending dependents (those whose counters an outcome changes), and so on.
// A run's entry for a node index is the step as this transaction has it
// (what it read, plus its changes), or nil when the step is known not to
// be pending (its dependents' outcomes do not matter to it any more).
// Every change to a run is made with its runs row locked, so what a txn
// read of a run stays true until it commits.
type txn struct {
	ctx    context.Context
	conn   *pgx.Conn
	schema string
	cache  *runCache
	b      *pgx.Batch
	began  bool

	runs map[int64]*runState // the runs this transaction has locked, by seq
	byID map[string]*runState

	dirtyRuns  []*runState
	dirtySteps []dirtyStep
	events     []eventRow

	// fresh are the steps this transaction made ready; unclaimed is how
	// many steps it made ready without reading them (CreateRun,
	// ReclaimExpired). Steps left ready are announced at commit.
	fresh     []*stepState
	unclaimed int

	claimNow time.Time // the time of the claims served (the latest of their requests')
	skipped  bool      // claims skipped runs that other transactions held

	current *op // the operation being worked on, to hand a panic to its caller
}

type dirtyStep struct {
	r  *runState
	st *stepState
}

type eventRow struct {
	runSeq int64
	e      weft.Event
}

// newTxn returns a transaction, not begun yet, on conn.
func (s *Store) newTxn(ctx context.Context, conn *pgx.Conn) *txn {
	return &txn{ctx: ctx, conn: conn, schema: s.opts.Schema, cache: &s.runs,
		runs: make(map[int64]*runState), byID: make(map[string]*runState)}
}

// queue queues a statement for the next round trip (after BEGIN, for the
// transaction's first).
func (t *txn) queue(sql string, args ...any) *pgx.QueuedQuery {
	if t.b == nil {
		t.b = &pgx.Batch{}
		if !t.began {
			t.b.Queue("BEGIN")
			t.began = true
		}
	}
	return t.b.Queue(sql, args...)
}

// send runs the queued statements in one round trip.
func (t *txn) send() error {
	if t.b == nil {
		return nil
	}
	b := t.b
	t.b = nil
	return t.conn.SendBatch(t.ctx, b).Close()
}

// commit writes what changed, then queued statements that must see it
// (queued by more, which may be nil), a notification when the transaction
// leaves ready steps it made ready (so that other processes look), and
// commits.
func (t *txn) commit(more func()) error {
	t.flush()
	if more != nil {
		more()
	}
	if t.leavesReady() {
		t.queue(`SELECT pg_notify('weft_ready', $1)`, t.schema)
	}
	t.queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("commit: the server answered %s", ct)
		}
		return nil
	})
	return t.send()
}

// leavesReady reports whether the transaction leaves ready steps that it
// made ready.
func (t *txn) leavesReady() bool {
	if t.unclaimed > 0 {
		return true
	}
	for _, st := range t.fresh {
		if st.status == weft.StepReady {
			return true
		}
	}
	return false
}

// rollback ends a transaction that failed. A connection that cannot roll
// back is closed by the pool when released (it is not idle).
func (t *txn) rollback() {
	if t.began {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.conn.Exec(ctx, "ROLLBACK")
	}
}

// The runs row columns a txn reads when it locks a run.
const runCols = `seq, id, status, max_parallel, result, error_code, error_message, started_at, finished_at,
	remaining, failed, ready, running, peak_parallel, last_event, prompt_tokens, completion_tokens, total_tokens`

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
		started, finished                                    pgtype.Timestamptz
		maxParallel, remaining, failed, ready, running, peak int32
	)
	err := rows.Scan(&r.seq, &r.id, &status, &maxParallel, &r.result, &errCode, &errMsg, &started, &finished,
		&remaining, &failed, &ready, &running, &peak, &r.lastEvent,
		&r.usage.PromptTokens, &r.usage.CompletionTokens, &r.usage.TotalTokens)
	if err != nil {
		return nil, fmt.Errorf("read a run: %w", err)
	}
	r.status, r.err = weft.RunStatus(status), errorInfo(errCode, errMsg)
	r.startedAt, r.finishedAt = timeOf(started), timeOf(finished)
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

// touch marks step st of run r changed.
func (t *txn) touch(r *runState, st *stepState) {
	if !st.dirty {
		st.dirty = true
		t.dirtySteps = append(t.dirtySteps, dirtyStep{r, st})
	}
	t.touchRun(r)
}

// touchRun marks run r changed.
func (t *txn) touchRun(r *runState) {
	if !r.dirty {
		r.dirty = true
		t.dirtyRuns = append(t.dirtyRuns, r)
	}
}

// event appends an event to run r's history (e.StepID set for a step
// event).
func (t *txn) event(r *runState, e weft.Event) {
	r.lastEvent++
	e.Seq = r.lastEvent
	t.events = append(t.events, eventRow{runSeq: r.seq, e: e})
	t.touchRun(r)
}

// Writing what changed, set-wise: one statement for the steps, one for the
// runs, one for the events.
const (
	// updateStepsSQL writes steps (by key, $1).
	updateStepsSQL = `UPDATE steps AS s SET
		status = v.status, reason = v.reason, attempts = v.attempts, output = COALESCE(v.output, s.output),
		error_code = v.error_code, error_message = v.error_message, worker = v.worker,
		lease_until = v.lease_until, ready_at = v.ready_at, retry_at = v.retry_at, started_at = v.started_at,
		first_started_at = v.first_started_at, finished_at = v.finished_at, queue_wait = v.queue_wait,
		run_time = v.run_time, prompt_tokens = v.prompt_tokens, completion_tokens = v.completion_tokens,
		total_tokens = v.total_tokens, deps_succeeded = v.ds, deps_failed = v.df, deps_skipped = v.dk,
		deps_canceled = v.dc, deps_skipped_for_failure = v.dsf
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::bytea[], $6::text[], $7::text[],
		$8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
		$13::timestamptz[], $14::timestamptz[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[],
		$19::bigint[], $20::int[], $21::int[], $22::int[], $23::int[], $24::int[])
		AS v(key, status, reason, attempts, output, error_code, error_message, worker, lease_until,
			ready_at, retry_at, started_at, first_started_at, finished_at, queue_wait, run_time,
			prompt_tokens, completion_tokens, total_tokens, ds, df, dk, dc, dsf)
	WHERE s.key = ANY($1) AND s.key = v.key`

	updateRunsSQL = `UPDATE runs AS r SET
		status = v.status, result = v.result, error_code = v.error_code, error_message = v.error_message,
		started_at = v.started_at, finished_at = v.finished_at, remaining = v.remaining, failed = v.failed,
		ready = v.ready, running = v.running, peak_parallel = v.peak, last_event = v.last_event,
		prompt_tokens = v.prompt_tokens, completion_tokens = v.completion_tokens, total_tokens = v.total_tokens
	FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::timestamptz[],
		$7::timestamptz[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::bigint[],
		$14::bigint[], $15::bigint[], $16::bigint[])
		AS v(seq, status, result, error_code, error_message, started_at, finished_at, remaining, failed,
			ready, running, peak, last_event, prompt_tokens, completion_tokens, total_tokens)
	WHERE r.seq = ANY($1) AND r.seq = v.seq`

	insertEventsSQL = `INSERT INTO events (run_seq, seq, step_id, type, time, attempt, worker, delay, reason,
		error_code, error_message, data)
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::int[],
		$7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bytea[])`
)

// flush queues the statements that write what changed since the last
// flush.
func (t *txn) flush() {
	if len(t.dirtySteps) > 0 {
		var c stepColumns
		for _, d := range t.dirtySteps {
			c.add(d.r.seq, d.st)
			d.st.dirty = false
		}
		clear(t.dirtySteps)
		t.dirtySteps = t.dirtySteps[:0]
		t.queue(updateStepsSQL, c.args()...)
	}
	if len(t.dirtyRuns) > 0 {
		var c runColumns
		for _, r := range t.dirtyRuns {
			c.add(r)
			r.dirty = false
		}
		clear(t.dirtyRuns)
		t.dirtyRuns = t.dirtyRuns[:0]
		t.queue(updateRunsSQL, c.args()...)
	}
	if len(t.events) > 0 {
		var c eventColumns
		for i := range t.events {
			c.add(&t.events[i])
		}
		clear(t.events)
		t.events = t.events[:0]
		t.queue(insertEventsSQL, c.args()...)
	}
}

// errorColumns are the error_code and error_message parameters of a
// statement that writes rows.
type errorColumns struct{ code, msg []pgtype.Text }

func (c *errorColumns) add(e *weft.ErrorInfo) {
	code, msg := errorText(e)
	c.code, c.msg = append(c.code, code), append(c.msg, msg)
}

// usageColumns are the token count parameters of a statement that writes
// rows.
type usageColumns struct{ prompt, completion, total []int64 }

func (c *usageColumns) add(u weft.Usage) {
	c.prompt = append(c.prompt, u.PromptTokens)
	c.completion = append(c.completion, u.CompletionTokens)
	c.total = append(c.total, u.TotalTokens)
}

// stepColumns are the parameters of updateStepsSQL.
type stepColumns struct {
	key                                           []int64
	attempts, ds, df, dk, dc, dsf                 []int32
	status, reason, worker                        []string
	output                                        [][]byte
	errs                                          errorColumns
	lease, ready, retry, started, first, finished []pgtype.Timestamptz
	queueWait, runTime                            []int64
	usage                                         usageColumns
}

func (c *stepColumns) add(seq int64, st *stepState) {
	c.key = append(c.key, stepKey(seq, st.idx))
	c.status = append(c.status, string(st.status))
	c.reason = append(c.reason, text(st.reason))
	c.attempts = append(c.attempts, int32(st.attempts))
	c.output = append(c.output, st.output)
	c.errs.add(st.err)
	c.worker = append(c.worker, st.worker)
	c.lease = append(c.lease, ts(st.leaseUntil))
	c.ready = append(c.ready, ts(st.readyAt))
	c.retry = append(c.retry, ts(st.retryAt))
	c.started = append(c.started, ts(st.startedAt))
	c.first = append(c.first, ts(st.firstStartedAt))
	c.finished = append(c.finished, ts(st.finishedAt))
	c.queueWait = append(c.queueWait, int64(st.queueWait))
	c.runTime = append(c.runTime, int64(st.runTime))
	c.usage.add(st.usage)
	k := &st.counts
	c.ds = append(c.ds, int32(k.Succeeded))
	c.df = append(c.df, int32(k.Failed))
	c.dk = append(c.dk, int32(k.Skipped))
	c.dc = append(c.dc, int32(k.Canceled))
	c.dsf = append(c.dsf, int32(k.SkippedForFailure))
}

func (c *stepColumns) args() []any {
	return []any{c.key, c.status, c.reason, c.attempts, c.output, c.errs.code, c.errs.msg, c.worker,
		c.lease, c.ready, c.retry, c.started, c.first, c.finished, c.queueWait, c.runTime,
		c.usage.prompt, c.usage.completion, c.usage.total, c.ds, c.df, c.dk, c.dc, c.dsf}
}

// runColumns are the parameters of updateRunsSQL.
type runColumns struct {
	seq, lastEvent                          []int64
	status                                  []string
	result                                  [][]byte
	errs                                    errorColumns
	started, finished                       []pgtype.Timestamptz
	remaining, failed, ready, running, peak []int32
	usage                                   usageColumns
}

func (c *runColumns) add(r *runState) {
	c.seq = append(c.seq, r.seq)
	c.status = append(c.status, string(r.status))
	c.result = append(c.result, r.result)
	c.errs.add(r.err)
	c.started = append(c.started, ts(r.startedAt))
	c.finished = append(c.finished, ts(r.finishedAt))
	c.remaining = append(c.remaining, int32(r.remaining))
	c.failed = append(c.failed, int32(r.failed))
	c.ready = append(c.ready, int32(r.ready))
	c.running = append(c.running, int32(r.running))
	c.peak = append(c.peak, int32(r.peak))
	c.lastEvent = append(c.lastEvent, r.lastEvent)
	c.usage.add(r.usage)
}

func (c *runColumns) args() []any {
	return []any{c.seq, c.status, c.result, c.errs.code, c.errs.msg, c.started, c.finished, c.remaining, c.failed,
		c.ready, c.running, c.peak, c.lastEvent, c.usage.prompt, c.usage.completion, c.usage.total}
}

// eventColumns are the parameters of insertEventsSQL.
type eventColumns struct {
	runSeq, seq, delay          []int64
	stepID, typ, worker, reason []string
	time                        []pgtype.Timestamptz
	attempt                     []int32
	errs                        errorColumns
	data                        [][]byte
}

func (c *eventColumns) add(ev *eventRow) {
	e := &ev.e
	c.runSeq = append(c.runSeq, ev.runSeq)
	c.seq = append(c.seq, e.Seq)
	c.stepID = append(c.stepID, e.StepID)
	c.typ = append(c.typ, string(e.Type))
	c.time = append(c.time, ts(e.Time))
	c.attempt = append(c.attempt, int32(e.Attempt))
	c.worker = append(c.worker, e.Worker)
	c.delay = append(c.delay, int64(e.Delay))
	c.reason = append(c.reason, text(e.Reason))
	c.errs.add(e.Error)
	c.data = append(c.data, nilIfEmpty(e.Data))
}

func (c *eventColumns) args() []any {
	return []any{c.runSeq, c.seq, c.stepID, c.typ, c.time, c.attempt, c.worker, c.delay, c.reason,
		c.errs.code, c.errs.msg, c.data}
}

// opError is the error of one operation that changed nothing (an unknown
// run, a lost lease): it fails that operation alone, not its transaction.
type opError struct{ err error }

func (e opError) Error() string { return e.err.Error() }
func (e opError) Unwrap() error { return e.err }

// isOpError reports whether err is an operation's own failure.
func isOpError(err error) bool {
	var oe opError
	return errors.As(err, &oe)
}

// rawJSON returns b as a JSON value, nil for none.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nilIfEmpty returns nil for an empty value, stored as NULL.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// stepKey is the key of node idx of run seq.
func stepKey(seq int64, idx int32) int64 { return seq<<32 + int64(idx) }

// stepKeys are the keys of nodes idxs of run seq.
func stepKeys(seq int64, idxs []int32) []int64 {
	keys := make([]int64, len(idxs))
	for k, i := range idxs {
		keys[k] = stepKey(seq, i)
	}
	return keys
}

// runKeys is the range of the keys of run seq's steps: [lo, hi).
func runKeys(seq int64) (lo, hi int64) { return stepKey(seq, 0), stepKey(seq+1, 0) }
