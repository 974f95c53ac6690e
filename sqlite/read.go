package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/weft-dev/weft"
)

// The store's read side: runs, steps, listings, events and outputs, read
// through the pool of read-only connections. Each call reads what was
// committed when it started.

// scan reads the current row of rows as driver values ([]byte copied).
func scan(rows *sql.Rows, n int) ([]driver.Value, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]driver.Value, n)
	for i, v := range vals {
		out[i] = v
	}
	return out, nil
}

// each runs fn on every row of a query.
func (s *Store) each(ctx context.Context, q string, args []any, fn func(v []driver.Value) error) error {
	if s.isClosed() {
		return weft.ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		v, err := scan(rows, len(cols))
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// runSeq returns the seq of run id, or ErrNotFound. A run's seq never
// changes: those looked up are remembered (a few thousand of them).
func (s *Store) runSeq(ctx context.Context, id string) (int64, error) {
	if s.isClosed() {
		return 0, weft.ErrClosed
	}
	s.seqs.Lock()
	seq, ok := s.seqs.m[id]
	s.seqs.Unlock()
	if ok {
		return seq, nil
	}
	err := s.rdb.QueryRowContext(ctx, `SELECT seq FROM runs WHERE id = ?`, id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("run %s: %w", id, weft.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	s.seqs.Lock()
	if s.seqs.m == nil || len(s.seqs.m) >= 4096 {
		s.seqs.m = make(map[string]int64)
	}
	s.seqs.m[id] = seq
	s.seqs.Unlock()
	return seq, nil
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

func readErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// Run returns a run's record; see weft.Store.
func (s *Store) Run(ctx context.Context, runID string) (*weft.Run, error) {
	var run *weft.Run
	err := s.each(ctx, `SELECT `+runCols+` FROM `+runsJoin+` WHERE r.id = ?`, []any{runID}, func(v []driver.Value) error {
		r, _ := runFrom(v)
		run = r.record()
		return nil
	})
	if err == nil && run == nil {
		err = fmt.Errorf("run %s: %w", runID, weft.ErrNotFound)
	}
	return run, readErr("run", err)
}

// Steps returns the state of a run's steps, in node order; see weft.Store.
func (s *Store) Steps(ctx context.Context, runID string) ([]*weft.StepRun, error) {
	seq, err := s.runSeq(ctx, runID)
	if err != nil {
		return nil, readErr("steps", err)
	}
	var all []weft.StepRun
	err = s.each(ctx, `SELECT `+readStepCols+` FROM steps WHERE id >= ? AND id < ? ORDER BY id`,
		[]any{stepKey(seq, 0), stepKey(seq+1, 0)}, func(v []driver.Value) error {
			all = append(all, readStepFrom(v))
			return nil
		})
	if err != nil {
		return nil, readErr("steps of run "+runID, err)
	}
	out := make([]*weft.StepRun, len(all))
	for i := range all {
		out[i] = &all[i]
	}
	return out, nil
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
	var where []string
	var args []any
	if f.Cursor != "" {
		seq, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || seq < 1 {
			return nil, "", fmt.Errorf("sqlite: list runs: %w", weft.Errorf(weft.CodeInvalid, "bad cursor %q", f.Cursor))
		}
		where, args = append(where, "r.seq < ?"), append(args, seq)
	}
	if f.WorkflowID != "" {
		where, args = append(where, "r.workflow_id = ?"), append(args, f.WorkflowID)
	}
	if f.Status != "" {
		where, args = append(where, "r.status = ?"), append(args, string(f.Status))
	}
	if !f.Since.IsZero() {
		where, args = append(where, "r.created_at >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "r.created_at < ?"), append(args, f.Until.UnixNano())
	}
	q := `SELECT ` + runCols + ` FROM ` + runsJoin
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY r.seq DESC LIMIT ?`
	args = append(args, limit+1)
	var out []*weft.Run
	var seqs []int64
	err := s.each(ctx, q, args, func(v []driver.Value) error {
		r, _ := runFrom(v)
		out, seqs = append(out, r.record()), append(seqs, r.seq)
		return nil
	})
	if err != nil {
		return nil, "", readErr("list runs", err)
	}
	if len(out) > limit {
		return out[:limit], strconv.FormatInt(seqs[limit-1], 10), nil
	}
	return out, "", nil
}

// UnfinishedRuns lists the runs not yet over, oldest first; see
// weft.Store.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.each(ctx, `SELECT id FROM runs WHERE status IN ('pending', 'running') ORDER BY seq`, nil, func(v []driver.Value) error {
		ids = append(ids, str(v[0]))
		return nil
	})
	return ids, readErr("unfinished runs", err)
}

// Events returns a run's events after a sequence number; see weft.Store.
func (s *Store) Events(ctx context.Context, runID string, after int64, limit int) ([]weft.Event, error) {
	seq, err := s.runSeq(ctx, runID)
	if err != nil {
		return nil, readErr("events", err)
	}
	if limit <= 0 {
		limit = -1 // no limit
	}
	var out []weft.Event
	err = s.each(ctx, `SELECT `+eventCols+` FROM events WHERE run_seq = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{seq, max(after, 0), limit}, func(v []driver.Value) error {
		out = append(out, eventFrom(runID, v))
		return nil
	})
	return out, readErr("events of run "+runID, err)
}

// Outputs returns the results of some steps; see weft.Store.
func (s *Store) Outputs(ctx context.Context, runID string, stepIDs []string) (map[string]weft.StepResult, error) {
	seq, err := s.runSeq(ctx, runID)
	if err != nil {
		return nil, readErr("outputs", err)
	}
	out := make(map[string]weft.StepResult, len(stepIDs))
	// In chunks, to stay well under SQLite's limit on parameters.
	for len(stepIDs) > 0 {
		chunk := stepIDs[:min(len(stepIDs), 500)]
		stepIDs = stepIDs[len(chunk):]
		args := []any{seq}
		for _, id := range chunk {
			args = append(args, id)
		}
		q := `SELECT step_id, status, attempts, output, error_code, error_message FROM steps
			WHERE run_seq = ? AND step_id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		err := s.each(ctx, q, args, func(v []driver.Value) error {
			id := str(v[0])
			out[id] = weft.StepResult{StepID: id, Status: weft.StepStatus(str(v[1])), Attempts: int(i64(v[2])),
				Output: blob(v[3]), Error: errorOf(v[4], v[5])}
			return nil
		})
		if err != nil {
			return nil, readErr("outputs of run "+runID, err)
		}
	}
	return out, nil
}
