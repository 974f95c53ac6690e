package sqlite

import (
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/weft-dev/weft"
)

// How runs, steps and events map to rows: the column lists and the
// statements that read and write them.

// runCols are the columns runFrom reads, in order, from runsJoin.
const (
	runCols = `r.seq, r.id, r.workflow_id, r.status, r.idempotency_key, p.params, p.workflow, r.max_parallel,
	r.deadline, r.result, r.error_code, r.error_message, r.created_at, r.started_at, r.finished_at, r.step_count,
	r.peak_parallel, r.running, r.ready, r.remaining, r.failed, r.last_event, r.prompt_tokens,
	r.completion_tokens, r.total_tokens, r.workflow_version`
	runsJoin = `runs r JOIN run_plans p ON p.run_seq = r.seq`
)

// runFrom reads a run (without its steps) and its number of steps.
func runFrom(v []driver.Value) (*run, int) {
	r := &run{
		seq: i64(v[0]),
		rec: weft.Run{
			ID: str(v[1]), WorkflowID: str(v[2]), WorkflowVersion: int(i64(v[25])),
			Status: weft.RunStatus(str(v[3])), IdempotencyKey: str(v[4]),
			Params: blob(v[5]), Workflow: blob(v[6]), MaxParallel: int(i64(v[7])), Deadline: timeOf(i64(v[8])),
			Result: blob(v[9]), Error: errorOf(v[10], v[11]),
			CreatedAt: timeOf(i64(v[12])), StartedAt: timeOf(i64(v[13])), FinishedAt: timeOf(i64(v[14])),
			PeakParallel: int(i64(v[16])), StepCount: int(i64(v[15])),
			Usage: weft.Usage{PromptTokens: i64(v[22]), CompletionTokens: i64(v[23]), TotalTokens: i64(v[24])},
		},
		running: int(i64(v[17])), ready: int(i64(v[18])), remaining: int(i64(v[19])), failed: int(i64(v[20])),
		events: i64(v[21]),
	}
	return r, int(i64(v[15]))
}

