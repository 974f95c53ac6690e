package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// The store's read side: runs, steps, listings, events and outputs. Each
// call reads what was committed when it started; none takes a lock.

// recordCols are the columns of a run's record (weft.Run), from
// recordFrom, in the order of record.dest, the workflow document being
// the expression WF (see recordColsWith).
const (
	recordCols = `r.seq, r.id, r.workflow_id, r.workflow_version, r.status, r.idempotency_key, d.params,
		d.workflow_rev, WF, r.max_parallel, r.deadline, r.result, r.error_code, r.error_message, r.prompt_tokens,
		r.completion_tokens, r.total_tokens, r.peak_parallel, r.created_at, r.started_at, r.finished_at,
		r.step_count, r.remaining, r.running, r.failed, r.last_event`
	recordFrom = `runs r JOIN run_docs d ON d.run_seq = r.seq`
)

// recordColsWith returns recordCols with wf as the workflow document's
// expression: d.workflow, or one that reads it only when needed.
func recordColsWith(wf string) string { return strings.Replace(recordCols, "WF", wf, 1) }

// docCacheBytes is how many bytes of workflow documents a docCache keeps
// before it starts afresh.
const docCacheBytes = 64 << 20

// docCache keeps the workflow documents of the runs read, by run id, with
// their revision (run_docs.workflow_rev), so that a run's record is read
// without its document while the revision is the one kept. It is safe for
// concurrent use; the zero value is empty and ready.
type docCache struct {
	mu   sync.Mutex
	m    map[string]cachedDoc
	size int
}

type cachedDoc struct {
	rev int32
	doc json.RawMessage
}

// rev returns the revision kept of run id's document, -1 for none.
func (c *docCache) rev(id string) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.m[id]; ok {
		return d.rev
	}
	return -1
}

// resolve returns run id's document at revision rev: doc when it was
// read (not nil, or the statement read it), else the one kept, which must
// be at rev.
func (c *docCache) resolve(id string, rev int32, doc []byte, read bool) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !read {
		d, ok := c.m[id]
		if !ok || d.rev != rev {
			return nil, false
		}
		return d.doc, true
	}
	if c.m == nil || c.size+len(doc) > docCacheBytes {
		c.m, c.size = make(map[string]cachedDoc), 0
	}
	if old, ok := c.m[id]; ok {
		c.size -= len(old.doc)
	}
	c.m[id] = cachedDoc{rev: rev, doc: rawJSON(doc)}
	c.size += len(doc)
	return rawJSON(doc), true
}

// record is a run's record as scanned (dest), before run makes it a
// weft.Run.
type record struct {
	weft.Run
	seq                                int64
	workflowRev                        int32
	status                             string
	key, errCode, errMsg               pgtype.Text
	params, workflow, result           []byte
	version, maxParallel, peak         int32
	deadline, created, started, finish pgtype.Timestamptz
	// The run's counters (runs.step_count, remaining, running, failed).
	stepCount, remaining, running, failed int32
}

// dest returns the scan destinations of recordCols.
func (r *record) dest() []any {
	return []any{&r.seq, &r.ID, &r.WorkflowID, &r.version, &r.status, &r.key, &r.params, &r.workflowRev, &r.workflow,
		&r.maxParallel, &r.deadline, &r.result, &r.errCode, &r.errMsg, &r.Usage.PromptTokens,
		&r.Usage.CompletionTokens, &r.Usage.TotalTokens, &r.peak, &r.created, &r.started, &r.finish,
		&r.stepCount, &r.remaining, &r.running, &r.failed, &r.LastEvent}
}

// run returns the weft.Run of what was scanned; its Workflow is r.Workflow
// (see docCache), or, when that is not set, the document scanned.
func (r *record) run() *weft.Run {
	run := r.Run
	if run.Workflow == nil {
		run.Workflow = rawJSON(r.workflow)
	}
	run.Status, run.IdempotencyKey = weft.RunStatus(r.status), r.key.String
	run.Params, run.Result = rawJSON(r.params), rawJSON(r.result)
	run.WorkflowVersion, run.MaxParallel, run.PeakParallel = int(r.version), int(r.maxParallel), int(r.peak)
	run.Error = errorInfo(r.errCode, r.errMsg)
	run.Deadline, run.CreatedAt, run.StartedAt, run.FinishedAt = timeOf(r.deadline), timeOf(r.created), timeOf(r.started), timeOf(r.finish)
	run.StepCount, run.StepsDone = int(r.stepCount), int(r.stepCount-r.remaining)
	run.StepsRunning, run.StepsFailed = int(r.running), int(r.failed)
	return &run
}

// read runs fn on a connection of the pool, and wraps its error with
// what was asked: errors that say what the caller asked for (an unknown
// run, an invalid request) are told as they are, others with what failed.
func (s *Store) read(ctx context.Context, what string, fn func(c *pgx.Conn) error) error {
	if s.isClosed() {
		return s.wrap(what, weft.ErrClosed)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.wrap(what, err)
	}
	defer conn.Release()
	if err := fn(conn.Conn()); err != nil {
		if errors.Is(err, weft.ErrNotFound) || weft.ErrorCode(err) == weft.CodeInvalid {
			return fmt.Errorf("postgres: %w", err)
		}
		return s.wrap(what, err)
	}
	return nil
}

