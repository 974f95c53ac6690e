package engine

import (
	"context"
	"time"

	"github.com/weft-dev/weft"
)

// subscribeBatch is how many events a subscription reads from the store
// at once.
const subscribeBatch = 1000

// Subscribe streams a run's events with Seq > after, in order, on the
// returned channel, replaying the history first. The channel is closed
// after the run's terminal event, or when ctx is done. Events are read from
// the store, so none is lost however slowly the channel is drained. (The
// history of a retried run goes on past its earlier terminal events.) It
// returns weft.ErrNotFound for an unknown run.
//
// The events of steps that other processes run are read at least every
// Config.SubscribePollInterval.
func (e *Engine) Subscribe(ctx context.Context, runID string, after int64) (<-chan weft.Event, error) {
	ri, err := e.info(ctx, runID)
	if err != nil {
		return nil, err
	}
	ch := make(chan weft.Event, 64)
	ri.subs.Add(1)
	go func() {
		defer ri.subs.Add(-1)
		defer close(ch)
		// Steps this process runs wake the subscription at once; those of
		// other processes (a server that runs no steps, workers sharing
		// the store) are seen at the next look, every subscription poll
		// interval.
		poll := time.NewTimer(e.cfg.SubscribePollInterval)
		defer poll.Stop()
		lastTerminal, polled := false, false
		for {
			changed := ri.wait()
			events, err := e.store.Events(ctx, runID, after, subscribeBatch)
			if err != nil {
				return
			}
			for k, ev := range events {
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
				after = ev.Seq
				lastTerminal = ev.Terminal()
				// A terminal event ends the stream unless more follow: a
				// retried run goes on after it.
				if lastTerminal && k == len(events)-1 && len(events) < subscribeBatch {
					return
				}
			}
			if len(events) == subscribeBatch {
				continue
			}
			if len(events) == 0 && (lastTerminal || ri.isOver()) {
				// Over (here or in another process), and every event
				// delivered.
				return
			}
			if len(events) == 0 && polled {
				// Nothing new for a poll interval: a run that another
				// process ended while this one had its info is over.
				if run, err := e.store.Run(ctx, runID); err == nil && run.Status.Terminal() {
					return
				}
			}
			polled = false
			poll.Reset(e.cfg.SubscribePollInterval)
			select {
			case <-changed:
			case <-ri.done:
			case <-poll.C:
				polled = true
			case <-e.done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
