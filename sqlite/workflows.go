package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/wfstore"
)

// The workflow registry (weft.WorkflowStore), in the table workflows.
// Registrations are write operations like the others: the one writer
// numbers a new version in the same transaction as it reads the latest
// one, so concurrent registrations of an id (from this process or, under
// SQLite's write lock, any other) get distinct versions. Reads go through
// the read pool.

var _ weft.WorkflowStore = (*Store)(nil)

// workflowCols are the columns workflowFrom reads, in order; the listings
// read all but the last, definition.
const (
	workflowCols     = workflowInfoCols + `, definition`
	workflowInfoCols = `id, version, digest, name, description, steps, created_at`
)

// The statements that read one version: the latest of an id, or a given
// one.
const (
	selectLatestWorkflow  = `SELECT ` + workflowCols + ` FROM workflows WHERE id = ? ORDER BY version DESC LIMIT 1`
	selectWorkflowVersion = `SELECT ` + workflowCols + ` FROM workflows WHERE id = ? AND version = ?`
)

// workflowFrom reads a version from workflowCols or workflowInfoCols.
func workflowFrom(v []driver.Value) *weft.WorkflowVersion {
	wv := &weft.WorkflowVersion{
		ID: str(v[0]), Version: int(i64(v[1])), Digest: str(v[2]), Name: str(v[3]), Description: str(v[4]),
		Steps: int(i64(v[5])), CreatedAt: timeOf(i64(v[6])),
	}
	if len(v) > 7 {
		wv.Definition = blob(v[7])
	}
	return wv
}

// PutWorkflow registers a version of a workflow unless the latest one has
// the same digest; see weft.WorkflowStore. It is a write operation, run by
// the writer in a transaction it may share with others.
func (s *Store) PutWorkflow(ctx context.Context, v *weft.WorkflowVersion) (*weft.WorkflowVersion, bool, error) {
	rec, err := wfstore.Prepare(v, time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: put workflow: %w", err)
	}
	var stored *weft.WorkflowVersion
	var created bool
	err = s.do(ctx, "put workflow "+rec.ID, func(tx *wtx) (err error) {
		stored, created, err = tx.putWorkflow(&rec)
		return err
	})
	return stored, created, err
}

// putWorkflow stores rec as the next version of its id, unless the latest
// version has its digest.
func (tx *wtx) putWorkflow(rec *weft.WorkflowVersion) (*weft.WorkflowVersion, bool, error) {
	v, err := tx.w.row(selectLatestWorkflow, rec.ID)
	if err != nil {
		return nil, false, fmt.Errorf("latest version: %w", err)
	}
	rec.Version = 1
	if v != nil {
		latest := workflowFrom(v)
		if latest.Digest == rec.Digest {
			return latest, false, nil
		}
		rec.Version = latest.Version + 1
	}
	if _, err := tx.w.exec(`INSERT INTO workflows (`+workflowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.ID, int64(rec.Version), rec.Digest, rec.Name, rec.Description, int64(rec.Steps), nanos(rec.CreatedAt),
		[]byte(rec.Definition)); err != nil {
		return nil, false, fmt.Errorf("insert version %d: %w", rec.Version, err)
	}
	return rec, true, nil
}

// Workflow returns one version of a workflow, the latest for version 0;
// see weft.WorkflowStore.
func (s *Store) Workflow(ctx context.Context, id string, version int) (*weft.WorkflowVersion, error) {
	q, args, what := selectLatestWorkflow, []any{id}, "workflow "+id
	if version != 0 {
		q, args = selectWorkflowVersion, append(args, int64(version))
		what = fmt.Sprintf("workflow %s version %d", id, version)
	}
	var wv *weft.WorkflowVersion
	err := s.each(ctx, q, args, func(v []driver.Value) error {
		wv = workflowFrom(v)
		return nil
	})
	if err == nil && wv == nil {
		err = weft.ErrNotFound
	}
	if err != nil {
		return nil, readErr(what, err)
	}
	return wv, nil
}

// WorkflowVersions returns every version of a workflow, newest first,
// without their definitions; see weft.WorkflowStore.
func (s *Store) WorkflowVersions(ctx context.Context, id string) ([]*weft.WorkflowVersion, error) {
	var out []*weft.WorkflowVersion
	err := s.each(ctx, `SELECT `+workflowInfoCols+` FROM workflows WHERE id = ? ORDER BY version DESC`, []any{id},
		func(v []driver.Value) error {
			out = append(out, workflowFrom(v))
			return nil
		})
	if err == nil && len(out) == 0 {
		err = weft.ErrNotFound
	}
	if err != nil {
		return nil, readErr("versions of workflow "+id, err)
	}
	return out, nil
}

// ListWorkflows returns the latest version of each workflow, ordered by
// id, without their definitions; see weft.WorkflowStore. Ids compare as
// bytes (SQLite's BINARY collation), as Go compares strings.
func (s *Store) ListWorkflows(ctx context.Context, f *weft.WorkflowFilter) ([]*weft.WorkflowVersion, string, error) {
	after, err := wfstore.After(f)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list workflows: %w", err)
	}
	limit := wfstore.Limit(f)
	var out []*weft.WorkflowVersion
	err = s.each(ctx, `SELECT `+workflowInfoCols+` FROM workflows w
		WHERE id > ? AND version = (SELECT max(version) FROM workflows WHERE id = w.id)
		ORDER BY id LIMIT ?`, []any{after, int64(limit + 1)}, func(v []driver.Value) error {
		out = append(out, workflowFrom(v))
		return nil
	})
	if err != nil {
		return nil, "", readErr("list workflows", err)
	}
	if len(out) > limit {
		return out[:limit], wfstore.Cursor(out[limit-1].ID), nil
	}
	return out, "", nil
}
