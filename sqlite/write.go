package sqlite

import (
	"fmt"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// The write operations, on the writer's picture (see wtx). Their
// decisions are package runstate's, as every store's (the cascade of
// decided steps, claims, a run's end, cancel and retry), so that the
// stores behave the same.
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
	r.clock.Now(nr.Now)
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
	for i := range r.steps {
		if r.steps[i].counts.Total == 0 {
			tx.decide(r, int32(i), nr.Now)
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

// cascadeRun is run r of transaction tx as the state machine's cascade
// sees it (runstate.Run): what it changes is marked for flush.
type cascadeRun struct {
	tx *wtx
	r  *run
}

// Dependents returns the nodes that depend on node i.
func (c *cascadeRun) Dependents(i int32) ([]int32, error) { return c.r.dependents(i), nil }

// Outcome returns the status and reason of node i.
func (c *cascadeRun) Outcome(i int32) (weft.StepStatus, string) {
	return c.r.steps[i].status, c.r.steps[i].reason
}

// Pending returns the counters of node i when it is pending.
func (c *cascadeRun) Pending(i int32) *weft.DepCounts {
	if st := &c.r.steps[i]; st.status == weft.StepPending {
		return &st.counts
	}
	return nil
}

// Trigger returns the trigger of node i.
func (c *cascadeRun) Trigger(i int32) weft.Trigger { return c.r.steps[i].trigger }

// Counted marks node i's counters for flush.
func (c *cascadeRun) Counted(i int32) { c.tx.touchStep(c.r, i, dirtyCounts) }

// Ready makes node i ready.
func (c *cascadeRun) Ready(i int32, now time.Time) {
	r, st := c.r, &c.r.steps[i]
	st.status, st.readyAt = weft.StepReady, nanos(now)
	r.readyQ.Push(sched.Ready{Prio: st.priority, Index: i})
	r.ready++
	c.tx.touchStep(r, i, dirtyDecided)
	c.tx.touchRun(r)
}

// Skip makes node i skipped.
func (c *cascadeRun) Skip(i int32, reason string, now time.Time) {
	r, st := c.r, &c.r.steps[i]
	st.status, st.reason, st.finishedAt = weft.StepSkipped, reason, nanos(now)
	r.remaining--
	c.tx.touchStep(r, i, dirtyDecided)
	c.tx.stepEvent(r, i, weft.Event{Type: weft.EventStepSkipped, Time: now, Reason: reason})
}

// on returns run r as the cascade sees it. It reuses one value (no
// allocation per call): what it returns is valid until the next call.
func (tx *wtx) on(r *run) *cascadeRun {
	tx.cur = cascadeRun{tx, r}
	return &tx.cur
}

// decide decides pending node i of run r (runstate.Cascade.Decide).
func (tx *wtx) decide(r *run, i int32, now time.Time) int {
	n, _ := tx.cascade.Decide(tx.on(r), i, now) // a held run has no errors
	return n
}