// runSQL reads a run's record by id ($1), its workflow document only when
// its revision is not $2.
var runSQL = `SELECT ` + recordColsWith(`CASE WHEN d.workflow_rev = $2 THEN NULL ELSE d.workflow END`) +
	` FROM ` + recordFrom + ` WHERE r.id = $1`

// Run returns a run's record; see weft.Store. The run's workflow document
// is read once per process (and again when RetryRun replaced it).
func (s *Store) Run(ctx context.Context, runID string) (*weft.Run, error) {
	var rec record
	err := s.read(ctx, "run "+runID, func(c *pgx.Conn) error {
		for {
			kept := s.docs.rev(runID)
			err := c.QueryRow(ctx, runSQL, runID, kept).Scan(rec.dest()...)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("run %s: %w", runID, weft.ErrNotFound)
			}
			if err != nil {
				return err
			}
			var ok bool
			if rec.Workflow, ok = s.docs.resolve(runID, rec.workflowRev, rec.workflow, rec.workflowRev != kept); ok {
				return nil
			}
			// The document kept was dropped meanwhile: read it again.
		}
	})
	if err != nil {
		return nil, err
	}
	return rec.run(), nil
}

// runSeqSQL finds a run's seq by id.
const runSeqSQL = `SELECT seq FROM runs WHERE id = $1`

// readRun runs, in one round trip, the lookup of run id and the queries
// queued by more (which may refer to the run as (SELECT seq FROM runs
// WHERE id = $1)); it returns an error wrapping weft.ErrNotFound, naming
// what was asked ("steps of run X"), when there is no such run.
func readRun(ctx context.Context, c *pgx.Conn, id, what string, more func(b *pgx.Batch)) error {
	b := &pgx.Batch{}
	found := false
	b.Queue(runSeqSQL, id).Query(func(rows pgx.Rows) error {
		found = rows.Next()
		rows.Close()
		return rows.Err()
	})
	more(b)
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s %s: %w", what, id, weft.ErrNotFound)
	}
	return nil
}

// stepRunCols are the columns of a weft.StepRun, in the order of
// scanStepRun.
const stepRunCols = `step_id, type, status, reason, attempts, output, error_code, error_message, worker,
	ready_at, started_at, finished_at, lease_until, prompt_tokens, completion_tokens, total_tokens,
	queue_wait, run_time`

func scanStepRun(rows pgx.Rows) (*weft.StepRun, error) {
	s := &weft.StepRun{}
	var (
		status                          string
		attempts                        int32
		out                             []byte
		errCode, errMsg                 pgtype.Text
		ready, started, finished, lease pgtype.Timestamptz
		queueWait, runTime              int64
	)
	if err := rows.Scan(&s.StepID, &s.Type, &status, &s.Reason, &attempts, &out, &errCode, &errMsg, &s.Worker,
		&ready, &started, &finished, &lease, &s.Usage.PromptTokens, &s.Usage.CompletionTokens, &s.Usage.TotalTokens,
		&queueWait, &runTime); err != nil {
		return nil, err
	}
	s.Status, s.Attempts, s.Output, s.Error = reported(weft.StepStatus(status)), int(attempts), rawJSON(out), errorInfo(errCode, errMsg)
	s.ReadyAt, s.StartedAt, s.FinishedAt, s.LeaseUntil = timeOf(ready), timeOf(started), timeOf(finished), timeOf(lease)
	s.QueueWait, s.RunTime = time.Duration(queueWait), time.Duration(runTime)
	return s, nil
}

