package postgres

import (
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
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

// full reports whether the request claimed as many steps as it asked for.
func (q *claimReq) full() bool { return len(q.claims) >= q.req.Max }

const (
	// The runs that have ready steps, oldest first, after run $1: a loose
	// index scan of steps_ready (one probe per run).
	readyRunsSQL = `WITH RECURSIVE q(seq) AS (
		(SELECT run_seq FROM steps WHERE status = 'ready' AND run_seq > $1 ORDER BY run_seq LIMIT 1)
		UNION ALL
		SELECT (SELECT s.run_seq FROM steps s WHERE s.status = 'ready' AND s.run_seq > q.seq ORDER BY s.run_seq LIMIT 1)
		FROM q WHERE q.seq IS NOT NULL)
	SELECT seq FROM q WHERE seq IS NOT NULL LIMIT $2`
	// lockFirstReadySQL locks the oldest run with ready steps (among the
	// first $2 after run $1) that no other transaction holds.
	lockFirstReadySQL = `SELECT ` + runCols + ` FROM runs WHERE seq = ANY(ARRAY(` + readyRunsSQL + `))
		ORDER BY seq LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED`
	// readyTopSQL reads the first ready steps of all runs, in claim order.
	readyTopSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.status = 'ready'
		ORDER BY s.run_seq, s.priority DESC, s.idx LIMIT $1`
	// The runs that have steps whose retry delay is over.
	dueRunsSQL = `SELECT DISTINCT run_seq FROM steps WHERE status = 'retrying' AND retry_at <= $1`
	// The ready steps of a run that come after (priority $2, node $3).
	readyAfterSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.run_seq = $1 AND s.status = 'ready'
		AND (s.priority < $2::bigint OR (s.priority = $2::bigint AND s.idx > $3))
		ORDER BY s.priority DESC, s.idx LIMIT $4`
	// The steps of a run whose retry delay is over.
	dueOfRunSQL = `SELECT ` + stepCols + ` FROM steps s WHERE s.run_seq = $1 AND s.status = 'retrying' AND s.retry_at <= $2`
	// When the next step waiting out a retry delay is due.
	nextAtSQL = `SELECT min(retry_at) FROM steps WHERE status = 'retrying'`
	// The dependencies of some steps (by key), and their results. (Two
	// statements, each a primary key lookup: a join of the two could be
	// planned as a scan of the table.)
	claimDepsSQL  = `SELECT key, deps FROM steps WHERE key = ANY($1)`
	depResultsSQL = `SELECT d.key, d.step_id, d.status, d.attempts, d.output, d.error_code, d.error_message
		FROM steps d WHERE d.key = ANY(ARRAY(SELECT (c.run_seq << 32) + i FROM steps c, unnest(c.deps) AS i
			WHERE c.key = ANY($1)))`
)

// claimSlack is how many more candidates than asked for a transaction
// reads at once, for those Admit refuses.
const claimSlack = 8

// claimPlan is what a transaction reads, in its first round trip, to serve
// its claim requests.
type claimPlan struct {
	qs        []*claimReq
	promoted  map[int64]bool // runs whose due retries were promoted already
	demand    int
	limit     int
	now       time.Time
	readyRuns []int64              // runs with ready steps, oldest first
	due       []int64              // runs with steps whose retry delay is over
	held      map[int64]*readyList // the ready steps of the runs locked in the same round trip, by seq
}

// newClaimPlan returns the plan of the claim requests qs, and queues, for
// the transaction's first round trip, what serving them needs of runs it
// does not hold: the runs with ready steps and those with retries due.
// They need no lock (runs are locked, and read again, when claimed from),
// so a transaction queues them before it locks its runs, and holds the
// locks the shorter.
func (t *txn) newClaimPlan(qs []*claimReq) *claimPlan {
	p := &claimPlan{qs: qs, held: make(map[int64]*readyList), promoted: make(map[int64]bool)}
	if len(qs) == 0 {
		return p
	}
	for _, q := range qs {
		p.demand += max(q.req.Max, 0)
		if q.req.Now.After(p.now) {
			p.now = q.req.Now
		}
	}
	p.limit = p.demand + claimSlack
	t.claimNow = p.now
	if p.demand > 0 {
		t.queue(readyRunsSQL, int64(0), p.limit).Query(collectInt64(&p.readyRuns))
	}
	t.queue(dueRunsSQL, p.now).Query(collectInt64(&p.due))
	return p
}

// prefetchHeld queues, for the transaction's first round trip, after the
// statement that locks the runs seqs, the first page of their ready steps;
// with no run held, it locks the oldest free run with ready steps (see
// prefetchFirst).
func (t *txn) prefetchHeld(p *claimPlan, seqs []int64) {
	if p.demand == 0 {
		return
	}
	for _, seq := range seqs {
		l := &readyList{}
		p.held[seq] = l
		t.readyPage(seq, l, p.limit)
	}
	if len(seqs) == 0 {
		t.prefetchFirst(p)
	}
}

// prefetchFirst queues, for a transaction that holds no run yet, the lock
// of the oldest run with ready steps that no other transaction holds, and
// then the first ready steps of all runs: those of the run locked are
// read once it is, so they are as good as its own page of ready steps
// (those of other runs are left: a run is read once locked).
func (t *txn) prefetchFirst(p *claimPlan) {
	t.lockRuns(lockFirstReadySQL, int64(0), p.limit)
	t.queue(readyTopSQL, p.limit).Query(func(rows pgx.Rows) error {
		n, last := 0, int64(0)
		for rows.Next() {
			seq, st, err := scanStep(rows)
			if err != nil {
				return err
			}
			n, last = n+1, seq
			if st = t.addStep(seq, st); st == nil {
				continue // a run not locked
			}
			l := p.held[seq]
			if l == nil {
				l = &readyList{}
				p.held[seq] = l
			}
			l.read, l.bound = true, orderOf(st)
			l.add(st)
		}
		// The runs locked may have more ready steps than were read when
		// the read stopped at the limit at them or before them.
		for seq, l := range p.held {
			l.more = n == p.limit && last <= seq
		}
		return rows.Err()
	})
}

// claimPhase serves the claim requests of p, in order: each takes ready
// steps, oldest run first, asking its Admit about each; steps refused stay
// ready for the next request. Runs this transaction has not locked are
// locked on the way, unless another transaction holds them: those are
// skipped (so claims never wait, and never wait in a cycle).
func (t *txn) claimPhase(p *claimPlan) error {
	if len(p.qs) == 0 || p.demand == 0 {
		return nil
	}
	lists := make(map[int64]*readyList)
	isDue := make(map[int64]bool)
	for _, seq := range p.due {
		isDue[seq] = !p.promoted[seq]
	}
	cands := slices.Clone(p.readyRuns)
	for seq, r := range t.runs {
		l := p.held[seq]
		if l == nil {
			l = &readyList{}
		}
		l.absorb(r)
		lists[seq] = l
		cands = append(cands, seq)
		if p.dueIn(r) {
			isDue[seq] = !p.promoted[seq]
		}
	}
	cands = slices.Compact(slices.Sorted(slices.Values(append(cands, p.due...))))
	moreRuns := len(p.readyRuns) == p.limit
	done := func() bool {
		for _, q := range p.qs {
			if !q.full() {
				return false
			}
		}
		return true
	}
	visited := make(map[int64]bool)
	for !done() {
		for _, seq := range cands {
			if visited[seq] {
				continue
			}
			visited[seq] = true
			r, err := t.acquire(seq, lists, p.limit)
			if err != nil {
				return err
			}
			if r == nil || r.status.Terminal() {
				continue
			}
			if isDue[seq] {
				delete(isDue, seq)
				if err := t.promote(r, p.now, lists[seq]); err != nil {
					return err
				}
			}
			if err := t.serve(r, lists[seq], p.qs, p.limit); err != nil {
				return err
			}
			if done() {
				return nil
			}
		}
		if !moreRuns {
			return nil
		}
		// More runs have ready steps than were read: the next page.
		last := p.readyRuns[len(p.readyRuns)-1]
		p.readyRuns = p.readyRuns[:0]
		t.queue(readyRunsSQL, last, p.limit).Query(collectInt64(&p.readyRuns))
		if err := t.send(); err != nil {
			return fmt.Errorf("find ready steps: %w", err)
		}
		cands, moreRuns = p.readyRuns, len(p.readyRuns) == p.limit
	}
	return nil
}

// dueIn reports whether held run r has steps whose retry delay is over at
// the claims' time (as the database or the transaction has them).
func (p *claimPlan) dueIn(r *runState) bool {
	if slices.Contains(p.due, r.seq) {
		return true
	}
	for _, st := range r.steps {
		if st != nil && st.status == weft.StepRetrying && !st.retryAt.After(p.now) {
			return true
		}
	}
	return false
}

// promoteHeld promotes the due retries of the runs the transaction holds,
// when it serves claims (as a claim would find them ready), before their
// admission: a due retry competes with queued steps by priority.
func (t *txn) promoteHeld(p *claimPlan) error {
	if p.demand == 0 {
		return nil
	}
	for seq, r := range t.runs {
		if r.status.Terminal() || !p.dueIn(r) {
			continue
		}
		if err := t.promote(r, p.now, nil); err != nil {
			return err
		}
		p.promoted[seq] = true
	}
	return nil
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

// acquire returns run seq locked, with its list of ready steps, or nil
// when another transaction holds it: claims never wait for a run (many
// claimers chasing the same steps would queue behind one another); the
// claim result then says to claim again soon (see skippedRetry).
func (t *txn) acquire(seq int64, lists map[int64]*readyList, limit int) (*runState, error) {
	if r := t.runs[seq]; r != nil {
		return r, nil
	}
	t.lockRuns(lockRunSkipSQL, seq)
	l := &readyList{}
	lists[seq] = l
	t.readyPage(seq, l, limit)
	if err := t.send(); err != nil {
		return nil, fmt.Errorf("lock run %d: %w", seq, err)
	}
	r := t.runs[seq]
	if r == nil {
		t.skipped = true
		return nil, nil
	}
	l.absorb(r)
	return r, nil
}

// promote makes the steps of run r whose retry delay is over claimable
// again (ready, or queued for admission) and adds those that are ready to
// l (when not nil).
func (t *txn) promote(r *runState, now time.Time, l *readyList) error {
	t.queue(dueOfRunSQL, r.seq, now).Query(t.addSteps)
	if err := t.send(); err != nil {
		return fmt.Errorf("read the due retries of run %s: %w", r.id, err)
	}
	var due []*stepState
	for _, st := range r.steps {
		if st != nil && st.status == weft.StepRetrying && runstate.RetryDue(st.retryAt, now) {
			due = append(due, st)
		}
	}
	slices.SortFunc(due, func(a, b *stepState) int { return int(a.idx - b.idx) })
	for _, st := range due {
		status, readyAt := runstate.Promote(&r.clock, st.retryAt)
		st.readyAt, st.retryAt = readyAt, time.Time{}
		if r.maxParallel > 0 {
			status = stepQueued // admitted under MaxParallel (admit)
		}
		t.move(r, st, status)
	}
	if err := t.admit(r); err != nil {
		return err
	}
	if l != nil {
		l.absorb(r)
	}
	return nil
}

// serve lets the requests qs, in order, claim ready steps of run r.
func (t *txn) serve(r *runState, l *readyList, qs []*claimReq, limit int) error {
	for _, q := range qs {
		for k := 0; !q.full(); k++ {
			for !l.usable(k) {
				if !l.more {
					break
				}
				t.readyPage(r.seq, l, limit)
				if err := t.send(); err != nil {
					return fmt.Errorf("read the ready steps of run %s: %w", r.id, err)
				}
				l.absorb(r)
			}
			if !l.usable(k) {
				break
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
		first = r.clock.Now(req.Now)
	}
	return &weft.Claim{
		RunID: r.id, StepID: st.id, Index: st.idx, Type: st.typ, Pool: st.pool,
		Attempt: st.attempts + 1, Worker: req.Worker, LeaseUntil: req.LeaseUntil,
		ReadyAt: st.readyAt, FirstStartedAt: first,
	}
}

// start records a claimed attempt.
func (t *txn) start(r *runState, st *stepState, c *weft.Claim, req *weft.ClaimRequest) {
	started := runstate.Start(&r.clock, req.Now, r.status, st.readyAt, st.firstStartedAt, st.queueWait)
	st.attempts = c.Attempt
	st.worker, st.leaseUntil, st.startedAt = req.Worker, req.LeaseUntil, started.At
	st.firstStartedAt, st.queueWait = started.FirstStartedAt, started.QueueWait
	t.move(r, st, weft.StepRunning)
	r.peak = max(r.peak, r.running)
	if started.RunStarted {
		r.status, r.startedAt = weft.RunRunning, started.At
		t.event(r, started.RunEvent())
	}
	e := started.StepEvent(c.Attempt, req.Worker)
	e.StepID = st.id
	t.event(r, e)
}
