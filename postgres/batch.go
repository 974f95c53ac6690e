package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
)

// Claim and Finish calls are operations for the writers: each writer takes
// the operations waiting (at most Options.MaxBatch) and carries them out in
// one transaction.

// An op is a Claim or a Finish call.
type op struct {
	finish *weft.StepFinish   // a Finish's outcome, or nil for a Claim
	claim  *weft.ClaimRequest // a Claim's request, or a Finish's Next
	fres   *weft.FinishResult
	cres   *weft.ClaimResult
	err    error
	panicv any          // what an Admit callback panicked with, for the caller
	state  atomic.Int32 // opQueued, then opTaken by a writer or opAbandoned by the caller
	done   chan struct{}
}

const (
	opQueued = iota
	opTaken
	opAbandoned
)

// Claim leases ready steps; see weft.Store. Admit is called with the
// candidate's run locked, before its Deps are read (they are filled in
// before Claim returns).
func (s *Store) Claim(ctx context.Context, req *weft.ClaimRequest) (*weft.ClaimResult, error) {
	o := &op{claim: req}
	if err := s.do(ctx, o); err != nil {
		return nil, s.wrap("claim", err)
	}
	return o.cres, nil
}

// Finish records the outcome of a claimed attempt, and claims the next
// steps in the same transaction when f.Next is set; see weft.Store.
func (s *Store) Finish(ctx context.Context, f *weft.StepFinish) (*weft.FinishResult, error) {
	if err := runstate.CheckFinish(f); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	o := &op{finish: f, claim: f.Next}
	if err := s.do(ctx, o); err != nil {
		return nil, s.wrap("finish", err)
	}
	return o.fres, nil
}

// do hands o to the writers and waits for its outcome. A caller whose ctx
// ends before a writer takes its operation returns at once and the
// operation is skipped; once taken, do waits for its outcome (so that a
// caller never believes undone what was committed).
func (s *Store) do(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.done = make(chan struct{})
	ops := s.queueOf(o)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return weft.ErrClosed
	}
	select {
	case ops <- o:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-o.done:
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		<-o.done
	}
	if o.panicv != nil {
		panic(o.panicv)
	}
	return o.err
}

// queueOf returns the queue of the writer of o: the writer of its run
// for a Finish (so that the Finish calls of a run share its transactions
// rather than wait for each other's), the next in turn for a Claim.
func (s *Store) queueOf(o *op) chan *op {
	n := uint32(len(s.ops))
	if o.finish == nil {
		return s.ops[s.next.Add(1)%n]
	}
	h := fnv.New32a()
	h.Write([]byte(o.finish.Lease.RunID))
	return s.ops[h.Sum32()%n]
}

// lingerMax is how long a writer waits for more operations when fewer
// are waiting than its recent transactions carried out (see writeLoop).
const lingerMax = 200 * time.Microsecond

// writeLoop carries out the operations of queue ops: each batch of those
// waiting in one transaction. Under a steady load the callers of a
// transaction come back together, just after it: when fewer operations
// wait than the largest of its last few transactions carried out, the
// writer waits for them a little (lingerMax at most), so that they share
// the next transaction rather than split into two that would wait for
// each other's locks.
func (s *Store) writeLoop(ops chan *op) {
	batch := make([]*op, 0, s.opts.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var recent [4]int // the sizes of the last batches
	next := 0
	for o := range ops {
		target := slices.Max(recent[:])
		batch = append(batch[:0], o)
		lingering := false
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o, ok := <-ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
				continue
			default:
			}
			if len(batch) >= target {
				break
			}
			if !lingering {
				lingering = true
				timer.Reset(lingerMax)
			}
			select {
			case o, ok := <-ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			case <-timer.C:
				lingering = false
				break fill
			}
		}
		if lingering {
			timer.Stop()
		}
		recent[next%len(recent)] = len(batch)
		next++
		s.runBatch(batch)
		clear(batch)
	}
}

// runBatch carries out operations in one transaction. An operation that
// fails on its own account (an unknown run, a lost lease) changed nothing
// and fails alone; a database error fails the transaction, and every
// operation of the batch with it.
func (s *Store) runBatch(batch []*op) {
	live := make([]*op, 0, len(batch))
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	defer func() {
		for _, o := range live {
			close(o.done)
		}
	}()
	s.stats.transactions.Add(1)
	s.stats.operations.Add(int64(len(live)))
	if err := s.transact(live); err != nil {
		for _, o := range live {
			if o.err == nil || !isOpError(o.err) {
				o.err = err
			}
			o.fres, o.cres = nil, nil
		}
	}
}

// transact carries out the operations in one transaction and commits, or
// returns the error that stopped it (after rolling back).
func (s *Store) transact(live []*op) (err error) {
	ctx := context.Background()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	t := s.newTxn(ctx, conn.Conn())
	defer func() {
		if v := recover(); v != nil {
			if t.current != nil {
				t.current.panicv = v
			}
			err = fmt.Errorf("an operation of the transaction panicked: %v", v)
		}
		if err != nil {
			t.rollback()
		}
	}()
	var (
		fins []*op
		qs   []*claimReq
	)
	for _, o := range live {
		if o.finish != nil {
			fins = append(fins, o)
		}
		if o.claim != nil {
			qs = append(qs, &claimReq{op: o, req: o.claim})
		}
	}
	ran, plan, err := t.finishPhase(fins, qs)
	if err != nil {
		return err
	}
	// A Finish that failed claims nothing.
	plan.qs = slices.DeleteFunc(plan.qs, func(q *claimReq) bool { return q.op.err != nil })
	qs = plan.qs
	if err := t.claimPhase(plan); err != nil {
		return err
	}
	if err := t.commit(func() { t.queueClaimReads(qs) }); err != nil {
		return err
	}
	for _, q := range qs {
		q.op.cres = &weft.ClaimResult{Claims: q.claims, NextAt: q.nextAt}
	}
	for _, o := range fins {
		if o.err != nil {
			continue
		}
		res := ran[o]
		o.fres = &weft.FinishResult{RunStatus: res.status, Ready: res.ready}
		if res.ended {
			o.fres.RunStatus = res.run.status
		}
		if o.claim != nil {
			o.fres.Next, o.cres = o.cres, nil
		}
	}
	return nil
}

