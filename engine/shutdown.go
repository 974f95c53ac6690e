package engine

import (
	"context"
	"runtime"
)

// Shutdown stops the engine gracefully. At once, no new attempt starts
// (neither from the scheduler nor a worker going on to its run's next
// step) and Submit and Retry return weft.ErrClosed: a server stops taking
// requests before it drains. The attempts in flight run to completion and
// their outcomes are recorded in the store; Shutdown then stops the engine
// and returns nil. Steps that were ready stay ready, for another process
// or a restart. Status, Wait, Cancel and Subscribe keep working during the
// drain.
//
// If ctx ends first, Shutdown cancels the attempts still in flight as
// Close does (their steps stay claimed and run again once their leases
// expire, or after a restart: none is recorded failed), waits for them to
// stop, and returns ctx.Err(). If Close is called during the drain and
// cancels an attempt, Shutdown returns an error matching weft.ErrClosed.
//
// Afterwards the engine is closed: Close is a no-op, and Shutdown after
// Close or Shutdown returns nil.
func (e *Engine) Shutdown(ctx context.Context) error {
	select {
	case <-e.done:
		e.stop() // stopped, or stopping: wait for it
		return nil
	default:
	}
	e.closed.Store(true)
	e.notify() // the scheduler notices the drain even with nothing in flight
	var err error
	select {
	case <-e.drained:
	case <-e.done: // Close cuts the drain short
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.stop()
	if err == nil && e.interrupted.Load() {
		err = e.errClosed()
	}
	return err
}

// stop stops the engine once closed is set: it stops the scheduler and
// heartbeats, cancels the attempts in flight and any their workers would
// go on to (recording in interrupted that it canceled one), and waits for
// all of them to end. Every call returns once the engine is stopped.
func (e *Engine) stop() {
	e.stopOnce.Do(func() {
		close(e.done)
		<-e.scheduled // no attempt starts any more
		// An attempt counted in running registers its slot as its
		// goroutine starts: close slots until all of them were.
		for {
			want, n := e.running.Load(), int64(0)
			e.attempts.Range(func(a, _ any) bool {
				if a.(*attempt).close() {
					e.interrupted.Store(true)
				}
				n++
				return true
			})
			if n >= want {
				break
			}
			runtime.Gosched()
		}
		e.wg.Wait()
	})
}
