package postgres

import (
	"math"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
)

// The ready steps of a run that a transaction knows, in claim order, and
// the reads of their pages.

// readyList is the ready steps of a run that a transaction knows, in
// claim order: those it read from the database, a page at a time, and
// those it made ready itself.
type readyList struct {
	steps []*stepState
	has   map[int32]bool
	read  bool      // a page was read from the database: bound is set
	more  bool      // the database may hold more ready steps after bound
	bound stepOrder // the last step read from the database
}

// stepOrder is a step's place in claim order: highest priority first, then
// lowest node index.
type stepOrder struct {
	prio int32
	idx  int32
}

func orderOf(st *stepState) stepOrder { return stepOrder{st.priority, st.idx} }

// before reports whether a comes before b in claim order.
func (a stepOrder) before(b stepOrder) bool {
	return a.prio > b.prio || (a.prio == b.prio && a.idx < b.idx)
}

// add adds st unless the list has it.
func (l *readyList) add(st *stepState) {
	if l.has == nil {
		l.has = make(map[int32]bool)
	}
	if !l.has[st.idx] {
		l.has[st.idx] = true
		l.steps = append(l.steps, st)
	}
}

// absorb adds the steps of run r that the transaction has ready, and puts
// the list in claim order.
func (l *readyList) absorb(r *runState) {
	for _, st := range r.steps {
		if st != nil && st.status == weft.StepReady {
			l.add(st)
		}
	}
	slices.SortFunc(l.steps, func(a, b *stepState) int {
		switch oa, ob := orderOf(a), orderOf(b); {
		case oa.before(ob):
			return -1
		case ob.before(oa):
			return 1
		}
		return 0
	})
}

// usable reports whether the k-th step of the list may be claimed now:
// no step the database holds, not read yet, comes before it.
func (l *readyList) usable(k int) bool {
	return k < len(l.steps) && (!l.more || !l.bound.before(orderOf(l.steps[k])))
}

// collectReady is a callback that adds the ready steps a query read (in
// claim order, at most limit) to l, as the transaction has them, and moves
// l's bound past them.
func (t *txn) collectReady(l *readyList, limit int) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		n := 0
		for rows.Next() {
			seq, st, err := scanStep(rows)
			if err != nil {
				return err
			}
			n++
			l.read, l.bound = true, orderOf(st)
			if st = t.addStep(seq, st); st == nil {
				continue // a run not locked
			}
			l.add(st)
		}
		l.more = n == limit
		return rows.Err()
	}
}

// readyPage queues the read of the next page of run seq's ready steps into
// l (the first page when l has none).
func (t *txn) readyPage(seq int64, l *readyList, limit int) {
	prio, idx := int64(math.MaxInt32)+1, int32(-1)
	if l.read {
		prio, idx = int64(l.bound.prio), l.bound.idx
	}
	t.queue(readyAfterSQL, seq, prio, idx, limit).Query(t.collectReady(l, limit))
}
