package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/wfstore"
)

// The workflow registry (weft.WorkflowStore), in table workflows.

// versionCols are the columns of a weft.WorkflowVersion but its
// definition, in the order of scanVersion.
const versionCols = `id, version, digest, name, description, steps, created_at`

// scanVersion reads versionCols, and the definition when def is true.
func scanVersion(row pgx.Row, def bool) (*weft.WorkflowVersion, error) {
	v := &weft.WorkflowVersion{}
	var version, steps int32
	var created pgtype.Timestamptz
	dest := []any{&v.ID, &version, &v.Digest, &v.Name, &v.Description, &steps, &created}
	if def {
		dest = append(dest, &v.Definition)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	v.Version, v.Steps, v.CreatedAt = int(version), int(steps), timeOf(created)
	return v, nil
}

// PutWorkflow registers a version of a workflow unless the latest one has
// the same digest; see weft.WorkflowStore. Registrations of one id, from
// any process, take turns under an advisory lock on the id.
func (s *Store) PutWorkflow(ctx context.Context, v *weft.WorkflowVersion) (*weft.WorkflowVersion, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	rec, err := wfstore.Prepare(v, time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("postgres: put workflow: %w", err)
	}
	// What is stored is what is returned: PostgreSQL keeps microseconds.
	rec.CreatedAt = rec.CreatedAt.Truncate(time.Microsecond)
	var (
		stored  *weft.WorkflowVersion
		created bool
	)
	err = s.read(ctx, "put workflow "+rec.ID, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(s.opts.Schema, "workflow\x00"+rec.ID)); err != nil {
				return err
			}
			latest, err := scanVersion(tx.QueryRow(ctx, `SELECT `+versionCols+`, definition FROM workflows
				WHERE id = $1 ORDER BY version DESC LIMIT 1`, rec.ID), true)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			case latest.Digest == rec.Digest:
				stored = latest
				return nil
			default:
				rec.Version = latest.Version
			}
			rec.Version++
			_, err = tx.Exec(ctx, `INSERT INTO workflows (id, version, digest, name, description, steps, definition, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				rec.ID, rec.Version, rec.Digest, text(rec.Name), text(rec.Description), rec.Steps, []byte(rec.Definition), rec.CreatedAt)
			stored, created = &rec, true
			return err
		})
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// Workflow returns one version of a workflow, the latest for version 0;
// see weft.WorkflowStore.
func (s *Store) Workflow(ctx context.Context, id string, version int) (*weft.WorkflowVersion, error) {
	var v *weft.WorkflowVersion
	err := s.read(ctx, "workflow "+id, func(c *pgx.Conn) error {
		var err error
		if version == 0 {
			v, err = scanVersion(c.QueryRow(ctx, `SELECT `+versionCols+`, definition FROM workflows
				WHERE id = $1 ORDER BY version DESC LIMIT 1`, id), true)
		} else {
			v, err = scanVersion(c.QueryRow(ctx, `SELECT `+versionCols+`, definition FROM workflows
				WHERE id = $1 AND version = $2`, id, version), true)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("workflow %s version %d: %w", id, version, weft.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// WorkflowVersions returns every version of a workflow, newest first,
// without their definitions; see weft.WorkflowStore.
func (s *Store) WorkflowVersions(ctx context.Context, id string) ([]*weft.WorkflowVersion, error) {
	var out []*weft.WorkflowVersion
	err := s.read(ctx, "versions of workflow "+id, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+versionCols+` FROM workflows WHERE id = $1 ORDER BY version DESC`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*weft.WorkflowVersion, error) { return scanVersion(row, false) })
		if err == nil && len(out) == 0 {
			return fmt.Errorf("versions of workflow %s: %w", id, weft.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListWorkflows returns the latest version of each workflow, ordered by
// id (as bytes), without their definitions; see weft.WorkflowStore.
func (s *Store) ListWorkflows(ctx context.Context, f *weft.WorkflowFilter) ([]*weft.WorkflowVersion, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, err := wfstore.After(f)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list workflows: %w", err)
	}
	limit := wfstore.Limit(f)
	var (
		out  []*weft.WorkflowVersion
		next string
	)
	err = s.read(ctx, "list workflows", func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT DISTINCT ON (id) `+versionCols+` FROM workflows
			WHERE id > $1 ORDER BY id, version DESC LIMIT $2`, after, limit+1)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*weft.WorkflowVersion, error) { return scanVersion(row, false) })
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		next = wfstore.Cursor(out[limit-1].ID)
	}
	return out, next, nil
}
