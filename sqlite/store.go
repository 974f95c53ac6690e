// Package sqlite is a weft.Store in one SQLite file, on modernc.org/sqlite
// (no cgo): runs survive the process. What a write operation has returned
// is committed, and survives a crash of the process; a dependent step is
// claimed only after its dependencies' successes are committed.
//
// # Durability
//
// The database runs in WAL mode with synchronous=NORMAL: a commit appends
// to the write-ahead log without waiting for the disk, and the log is
// synced to disk at checkpoints. A commit is then in the operating
// system's hands, so it survives kill -9 or a crash of the process (what a
// weft run promises); only an OS crash or a power loss can lose the last
// transactions, and never corrupts the database. Options.SyncFull makes
// every commit wait for the disk (synchronous=FULL), at a cost.
//
// # Writes: one writer, group commit
//
// One connection writes, owned by one goroutine, which runs every write
// operation (CreateRun, Claim, Finish, Heartbeat, ReclaimExpired,
// CancelRun, RetryRun, PutWorkflow) in a BEGIN IMMEDIATE transaction.
// Operations that arrive while a transaction commits run together in the
// next one (group commit): under load many completions share one commit,
// and each caller gets its own result. An operation fails on its own account (an unknown
// run, a lost lease) before it changes anything, so it fails alone; a
// database error (a full disk) fails the transaction and every operation
// in it, and leaves nothing behind.
//
// The writer keeps the runs it works on in memory, with their plans, step
// states and queues of ready steps, as the in-memory store does (the
// operations mirror package inmem's step for step), and writes the rows
// they change before it commits: Claim and Finish read nothing from the
// file. Another process may write the same file (the CLI cancelling a
// run); the writer sees it (PRAGMA data_version) at the start of its next
// transaction and reads the runs again.
//
// Reads (Run, Steps, ListRuns, Events, Workflow, ListWorkflows, ...) use
// a pool of read-only connections, which WAL lets read while the writer
// writes; they see what was committed.
//
// # Schema
//
// The schema is versioned (PRAGMA user_version) by embedded migrations,
// migrations/NNNN_name.sql, which Open applies in one transaction. A file
// from a newer weft, another application's database, a file that is not a
// database, a database locked past Options.BusyTimeout, or a directory
// that cannot be written are refused with an error that says so.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/internal/runstate"
)

// Options tune a Store. The zero value (or nil) gives the defaults.
type Options struct {
	// BusyTimeout is how long an operation waits for the database while
	// another connection or process holds its lock (SQLite's
	// busy_timeout); after it, the operation fails with "database is
	// locked". Defaults to 5s.
	BusyTimeout time.Duration
	// ReadConns is the most connections reading at once. Defaults to 4.
	ReadConns int
	// MaxBatch is the most write operations that share one transaction
	// (group commit). Defaults to 256; 1 commits each on its own.
	MaxBatch int
	// CacheSize is the writer connection's page cache, in bytes. Defaults
	// to 64 MiB.
	CacheSize int64
	// CacheSteps is how many steps of runs the writer keeps in memory
	// (their plans and states, so that Claim and Finish only write) beyond
	// those it is working on: runs used least recently are dropped past
	// it, and read again when needed. Defaults to 1,000,000.
	CacheSteps int
	// SyncFull makes every commit wait until the disk has it
	// (synchronous=FULL), so that not even an OS crash or a power loss
	// loses a committed transaction. Defaults to false: synchronous=NORMAL,
	// with which a commit is written to the write-ahead log without waiting
	// for the disk, and the log is synced at checkpoints. That is durable
	// across crashes of the process (what a weft run promises: kill -9
	// loses nothing committed, as the operating system has the writes);
	// only an OS crash or a power loss can lose the last transactions, and
	// never corrupts the database.
	SyncFull bool
}

func (o *Options) withDefaults() Options {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.CacheSteps <= 0 {
		opts.CacheSteps = 1_000_000
	}
	return opts
}

// Store is a weft.Store, and a weft.WorkflowStore, in a SQLite file. It is
// safe for concurrent use. Open one with Open; Close it when done.
type Store struct {
	path string
	opts Options
	rdb  *sql.DB // read-only connections

	w     *wconn // the writer connection, owned by the write loop
	tx    *wtx
	ops   chan *op
	mu    sync.RWMutex // guards closed and sends on ops
	close sync.Once
	done  chan struct{} // closed when the write loop has ended

	closed bool

	// seqs remembers the seqs of runs, for reads (see runSeq).
	seqs struct {
		sync.Mutex
		m map[string]int64
	}

	// stats count the write transactions and the operations they ran.
	stats struct{ transactions, operations atomic.Int64 }
}

