package postgres

import (
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// How a txn writes what it changed (flush), and the parameters of the
// statements that write it.

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
		prompt_tokens = v.prompt_tokens, completion_tokens = v.completion_tokens, total_tokens = v.total_tokens,
		last_time = v.last_time
	FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::timestamptz[],
		$7::timestamptz[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::bigint[],
		$14::bigint[], $15::bigint[], $16::bigint[], $17::timestamptz[])
		AS v(seq, status, result, error_code, error_message, started_at, finished_at, remaining, failed,
			ready, running, peak, last_event, prompt_tokens, completion_tokens, total_tokens, last_time)
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
	started, finished, last                 []pgtype.Timestamptz
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
	c.last = append(c.last, ts(r.clock.Last))
}

func (c *runColumns) args() []any {
	return []any{c.seq, c.status, c.result, c.errs.code, c.errs.msg, c.started, c.finished, c.remaining, c.failed,
		c.ready, c.running, c.peak, c.lastEvent, c.usage.prompt, c.usage.completion, c.usage.total, c.last}
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
