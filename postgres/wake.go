package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wake-ups: transactions that leave steps ready send a notification on
// channel weft_ready (its payload is the store's schema), delivered when
// they commit.

// wakeChannel is the notification channel of wake-ups.
const wakeChannel = "weft_ready"

// Backoff of the listener between attempts to connect.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// Wake returns a channel that receives a value when steps may have become
// ready in this store's schema, from this process or any other: a claim
// may then find something. The channel holds one value at most (wake-ups
// that come while one waits are merged), so a slow reader misses nothing
// but repeats. A dedicated connection listens for them, opened on the
// first call; when it drops, it is opened again, with a growing backoff,
// and the channel receives a value each time it is (what was sent while it
// was down is not delivered). Wake-ups are a hint: callers should still
// claim now and then.
func (s *Store) Wake() <-chan struct{} {
	s.listen.Do(func() {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if !s.closed {
			s.wg.Go(s.listenLoop)
		}
	})
	return s.wake
}

// listenerName is the application_name of the connection that listens
// for the wake-ups of schema, which tells it apart in pg_stat_activity.
func listenerName(schema string) string { return "weft wake-ups " + schema }

// signal wakes the reader of Wake, if none is pending.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// listenLoop listens for wake-ups until the store is closed, connecting
// again after a failure.
func (s *Store) listenLoop() {
	ctx := s.stopCtx
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		msg := "closed"
		if err != nil {
			msg = redact(err, s.secret).Error()
		}
		s.opts.Logger.Warn("postgres: wake-up listener lost its connection; connecting again",
			"schema", s.opts.Schema, "in", backoff, "err", msg)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce connects, listens, and signals every wake-up of this schema
// (and once on connecting, for what was missed before) until the
// connection fails or ctx ends. connected is called once it listens.
func (s *Store) listenOnce(ctx context.Context, connected func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenerName(s.opts.Schema)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+wakeChannel); err != nil {
		return err
	}
	connected()
	s.signal()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == s.opts.Schema {
			s.signal()
		}
	}
}
