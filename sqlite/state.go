package sqlite

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
	"github.com/weft-dev/weft/internal/sched"
)

// The writer's picture of the database.
//
// The writer keeps the runs it works on in memory (with their plans, step
// states and queues of ready steps, as the in-memory store does), and
// changes the database and its picture together: an operation changes the
// picture, and the rows it changed are written (flush) before the
// transaction commits. So the hot path (Claim, Finish) reads nothing from
// the database; it only writes.
//
// The picture is exact as long as nobody else writes the database. Another
// process may (the CLI cancelling a run); SQLite's PRAGMA data_version
// tells, at the start of each transaction, whether anyone else committed
// since the last one, and if so the picture is dropped and rebuilt from the
// database as runs are needed again. It is dropped too when a transaction
// fails, as it may hold changes that were not committed.
type wtx struct {
	w           *wconn
	runs        map[int64]*run // by seq
	byID        map[string]*run
	cachedSteps int
	maxSteps    int    // evict runs beyond this many steps, least recently used first
	batch       uint64 // counts transactions, for eviction
	dataVersion int64

	// The database's queue, loaded when the picture is (re)built (loaded
	// true): runs that have ready steps and room, by seq, and steps waiting
	// out a retry delay, by time. Entries may be stale; they are checked
	// when they come out.
	loaded   bool
	active   seqHeap
	inActive map[int64]bool
	retries  retryHeap

	// What changed since the last flush.
	dirtyRuns  []*run
	dirtySteps []stepRef
	events     []eventRow
	ended      []*run              // runs that ended, to forget after the commit
	decided    map[decided][]int64 // used by flush
	err        error               // the first error of a write made on the way (see stepEvent)
	cascade    runstate.Cascade
	cur        cascadeRun // the run the cascade works on (see on)
}

func newWtx(w *wconn, maxSteps int) *wtx {
	return &wtx{w: w, maxSteps: maxSteps, runs: make(map[int64]*run), byID: make(map[string]*run), inActive: make(map[int64]bool)}
}

// reset drops the picture.
func (tx *wtx) reset() {
	clear(tx.runs)
	clear(tx.byID)
	clear(tx.inActive)
	tx.cachedSteps = 0
	tx.loaded = false
	tx.active, tx.retries = tx.active[:0], tx.retries[:0]
	clear(tx.events)
	clear(tx.ended)
	clear(tx.decided)
	tx.dirtyRuns, tx.dirtySteps, tx.events, tx.ended = tx.dirtyRuns[:0], tx.dirtySteps[:0], tx.events[:0], tx.ended[:0]
	tx.err = nil
}

// begin is called at the start of each transaction: it drops the picture
// if another connection changed the database since the last one.
func (tx *wtx) begin() error {
	tx.batch++
	v, err := tx.w.row(`PRAGMA data_version`)
	if err != nil {
		return fmt.Errorf("data version: %w", err)
	}
	if dv := i64(v[0]); dv != tx.dataVersion {
		tx.reset()
		tx.dataVersion = dv
	}
	return nil
}

