// Package postgres is a weft.Store (and weft.WorkflowStore) on PostgreSQL,
// on pgx: many processes (weft worker, weft serve) on many machines share
// one database, and losing any of them loses nothing. What an operation
// has returned is committed; a dependent step is claimed only after its
// dependencies' outcomes are committed.
//
// # Concurrency
//
// Nothing is kept in memory between transactions: every decision is made
// in a transaction, from what the database holds, and is correct whatever
// other processes do at the same time. A run's runs row is its lock: every
// change to the run, its steps and its events is made with the row locked
// (SELECT ... FOR NO KEY UPDATE), so the changes of one run are serialized
// across processes (fan-in counters, the run's end, its event sequence),
// while different runs proceed in parallel. Transactions that lock several
// runs at once lock them in creation order, in one statement; a claim
// never waits for a run (it skips runs that are locked: SKIP LOCKED); so
// transactions never wait for each other in a cycle. A process that stops
// in the middle of a transaction loses its locks when its connection is
// closed, or after a minute (idle_in_transaction_session_timeout). Leases
// are fenced by (worker, attempt); Heartbeat never waits for a lock (it
// skips steps being changed: they are extended at the next one).
//
// Claims take ready steps oldest run first, then highest priority, then
// node order, from an index of ready steps. A run's MaxParallel is enforced
// by admission: only as many of its steps as it may run at once (ready and
// running together) are ready; the others wait as queued (reported as
// ready) and are admitted, highest priority first, as steps of the run end
// (in the same transaction). So a claim never has to count a run's running
// steps.
//
// Every statement names the steps it reads or writes by primary key (a
// list of keys, or the key range of a run), so that its plan never depends
// on the planner's statistics, which say little of how many steps one run
// has: a large run costs no more per step than a small one.
//
// # Throughput
//
// Claim and Finish calls are grouped: the calls that wait while a
// transaction runs share the next one (at most Options.MaxBatch), which
// locks their runs once, reads and writes steps, events and runs set-wise
// (arrays, unnest), in two pipelined round trips for Finish calls with
// Next (what the first reads serves their claims too), and commits once.
// The Finish calls of one run go to one writer, which waits a little
// (at most 200µs) for the callers of its last transactions, so that they
// share a transaction rather than queue for the run's lock. A Claim that
// holds no run locks the oldest free run with ready steps in its first
// round trip. CreateRun writes a small plan in one statement, a large one
// with COPY. A run's workflow document is read once per process.
//
// # Wake-ups
//
// A transaction that leaves steps ready that it did not claim itself sends
// a notification (NOTIFY weft_ready, with the schema as payload),
// delivered on commit to every process listening; Wake returns a channel
// fed by them.
//
// # Schema
//
// The store's tables live in a schema of their own (Options.Schema, created
// if missing), versioned by embedded migrations (migrations/NNNN_name.sql,
// recorded in table schema_version) that Open applies in one transaction
// under an advisory lock, so processes opening the store at once are safe.
// A schema from a newer weft is refused.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weft-dev/weft"
)

// Options tune a Store. The zero value (or nil) gives the defaults.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables; it is
	// created if missing, and every connection's search_path is set to it.
	// Defaults to "weft".
	Schema string
	// MaxConns is the most connections the store's pool opens at once
	// (the connection that listens for wake-ups, see Store.Wake, is not
	// one of them); at least Writers+1, so that reads never wait for
	// every writer. Defaults to the DSN's pool_max_conns, else 10.
	MaxConns int
	// Writers is how many transactions of Claim and Finish calls run at
	// once in this process. The calls of one run (Finish) go to one
	// writer, so that they share transactions rather than wait for each
	// other's. Defaults to 2.
	Writers int
	// MaxBatch is the most Claim and Finish calls that share one
	// transaction. Defaults to 64; 1 gives each call a transaction of its
	// own.
	MaxBatch int
	// Logger receives what the store cannot return to a caller: the
	// wake-up listener losing its connection. Defaults to slog.Default().
	Logger *slog.Logger
}

