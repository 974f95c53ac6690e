package postgres

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// Claims: the ready steps of the oldest runs first, in each run highest
// priority first, then node order (the order of index steps_ready).

// claimReq is a claim request of a transaction and what it claimed.
type claimReq struct {
	op     *op
	req    *weft.ClaimRequest
	claims []*weft.Claim
	steps  []*stepState // the claimed steps, as claims
	runs   []*runState  // and their runs
	nextAt time.Time
}

func (q *claimReq) full() bool { return len(q.claims) >= q.req.Max }

// readyList is a run's ready steps as a transaction reads them, in claim
// order, a page at a time.
type readyList struct {
	steps []*stepState
	more  bool // the last page read was full: there may be more
}

const (
	// The runs that have ready steps, oldest first, after run $1: a loose
	// index scan of steps_ready (one probe per run).
	readyRunsSQL = `WITH RECURSIVE q(seq) AS (
		(SELECT run_seq FROM steps WHERE status = 'ready' AND run_seq > $1 ORDER BY run_seq LIMIT 1)
		UNION ALL
		SELECT (SELECT s.run_seq FROM steps s WHERE s.status = 'ready' AND s.run_seq > q.seq ORDER BY s.run_seq LIMIT 1)
		FROM q WHERE q.seq IS NOT NULL)
	SELECT seq FROM q WHERE seq IS NOT NULL LIMIT $2`
	// The runs that have steps whose retry delay is over.
	dueRunsSQL = `SELECT DISTINCT run_seq FROM steps WHERE status = 'retrying' AND retry_at <= $1`
	// The first ready steps of some runs, with their dependencies.
	readyOfRunsSQL = `SELECT ` + stepCols + `, s.deps FROM unnest($1::bigint[]) AS h(seq)
		CROSS JOIN LATERAL (SELECT * FROM steps WHERE run_seq = h.seq AND status = 'ready'
			ORDER BY priority DESC, idx LIMIT $2) AS s`
	// The ready steps of a run that come after (priority $2, node $3).
	readyAfterSQL = `SELECT ` + stepCols + `, s.deps FROM steps s WHERE s.run_seq = $1 AND s.status = 'ready'
		AND (s.priority < $2::bigint OR (s.priority = $2::bigint AND s.idx > $3))
		ORDER BY s.priority DESC, s.idx LIMIT $4`
	// The steps of a run whose retry delay is over.
	dueOfRunSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.run_seq = $1 AND s.status = 'retrying' AND s.retry_at <= $2`
	// When the next step waiting out a retry delay is due.
	nextAtSQL = `SELECT min(retry_at) FROM steps WHERE status = 'retrying'`
	// The results of dependencies, for claims: $3 numbers them.
	depResultsSQL = `SELECT l.k, d.step_id, d.status, d.attempts, d.output, d.error_code, d.error_message
		FROM unnest($1::bigint[], $2::int[], $3::int[]) AS l(run_seq, idx, k)
		JOIN steps d ON d.run_seq = l.run_seq AND d.idx = l.idx`
)

// claimSlack is how many more candidates than asked for a transaction
// reads at once, for those Admit refuses.
const claimSlack = 8

// claimPhase serves the claim requests qs, in order: each takes ready
// steps, oldest run first, asking its Admit about each; steps refused stay
// ready for the next request. Runs this transaction has not locked are
// locked on the way: waiting for those created after every run it holds,
// skipping the others if another transaction holds them (so transactions
// never wait for each other in a cycle).
func (t *txn) claimPhase(qs []*claimReq) error {
	if len(qs) == 0 {
		return nil
	}
	demand := 0
	var now time.Time
	for _, q := range qs {
		demand += max(q.req.Max, 0)
		if q.req.Now.After(now) {
			now = q.req.Now
		}
	}
	limit := demand + claimSlack
	lists := make(map[int64]*readyList)
	var readyRuns, due []int64
	t.flush()
	if demand > 0 {
		t.queue(readyRunsSQL, int64(0), limit).Query(collectInt64(&readyRuns))
		if held := t.heldSeqs(); len(held) > 0 {
			for _, seq := range held {
				lists[seq] = &readyList{}
			}
			t.queue(readyOfRunsSQL, held, limit).Query(t.collectReady(lists, limit))
		}
	}
	t.queue(dueRunsSQL, now).Query(collectInt64(&due))
	if err := t.send(); err != nil {
		return fmt.Errorf("find ready steps: %w", err)
	}
	for _, l := range lists {
		l.more = len(l.steps) == limit
	}
	if demand == 0 {
		return nil
	}
	isDue := make(map[int64]bool, len(due))
	for _, seq := range due {
		isDue[seq] = true
	}
	cands := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(readyRuns), due...))))
	moreRuns := len(readyRuns) == limit
	done := func() bool {
		for _, q := range qs {
			if !q.full() {
				return false
			}
		}
		return true
	}
	for !done() {
		var last int64
		for _, seq := range cands {
			last = seq
			r, err := t.acquire(seq, lists, limit)
			if err != nil {
				return err
			}
			if r == nil || r.status.Terminal() {
				continue
			}
			if isDue[seq] {
				delete(isDue, seq)
				if err := t.promote(r, now, lists, limit); err != nil {
					return err
				}
			}
			if err := t.serve(r, lists[seq], qs, limit); err != nil {
				return err
			}
			if done() {
				return nil
			}
		}
		if !moreRuns {
			return nil
		}
		readyRuns = readyRuns[:0]
		t.queue(readyRunsSQL, last, limit).Query(collectInt64(&readyRuns))
		if err := t.send(); err != nil {
			return fmt.Errorf("find ready steps: %w", err)
		}
		cands, moreRuns = readyRuns, len(readyRuns) == limit
	}
	return nil
}

// heldSeqs returns the seqs of the runs the transaction holds.
func (t *txn) heldSeqs() []int64 {
	seqs := make([]int64, 0, len(t.runs))
	for seq := range t.runs {
		seqs = append(seqs, seq)
	}
	return seqs
}

// collectInt64 is a callback that appends a query's one int64 column to
// *dst.
func collectInt64(dst *[]int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return err
			}
			*dst = append(*dst, v)
		}
		return rows.Err()
	}
}

// collectReady is a callback that appends the ready steps a query read
// (stepCols and deps) to their runs' lists, as the transaction has them.
func (t *txn) collectReady(lists map[int64]*readyList, limit int) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			var deps []int32
			seq, st, err := scanStep(rows, &deps)
			if err != nil {
				return err
			}
			st.deps = deps
			if st = t.addStep(seq, st); st == nil {
				continue // a run not locked
			}
			if st.deps == nil {
				st.deps = deps
			}
			l := lists[seq]
			if l == nil {
				l = &readyList{}
				lists[seq] = l
			}
			l.steps = append(l.steps, st)
		}
		return rows.Err()
	}
}

// acquire returns run seq locked, with its list of ready steps, or nil
// when another transaction holds it and this one may not wait for it.
func (t *txn) acquire(seq int64, lists map[int64]*readyList, limit int) (*runState, error) {
	if r := t.runs[seq]; r != nil {
		if lists[seq] == nil {
			lists[seq] = &readyList{}
		}
		return r, nil
	}
	if seq > t.maxHeld {
		t.lockRuns(lockRunsBySeqSQL, []int64{seq})
	} else {
		t.lockRuns(lockRunSkipSQL, seq)
	}
	t.readyPage(seq, lists, limit)
	if err := t.send(); err != nil {
		return nil, fmt.Errorf("lock run %d: %w", seq, err)
	}
	return t.runs[seq], nil
}

// readyPage queues the read of the next page of run seq's ready steps.
func (t *txn) readyPage(seq int64, lists map[int64]*readyList, limit int) {
	l := lists[seq]
	if l == nil {
		l = &readyList{}
		lists[seq] = l
	}
	prio, idx := int64(math.MaxInt32)+1, int32(-1)
	if n := len(l.steps); n > 0 {
		prio, idx = int64(l.steps[n-1].priority), l.steps[n-1].idx
	}
	before := len(l.steps)
	read := t.collectReady(lists, limit)
	t.queue(readyAfterSQL, seq, prio, idx, limit).Query(func(rows pgx.Rows) error {
		if err := read(rows); err != nil {
			return err
		}
		l.more = len(l.steps)-before == limit
		return nil
	})
}

// promote makes the steps of run r whose retry delay is over claimable
// again (ready, or queued for admission), and reads its ready steps
// afresh.
func (t *txn) promote(r *runState, now time.Time, lists map[int64]*readyList, limit int) error {
	var due []*stepState
	t.flush()
	t.queue(dueOfRunSQL, r.seq, now).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			seq, st, err := scanStep(rows)
			if err != nil {
				return err
			}
			if st = t.addStep(seq, st); st != nil {
				due = append(due, st)
			}
		}
		return rows.Err()
	})
	if err := t.send(); err != nil {
		return fmt.Errorf("read the due retries of run %s: %w", r.id, err)
	}
	slices.SortFunc(due, func(a, b *stepState) int { return int(a.idx - b.idx) })
	for _, st := range due {
		if st.status != weft.StepRetrying || st.retryAt.After(now) {
			continue
		}
		st.readyAt, st.retryAt = st.retryAt, time.Time{}
		if r.maxParallel > 0 {
			t.move(r, st, stepQueued)
		} else {
			t.move(r, st, weft.StepReady)
		}
	}
	if err := t.admit(r); err != nil {
		return err
	}
	lists[r.seq] = &readyList{}
	t.flush()
	t.readyPage(r.seq, lists, limit)
	if err := t.send(); err != nil {
		return fmt.Errorf("read the ready steps of run %s: %w", r.id, err)
	}
	return nil
}

// serve lets the requests qs, in order, claim ready steps of run r.
func (t *txn) serve(r *runState, l *readyList, qs []*claimReq, limit int) error {
	for _, q := range qs {
		for k := 0; !q.full(); k++ {
			if k == len(l.steps) {
				if !l.more {
					break
				}
				t.readyPage(r.seq, map[int64]*readyList{r.seq: l}, limit)
				if err := t.send(); err != nil {
					return fmt.Errorf("read the ready steps of run %s: %w", r.id, err)
				}
				if k == len(l.steps) {
					break
				}
			}
			st := l.steps[k]
			if st.status != weft.StepReady {
				continue // claimed by an earlier request
			}
			c := claimOf(r, st, q.req)
			if q.req.Admit != nil {
				t.current = q.op
				ok := q.req.Admit(c)
				t.current = nil
				if !ok {
					continue
				}
			}
			t.start(r, st, c, q.req)
			q.claims, q.steps, q.runs = append(q.claims, c), append(q.steps, st), append(q.runs, r)
		}
	}
	return nil
}

// claimOf is the claim of ready step st by req (its Deps are read later).
func claimOf(r *runState, st *stepState, req *weft.ClaimRequest) *weft.Claim {
	first := st.firstStartedAt
	if first.IsZero() {
		first = req.Now
	}
	return &weft.Claim{
		RunID: r.id, StepID: st.id, Index: st.idx, Type: st.typ, Pool: st.pool,
		Attempt: st.attempts + 1, Worker: req.Worker, LeaseUntil: req.LeaseUntil,
		ReadyAt: st.readyAt, FirstStartedAt: first,
	}
}

// start records a claimed attempt.
func (t *txn) start(r *runState, st *stepState, c *weft.Claim, req *weft.ClaimRequest) {
	st.attempts = c.Attempt
	st.worker, st.leaseUntil, st.startedAt = req.Worker, req.LeaseUntil, req.Now
	if st.firstStartedAt.IsZero() {
		st.firstStartedAt = req.Now
	}
	if !st.readyAt.IsZero() && req.Now.After(st.readyAt) {
		st.queueWait += req.Now.Sub(st.readyAt)
	}
	t.move(r, st, weft.StepRunning)
	t.claimed++
	r.peak = max(r.peak, r.running)
	if r.status == weft.RunPending {
		r.status, r.startedAt = weft.RunRunning, req.Now
		t.event(r, weft.Event{Type: weft.EventRunStarted, Time: req.Now})
	}
	t.event(r, weft.Event{Type: weft.EventStepStarted, StepID: st.id, Time: req.Now, Attempt: c.Attempt, Worker: req.Worker})
}

// queueClaimReads queues, for the commit of the transaction that served
// qs, the reads of what its claims carry: their dependencies' results and
// when the next retry is due.
func (t *txn) queueClaimReads(qs []*claimReq) {
	if len(qs) == 0 {
		return
	}
	var (
		slots []*weft.StepResult
		seqs  []int64
		idxs  []int32
		ks    []int32
	)
	for _, q := range qs {
		for k, c := range q.claims {
			deps := q.steps[k].deps
			if len(deps) == 0 {
				continue
			}
			c.Deps = make([]weft.StepResult, len(deps))
			for j, d := range deps {
				ks = append(ks, int32(len(slots)))
				slots = append(slots, &c.Deps[j])
				seqs, idxs = append(seqs, q.runs[k].seq), append(idxs, d)
			}
		}
	}
	if len(slots) > 0 {
		t.queue(depResultsSQL, seqs, idxs, ks).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					k               int32
					res             weft.StepResult
					status          string
					attempts        int32
					out             []byte
					errCode, errMsg pgtype.Text
				)
				if err := rows.Scan(&k, &res.StepID, &status, &attempts, &out, &errCode, &errMsg); err != nil {
					return err
				}
				if k < 0 || int(k) >= len(slots) {
					return fmt.Errorf("dependency result %d of %d", k, len(slots))
				}
				res.Status, res.Attempts, res.Output, res.Error = reported(weft.StepStatus(status)), int(attempts), rawJSON(out), errorInfo(errCode, errMsg)
				*slots[k] = res
			}
			return rows.Err()
		})
	}
	t.queue(nextAtSQL).QueryRow(func(row pgx.Row) error {
		var next pgtype.Timestamptz
		if err := row.Scan(&next); err != nil {
			return err
		}
		for _, q := range qs {
			q.nextAt = timeOf(next)
		}
		return nil
	})
}