// load reads the database's queue, once per picture.
func (tx *wtx) load() error {
	if tx.loaded {
		return nil
	}
	seqs, err := tx.w.int64s(`SELECT seq FROM runs WHERE claimable ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("claimable runs: %w", err)
	}
	for _, seq := range seqs {
		if !tx.inActive[seq] {
			tx.inActive[seq] = true
			tx.active.push(seq)
		}
	}
	rows, err := tx.w.query(`SELECT id, retry_at FROM steps WHERE status = 'retrying'`)
	if err != nil {
		return fmt.Errorf("retrying steps: %w", err)
	}
	for rows.next() {
		tx.retries.push(retryItem{at: i64(rows.vals[1]), key: i64(rows.vals[0])})
	}
	rows.close()
	if rows.err != nil {
		return fmt.Errorf("retrying steps: %w", rows.err)
	}
	tx.loaded = true
	return nil
}

// evict forgets the runs that ended, and the least recently used runs
// while more than maxSteps steps are held, after a commit. Runs used by
// the last transaction stay.
func (tx *wtx) evict() {
	for _, r := range tx.ended {
		if tx.runs[r.seq] == r && r.rec.Status.Terminal() { // a retried run stays
			tx.forget(r)
		}
	}
	clear(tx.ended)
	tx.ended = tx.ended[:0]
	if tx.cachedSteps <= tx.maxSteps {
		return
	}
	var lru []*run
	for _, r := range tx.runs {
		if r.used < tx.batch {
			lru = append(lru, r)
		}
	}
	slices.SortFunc(lru, func(a, b *run) int { return cmp.Compare(a.used, b.used) })
	for _, r := range lru {
		if tx.cachedSteps <= tx.maxSteps {
			break
		}
		tx.forget(r)
	}
}

func (tx *wtx) forget(r *run) {
	delete(tx.runs, r.seq)
	delete(tx.byID, r.rec.ID)
	tx.cachedSteps -= len(r.steps)
}

// run is a run as the writer holds it: its record, plan, steps and queue.
type run struct {
	seq int64
	rec weft.Run // its StepCount is set; see record for the other counters
	// running, ready, remaining and failed count the run's steps in these
	// states; events is the seq of its last event.
	running, ready, remaining, failed int
	events                            int64

	steps        []step
	depOff, deps []int32 // CSR: the dependencies of node i are deps[depOff[i]:depOff[i+1]]
	dntOff, dnts []int32 // CSR: its dependents
	index        map[string]int32
	readyQ       sched.ReadyHeap
	clock        runstate.Clock // the latest time recorded: times never go backwards
	dirty        bool
	used         uint64 // the last transaction that used it
}

// step is the state of one node of a run. Times are Unix nanoseconds, 0
// for none.
type step struct {
	id, typ, pool string
	priority      int32
	trigger       weft.Trigger
	sink          bool

	status                                                              weft.StepStatus
	reason                                                              string
	attempts                                                            int
	output                                                              json.RawMessage
	err                                                                 *weft.ErrorInfo
	worker                                                              string
	leaseUntil, readyAt, retryAt, startedAt, firstStartedAt, finishedAt int64
	queueWait, runTime                                                  int64
	usage                                                               weft.Usage
	counts                                                              weft.DepCounts
	dirty                                                               uint8
}

// What of a step changed, for flush, which writes only that when only
// one of these changed: its dependency counters, its lease, its status as
// decide sets it (status, reason, ready and finish times), what a claim
// sets (start) or what Finish sets (finish); or anything.
const (
	dirtyCounts = 1 << iota
	dirtyLease
	dirtyDecided
	dirtyStart
	dirtyFinish
	dirtyAll
)

type stepRef struct {
	r *run
	i int32
}

// record returns a copy of the run's record with its progress counters and
// last event, as the picture has them.
func (r *run) record() *weft.Run {
	rec := r.rec
	rec.StepsDone = rec.StepCount - r.remaining
	rec.StepsRunning, rec.StepsFailed, rec.LastEvent = r.running, r.failed, r.events
	return &rec
}

func (r *run) hasRoom() bool { return r.rec.MaxParallel <= 0 || r.running < r.rec.MaxParallel }

func (r *run) claimable() bool {
	return !r.rec.Status.Terminal() && len(r.readyQ) > 0 && r.hasRoom()
}

func (r *run) dependents(i int32) []int32 { return r.dnts[r.dntOff[i]:r.dntOff[i+1]] }
func (r *run) depsOf(i int32) []int32     { return r.deps[r.depOff[i]:r.depOff[i+1]] }

// find returns the node index of a step id.
func (r *run) find(id string) (int32, bool) {
	if r.index == nil {
		r.index = make(map[string]int32, len(r.steps))
		for i := range r.steps {
			r.index[r.steps[i].id] = int32(i)
		}
	}
	i, ok := r.index[id]
	return i, ok
}

func (st *step) result() weft.StepResult {
	return weft.StepResult{StepID: st.id, Status: st.status, Attempts: st.attempts, Output: st.output, Error: st.err}
}

// activate puts run r in the queue of runs when it has ready steps and
// room.
func (tx *wtx) activate(r *run) {
	if tx.inActive[r.seq] || !r.claimable() {
		return
	}
	tx.inActive[r.seq] = true
	tx.active.push(r.seq)
}

func (tx *wtx) touchRun(r *run) {
	if !r.dirty {
		r.dirty = true
		tx.dirtyRuns = append(tx.dirtyRuns, r)
	}
}

func (tx *wtx) touchStep(r *run, i int32, what uint8) {
	st := &r.steps[i]
	if st.dirty == 0 {
		tx.dirtySteps = append(tx.dirtySteps, stepRef{r, i})
	}
	st.dirty |= what
}

// event appends a run event to run r's history.
func (tx *wtx) event(r *run, e weft.Event) { tx.stepEvent(r, -1, e) }

// stepEvent appends an event of node i to run r's history. Events are
// written in batches as they come (they depend on nothing else written).
func (tx *wtx) stepEvent(r *run, i int32, e weft.Event) {
	r.events++
	e.Seq = r.events
	if i >= 0 {
		e.StepID = r.steps[i].id
	}
	tx.events = append(tx.events, eventRow{runSeq: r.seq, e: e})
	tx.touchRun(r)
	if len(tx.events) == eventBatch && tx.err == nil {
		tx.err = tx.flushEvents()
	}
}

// eventBatch is how many events are written at once.
const eventBatch = 256

func (tx *wtx) flushEvents() error {
	if err := tx.w.insertMany(insertEventsSQL, eventColumns, len(tx.events), func(k int, args []any) []any {
		return tx.events[k].appendArgs(args)
	}); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	clear(tx.events)
	tx.events = tx.events[:0]
	return nil
}

// flush writes what changed.
func (tx *wtx) flush() error {
	if tx.err != nil {
		return tx.err
	}
	for _, ref := range tx.dirtySteps {
		st := &ref.r.steps[ref.i]
		key := stepKey(ref.r.seq, ref.i)
		var err error
		switch st.dirty {
		case dirtyDecided:
			// Steps decided together (a cascade of skips, the dependents
			// of a step made ready) share their new state: one statement
			// per group.
			d := decided{st.status, st.reason, st.readyAt, st.finishedAt}
			if tx.decided == nil {
				tx.decided = make(map[decided][]int64)
			}
			tx.decided[d] = append(tx.decided[d], key)
		case dirtyCounts:
			_, err = tx.w.exec(updateCounts, st.countsArgs(key)...)
		case dirtyLease:
			_, err = tx.w.exec(`UPDATE steps SET lease_until = ? WHERE id = ?`, nullInt(st.leaseUntil), key)
		case dirtyStart:
			_, err = tx.w.exec(updateStart, st.startArgs(key)...)
		case dirtyFinish:
			_, err = tx.w.exec(updateFinish, st.finishArgs(key)...)
		default:
			_, err = tx.w.exec(updateStep, st.updateArgs(key)...)
		}
		if err != nil {
			return fmt.Errorf("update step %s: %w", st.id, err)
		}
		st.dirty = 0
	}
	tx.dirtySteps = tx.dirtySteps[:0]
	for d, keys := range tx.decided {
		if err := tx.w.updateIn(updateDecided, keys, string(d.status), d.reason, nullInt(d.readyAt), nullInt(d.finishedAt)); err != nil {
			return fmt.Errorf("update steps: %w", err)
		}
		delete(tx.decided, d)
	}
	for _, r := range tx.dirtyRuns {
		if _, err := tx.w.exec(updateRun, r.updateArgs()...); err != nil {
			return fmt.Errorf("update run %s: %w", r.rec.ID, err)
		}
		r.dirty = false
	}
	tx.dirtyRuns = tx.dirtyRuns[:0]
	return tx.flushEvents()
}

// decided is the new state of steps decide settled.
type decided struct {
	status              weft.StepStatus
	reason              string
	readyAt, finishedAt int64
}

// updateIn runs an UPDATE whose last clause is "WHERE id IN" for the given
// ids, many per statement: args are the values of its other parameters.
// Lists are padded to a power of two (repeating their last id), so that
// few statements are prepared.
func (w *wconn) updateIn(prefix string, ids []int64, args ...any) error {
	const perStmt = 512
	for len(ids) > 0 {
		k := min(len(ids), perStmt)
		n := 1
		for n < k {
			n *= 2
		}
		w.vals = append(w.vals[:0], args...)
		for j := range n {
			w.vals = append(w.vals, ids[min(j, k-1)])
		}
		key := prefix + "#" + strconv.Itoa(n)
		q, ok := w.many[key]
		if !ok {
			q = prefix + " (?" + strings.Repeat(", ?", n-1) + ")"
			if w.many == nil {
				w.many = make(map[string]string)
			}
			w.many[key] = q
		}
		_, err := w.exec(q, w.vals...)
		clear(w.vals)
		if err != nil {
			return err
		}
		ids = ids[k:]
	}
	return nil
}

// insertMany runs an INSERT of n rows of ncols columns, many rows per
// statement (a power of two, so that few statements are prepared); args
// appends the values of row k.
func (w *wconn) insertMany(prefix string, ncols, n int, args func(k int, args []any) []any) error {
	const perStmt = 64
	for done := 0; done < n; {
		k := perStmt
		for k > n-done {
			k /= 2
		}
		q := w.manySQL(prefix, ncols, k)
		w.vals = w.vals[:0]
		for j := range k {
			w.vals = args(done+j, w.vals)
		}
		_, err := w.exec(q, w.vals...)
		clear(w.vals)
		if err != nil {
			return err
		}
		done += k
	}
	return nil
}

// manySQL is prefix followed by k groups of ncols placeholders.
func (w *wconn) manySQL(prefix string, ncols, k int) string {
	key := prefix + "#" + strconv.Itoa(k)
	if q, ok := w.many[key]; ok {
		return q
	}
	row := "(?" + strings.Repeat(", ?", ncols-1) + ")"
	q := prefix + " VALUES " + row + strings.Repeat(", "+row, k-1)
	if w.many == nil {
		w.many = make(map[string]string)
	}
	w.many[key] = q
	return q
}

// seqHeap orders runs by seq: the oldest first.
type seqHeap []runSeq

type runSeq int64

func (a runSeq) Before(b runSeq) bool { return a < b }

func (h *seqHeap) push(seq int64) { *h = sched.Push(*h, runSeq(seq)) }
func (h *seqHeap) pop() int64 {
	x, rest := sched.Pop(*h)
	*h = rest
	return int64(x)
}

// retryItem is a step (by key) waiting out a retry delay until at.
type retryItem struct {
	at  int64
	key int64
}

func (a retryItem) Before(b retryItem) bool { return a.at < b.at }

type retryHeap []retryItem

func (h *retryHeap) push(x retryItem) { *h = sched.Push(*h, x) }
func (h *retryHeap) pop() retryItem {
	x, rest := sched.Pop(*h)
	*h = rest
	return x
}