var _ weft.Store = (*Store)(nil)

// Open opens the store in the SQLite file at path, creating it if it does
// not exist, and brings its schema up to date. A file that is not a weft
// database, or one from a newer weft, is refused with an error that says
// so.
func Open(path string, o *Options) (*Store, error) {
	opts := o.withDefaults()
	if path == "" {
		return nil, errors.New("sqlite: open: no path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	fail := func(err error) (*Store, error) {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, explain(err, opts.BusyTimeout))
	}
	u := url.URL{Scheme: "file", Path: abs}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "query_only(1)")
	rdb, err := sql.Open("sqlite", u.String()+"?"+q.Encode())
	if err != nil {
		return fail(err)
	}
	rdb.SetMaxOpenConns(opts.ReadConns)
	rdb.SetMaxIdleConns(opts.ReadConns)

	dc, err := rdb.Driver().Open(u.String())
	if err != nil {
		rdb.Close()
		return fail(err)
	}
	w := newWconn(dc)
	s := &Store{path: abs, opts: opts, rdb: rdb, w: w, tx: newWtx(w, opts.CacheSteps), ops: make(chan *op, opts.MaxBatch), done: make(chan struct{})}
	if err := s.setup(); err != nil {
		w.close()
		rdb.Close()
		return fail(err)
	}
	if err := migrate(w); err != nil {
		w.close()
		rdb.Close()
		return fail(err)
	}
	if err := rdb.Ping(); err != nil {
		w.close()
		rdb.Close()
		return fail(fmt.Errorf("read connection: %w", err))
	}
	go s.writeLoop()
	return s, nil
}

// setup configures the writer connection.
func (s *Store) setup() error {
	w := s.w
	sync := "NORMAL"
	if s.opts.SyncFull {
		sync = "FULL"
	}
	for _, p := range []string{
		"busy_timeout = " + strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10),
		"foreign_keys = ON",
		"synchronous = " + sync,
		"cache_size = " + strconv.FormatInt(-s.opts.CacheSize/1024, 10),
		"temp_store = MEMORY",
		// The log is checkpointed into the database as it grows; after a
		// checkpoint, a log larger than this is truncated to it.
		"journal_size_limit = " + strconv.Itoa(64<<20),
	} {
		if _, err := w.c.(driver.ExecerContext).ExecContext(bg, "PRAGMA "+p, nil); err != nil {
			return err
		}
	}
	// The first statement to read the file: a file that is not a
	// database fails here, and one that is not weft's is left as it is.
	if _, err := check(w, SchemaVersion()); err != nil {
		return err
	}
	v, err := w.row(`PRAGMA journal_mode = WAL`)
	if err != nil {
		return err
	}
	if mode := str(v[0]); mode != "wal" {
		return fmt.Errorf("cannot use write-ahead logging (journal mode is %q): is the file on a network file system?", mode)
	}
	return nil
}

// explain adds what a SQLite error means to its message.
func explain(err error, busy time.Duration) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("not a SQLite database, or a corrupt one: %w", err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("the database is corrupt: %w", err)
	case sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("cannot open the file (does its directory exist, and may this process write there?): %w", err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		return fmt.Errorf("the database or its directory is read-only (weft writes the database, its -wal and -shm files): %w", err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("the database is locked by another connection or process (waited %s): %w", busy, err)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("the disk is full: %w", err)
	}
	return err
}

// Close waits for the write operations under way, stops the writer and
// closes the database. Later calls return weft.ErrClosed.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.ops)
		s.mu.Unlock()
		<-s.done
		err = errors.Join(s.w.close(), s.rdb.Close())
		if err != nil {
			err = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return err
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// An op is a write operation for the write loop.
type op struct {
	fn     func(tx *wtx) error
	err    error
	panicv any          // what fn panicked with (an Admit callback may), for the caller
	state  atomic.Int32 // opQueued, then opTaken by the loop or opAbandoned by the caller
	done   chan struct{}
}

// run runs fn; a panic fails the transaction and is handed to the caller.
func (o *op) run(tx *wtx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			o.panicv = v
			err = fmt.Errorf("an operation of the transaction panicked: %v", v)
		}
	}()
	return o.fn(tx)
}

const (
	opQueued = iota
	opTaken
	opAbandoned
)

