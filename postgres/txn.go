package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
)

// A txn is one transaction: its connection, the statements queued for its
// next round trip (sent together, pipelined), the runs it has locked with
// the steps it has read of them, and what it changed, written set-wise
// (flush) before the statements that must see it.
//
// Steps are read as they are needed: the steps an operation changes, their
// pending dependents (those whose counters an outcome changes), and so on.
// A run's entry for a node index is the step as this transaction has it
// (what it read, plus its changes), or nil when the step is known not to
// be pending (its dependents' outcomes do not matter to it any more).
// Every change to a run is made with its runs row locked, so what a txn
// read of a run stays true until it commits.
type txn struct {
	ctx    context.Context
	conn   *pgx.Conn
	schema string
	cache  *runCache
	b      *pgx.Batch
	began  bool

	runs map[int64]*runState // the runs this transaction has locked, by seq
	byID map[string]*runState

	dirtyRuns  []*runState
	dirtySteps []dirtyStep
	events     []eventRow

	// fresh are the steps this transaction made ready; unclaimed is how
	// many steps it made ready without reading them (CreateRun,
	// ReclaimExpired). Steps left ready are announced at commit.
	fresh     []*stepState
	unclaimed int

	claimNow time.Time // the time of the claims served (the latest of their requests')
	skipped  bool      // claims skipped runs that other transactions held

	current *op // the operation being worked on, to hand a panic to its caller

	cascade runstate.Cascade
	cur     cascadeRun // the run the cascade works on (see on)
}

type dirtyStep struct {
	r  *runState
	st *stepState
}

type eventRow struct {
	runSeq int64
	e      weft.Event
}

// newTxn returns a transaction, not begun yet, on conn.
func (s *Store) newTxn(ctx context.Context, conn *pgx.Conn) *txn {
	return &txn{ctx: ctx, conn: conn, schema: s.opts.Schema, cache: &s.runs,
		runs: make(map[int64]*runState), byID: make(map[string]*runState)}
}

// queue queues a statement for the next round trip (after BEGIN, for the
// transaction's first).
func (t *txn) queue(sql string, args ...any) *pgx.QueuedQuery {
	if t.b == nil {
		t.b = &pgx.Batch{}
		if !t.began {
			t.b.Queue("BEGIN")
			t.began = true
		}
	}
	return t.b.Queue(sql, args...)
}

// send runs the queued statements in one round trip.
func (t *txn) send() error {
	if t.b == nil {
		return nil
	}
	b := t.b
	t.b = nil
	return t.conn.SendBatch(t.ctx, b).Close()
}

// commit writes what changed, then queued statements that must see it
// (queued by more, which may be nil), a notification when the transaction
// leaves ready steps it made ready (so that other processes look), and
// commits.
func (t *txn) commit(more func()) error {
	t.flush()
	if more != nil {
		more()
	}
	if t.leavesReady() {
		t.queue(`SELECT pg_notify('weft_ready', $1)`, t.schema)
	}
	t.queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("commit: the server answered %s", ct)
		}
		return nil
	})
	return t.send()
}

// leavesReady reports whether the transaction leaves ready steps that it
// made ready.
func (t *txn) leavesReady() bool {
	if t.unclaimed > 0 {
		return true
	}
	for _, st := range t.fresh {
		if st.status == weft.StepReady {
			return true
		}
	}
	return false
}

// rollback ends a transaction that failed. A connection that cannot roll
// back is closed by the pool when released (it is not idle).
func (t *txn) rollback() {
	if t.began {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.conn.Exec(ctx, "ROLLBACK")
	}
}

// touch marks step st of run r changed.
func (t *txn) touch(r *runState, st *stepState) {
	if !st.dirty {
		st.dirty = true
		t.dirtySteps = append(t.dirtySteps, dirtyStep{r, st})
	}
	t.touchRun(r)
}

// touchRun marks run r changed.
func (t *txn) touchRun(r *runState) {
	if !r.dirty {
		r.dirty = true
		t.dirtyRuns = append(t.dirtyRuns, r)
	}
}

// event appends an event to run r's history (e.StepID set for a step
// event).
func (t *txn) event(r *runState, e weft.Event) {
	r.lastEvent++
	e.Seq = r.lastEvent
	t.events = append(t.events, eventRow{runSeq: r.seq, e: e})
	t.touchRun(r)
}

// opError is the error of one operation that changed nothing (an unknown
// run, a lost lease): it fails that operation alone, not its transaction.
type opError struct{ err error }

func (e opError) Error() string { return e.err.Error() }
func (e opError) Unwrap() error { return e.err }

// isOpError reports whether err is an operation's own failure.
func isOpError(err error) bool {
	var oe opError
	return errors.As(err, &oe)
}

// rawJSON returns b as a JSON value, nil for none.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nilIfEmpty returns nil for an empty value, stored as NULL.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
