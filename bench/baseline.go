package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/dag"
)

// Job is a workflow prepared for the baselines: its graph (package dag),
// levels, and each step's executor, looked up once. Building one is the
// baselines' planning, done outside the measured time. A Job is read-only
// and may be run any number of times, concurrently.
type Job struct {
	g      *dag.Graph
	levels [][]int32
	steps  []jobStep // by graph node
}

type jobStep struct {
	id, typ string
	input   json.RawMessage
	exec    weft.Executor
}

// NewJob plans wf for the baselines, with executors from reg. It returns an
// error when a dependency is unknown, the graph has a cycle, or a step type
// is not in reg; it does not check anything else (workflow.Validate does).
func NewJob(wf *weft.Workflow, reg *weft.Registry) (*Job, error) {
	ids := wf.StepIDs()
	index := make(map[string]int32, len(ids))
	for i, id := range ids {
		index[id] = int32(i)
	}
	deps := make([][]int32, len(ids))
	for i, id := range ids {
		st := wf.Steps[id]
		for _, d := range st.DependsOn {
			k, ok := index[d]
			if !ok {
				return nil, fmt.Errorf("bench: step %s depends on unknown step %s", id, d)
			}
			deps[i] = append(deps[i], k)
		}
	}
	g, err := dag.New(ids, deps)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	j := &Job{g: g, levels: g.Levels(), steps: make([]jobStep, len(ids))}
	for i, id := range ids {
		st := wf.Steps[id]
		exec, err := reg.Lookup(st.Type)
		if err != nil {
			return nil, fmt.Errorf("bench: step %s: %w", id, err)
		}
		j.steps[i] = jobStep{id: id, typ: st.Type, input: st.Input, exec: exec}
	}
	return j, nil
}

// Len returns the number of steps.
func (j *Job) Len() int { return len(j.steps) }

// exec runs step i once with a minimal step context: no data flow, no
// retries, no timeout, no records.
func (j *Job) exec(ctx context.Context, i int32, runID string) error {
	s := &j.steps[i]
	_, err := s.exec.Execute(ctx, &weft.StepContext{
		RunID: runID, StepID: s.id, Type: s.typ, Attempt: 1, Input: s.input,
	})
	if err != nil {
		return fmt.Errorf("step %s: %w", s.id, err)
	}
	return nil
}

// RunFloor is baseline (a), the floor: the least a scheduler can do. Every
// step gets a goroutine at once; it waits until each of its dependencies
// has closed its done channel, takes a slot of a semaphore of size p, runs
// the step's executor, frees the slot and closes its own done channel. A
// step starts the moment its dependencies are done (no level barrier), in
// no particular order among the ready ones. On the first error the others
// are canceled (steps not started do not start) and the error is returned
// once every goroutine has ended.
func RunFloor(ctx context.Context, j *Job, p int, runID string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := len(j.steps)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, max(p, 1))
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		go func(i int32) {
			defer wg.Done()
			defer close(done[i])
			for _, d := range j.g.Deps(i) {
				<-done[d]
			}
			if ctx.Err() != nil {
				return // a dependency failed: it canceled ctx before closing done
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err := j.exec(ctx, i, runID)
			<-sem
			if err != nil {
				cancel(err)
			}
		}(int32(i))
	}
	wg.Wait()
	return context.Cause(ctx)
}

// RunLevels is baseline (b), the original design: the steps are grouped by
// level (package dag: the longest path from a root), and each level's
// steps run in parallel under a semaphore of size p, in id order, the next
// level starting only once the whole level is done. On the first error no
// more steps start, and the error is returned once the level's running
// steps have ended.
func RunLevels(ctx context.Context, j *Job, p int, runID string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(p, 1))
	var wg sync.WaitGroup
	for _, level := range j.levels {
		for _, i := range level {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func(i int32) {
				defer wg.Done()
				if err := j.exec(ctx, i, runID); err != nil {
					cancel(err)
				}
				<-sem
			}(i)
		}
		wg.Wait() // the level's barrier
		if err := context.Cause(ctx); err != nil {
			return err
		}
	}
	return nil
}
