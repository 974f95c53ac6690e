package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/weft-dev/weft"
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
	switch f.Status {
	case weft.StepSucceeded, weft.StepFailed, weft.StepSkipped, weft.StepRetrying:
	default:
		return nil, fmt.Errorf("postgres: finish run %s step %s: status %q is not an outcome", f.Lease.RunID, f.Lease.StepID, f.Status)
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
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return weft.ErrClosed
	}
	select {
	case s.ops <- o:
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

// writeLoop carries out operations: each batch of those waiting in one
// transaction.
func (s *Store) writeLoop() {
	batch := make([]*op, 0, s.opts.MaxBatch)
	for o := range s.ops {
		batch = append(batch[:0], o)
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
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
	t := newTxn(ctx, conn.Conn(), s.opts.Schema)
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
	var fins []*op
	for _, o := range live {
		if o.finish != nil {
			fins = append(fins, o)
		}
	}
	ran, err := t.finishPhase(fins)
	if err != nil {
		return err
	}
	var qs []*claimReq
	for _, o := range live {
		if o.claim != nil && o.err == nil {
			qs = append(qs, &claimReq{op: o, req: o.claim})
		}
	}
	if err := t.claimPhase(qs); err != nil {
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

// Reading what Finish operations need: their steps (with their
// dependents), their pending dependents, and the queued steps of their
// runs that admission may take.
const (
	leasedSQL = `SELECT ` + stepCols + ` FROM unnest($1::text[], $2::int[]) AS l(run_id, idx)
		JOIN runs r ON r.id = l.run_id JOIN steps s ON s.run_seq = r.seq AND s.idx = l.idx`
	leasedDependentsSQL = `SELECT ` + stepCols + ` FROM unnest($1::text[], $2::int[]) AS l(run_id, idx)
		JOIN runs r ON r.id = l.run_id JOIN steps f ON f.run_seq = r.seq AND f.idx = l.idx
		JOIN steps s ON s.run_seq = f.run_seq AND s.idx = ANY(f.dependents) WHERE s.status = 'pending'`
	queuedOfRunsSQL = `SELECT ` + stepCols + ` FROM runs r CROSS JOIN LATERAL (SELECT * FROM steps
			WHERE run_seq = r.seq AND status = 'queued' ORDER BY priority DESC, idx LIMIT r.max_parallel) AS s
		WHERE r.id = ANY($1) AND r.max_parallel > 0`
)

// finishPhase records the outcomes of Finish operations, in order: it
// locks their runs, reads their steps, records each (an operation that
// fails on its own account gets its error in o.err), admits queued steps
// where room was made, and ends the runs whose steps are all done.
func (t *txn) finishPhase(ops []*op) (map[*op]finished, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ops))
	idxs := make([]int32, len(ops))
	for k, o := range ops {
		ids[k], idxs[k] = o.finish.Lease.RunID, o.finish.Lease.Index
	}
	unique := slices.Compact(slices.Sorted(slices.Values(ids)))
	t.lockRuns(lockRunsByIDSQL, unique)
	t.queue(leasedSQL, ids, idxs).Query(t.addSteps)
	t.queue(leasedDependentsSQL, ids, idxs).Query(t.addSteps)
	t.queue(queuedOfRunsSQL, unique).Query(t.addSteps)
	if err := t.send(); err != nil {
		return nil, fmt.Errorf("read the steps to finish: %w", err)
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
				return nil, err
			}
			o.err = err
			continue
		}
		// Once a run's steps are all done, no later operation of the batch
		// can record one of its steps: this one ended it.
		ran[o] = finished{run: r, status: r.status, ready: ready, ended: r.remaining == 0 && !r.endAt.IsZero()}
	}
	for _, r := range t.runs {
		if err := t.admit(r); err != nil {
			return nil, err
		}
	}
	if err := t.endRuns(); err != nil {
		return nil, err
	}
	return ran, nil
}
