package sqlite

// Loading runs into the writer's picture: a run read from the database
// with its plan, step states, dependents and clock, and kept.

import (
	"errors"
	"fmt"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/sched"
)

// keep adds a run to the picture.
func (tx *wtx) keep(r *run) *run {
	tx.runs[r.seq] = r
	tx.byID[r.rec.ID] = r
	tx.cachedSteps += len(r.steps)
	r.used = tx.batch
	return r
}

// runByID returns the run with this id, or nil.
func (tx *wtx) runByID(id string) (*run, error) {
	if r, ok := tx.byID[id]; ok {
		r.used = tx.batch
		return r, nil
	}
	return tx.loadRun(`r.id = ?`, id)
}

// runBySeq returns the run with this seq, or nil.
func (tx *wtx) runBySeq(seq int64) (*run, error) {
	if r, ok := tx.runs[seq]; ok {
		r.used = tx.batch
		return r, nil
	}
	return tx.loadRun(`r.seq = ?`, seq)
}

// loadRun reads a run, its steps and its plan.
func (tx *wtx) loadRun(where string, arg any) (*run, error) {
	v, err := tx.w.row(`SELECT `+runCols+` FROM `+runsJoin+` WHERE `+where, arg)
	if err != nil || v == nil {
		return nil, err
	}
	r, n := runFrom(v)
	what := "run " + r.rec.ID
	rows, err := tx.w.query(`SELECT `+stepCols+` FROM steps WHERE id >= ? AND id < ? ORDER BY id`, stepKey(r.seq, 0), stepKey(r.seq+1, 0))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	r.steps = make([]step, n)
	seen := 0
	for rows.next() {
		i := int(i64(rows.vals[1]))
		if i < 0 || i >= n {
			rows.close()
			return nil, corrupt(what, fmt.Errorf("step index %d of %d", i, n))
		}
		stepFrom(&r.steps[i], rows.vals)
		seen++
	}
	rows.close()
	if rows.err != nil {
		return nil, fmt.Errorf("load %s: %w", what, rows.err)
	}
	if seen != n {
		return nil, corrupt(what, fmt.Errorf("%d steps of %d", seen, n))
	}
	pv, err := tx.w.row(`SELECT dep_offsets, deps FROM run_plans WHERE run_seq = ?`, r.seq)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	if pv == nil {
		return nil, corrupt(what, errors.New("no plan"))
	}
	if r.depOff, err = decodeIdx(blob(pv[0])); err == nil {
		r.deps, err = decodeIdx(blob(pv[1]))
	}
	if err == nil {
		err = r.checkPlan()
	}
	if err != nil {
		return nil, corrupt(what+" plan", err)
	}
	r.dependentsCSR()
	for i := range r.steps {
		if r.steps[i].status == weft.StepReady {
			r.readyQ.Push(sched.Ready{Prio: r.steps[i].priority, Index: int32(i)})
		}
	}
	if err := tx.loadClock(r); err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	if r.rec.Status.Terminal() {
		tx.ended = append(tx.ended, r) // read for a look: not kept for long
	}
	return tx.keep(r), nil
}

// loadClock sets the latest time recorded for run r, just loaded: the
// time of its last event, or a later time of its steps (a reclaim or a
// retry's promotion sets a ready time without an event). A retrying
// step's ready time is when its delay ends, not a time recorded.
func (tx *wtx) loadClock(r *run) error {
	if r.events > 0 {
		v, err := tx.w.row(`SELECT time FROM events WHERE run_seq = ? AND seq = ?`, r.seq, r.events)
		if err != nil {
			return fmt.Errorf("last event: %w", err)
		}
		if v != nil {
			r.clock.See(timeOf(i64(v[0])))
		}
	}
	r.clock.See(r.rec.CreatedAt)
	r.clock.See(r.rec.StartedAt)
	r.clock.See(r.rec.FinishedAt)
	var last int64
	for i := range r.steps {
		st := &r.steps[i]
		last = max(last, st.startedAt, st.finishedAt)
		if st.status != weft.StepRetrying {
			last = max(last, st.readyAt)
		}
	}
	if last != 0 {
		r.clock.See(timeOf(last))
	}
	return nil
}

// checkPlan checks the dependency CSR read from the database.
func (r *run) checkPlan() error {
	n := len(r.steps)
	if len(r.depOff) != n+1 || r.depOff[0] != 0 || int(r.depOff[n]) != len(r.deps) {
		return fmt.Errorf("%d offsets for %d steps and %d dependencies", len(r.depOff), n, len(r.deps))
	}
	for i := range n {
		if r.depOff[i+1] < r.depOff[i] {
			return errors.New("offsets out of order")
		}
	}
	for _, d := range r.deps {
		if d < 0 || int(d) >= n {
			return fmt.Errorf("dependency index %d out of range", d)
		}
	}
	return nil
}

// dependentsCSR computes the dependents of every node from deps.
func (r *run) dependentsCSR() {
	n := len(r.steps)
	r.dntOff = make([]int32, n+1)
	for _, d := range r.deps {
		r.dntOff[d+1]++
	}
	for i := range n {
		r.dntOff[i+1] += r.dntOff[i]
	}
	r.dnts = make([]int32, len(r.deps))
	fill := make([]int32, n)
	copy(fill, r.dntOff[:n])
	for i := range n {
		for _, d := range r.depsOf(int32(i)) {
			r.dnts[fill[d]] = int32(i)
			fill[d]++
		}
	}
}