// do runs fn in the write loop and returns its error, wrapped with name.
// A caller whose ctx ends before its operation starts returns at once and
// the operation is skipped; once it started, do waits for its outcome (so
// that a caller never believes undone what was committed).
func (s *Store) do(ctx context.Context, name string, fn func(tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("sqlite: %s: %w", name, weft.ErrClosed)
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
	if o.err != nil {
		return fmt.Errorf("sqlite: %s: %w", name, o.err)
	}
	return nil
}

// writeLoop runs the write operations: each batch of those waiting (at
// most MaxBatch) in one transaction.
func (s *Store) writeLoop() {
	defer close(s.done)
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
	}
}

// runBatch runs operations in one transaction. An operation that fails
// on its own account (an unknown run, a lost lease) changed nothing and
// fails alone; a database error fails the whole transaction, and every
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
		s.w.exec("ROLLBACK")
		s.tx.reset() // it may hold what was not committed
		for _, o := range live {
			if o.err == nil || !errors.As(o.err, new(errLogic)) {
				o.err = err
			}
		}
		return
	}
	s.tx.evict()
}

// transact runs the operations and commits, or returns the database error
// that stopped it.
func (s *Store) transact(live []*op) error {
	w, tx := s.w, s.tx
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", explain(err, s.opts.BusyTimeout))
	}
	if err := tx.begin(); err != nil {
		return err
	}
	for _, o := range live {
		if o.err = o.run(tx); o.err != nil && !errors.As(o.err, new(errLogic)) {
			return explain(o.err, s.opts.BusyTimeout)
		}
		if tx.err != nil {
			return explain(tx.err, s.opts.BusyTimeout)
		}
	}
	if err := tx.flush(); err != nil {
		return explain(err, s.opts.BusyTimeout)
	}
	if _, err := w.exec("COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", explain(err, s.opts.BusyTimeout))
	}
	return nil
}

// CreateRun stores a new run; see weft.Store.
func (s *Store) CreateRun(ctx context.Context, nr *weft.NewRun) (*weft.Run, bool, error) {
	if nr.Run.ID == "" {
		return nil, false, fmt.Errorf("sqlite: create run: %w", weft.Errorf(weft.CodeInvalid, "a run needs an id"))
	}
	if len(nr.Steps) == 0 {
		return nil, false, fmt.Errorf("sqlite: create run %s: %w", nr.Run.ID, weft.Errorf(weft.CodeInvalid, "a run needs at least one step"))
	}
	var run *weft.Run
	var created bool
	err := s.do(ctx, "create run "+nr.Run.ID, func(tx *wtx) (err error) {
		run, created, err = tx.createRun(nr)
		return err
	})
	return run, created, err
}

// Claim leases ready steps; see weft.Store.
func (s *Store) Claim(ctx context.Context, req *weft.ClaimRequest) (*weft.ClaimResult, error) {
	var res *weft.ClaimResult
	err := s.do(ctx, "claim", func(tx *wtx) (err error) {
		res, err = tx.claim(req)
		return err
	})
	return res, err
}

// Finish records the outcome of a claimed attempt; see weft.Store.
func (s *Store) Finish(ctx context.Context, f *weft.StepFinish) (*weft.FinishResult, error) {
	if err := runstate.CheckFinish(f); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	var res *weft.FinishResult
	err := s.do(ctx, "finish run "+f.Lease.RunID+" step "+f.Lease.StepID, func(tx *wtx) (err error) {
		res, err = tx.finish(f)
		return err
	})
	return res, err
}

// Heartbeat extends leases; see weft.Store.
func (s *Store) Heartbeat(ctx context.Context, leases []weft.Lease, until time.Time) ([]weft.Lease, error) {
	var lost []weft.Lease
	err := s.do(ctx, "heartbeat", func(tx *wtx) (err error) {
		lost, err = tx.heartbeat(leases, until)
		return err
	})
	return lost, err
}

// ReclaimExpired makes steps with expired leases claimable again; see
// weft.Store.
func (s *Store) ReclaimExpired(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.do(ctx, "reclaim expired leases", func(tx *wtx) (err error) {
		n, err = tx.reclaimExpired(now)
		return err
	})
	return n, err
}

// CancelRun ends a run; see weft.Store.
func (s *Store) CancelRun(ctx context.Context, c *weft.RunCancel) (*weft.Run, error) {
	var run *weft.Run
	err := s.do(ctx, "cancel run "+c.RunID, func(tx *wtx) (err error) {
		run, err = tx.cancelRun(c)
		return err
	})
	return run, err
}

// RetryRun runs a failed or canceled run again; see weft.Store.
func (s *Store) RetryRun(ctx context.Context, rr *weft.RunRetry) (*weft.Run, error) {
	var run *weft.Run
	err := s.do(ctx, "retry run "+rr.RunID, func(tx *wtx) (err error) {
		run, err = tx.retryRun(rr)
		return err
	})
	return run, err
}