// withDefaults returns the options with every field unset given its
// default.
func (o *Options) withDefaults() Options {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Schema == "" {
		opts.Schema = "weft"
	}
	if opts.Writers <= 0 {
		opts.Writers = 2
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return opts
}

// Store is a weft.Store, and a weft.WorkflowStore, on PostgreSQL. It is
// safe for concurrent use, and any number of Stores, in any number of
// processes, may share one schema. Open one with Open; Close it when done.
type Store struct {
	opts   Options
	pool   *pgxpool.Pool
	secret string // the DSN's password, kept out of errors

	ops    []chan *op    // a queue for each writer
	next   atomic.Uint32 // the writer of the next Claim
	mu     sync.RWMutex  // guards closed and sends on ops
	closed bool
	close  sync.Once
	wg     sync.WaitGroup // the writers and the listener

	runs runCache // what never changes of the runs worked on
	docs docCache // the workflow documents of the runs read

	// stats count the transactions of Claim and Finish calls and the
	// calls they carried out.
	stats struct{ transactions, operations atomic.Int64 }

	stop    context.CancelFunc // ends the listener
	stopCtx context.Context
	wake    chan struct{}
	listen  sync.Once
}

var (
	_ weft.Store         = (*Store)(nil)
	_ weft.WorkflowStore = (*Store)(nil)
)

// Open connects to the PostgreSQL database of dsn (a URL such as
// postgres://user:password@host:5432/db?sslmode=disable, or key=value
// pairs), brings the store's schema up to date, and returns the store.
// Errors never contain the DSN's password.
func Open(ctx context.Context, dsn string, o *Options) (*Store, error) {
	opts := o.withDefaults()
	secret := password(dsn)
	fail := func(what string, err error) (*Store, error) {
		return nil, fmt.Errorf("postgres: open: %s: %w", what, redact(err, secret))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fail("parse the DSN", err)
	}
	if cfg.ConnConfig.Password != "" {
		secret = cfg.ConnConfig.Password
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = int32(opts.MaxConns)
	case !strings.Contains(dsn, "pool_max_conns"):
		cfg.MaxConns = 10
	}
	cfg.MaxConns = max(cfg.MaxConns, int32(opts.Writers)+1)
	cfg.ConnConfig.RuntimeParams["search_path"] = quoteIdent(opts.Schema)
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "weft"
	}
	// A process that stops in the middle of a transaction (frozen, cut
	// off) would hold its runs' locks until TCP notices, hours later: the
	// server ends such a session after a minute. (The store's transactions
	// never wait for their process that long between statements.)
	if cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] == "" {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60s"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail("connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fail("connect", err)
	}
	if err := migrate(ctx, pool, opts.Schema); err != nil {
		pool.Close()
		return fail("migrate schema "+opts.Schema, err)
	}
	s := &Store{
		opts:   opts,
		pool:   pool,
		secret: secret,
		ops:    make([]chan *op, opts.Writers),
		wake:   make(chan struct{}, 1),
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	for k := range s.ops {
		s.ops[k] = make(chan *op, opts.MaxBatch)
		s.wg.Go(func() { s.writeLoop(s.ops[k]) })
	}
	return s, nil
}

// Close stops the store: calls made afterwards fail with weft.ErrClosed,
// those already queued are carried out first, and the connections are
// closed. It is idempotent and returns nil.
func (s *Store) Close() error {
	s.close.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, ops := range s.ops {
			close(ops)
		}
		s.mu.Unlock()
		s.stop()
		s.wg.Wait()
		s.pool.Close()
	})
	return nil
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.opts.Schema }

// isClosed reports whether Close was called.
func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// quoteIdent quotes a name as an SQL identifier.
func quoteIdent(name string) string { return pgx.Identifier{name}.Sanitize() }

// lockKey is the key of an advisory lock on what (in the store's
// schema): advisory locks are the database's, so the schema is part of
// the key.
func lockKey(schema, what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("weft\x00"))
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write([]byte(what))
	return int64(h.Sum64())
}

// password returns the password a DSN holds, as well as it can be told
// before parsing (the URL form's), so that even a parse error can be
// redacted.
func password(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return p
		}
	}
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return strings.Trim(v, `'`)
		}
	}
	return ""
}

// redactedError is an error whose message has a secret masked; it still
// wraps the error, for errors.Is and errors.As.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range []string{e.secret, url.QueryEscape(e.secret), url.PathEscape(e.secret)} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

// redact masks secret in err's message (when there is one to mask).
func redact(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	return &redactedError{err: err, secret: secret}
}

// wrap prefixes err with the store's name and what failed, masking the
// DSN's password; it returns nil for a nil err.
func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, weft.ErrClosed) || s.isClosed() {
		return fmt.Errorf("postgres: %s: %w", what, weft.ErrClosed)
	}
	return fmt.Errorf("postgres: %s: %w", what, redact(err, s.secret))
}

// runInfo is what never changes of a run: its seq and its MaxParallel.
type runInfo struct {
	seq         int64
	maxParallel int
}

// runCacheSize is how many runs a runCache remembers before it starts
// afresh.
const runCacheSize = 4096

// runCache remembers the runInfo of runs by id, so that a transaction can
// name a run's steps by key from its first statement. It is safe for
// concurrent use; the zero value is empty and ready.
type runCache struct {
	mu sync.Mutex
	m  map[string]runInfo
}

// get returns what the cache remembers of run id.
func (c *runCache) get(id string) (runInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ri, ok := c.m[id]
	return ri, ok
}

// put remembers ri for run id.
func (c *runCache) put(id string, ri runInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= runCacheSize {
		c.m = make(map[string]runInfo)
	}
	c.m[id] = ri
}
