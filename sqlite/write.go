package sqlite

import (
	"fmt"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// The write operations. Each mirrors the in-memory store's (package
// inmem) step for step, on the writer's picture (see wtx), so that both
// stores behave the same; readiness is weft.Trigger.Decide and a run's
// result weft.ComposeResult, as there.
//
// An operation either fails before it changes anything (an unknown run, a
// lease no longer held, a bad plan) or fails with a database error, which
// fails the whole transaction: no operation needs a savepoint.

// errLogic marks the errors of an operation that changed nothing, which
// fail that operation only.
type errLogic struct{ error }

func (e errLogic) Unwrap() error { return e.error }

// createRun stores a new run; see weft.Store.CreateRun.
func (tx *wtx) createRun(nr *weft.NewRun) (*weft.Run, bool, error) {
	if k := nr.Run.IdempotencyKey; k != "" {
		v, err := tx.w.row(`SELECT `+runCols+` FROM `+runsJoin+` WHERE r.idempotency_key = ?`, k)
		if err != nil {
			return nil, false, err
		}
		if v != nil {
			r, _ := runFrom(v)
			if held, ok := tx.runs[r.seq]; ok {
				r = held // the database may not have its latest changes yet
			}
			return r.record(), false, nil
		}
	}
	if v, err := tx.w.row(`SELECT 1 FROM runs WHERE id = ?`, nr.Run.ID); err != nil {
		return nil, false, err
	} else if v != nil {
		return nil, false, errLogic{weft.Errorf(weft.CodeInvalid, "a run with this id exists")}
	}
	n := len(nr.Steps)
	r := &run{rec: nr.Run, remaining: n}
	r.rec.Status, r.rec.StepCount = weft.RunPending, n
	if r.rec.CreatedAt.IsZero() {
		r.rec.CreatedAt = nr.Now
	}
	r.steps = make([]step, n)
	r.depOff = make([]int32, n+1)
	for i, ps := range nr.Steps {
		for _, d := range ps.Deps {
			if d < 0 || int(d) >= n {
				return nil, false, errLogic{fmt.Errorf("step %s: dependency index %d out of range", ps.ID, d)}
			}
		}
		r.depOff[i+1] = r.depOff[i] + int32(len(ps.Deps))
	}
	r.deps = make([]int32, 0, r.depOff[n])
	r.index = make(map[string]int32, n)
	for i := range nr.Steps {
		ps := &nr.Steps[i]
		if _, dup := r.index[ps.ID]; dup {
			return nil, false, errLogic{weft.Errorf(weft.CodeInvalid, "two steps have the id %q", ps.ID)}
		}
		r.index[ps.ID] = int32(i)
		r.deps = append(r.deps, ps.Deps...)
		r.steps[i] = step{id: ps.ID, typ: ps.Type, pool: ps.Pool, priority: ps.Priority, trigger: ps.Trigger, sink: ps.Sink,
			status: weft.StepPending, counts: weft.DepCounts{Total: len(ps.Deps)}}
	}
	r.dependentsCSR()

	// Nothing fails for the run's sake from here on.
	seq, err := tx.w.insert(insertRun, r.insertArgs()...)
	if err != nil {
		return nil, false, fmt.Errorf("insert run: %w", err)
	}
	r.seq = seq
	tx.keep(r)
	tx.event(r, weft.Event{Type: weft.EventRunCreated, Time: nr.Now})
	// Roots are ready at once (Decide: a step without dependencies runs).
	now := nanos(nr.Now)
	for i := range r.steps {
		if r.steps[i].counts.Total == 0 {
			tx.decide(r, int32(i), now)
		}
	}
	if err := tx.w.insertMany(insertStepsSQL, stepColumns, n, func(k int, args []any) []any {
		return r.steps[k].appendInsertArgs(args, seq, int32(k))
	}); err != nil {
		return nil, false, fmt.Errorf("insert steps: %w", err)
	}
	if _, err := tx.w.exec(`INSERT INTO run_plans (run_seq, params, workflow, dep_offsets, deps) VALUES (?, ?, ?, ?, ?)`,
		seq, nullBlob(r.rec.Params), nullBlob(r.rec.Workflow), encodeIdx(r.depOff), encodeIdx(r.deps)); err != nil {
		return nil, false, fmt.Errorf("insert plan: %w", err)
	}
	// The steps were inserted as decide left them if it made them ready;
	// any it took further (none: a step without dependencies runs) are
	// updated.
	keep := tx.dirtySteps[:0]
	for _, ref := range tx.dirtySteps {
		if st := &ref.r.steps[ref.i]; ref.r == r && (st.status == weft.StepPending || st.status == weft.StepReady) {
			st.dirty = 0
		} else {
			keep = append(keep, ref)
		}
	}
	tx.dirtySteps = keep
	tx.activate(r)
	return r.record(), true, nil
}

// decide settles a pending step whose dependencies allow it: ready, or
// skipped (then its own dependents are settled in turn, without
// recursion). As inmem's.
func (tx *wtx) decide(r *run, i int32, now int64) (ready int) {
	stack := append(tx.stack[:0], i)
	defer func() { tx.stack = stack[:0] }()
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		st := &r.steps[i]
		if st.status != weft.StepPending {
			continue
		}
		d, reason := st.trigger.Decide(st.counts)
		switch d {
		case weft.DecideRun:
			st.status, st.readyAt = weft.StepReady, now
			r.readyQ.Push(sched.Ready{Prio: st.priority, Index: i})
			r.ready++
			ready++
			tx.touchStep(r, i, dirtyDecided)
			tx.touchRun(r)
		case weft.DecideSkip:
			st.status, st.reason, st.finishedAt = weft.StepSkipped, reason, now
			r.remaining--
			tx.touchStep(r, i, dirtyDecided)
			tx.stepEvent(r, i, weft.Event{Type: weft.EventStepSkipped, Time: time.Unix(0, now), Reason: reason})
			stack = tx.settled(r, i, stack)
		}
	}
	return ready
}

// settled counts node i's terminal outcome in its dependents' counters
// and pushes onto stack those that may now be decided.
func (tx *wtx) settled(r *run, i int32, stack []int32) []int32 {
	status, reason := r.steps[i].status, r.steps[i].reason
	for _, d := range r.dependents(i) {
		c := &r.steps[d].counts
		if status == weft.StepSkipped && reason == weft.ReasonUpstreamFailed {
			c.SkippedForFailure++
		}
		switch status {
		case weft.StepSucceeded:
			c.Succeeded++
		case weft.StepFailed:
			c.Failed++
		case weft.StepSkipped:
			c.Skipped++
		case weft.StepCanceled:
			c.Canceled++
		}
		// Only a pending step's counters are read again (to decide it).
		if r.steps[d].status == weft.StepPending {
			tx.touchStep(r, d, dirtyCounts)
			stack = append(stack, d)
		}
	}
	return stack
}
