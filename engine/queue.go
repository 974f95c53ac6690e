package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/weft-dev/weft"
)

// queue counts the unfinished runs this engine knows, for
// Config.MaxUnfinishedRuns and UnfinishedRuns. The count is a set of run
// ids: a run is counted when Submit creates it or the engine loads it
// unfinished from the store (another process's run, or a retried one), and
// uncounted when the engine sees it end, each at most once whatever
// reports it. A submission reserves its place before creating its run, so
// that concurrent submissions never exceed the limit.
//
// Runs that other processes created, or ended without this engine seeing
// it, are learnt from the store's UnfinishedRuns, read at most once per
// Config.PollInterval: at the scheduler's poll, at a submission and when
// UnfinishedRuns is called (the first of them reads it at once).
type queue struct {
	sync sync.Mutex // held while the store is read: one reading at a time

	mu   sync.Mutex
	runs map[string]queued // unfinished run id → what is known of it
	// reserved counts the submissions creating their run, keys their
	// idempotency keys (key → how many).
	reserved int
	keys     map[string]int
	synced   time.Time // when the store was last read; zero: never
	// While the store is read, the ids counted (added) and uncounted
	// (gone) since the reading began: the reading may not show them.
	added, gone map[string]bool
}

// queued is an unfinished run in the queue.
type queued struct {
	key   string // its idempotency key
	known bool   // key was read (runs found in the store are read lazily)
}

// enqueue takes a place for a run that Submit is about to create, under
// Config.MaxUnfinishedRuns. It reports whether it reserved one, which
// settle gives back; it reserves none for a resubmission of an unfinished
// run's idempotency key when the limit is reached, since the store will
// answer with that run. Otherwise, at the limit, it returns an error
// matching weft.ErrQueueFull.
func (e *Engine) enqueue(ctx context.Context, key string) (bool, error) {
	limit := e.cfg.MaxUnfinishedRuns
	if err := e.resync(ctx); err != nil {
		if limit > 0 {
			return false, fmt.Errorf("engine: submit: %w", err)
		}
		e.cfg.Logger.Error("count unfinished runs", "err", err) // only the count suffers
	}
	if e.queue.reserve(limit, key) {
		return true, nil
	}
	if key != "" {
		found, err := e.keyQueued(ctx, key)
		if err != nil {
			return false, fmt.Errorf("engine: submit: %w", err)
		}
		if found {
			return false, nil
		}
	}
	return false, &weft.Error{
		Code:       weft.CodeUnavailable,
		Message:    fmt.Sprintf("engine: submit: %v: this engine takes at most %d; try again later", weft.ErrQueueFull, limit),
		RetryAfter: e.cfg.PollInterval,
		Err:        weft.ErrQueueFull,
	}
}

// reserve takes a place when fewer than limit runs are unfinished or being
// created (any number when limit ≤ 0) and reports whether it did.
func (q *queue) reserve(limit int, key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if limit > 0 && len(q.runs)+q.reserved >= limit {
		return false
	}
	q.reserved++
	if key != "" {
		if q.keys == nil {
			q.keys = make(map[string]int)
		}
		q.keys[key]++
	}
	return true
}

// settle ends a submission: it gives back the place enqueue reserved, if
// any, and counts the run id when the submission created it. ri is the
// run's info, registered before the run was created.
func (e *Engine) settle(reserved bool, key string, created bool, id string, ri *runInfo) {
	q := &e.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if reserved {
		q.reserved--
		if key != "" {
			if q.keys[key]--; q.keys[key] <= 0 {
				delete(q.keys, key)
			}
		}
	}
	if created {
		q.countLocked(id, key, ri)
	}
}

// counted counts an unfinished run the engine loaded from the store.
func (e *Engine) counted(ri *runInfo, key string) {
	e.queue.mu.Lock()
	defer e.queue.mu.Unlock()
	e.queue.countLocked(ri.id, key, ri)
}