// Steps returns the state of a run's steps, in node order; see
// weft.Store.
func (s *Store) Steps(ctx context.Context, runID string) ([]*weft.StepRun, error) {
	var out []*weft.StepRun
	err := s.read(ctx, "steps of run "+runID, func(c *pgx.Conn) error {
		return readRun(ctx, c, runID, "steps of run", func(b *pgx.Batch) {
			b.Queue(`SELECT `+stepRunCols+` FROM steps WHERE key >= (`+runSeqSQL+`) << 32 AND key < ((`+runSeqSQL+`) + 1) << 32
				ORDER BY key`, runID).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					st, err := scanStepRun(rows)
					if err != nil {
						return err
					}
					out = append(out, st)
				}
				return rows.Err()
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Outputs returns the results of some steps; see weft.Store.
func (s *Store) Outputs(ctx context.Context, runID string, stepIDs []string) (map[string]weft.StepResult, error) {
	out := make(map[string]weft.StepResult, len(stepIDs))
	err := s.read(ctx, "outputs of run "+runID, func(c *pgx.Conn) error {
		return readRun(ctx, c, runID, "outputs of run", func(b *pgx.Batch) {
			b.Queue(`SELECT step_id, status, attempts, output, error_code, error_message FROM steps
				WHERE run_seq = (`+runSeqSQL+`) AND step_id = ANY($2)`, runID, stepIDs).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var (
						res             weft.StepResult
						status          string
						attempts        int32
						o               []byte
						errCode, errMsg pgtype.Text
					)
					if err := rows.Scan(&res.StepID, &status, &attempts, &o, &errCode, &errMsg); err != nil {
						return err
					}
					res.Status, res.Attempts, res.Output, res.Error = reported(weft.StepStatus(status)), int(attempts), rawJSON(o), errorInfo(errCode, errMsg)
					out[res.StepID] = res
				}
				return rows.Err()
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Events returns a run's events after a sequence number; see weft.Store.
func (s *Store) Events(ctx context.Context, runID string, after int64, limit int) ([]weft.Event, error) {
	var out []weft.Event
	lim := pgtype.Int8{Int64: int64(limit), Valid: limit > 0}
	err := s.read(ctx, "events of run "+runID, func(c *pgx.Conn) error {
		return readRun(ctx, c, runID, "events of run", func(b *pgx.Batch) {
			b.Queue(`SELECT seq, step_id, type, time, attempt, worker, delay, reason, error_code, error_message, data
				FROM events WHERE run_seq = (`+runSeqSQL+`) AND seq > $2 ORDER BY seq LIMIT $3`,
				runID, max(after, 0), lim).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					e := weft.Event{RunID: runID}
					var (
						typ             string
						at              time.Time
						attempt         int32
						delay           int64
						errCode, errMsg pgtype.Text
						data            []byte
					)
					if err := rows.Scan(&e.Seq, &e.StepID, &typ, &at, &attempt, &e.Worker, &delay, &e.Reason,
						&errCode, &errMsg, &data); err != nil {
						return err
					}
					e.Type, e.Time, e.Attempt, e.Delay = weft.EventType(typ), at, int(attempt), time.Duration(delay)
					e.Error, e.Data = errorInfo(errCode, errMsg), rawJSON(data)
					out = append(out, e)
				}
				return rows.Err()
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UnfinishedRuns lists the runs not yet over, oldest first; see
// weft.Store.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.read(ctx, "unfinished runs", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id FROM runs WHERE status IN ('pending', 'running') ORDER BY seq`)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ListRuns lists runs, newest first; see weft.Store. The cursor is the
// creation sequence number of the last run returned.
func (s *Store) ListRuns(ctx context.Context, f *weft.RunFilter) ([]*weft.Run, string, error) {
	if f == nil {
		f = &weft.RunFilter{}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	// The statement names only the filters that are set, so that each
	// shape has a plan of its own (and uses its index).
	var where []string
	args := []any{limit + 1}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Cursor != "" {
		seq, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || seq < 1 {
			return nil, "", fmt.Errorf("postgres: list runs: %w", weft.Errorf(weft.CodeInvalid, "bad cursor %q", f.Cursor))
		}
		add("r.seq < $?", seq)
	}
	if f.WorkflowID != "" {
		add("r.workflow_id = $?", f.WorkflowID)
	}
	if f.Status != "" {
		add("r.status = $?", string(f.Status))
	}
	if !f.Since.IsZero() {
		add("r.created_at >= $?", f.Since)
	}
	if !f.Until.IsZero() {
		add("r.created_at < $?", f.Until)
	}
	q := `SELECT ` + recordColsWith(`NULL::bytea`) + ` FROM ` + recordFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY r.seq DESC LIMIT $1`
	var (
		out  []*weft.Run
		next string
	)
	err := s.read(ctx, "list runs", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var recs []*record
		for rows.Next() {
			if len(recs) == limit {
				next = strconv.FormatInt(recs[len(recs)-1].seq, 10)
				break
			}
			rec := &record{}
			if err := rows.Scan(rec.dest()...); err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := s.workflowsOf(ctx, c, recs); err != nil {
			return err
		}
		for _, rec := range recs {
			out = append(out, rec.run())
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// workflowsOf sets the workflow documents of records read without them:
// those kept, and the others read (and kept).
func (s *Store) workflowsOf(ctx context.Context, c *pgx.Conn, recs []*record) error {
	missing := make(map[int64]*record)
	var seqs []int64
	for _, rec := range recs {
		doc, ok := s.docs.resolve(rec.ID, rec.workflowRev, nil, false)
		if ok {
			rec.Workflow = doc
			continue
		}
		missing[rec.seq] = rec
		seqs = append(seqs, rec.seq)
	}
	if len(seqs) == 0 {
		return nil
	}
	rows, err := c.Query(ctx, `SELECT run_seq, workflow_rev, workflow FROM run_docs WHERE run_seq = ANY($1)`, seqs)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq int64
			rev int32
			doc []byte
		)
		if err := rows.Scan(&seq, &rev, &doc); err != nil {
			return err
		}
		if rec := missing[seq]; rec != nil {
			rec.Workflow, _ = s.docs.resolve(rec.ID, rev, doc, true)
		}
	}
	return rows.Err()
}
