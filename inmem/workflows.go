package inmem

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/wfstore"
)

// The workflow registry (weft.WorkflowStore). It has a lock of its own:
// registering a workflow never waits for the runs, nor they for it.

var _ weft.WorkflowStore = (*Store)(nil)

// workflows holds the registered versions. The zero value is empty and
// ready.
type workflows struct {
	mu       sync.RWMutex
	versions map[string][]weft.WorkflowVersion // by id; version n at index n-1
	ids      []string                          // the ids, in ascending order
}

// PutWorkflow registers a version of a workflow unless the latest one has
// the same digest; see weft.WorkflowStore.
func (s *Store) PutWorkflow(ctx context.Context, v *weft.WorkflowVersion) (*weft.WorkflowVersion, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	rec, err := wfstore.Prepare(v, time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("put workflow: %w", err)
	}
	w := &s.workflows
	w.mu.Lock()
	defer w.mu.Unlock()
	vs, known := w.versions[rec.ID]
	if n := len(vs); n > 0 && vs[n-1].Digest == rec.Digest {
		latest := vs[n-1]
		return &latest, false, nil
	}
	rec.Version = len(vs) + 1
	if w.versions == nil {
		w.versions = make(map[string][]weft.WorkflowVersion)
	}
	w.versions[rec.ID] = append(vs, rec)
	if !known {
		i, _ := slices.BinarySearch(w.ids, rec.ID)
		w.ids = slices.Insert(w.ids, i, rec.ID)
	}
	return &rec, true, nil
}

// Workflow returns one version of a workflow, the latest for version 0;
// see weft.WorkflowStore.
func (s *Store) Workflow(ctx context.Context, id string, version int) (*weft.WorkflowVersion, error) {
	vs, err := s.workflows.get(ctx, id, "workflow")
	if err != nil {
		return nil, err
	}
	if version == 0 {
		version = len(vs)
	}
	if version < 1 || version > len(vs) {
		return nil, fmt.Errorf("workflow %s version %d: %w", id, version, weft.ErrNotFound)
	}
	rec := vs[version-1]
	return &rec, nil
}

// WorkflowVersions returns every version of a workflow, newest first,
// without their definitions; see weft.WorkflowStore.
func (s *Store) WorkflowVersions(ctx context.Context, id string) ([]*weft.WorkflowVersion, error) {
	vs, err := s.workflows.get(ctx, id, "versions of workflow")
	if err != nil {
		return nil, err
	}
	out := make([]*weft.WorkflowVersion, len(vs))
	for i := range vs {
		out[i] = summary(&vs[len(vs)-1-i])
	}
	return out, nil
}

// get returns the versions of workflow id (version n at index n-1), or
// ctx's error, or an error wrapping weft.ErrNotFound that names what was
// asked ("versions of workflow X"). Versions are only ever appended, and
// never changed once stored, so the slice may be read without the lock.
func (w *workflows) get(ctx context.Context, id, what string) ([]weft.WorkflowVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.RLock()
	vs, ok := w.versions[id]
	w.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", what, id, weft.ErrNotFound)
	}
	return vs, nil
}

// ListWorkflows returns the latest version of each workflow, ordered by
// id, without their definitions; see weft.WorkflowStore.
func (s *Store) ListWorkflows(ctx context.Context, f *weft.WorkflowFilter) ([]*weft.WorkflowVersion, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, err := wfstore.After(f)
	if err != nil {
		return nil, "", fmt.Errorf("list workflows: %w", err)
	}
	limit := wfstore.Limit(f)
	w := &s.workflows
	w.mu.RLock()
	defer w.mu.RUnlock()
	start := 0
	if after != "" {
		i, found := slices.BinarySearch(w.ids, after)
		if found {
			i++
		}
		start = i
	}
	end := min(start+limit, len(w.ids))
	out := make([]*weft.WorkflowVersion, 0, end-start)
	for _, id := range w.ids[start:end] {
		vs := w.versions[id]
		out = append(out, summary(&vs[len(vs)-1]))
	}
	if end == len(w.ids) {
		return out, "", nil
	}
	return out, wfstore.Cursor(w.ids[end-1]), nil
}

// summary is a copy of v without its definition.
func summary(v *weft.WorkflowVersion) *weft.WorkflowVersion {
	c := *v
	c.Definition = nil
	return &c
}
