package inmem

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/weft-dev/weft"
)

// The store's read side: runs, steps, listings, events and outputs.

// lookupRun returns a run, with s.mu held, or ctx's error, or an error
// wrapping weft.ErrNotFound that names what was asked ("steps of run X").
func (s *Store) lookupRun(ctx context.Context, runID, what string) (*run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, ok := s.runs[runID]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", what, runID, weft.ErrNotFound)
	}
	return r, nil
}

// Run returns a run's record; see weft.Store.
func (s *Store) Run(ctx context.Context, runID string) (*weft.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRun(ctx, runID, "run")
	if err != nil {
		return nil, err
	}
	return r.record(), nil
}

// Steps returns the state of a run's steps; see weft.Store.
func (s *Store) Steps(ctx context.Context, runID string) ([]*weft.StepRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRun(ctx, runID, "steps of run")
	if err != nil {
		return nil, err
	}
	all := make([]weft.StepRun, len(r.steps))
	out := make([]*weft.StepRun, len(r.steps))
	for i := range r.steps {
		all[i] = r.steps[i].StepRun
		out[i] = &all[i]
	}
	return out, nil
}

// ListRuns lists runs, newest first; see weft.Store. The cursor is the
// creation sequence number of the last run returned.
func (s *Store) ListRuns(ctx context.Context, f *weft.RunFilter) ([]*weft.Run, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if f == nil {
		f = &weft.RunFilter{}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	s.mu.Lock()
	defer s.mu.Unlock()
	end := len(s.created)
	if f.Cursor != "" {
		seq, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || seq < 1 {
			return nil, "", fmt.Errorf("list runs: %w", weft.Errorf(weft.CodeInvalid, "bad cursor %q", f.Cursor))
		}
		end, _ = slices.BinarySearchFunc(s.created, seq, func(r *run, seq int64) int { return cmp.Compare(r.seq, seq) })
	}
	var out []*weft.Run
	var last int64
	for k := end - 1; k >= 0; k-- {
		r := s.created[k]
		if (f.WorkflowID != "" && r.rec.WorkflowID != f.WorkflowID) || (f.Status != "" && r.rec.Status != f.Status) ||
			(!f.Since.IsZero() && r.rec.CreatedAt.Before(f.Since)) || (!f.Until.IsZero() && !r.rec.CreatedAt.Before(f.Until)) {
			continue
		}
		if len(out) == limit {
			return out, strconv.FormatInt(last, 10), nil
		}
		out = append(out, r.record())
		last = r.seq
	}
	return out, "", nil
}

// UnfinishedRuns lists the runs not yet over; see weft.Store.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, r := range s.created {
		if !r.rec.Status.Terminal() {
			ids = append(ids, r.rec.ID)
		}
	}
	return ids, nil
}

// Events returns a run's events after a sequence number; see weft.Store.
func (s *Store) Events(ctx context.Context, runID string, after int64, limit int) ([]weft.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRun(ctx, runID, "events of run")
	if err != nil {
		return nil, err
	}
	return r.events.slice(r, max(after, 0), limit), nil
}

// Outputs returns the results of some steps; see weft.Store.
func (s *Store) Outputs(ctx context.Context, runID string, stepIDs []string) (map[string]weft.StepResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRun(ctx, runID, "outputs of run")
	if err != nil {
		return nil, err
	}
	out := make(map[string]weft.StepResult, len(stepIDs))
	for _, id := range stepIDs {
		if i, ok := r.index[id]; ok {
			out[id] = r.steps[i].result()
		}
	}
	return out, nil
}