const insertRun = `INSERT INTO runs (id, workflow_id, status, idempotency_key, max_parallel,
	deadline, result, error_code, error_message, created_at, started_at, finished_at, step_count, peak_parallel,
	running, ready, remaining, failed, last_event, prompt_tokens, completion_tokens, total_tokens, workflow_version)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (r *run) insertArgs() []any {
	code, msg := errorArgs(r.rec.Error)
	return []any{r.rec.ID, r.rec.WorkflowID, string(r.rec.Status), nullStr(r.rec.IdempotencyKey),
		int64(r.rec.MaxParallel), nullInt(nanos(r.rec.Deadline)),
		nullBlob(r.rec.Result), code, msg, nanos(r.rec.CreatedAt), nullInt(nanos(r.rec.StartedAt)),
		nullInt(nanos(r.rec.FinishedAt)), int64(len(r.steps)), int64(r.rec.PeakParallel),
		int64(r.running), int64(r.ready), int64(r.remaining), int64(r.failed), r.events,
		r.rec.Usage.PromptTokens, r.rec.Usage.CompletionTokens, r.rec.Usage.TotalTokens,
		int64(r.rec.WorkflowVersion)}
}

const updateRun = `UPDATE runs SET status = ?, result = ?, error_code = ?, error_message = ?, started_at = ?,
	finished_at = ?, peak_parallel = ?, running = ?, ready = ?, remaining = ?, failed = ?, last_event = ?,
	prompt_tokens = ?, completion_tokens = ?, total_tokens = ? WHERE seq = ?`

func (r *run) updateArgs() []any {
	code, msg := errorArgs(r.rec.Error)
	return []any{string(r.rec.Status), nullBlob(r.rec.Result), code, msg, nullInt(nanos(r.rec.StartedAt)),
		nullInt(nanos(r.rec.FinishedAt)), int64(r.rec.PeakParallel), int64(r.running), int64(r.ready),
		int64(r.remaining), int64(r.failed), r.events,
		r.rec.Usage.PromptTokens, r.rec.Usage.CompletionTokens, r.rec.Usage.TotalTokens, r.seq}
}

// stepCols are the columns stepFrom reads, in order.
const stepCols = `id, idx, step_id, type, pool, priority, trigger, sink, deps_total, status, reason, attempts,
	output, error_code, error_message, worker, lease_until, ready_at, retry_at, started_at, first_started_at,
	finished_at, queue_wait, run_time, prompt_tokens, completion_tokens, total_tokens, deps_succeeded,
	deps_failed, deps_skipped, deps_canceled, deps_skipped_for_failure`

func stepFrom(st *step, v []driver.Value) {
	*st = step{
		id: str(v[2]), typ: str(v[3]), pool: str(v[4]), priority: int32(i64(v[5])), trigger: weft.Trigger(str(v[6])),
		sink: i64(v[7]) != 0, status: weft.StepStatus(str(v[9])), reason: str(v[10]), attempts: int(i64(v[11])),
		output: blob(v[12]), err: errorOf(v[13], v[14]), worker: str(v[15]),
		leaseUntil: i64(v[16]), readyAt: i64(v[17]), retryAt: i64(v[18]), startedAt: i64(v[19]),
		firstStartedAt: i64(v[20]), finishedAt: i64(v[21]), queueWait: i64(v[22]), runTime: i64(v[23]),
		usage: weft.Usage{PromptTokens: i64(v[24]), CompletionTokens: i64(v[25]), TotalTokens: i64(v[26])},
		counts: weft.DepCounts{Total: int(i64(v[8])), Succeeded: int(i64(v[27])), Failed: int(i64(v[28])),
			Skipped: int(i64(v[29])), Canceled: int(i64(v[30])), SkippedForFailure: int(i64(v[31]))},
	}
}

// insertSteps stores new steps, pending or ready (the only states a step
// is created in), many per statement (see wconn.insertMany).
const (
	insertStepsSQL = `INSERT INTO steps (id, run_seq, idx, step_id, type, pool, priority, trigger, sink,
	deps_total, status, ready_at)`
	stepColumns = 12
)

func (st *step) appendInsertArgs(args []any, runSeq int64, i int32) []any {
	sink := int64(0)
	if st.sink {
		sink = 1
	}
	return append(args, stepKey(runSeq, i), runSeq, int64(i), st.id, st.typ, st.pool, int64(st.priority),
		string(st.trigger), sink, int64(st.counts.Total), string(st.status), nullInt(st.readyAt))
}

const updateStep = `UPDATE steps SET status = ?, reason = ?, attempts = ?, output = ?, error_code = ?,
	error_message = ?, worker = ?, lease_until = ?, ready_at = ?, retry_at = ?, started_at = ?,
	first_started_at = ?, finished_at = ?, queue_wait = ?, run_time = ?, prompt_tokens = ?,
	completion_tokens = ?, total_tokens = ?, deps_succeeded = ?, deps_failed = ?, deps_skipped = ?,
	deps_canceled = ?, deps_skipped_for_failure = ? WHERE id = ?`

func (st *step) updateArgs(key int64) []any {
	code, msg := errorArgs(st.err)
	return []any{string(st.status), st.reason, int64(st.attempts), nullBlob(st.output), code, msg, st.worker,
		nullInt(st.leaseUntil), nullInt(st.readyAt), nullInt(st.retryAt), nullInt(st.startedAt),
		nullInt(st.firstStartedAt), nullInt(st.finishedAt), st.queueWait, st.runTime,
		st.usage.PromptTokens, st.usage.CompletionTokens, st.usage.TotalTokens,
		int64(st.counts.Succeeded), int64(st.counts.Failed), int64(st.counts.Skipped), int64(st.counts.Canceled),
		int64(st.counts.SkippedForFailure), key}
}

// updateStart writes what a claim changes.
const updateStart = `UPDATE steps SET status = ?, attempts = ?, worker = ?, lease_until = ?, started_at = ?,
	first_started_at = ?, queue_wait = ? WHERE id = ?`

func (st *step) startArgs(key int64) []any {
	return []any{string(st.status), int64(st.attempts), st.worker, nullInt(st.leaseUntil), nullInt(st.startedAt),
		nullInt(st.firstStartedAt), st.queueWait, key}
}

// updateFinish writes what Finish changes.
const updateFinish = `UPDATE steps SET status = ?, reason = ?, output = ?, error_code = ?, error_message = ?,
	worker = ?, lease_until = ?, ready_at = ?, retry_at = ?, finished_at = ?, run_time = ?, prompt_tokens = ?,
	completion_tokens = ?, total_tokens = ? WHERE id = ?`

func (st *step) finishArgs(key int64) []any {
	code, msg := errorArgs(st.err)
	return []any{string(st.status), st.reason, nullBlob(st.output), code, msg, st.worker, nullInt(st.leaseUntil),
		nullInt(st.readyAt), nullInt(st.retryAt), nullInt(st.finishedAt), st.runTime,
		st.usage.PromptTokens, st.usage.CompletionTokens, st.usage.TotalTokens, key}
}

// updateDecided writes what decide changes: pending steps made ready or
// skipped (see wconn.updateIn). Their dependency counters are not written:
// only those of pending steps are ever read (to decide them).
const updateDecided = `UPDATE steps SET status = ?, reason = ?, ready_at = ?, finished_at = ? WHERE id IN`

// updateCounts writes a step's counters of its dependencies' outcomes.
const updateCounts = `UPDATE steps SET deps_succeeded = ?, deps_failed = ?, deps_skipped = ?, deps_canceled = ?,
	deps_skipped_for_failure = ? WHERE id = ?`

func (st *step) countsArgs(key int64) []any {
	return []any{int64(st.counts.Succeeded), int64(st.counts.Failed), int64(st.counts.Skipped),
		int64(st.counts.Canceled), int64(st.counts.SkippedForFailure), key}
}

// eventRow is an event to append, of run runSeq.
type eventRow struct {
	runSeq int64
	e      weft.Event
}

// insertEventsSQL appends events, many per statement.
const (
	insertEventsSQL = `INSERT INTO events (run_seq, seq, step_id, type, time, attempt, worker, delay, reason,
	error_code, error_message, data)`
	eventColumns = 12
)

func (er *eventRow) appendArgs(args []any) []any {
	e := &er.e
	code, msg := errorArgs(e.Error)
	return append(args, er.runSeq, e.Seq, e.StepID, string(e.Type), e.Time.UnixNano(), int64(e.Attempt), e.Worker,
		int64(e.Delay), e.Reason, code, msg, nullBlob(e.Data))
}

// eventCols are the columns eventFrom reads, in order.
const eventCols = `seq, step_id, type, time, attempt, worker, delay, reason, error_code, error_message, data`

func eventFrom(runID string, v []driver.Value) weft.Event {
	return weft.Event{
		Seq: i64(v[0]), RunID: runID, StepID: str(v[1]), Type: weft.EventType(str(v[2])), Time: time.Unix(0, i64(v[3])),
		Attempt: int(i64(v[4])), Worker: str(v[5]), Delay: time.Duration(i64(v[6])), Reason: str(v[7]),
		Error: errorOf(v[8], v[9]), Data: blob(v[10]),
	}
}

// readStepCols are the columns readStepFrom reads, in order.
const readStepCols = `step_id, type, status, reason, attempts, output, error_code, error_message, worker,
	ready_at, started_at, finished_at, lease_until, prompt_tokens, completion_tokens, total_tokens,
	queue_wait, run_time`

func readStepFrom(v []driver.Value) weft.StepRun {
	return weft.StepRun{
		StepID: str(v[0]), Type: str(v[1]), Status: weft.StepStatus(str(v[2])), Reason: str(v[3]),
		Attempts: int(i64(v[4])), Output: blob(v[5]), Error: errorOf(v[6], v[7]), Worker: str(v[8]),
		ReadyAt: timeOf(i64(v[9])), StartedAt: timeOf(i64(v[10])), FinishedAt: timeOf(i64(v[11])),
		LeaseUntil: timeOf(i64(v[12])),
		Usage:      weft.Usage{PromptTokens: i64(v[13]), CompletionTokens: i64(v[14]), TotalTokens: i64(v[15])},
		QueueWait:  time.Duration(i64(v[16])), RunTime: time.Duration(i64(v[17])),
	}
}

// corrupt reports data the store cannot have written.
func corrupt(what string, err error) error {
	return fmt.Errorf("corrupt database: %s: %w", what, err)
}