// finished is what a Finish operation did: its run, the run's status once
// it was recorded, how many steps it made ready, and whether its run ended
// with it (the run's final status is known after every operation).
type finished struct {
	run    *runState
	status weft.RunStatus
	ready  int
	ended  bool
}

// Reading what Finish operations need: the steps to finish (by key,
// with their dependents) and their pending dependents; the queued steps
// of a capped run that admission may take are read with queuedSQL.
const (
	runInfoSQL = `SELECT id, seq, max_parallel FROM runs WHERE id = ANY($1)`
	leasedSQL  = `SELECT ` + stepCols + ` FROM steps s WHERE s.key = ANY($1)
	UNION ALL
	SELECT ` + stepCols + ` FROM steps s
		WHERE s.key = ANY(ARRAY(SELECT (f.run_seq << 32) + d FROM steps f, unnest(f.dependents) AS d WHERE f.key = ANY($1)))
		AND s.status = 'pending'`
)

// finishPhase records the outcomes of Finish operations, in order: it
// locks their runs, reads their steps (and what serving the claim requests
// qs needs: see newClaimPlan and prefetchHeld), records each (an operation that
// fails on its own account gets its error in o.err), admits queued steps
// where room was made, and ends the runs whose steps are all done.
func (t *txn) finishPhase(ops []*op, qs []*claimReq) (map[*op]finished, *claimPlan, error) {
	if len(ops) == 0 {
		plan := t.newClaimPlan(qs)
		t.prefetchHeld(plan, nil)
		if err := t.send(); err != nil {
			return nil, nil, fmt.Errorf("find ready steps: %w", err)
		}
		return nil, plan, nil
	}
	ids := make([]string, len(ops))
	idxs := make([]int32, len(ops))
	byRun := make(map[string][]int32)
	for k, o := range ops {
		ids[k], idxs[k] = o.finish.Lease.RunID, o.finish.Lease.Index
		byRun[ids[k]] = append(byRun[ids[k]], idxs[k])
	}
	unique := slices.Compact(slices.Sorted(slices.Values(ids)))
	var unknown []string
	for _, id := range unique {
		if _, ok := t.cache.get(id); !ok {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		t.queue(runInfoSQL, unknown).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var ri runInfo
				if err := rows.Scan(&id, &ri.seq, &ri.maxParallel); err != nil {
					return err
				}
				t.cache.put(id, ri)
			}
			return rows.Err()
		})
		if err := t.send(); err != nil {
			return nil, nil, fmt.Errorf("find the runs: %w", err)
		}
	}
	plan := t.newClaimPlan(qs)
	t.lockRuns(lockRunsByIDSQL, unique)
	var seqs []int64
	for _, id := range unique {
		ri, ok := t.cache.get(id)
		if !ok {
			continue // no such run: its operations fail
		}
		seqs = append(seqs, ri.seq)
		t.queue(leasedSQL, stepKeys(ri.seq, byRun[id])).Query(t.addSteps)
		if ri.maxParallel > 0 {
			t.queue(queuedSQL, ri.seq, ri.maxParallel).Query(t.addSteps)
		}
	}
	t.prefetchHeld(plan, seqs)
	if err := t.send(); err != nil {
		return nil, nil, fmt.Errorf("read the steps to finish: %w", err)
	}
	for _, r := range t.runs {
		r.queuedLoaded = r.maxParallel > 0
	}
	// What the dependents read did not return is not pending.
	for k, o := range ops {
		if r := t.byID[ids[k]]; r != nil {
			if st := r.steps[idxs[k]]; st != nil && st.id == o.finish.Lease.StepID {
				for _, d := range st.dependents {
					if _, ok := r.steps[d]; !ok {
						r.steps[d] = nil
					}
				}
			}
		}
	}
	ran := make(map[*op]finished, len(ops))
	for _, o := range ops {
		t.current = o
		r, ready, err := t.finishOne(o.finish)
		t.current = nil
		if err != nil {
			if !isOpError(err) {
				return nil, nil, err
			}
			o.err = err
			continue
		}
		// Once a run's steps are all done, no later operation of the batch
		// can record one of its steps: this one ended it.
		ran[o] = finished{run: r, status: r.status, ready: ready, ended: r.remaining == 0 && !r.endAt.IsZero()}
	}
	if err := t.promoteHeld(plan); err != nil {
		return nil, nil, err
	}
	for _, r := range t.runs {
		if err := t.admit(r); err != nil {
			return nil, nil, err
		}
	}
	if err := t.endRuns(); err != nil {
		return nil, nil, err
	}
	return ran, plan, nil
}
