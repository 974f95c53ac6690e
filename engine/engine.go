// Package engine runs workflows: it submits runs to a weft.Store, claims
// their ready steps, runs them through the executors of a weft.Registry
// under the engine cap, the runs' max_parallel and named pools, retries
// failed attempts by their policy, and reports status and events.
//
// Scheduling has no level barriers: a step starts the moment its
// dependencies allow it, and among ready steps the one with the longest
// remaining path to a sink goes first (critical-path-first). A step waiting
// out a retry delay holds no slot, and no limit can deadlock a run: limits
// only ever refuse a step for now, never wait while holding another.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-dev/weft"
)

// Engine executes workflow runs held in a store. It is safe for concurrent
// use. Create one with New and stop it with Shutdown (letting the attempts
// in flight finish) or Close (canceling them).
type Engine struct {
	cfg   Config
	store weft.Store
	pools map[string]*pool

	running  atomic.Int64 // attempts in flight in this process
	wakeNano atomic.Int64 // when the scheduler must look again (Unix ns), 0: no need
	wake     chan struct{}
	done     chan struct{} // closed when the engine stops
	wg       sync.WaitGroup
	// closed is set by Close and Shutdown: no attempt starts any more and
	// submissions are refused.
	closed atomic.Bool
	// drained is closed once closed is set and no attempt is in flight;
	// no attempt can start after that. scheduled is closed when the
	// scheduler, which starts the attempts, returned.
	drained     chan struct{}
	scheduled   chan struct{}
	stopOnce    sync.Once
	interrupted atomic.Bool // stopping canceled an attempt in flight

	queue queue // the unfinished runs, for Config.MaxUnfinishedRuns

	debug bool // the logger takes debug records

	runs     sync.Map // run id → *runInfo: the runs this engine works on
	loading  sync.Map // run id → *infoLoad: runs whose info is being loaded
	attempts sync.Map // *attempt → struct{}: the attempts in flight

	mu      sync.Mutex
	peak    int64
	retired []string // ended runs still in runs, oldest first
}

// keepEnded is how many ended runs the engine keeps compiled, for quick
// status and waits; older ones are rebuilt from the store when asked for.
const keepEnded = 256

// pool is a named concurrency pool of this process.
type pool struct {
	cap  int64
	used atomic.Int64
}

// attempt is a slot of this engine running attempts one after another (a
// goroutine of run); it is registered once and reused, so that the
// attempts in flight can be found for heartbeats and cancellation.
type attempt struct {
	tokens attemptTokens // the attempt's StepContext.Tokens

	mu     sync.Mutex
	active bool
	closed bool // the engine stops: every attempt is canceled as it begins
	lease  weft.Lease
	cancel context.CancelFunc
	why    error // why the current attempt was stopped from outside
}

// begin records the attempt now running in the slot, whose lease
// heartbeats renew from now on; it is stopped at once when the slot is
// closed. cancel may be nil while the attempt is prepared: see arm.
func (a *attempt) begin(lease weft.Lease, cancel context.CancelFunc) {
	a.mu.Lock()
	a.active, a.lease, a.cancel, a.why = true, lease, cancel, nil
	if a.closed {
		a.why = weft.ErrClosed
		if cancel != nil {
			cancel()
		}
	}
	a.mu.Unlock()
}

// arm sets the cancel function of the slot's attempt, begun without one
// while it was prepared; it cancels at once when the attempt was stopped
// meanwhile.
func (a *attempt) arm(cancel context.CancelFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cancel = cancel
	if a.why != nil {
		cancel()
	}
}

// close cancels the slot's attempt, and any it begins later, because the
// engine stops. It reports whether it canceled an attempt in flight.
func (a *attempt) close() bool {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return a.stop(weft.ErrClosed, nil)
}

// end records that the slot's attempt is over.
func (a *attempt) end() {
	a.mu.Lock()
	a.active, a.cancel = false, nil
	a.mu.Unlock()
}

// current returns the lease of the attempt running in the slot.
func (a *attempt) current() (weft.Lease, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lease, a.active
}

