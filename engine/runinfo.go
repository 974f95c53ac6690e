package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/workflow"
)

// runInfo is what the engine keeps about a run it works on: its compiled
// definition, per-step plans, and the signals its waiters and subscribers
// wait on. The store holds the run's state; this is derived from it and can
// be rebuilt from the run's recorded workflow.
type runInfo struct {
	id       string
	def      *workflow.Definition
	params   json.RawMessage
	deadline time.Time
	// created is when the run was created, for the metrics of its end.
	created time.Time
	steps   []stepPlan
	tokens  *tokenAccount

	paramsOnce  sync.Once
	paramsValue any

	subs atomic.Int32 // subscriptions following the run

	mu     sync.Mutex
	signal chan struct{} // closed and replaced when the run has new events
	done   chan struct{} // closed when the run is over
	ended  bool
}

// stepPlan is what an attempt needs to know about its step.
type stepPlan struct {
	step    *weft.Step
	exec    weft.Executor
	policy  weft.RetryPolicy
	timeout time.Duration
	// extra are the ids of the upstream steps, beyond its dependencies,
	// whose state the step's templates and when expression read.
	extra []string
}

func (e *Engine) newRunInfo(id string, def *workflow.Definition, params json.RawMessage, deadline, created time.Time) (*runInfo, error) {
	wf, g := def.Workflow, def.Graph
	base := *e.cfg.Retry
	timeout := e.cfg.StepTimeout
	if wf.Defaults != nil {
		base = base.Merge(wf.Defaults.Retry)
		if wf.Defaults.Timeout > 0 {
			timeout = time.Duration(wf.Defaults.Timeout)
		}
	}
	ri := &runInfo{
		id: id, def: def, params: params, deadline: deadline, created: created,
		steps:  make([]stepPlan, g.Len()),
		tokens: &tokenAccount{limit: wf.AITokenBudget},
		signal: make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range ri.steps {
		st := wf.Steps[g.ID(int32(i))]
		exec, err := e.cfg.Registry.Lookup(st.Type)
		if err != nil {
			return nil, err
		}
		sp := &ri.steps[i]
		sp.step, sp.exec = st, exec
		sp.policy = base.Merge(st.Retry)
		if st.MaxRetries != nil {
			sp.policy.MaxRetries = st.MaxRetries
		}
		sp.timeout = timeout
		if st.Timeout > 0 {
			sp.timeout = time.Duration(st.Timeout)
		}
		// Templates may read upstream steps beyond the dependencies, whose
		// results come with each claim.
		for _, r := range def.Reads(int32(i)) {
			if n, ok := def.Node(r); !ok || !slices.Contains(g.Deps(int32(i)), n) {
				sp.extra = append(sp.extra, r)
			}
		}
	}
	return ri, nil
}

// info returns the engine's runInfo of a run, loading the run's workflow
// from the store when this engine has not seen it (a run submitted by
// another process, or before a restart).
func (e *Engine) info(ctx context.Context, runID string) (*runInfo, error) {
	return e.infoOf(ctx, runID, nil)
}

// infoOf is info for a caller that has just read the run's record (run,
// or nil when it has not): a load then builds on it rather than reading
// it again.
func (e *Engine) infoOf(ctx context.Context, runID string, run *weft.Run) (*runInfo, error) {
	if ri, ok := e.runs.Load(runID); ok {
		return ri.(*runInfo), nil
	}
	// One load of a run at a time: the slots that claim steps of a run
	// this process has not seen wait for one parse of its workflow rather
	// than each parsing it.
	v, loading := e.loading.LoadOrStore(runID, &infoLoad{done: make(chan struct{})})
	l := v.(*infoLoad)
	if loading {
		select {
		case <-l.done:
			return l.ri, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() {
		e.loading.Delete(runID)
		close(l.done)
	}()
	l.ri, l.err = e.load(ctx, runID, run)
	return l.ri, l.err
}

// infoLoad is a load of a run's info in progress, which others wait for.
type infoLoad struct {
	done chan struct{} // closed when ri and err are set
	ri   *runInfo
	err  error
}

// load builds a run's info from its record in the store: run, when not
// nil, else the one it reads.
func (e *Engine) load(ctx context.Context, runID string, run *weft.Run) (*runInfo, error) {
	if ri, ok := e.runs.Load(runID); ok {
		return ri.(*runInfo), nil
	}
	if run == nil {
		var err error
		if run, err = e.store.Run(ctx, runID); err != nil {
			return nil, err
		}
	}
	def, err := workflow.Parse(run.Workflow, &workflow.Options{Registry: e.cfg.Registry, Limits: e.cfg.Limits, Format: workflow.FormatJSON})
	if err != nil {
		return nil, fmt.Errorf("run %s: its recorded workflow no longer validates: %w", runID, err)
	}
	ri, err := e.newRunInfo(runID, def, run.Params, run.Deadline, run.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	ri.tokens.used = run.Usage.TotalTokens
	if prev, loaded := e.runs.LoadOrStore(runID, ri); loaded {
		return prev.(*runInfo), nil
	}
	if run.Status.Terminal() {
		e.ended(ri)
	} else {
		e.counted(ri, run.IdempotencyKey)
	}
	return ri, nil
}

// ended marks a run over, uncounts it from the unfinished runs, wakes its
// waiters, and retires its runInfo once enough newer runs ended.
func (e *Engine) ended(ri *runInfo) {
	if !e.over(ri) {
		return
	}
	e.mu.Lock()
	e.retired = append(e.retired, ri.id)
	var drop []string
	if len(e.retired) > keepEnded {
		drop = e.retired[:len(e.retired)-keepEnded]
		e.retired = slices.Clone(e.retired[len(drop):])
	}
	e.mu.Unlock()
	for _, id := range drop {
		if v, ok := e.runs.Load(id); ok && v.(*runInfo).subs.Load() == 0 {
			e.runs.Delete(id)
		}
	}
}

// params returns the run's parameters as a Go value, decoded once.
func (ri *runInfo) paramsAny() any {
	ri.paramsOnce.Do(func() {
		if len(ri.params) > 0 {
			ri.paramsValue, _ = decodeValue(ri.params)
		}
		if ri.paramsValue == nil {
			ri.paramsValue = map[string]any{}
		}
	})
	return ri.paramsValue
}

// changed wakes the run's subscribers.
func (ri *runInfo) changed() {
	ri.mu.Lock()
	close(ri.signal)
	ri.signal = make(chan struct{})
	ri.mu.Unlock()
}

// wait returns a channel closed at the run's next change.
func (ri *runInfo) wait() <-chan struct{} {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.signal
}

// end marks the run over and wakes its waiters. It reports whether the
// run was not over before.
func (ri *runInfo) end() bool {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if ri.ended {
		return false
	}
	ri.ended = true
	close(ri.done)
	return true
}

// touched tells a run's subscribers that it has new events, and its
// waiters when status says it ended.
func (e *Engine) touched(runID string, status weft.RunStatus) {
	if v, ok := e.runs.Load(runID); ok {
		e.touchedInfo(v.(*runInfo), status)
	}
}

// touchedInfo is touched for a run whose info is at hand.
func (e *Engine) touchedInfo(ri *runInfo, status weft.RunStatus) {
	if ri.subs.Load() > 0 {
		ri.changed()
	}
	if status.Terminal() {
		e.ended(ri)
	}
}

// checkDeadlines ends the runs this engine knows whose deadline passed.
func (e *Engine) checkDeadlines() {
	now := e.cfg.Now()
	var due []*runInfo
	e.runs.Range(func(_, v any) bool {
		if ri := v.(*runInfo); !ri.deadline.IsZero() && !ri.deadline.After(now) && !ri.isOver() {
			due = append(due, ri)
		}
		return true
	})
	for _, ri := range due {
		e.timeout(ri)
	}
}

func (ri *runInfo) isOver() bool {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.ended
}

// timeout fails a run whose deadline passed.
func (e *Engine) timeout(ri *runInfo) {
	msg := fmt.Sprintf("the run did not finish within its timeout of %s", ri.def.Workflow.Timeout)
	e.end(ri.id, weft.RunFailed, &weft.ErrorInfo{Code: weft.CodeTimeout, Message: msg}, weft.ReasonRunTimeout)
}

// end ends a run early (cancel, timeout, fail_fast) and stops its attempts
// in flight in this process.
func (e *Engine) end(runID string, status weft.RunStatus, why *weft.ErrorInfo, reason string) (*weft.Run, error) {
	now := e.cfg.Now()
	run, err := e.store.CancelRun(context.Background(), &weft.RunCancel{RunID: runID, Status: status, Error: why, Reason: reason, Now: now})
	if err != nil {
		return nil, err
	}
	if e.cfg.Observer != nil {
		e.observeCancel(run, status, why, now)
	}
	cause := fmt.Errorf("run %s: %w", reason, weft.Errorf(weft.CodeCanceled, "%s", reason))
	e.attempts.Range(func(a, _ any) bool {
		a.(*attempt).stop(cause, func(l weft.Lease) bool { return l.RunID == runID })
		return true
	})
	if v, ok := e.runs.Load(runID); ok {
		ri := v.(*runInfo)
		ri.changed()
		if run.Status.Terminal() {
			e.ended(ri)
		}
	}
	e.notify()
	return run, nil
}