// countLocked counts run id, with q.mu held, unless its info says it is
// over already: it ended, and was uncounted, before it could be counted.
// (A run is marked over and uncounted at once, under q.mu: see over.)
func (q *queue) countLocked(id, key string, ri *runInfo) {
	if ri.isOver() {
		return
	}
	q.runs[id] = queued{key: key, known: true}
	if q.added != nil {
		q.added[id] = true
	}
}

// over marks ri's run over (ri.end, which wakes its waiters) and uncounts
// it, both under q.mu, so that a run is never counted after it ended and a
// waiter woken by its end finds it uncounted. It reports whether the run
// was not over before.
func (e *Engine) over(ri *runInfo) bool {
	q := &e.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if !ri.end() {
		return false
	}
	delete(q.runs, ri.id)
	if q.gone != nil {
		q.gone[ri.id] = true
	}
	return true
}

// resync reads the unfinished runs from the store, unless it did less than
// Config.PollInterval ago, to count those this engine does not know of and
// forget those that ended without its seeing it. Runs counted or uncounted
// while the store is read keep what this engine saw: the store may have
// been read before.
func (e *Engine) resync(ctx context.Context) error {
	q := &e.queue
	q.sync.Lock()
	defer q.sync.Unlock()
	now := e.cfg.Now()
	q.mu.Lock()
	if !q.synced.IsZero() && now.Sub(q.synced) < e.cfg.PollInterval {
		q.mu.Unlock()
		return nil
	}
	q.added, q.gone = map[string]bool{}, map[string]bool{}
	q.mu.Unlock()

	ids, err := e.store.UnfinishedRuns(ctx)

	q.mu.Lock()
	defer q.mu.Unlock()
	added, gone := q.added, q.gone
	q.added, q.gone = nil, nil
	if err != nil {
		return fmt.Errorf("count the unfinished runs: %w", err)
	}
	q.synced = now
	fresh := make(map[string]bool, len(ids))
	for _, id := range ids {
		fresh[id] = true
		if _, ok := q.runs[id]; !ok && !gone[id] {
			q.runs[id] = queued{}
		}
	}
	for id := range q.runs {
		if !fresh[id] && !added[id] {
			delete(q.runs, id)
		}
	}
	return nil
}

// keyQueued reports whether an unfinished run this engine counts, or one
// being created, has the idempotency key. It reads from the store the keys
// of the counted runs it has not read yet (each once).
func (e *Engine) keyQueued(ctx context.Context, key string) (bool, error) {
	q := &e.queue
	q.mu.Lock()
	if q.keys[key] > 0 {
		q.mu.Unlock()
		return true, nil
	}
	var unknown []string
	for id, r := range q.runs {
		if !r.known {
			unknown = append(unknown, id)
		} else if r.key == key {
			q.mu.Unlock()
			return true, nil
		}
	}
	q.mu.Unlock()
	for _, id := range unknown {
		run, err := e.store.Run(ctx, id)
		if errors.Is(err, weft.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read the idempotency key of run %s: %w", id, err)
		}
		q.mu.Lock()
		if _, ok := q.runs[id]; ok {
			q.runs[id] = queued{key: run.IdempotencyKey, known: true}
		}
		q.mu.Unlock()
		if run.IdempotencyKey == key {
			return true, nil
		}
	}
	return false, nil
}

// recount is resync for the engine's own calls, which log its error.
func (e *Engine) recount() {
	if err := e.resync(context.Background()); err != nil {
		e.cfg.Logger.Error("count unfinished runs", "err", err)
	}
}

// UnfinishedRuns returns how many runs this engine counts as unfinished,
// for a gauge: the runs it created or loaded and has not seen end, and
// those the store listed as unfinished when it last read them. It reads
// them at most once per Config.PollInterval (at once on a first call; not
// after the engine stopped), to count the runs other processes created
// and forget those they ended; if that fails it logs the error and returns
// the count it has.
func (e *Engine) UnfinishedRuns() int {
	select {
	case <-e.done:
	default:
		e.recount()
	}
	e.queue.mu.Lock()
	defer e.queue.mu.Unlock()
	return len(e.queue.runs)
}