// stop cancels the slot's attempt from outside, recording why, when match
// accepts its lease. It reports whether it canceled one.
func (a *attempt) stop(why error, match func(weft.Lease) bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active && a.why == nil && (match == nil || match(a.lease)) {
		a.why = why
		if a.cancel != nil {
			a.cancel()
		}
		return true
	}
	return false
}

// stopped returns why the slot's attempt was stopped from outside, or nil.
func (a *attempt) stopped() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.why
}

// New returns an engine driving store and starts its scheduler; call
// Shutdown or Close to stop it. It returns an error when the configuration
// is invalid.
func New(store weft.Store, cfg *Config) (*Engine, error) {
	if store == nil {
		return nil, errors.New("engine: nil store")
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       c,
		store:     store,
		pools:     make(map[string]*pool, len(c.Pools)),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		drained:   make(chan struct{}),
		scheduled: make(chan struct{}),
	}
	e.queue.runs = make(map[string]queued)
	e.debug = c.Logger.Enabled(context.Background(), slog.LevelDebug)
	for name, n := range c.Pools {
		e.pools[name] = &pool{cap: int64(n)}
	}
	if c.NoWorker { // no attempt ever runs here
		close(e.drained)
		close(e.scheduled)
	} else {
		e.wg.Add(2)
		go e.schedule()
		go e.heartbeat()
	}
	return e, nil
}

// Close stops the engine: no new attempts start, attempts in flight are
// canceled and Close waits for them to end. Their steps stay claimed until
// their leases expire, then run again (in a durable store, after a
// restart). Called during a Shutdown, it cuts the drain short the same
// way. Close is idempotent, is a no-op after Shutdown, and returns nil.
func (e *Engine) Close() error {
	e.closed.Store(true)
	e.stop()
	return nil
}

// notify wakes the scheduler.
func (e *Engine) notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// schedule is the scheduler loop: it claims ready steps while this engine
// has free slots and starts an attempt for each.
func (e *Engine) schedule() {
	defer e.wg.Done()
	defer close(e.scheduled)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	poll := time.NewTicker(e.cfg.PollInterval)
	defer poll.Stop()
	// Other processes sharing the store tell when they made steps ready.
	var woken <-chan struct{}
	if w, ok := e.store.(weft.Waker); ok {
		woken = w.Wake()
	}
	// Steps a dead process held are claimable again once their lease
	// expired: look at once, then at every poll.
	e.reclaim()
	drained := false
	for {
		next := e.claim()
		if !drained && e.closed.Load() && e.running.Load() == 0 {
			// Only this goroutine starts attempts (a worker only goes on
			// with its own slot), and claim starts none once closed is
			// set: none can start any more.
			drained = true
			close(e.drained)
		}
		if w := e.wakeNano.Swap(0); w != 0 {
			if t := time.Unix(0, w); next.IsZero() || t.Before(next) {
				next = t
			}
		}
		if next.IsZero() {
			timer.Reset(time.Hour)
		} else {
			timer.Reset(max(next.Sub(e.cfg.Now()), 0))
		}
		select {
		case <-e.done:
			return
		case <-e.wake:
		case <-woken:
		case <-timer.C:
		case <-poll.C:
			e.reclaim()
			e.checkDeadlines()
			e.recount()
		}
	}
}

// reclaim makes the steps whose lease expired claimable again.
func (e *Engine) reclaim() {
	if n, err := e.store.ReclaimExpired(context.Background(), e.cfg.Now()); err != nil {
		e.cfg.Logger.Error("reclaim expired leases", "err", err)
	} else if n > 0 {
		e.cfg.Logger.Info("reclaimed steps whose lease expired", "steps", n)
		e.notify()
	}
}

// claim claims as many ready steps as there are free slots and starts
// them. It returns when to claim again if nothing happens before (zero:
// no such time).
func (e *Engine) claim() time.Time {
	for {
		free := e.cfg.MaxParallelSteps - int(e.running.Load())
		if free <= 0 || e.closed.Load() {
			return time.Time{}
		}
		res, err := e.store.Claim(context.Background(), e.claimRequest(free))
		if err != nil {
			e.cfg.Logger.Error("claim ready steps", "err", err)
			return e.cfg.Now().Add(e.cfg.PollInterval)
		}
		last := ""
		for _, c := range res.Claims {
			if c.RunID != last {
				last = c.RunID
				e.touched(c.RunID, "")
			}
			n := e.running.Add(1)
			e.mu.Lock()
			e.peak = max(e.peak, n)
			e.mu.Unlock()
			e.wg.Add(1)
			go e.run(c)
		}
		if len(res.Claims) < free {
			return res.NextAt
		}
	}
}

// claimRequest asks for up to max ready steps for this engine.
func (e *Engine) claimRequest(max int) *weft.ClaimRequest {
	now := e.cfg.Now()
	return &weft.ClaimRequest{
		Worker: e.cfg.WorkerID, Max: max, Now: now,
		LeaseUntil: now.Add(e.cfg.LeaseDuration), Admit: e.admit,
	}
}

// admit reserves a slot in the claimed step's pool, if it has one.
func (e *Engine) admit(c *weft.Claim) bool {
	p := e.pools[c.Pool]
	if p != nil {
		for {
			used := p.used.Load()
			if used >= p.cap {
				return false
			}
			if p.used.CompareAndSwap(used, used+1) {
				break
			}
		}
	}
	if !e.throttled(c) {
		return true
	}
	if p != nil {
		p.used.Add(-1)
	}
	return false
}

// throttled asks the step's executor, when it is a weft.Throttler, whether
// the step must wait (a provider's request rate); a step that must waits as
// ready and the scheduler looks again when the wait is over.
func (e *Engine) throttled(c *weft.Claim) bool {
	v, ok := e.runs.Load(c.RunID)
	if !ok {
		return false
	}
	sp := &v.(*runInfo).steps[c.Index]
	th, ok := sp.exec.(weft.Throttler)
	if !ok {
		return false
	}
	wait := th.Throttle(sp.step.Input)
	if wait <= 0 {
		return false
	}
	e.wakeAt(e.cfg.Now().Add(wait))
	return true
}

// wakeAt asks the scheduler to claim again at t at the latest.
func (e *Engine) wakeAt(t time.Time) {
	n := t.UnixNano()
	for {
		cur := e.wakeNano.Load()
		if cur != 0 && cur <= n {
			return
		}
		if e.wakeNano.CompareAndSwap(cur, n) {
			// No notify: refusals happen in claims, after which the
			// scheduler reads wakeNano (a worker whose claim came back
			// empty notifies it).
			return
		}
	}
}

// releasePool frees the pool slot an attempt held.
func (e *Engine) releasePool(c *weft.Claim) {
	if p := e.pools[c.Pool]; p != nil {
		p.used.Add(-1)
	}
}

// heartbeat extends the leases of the attempts in flight and cancels those
// whose lease was lost.
func (e *Engine) heartbeat() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
		}
		var leases []weft.Lease
		e.attempts.Range(func(a, _ any) bool {
			if l, ok := a.(*attempt).current(); ok {
				leases = append(leases, l)
			}
			return true
		})
		if len(leases) == 0 {
			continue
		}
		lost, err := e.store.Heartbeat(context.Background(), leases, e.cfg.Now().Add(e.cfg.LeaseDuration))
		if err != nil {
			e.cfg.Logger.Error("heartbeat", "err", err)
			continue
		}
		gone := make(map[weft.Lease]bool, len(lost))
		for _, l := range lost {
			gone[l] = true
		}
		e.attempts.Range(func(a, _ any) bool {
			a.(*attempt).stop(weft.ErrLeaseLost, func(l weft.Lease) bool { return gone[l] })
			return true
		})
	}
}

// PeakParallel returns the most attempts this engine has had in flight at
// once since it started.
func (e *Engine) PeakParallel() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.peak)
}

func (e *Engine) errClosed() error {
	return fmt.Errorf("engine: %w", weft.ErrClosed)
}

// WorkerID returns the name of this engine in leases and events
// (Config.WorkerID or its default).
func (e *Engine) WorkerID() string { return e.cfg.WorkerID }
