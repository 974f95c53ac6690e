package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds what the profiling round uses to see where PostgreSQL's
// time goes without pg_stat_statements (which needs the server started
// with it preloaded): a sampler of pg_stat_activity, and a proxy that
// counts the round trips, transactions and statements of the run's
// connections on the wire.

// activity is what sampling pg_stat_activity found: how many times a
// backend of the run was seen in each state.
type activity struct {
	// samples is the number of samples taken, seen the number of backends
	// seen in them all.
	samples, seen int
	// by counts the backends seen by what they were doing (state, wait
	// event, statement).
	by map[string]int
}

// sampler samples pg_stat_activity on a connection of its own.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	act  activity
	err  error
}

// startSampler samples the backends whose application_name is app every
// interval until stopped.
func startSampler(ctx context.Context, dsn, app string, every time.Duration) (*sampler, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("sample pg_stat_activity: %w", err)
	}
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{}), act: activity{by: map[string]int{}}}
	go func() {
		defer close(s.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, `SELECT coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, ''), coalesce(query, '')
				FROM pg_stat_activity WHERE application_name = $1`, app)
			if err != nil {
				s.err = fmt.Errorf("sample pg_stat_activity: %w", err)
				return
			}
			s.act.samples++
			var state, waitType, wait, query string
			_, err = pgx.ForEachRow(rows, []any{&state, &waitType, &wait, &query}, func() error {
				s.act.seen++
				s.act.by[activityKey(state, waitType, wait, query)]++
				return nil
			})
			if err != nil {
				s.err = fmt.Errorf("sample pg_stat_activity: %w", err)
				return
			}
		}
	}()
	return s, nil
}

// finish stops the sampler and returns what it found.
func (s *sampler) finish() (*activity, error) {
	close(s.stop)
	<-s.done
	return &s.act, s.err
}

// activityKey names what a backend was doing: idle (waiting for its
// client), in a transaction but waiting for its client, or running a
// statement (and what it waited for, if anything).
func activityKey(state, waitType, wait, query string) string {
	switch state {
	case "idle":
		if strings.HasPrefix(query, "LISTEN") {
			return "idle: the wake-up listener"
		}
		return "idle: waiting for the client"
	case "idle in transaction":
		return "idle in transaction: waiting for the client"
	case "":
		return "connecting"
	}
	w := "on CPU"
	if waitType != "" {
		w = "waiting " + waitType + ":" + wait
	}
	return state + ", " + w + ": " + shortSQL(query)
}

// shortSQL returns the start of a statement on one line.
func shortSQL(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 90 {
		q = q[:90] + "…"
	}
	return q
}

// write prints the states that took at least 1% of the backend samples.
func (a *activity) write(w io.Writer, indent string) {
	fmt.Fprintf(w, "%s%d samples, %.1f backends of the run each on average; share of backend samples:\n", indent, a.samples, float64(a.seen)/float64(max(a.samples, 1)))
	keys := slices.SortedFunc(maps.Keys(a.by), func(x, y string) int { return a.by[y] - a.by[x] })
	for _, k := range keys {
		share := float64(a.by[k]) / float64(max(a.seen, 1))
		if share < 0.01 {
			break
		}
		fmt.Fprintf(w, "%s  %5.1f%%  %s\n", indent, 100*share, k)
	}
}

// wire counts, across the connections of a proxy, what crossed it.
type wire struct {
	// roundTrips counts the times a client sent something after the
	// server had answered it (a pipelined batch is one).
	roundTrips atomic.Int64
	// commits counts COMMIT and ROLLBACK completions.
	commits atomic.Int64
	// executes counts statements executed (Execute and simple Query
	// messages).
	executes atomic.Int64
	// toServer and toClient count bytes.
	toServer, toClient atomic.Int64
	// conns counts the connections.
	conns atomic.Int64

	mu sync.Mutex
	// calls counts the statements bound or sent, by text.
	calls map[string]int64
}

// proxy is a TCP proxy to a PostgreSQL server that counts what crosses it
// (see wire). It answers SSL and GSS encryption requests with "no" itself,
// so that the protocol stays readable: use it with sslmode=disable or
// prefer.
type proxy struct {
	ln     net.Listener
	target string
	w      *wire
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// startProxy listens on a loopback port and forwards each connection to
// target (host:port).
func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, w: &wire{calls: map[string]int64{}}}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
	return p, nil
}

// via returns dsn with its host and port replaced by the proxy's.
func (p *proxy) via(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Host = p.ln.Addr().String()
	return u.String(), nil
}

// close stops the proxy and its connections, and waits for them.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// serve forwards one client connection.
func (p *proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	p.w.conns.Add(1)
	var answered atomic.Bool // the server sent something since the client last did
	answered.Store(true)
	stmts := map[string]string{} // prepared statement name → text, this connection's
	var wg sync.WaitGroup
	wg.Go(func() {
		defer server.Close()
		p.w.clientToServer(client, server, &answered, stmts)
	})
	wg.Go(func() {
		defer client.Close()
		p.w.serverToClient(server, client, &answered)
	})
	wg.Wait()
}

// Startup request codes that ask for encryption.
const (
	sslRequest = 80877103
	gssRequest = 80877104
)

// clientToServer forwards the client's messages, counting them.
func (w *wire) clientToServer(client, server net.Conn, answered *atomic.Bool, stmts map[string]string) {
	r, out := bufio.NewReaderSize(client, 64<<10), bufio.NewWriterSize(server, 64<<10)
	// The startup packet has no type byte; encryption requests come first
	// and are answered here.
	for {
		msg, err := readMessage(r, false)
		if err != nil {
			return
		}
		if len(msg) == 8 {
			if code := binary.BigEndian.Uint32(msg[4:]); code == sslRequest || code == gssRequest {
				if _, err := client.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
		}
		if _, err := out.Write(msg); err != nil || out.Flush() != nil {
			return
		}
		break
	}
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			out.Flush()
			return
		}
		if answered.Swap(false) {
			w.roundTrips.Add(1)
		}
		w.count(msg, stmts)
		w.toServer.Add(int64(len(msg)))
		if _, err := out.Write(msg); err != nil {
			return
		}
		if r.Buffered() == 0 && out.Flush() != nil {
			return
		}
	}
}

// serverToClient forwards the server's messages, counting commits.
func (w *wire) serverToClient(server, client net.Conn, answered *atomic.Bool) {
	r, out := bufio.NewReaderSize(server, 64<<10), bufio.NewWriterSize(client, 64<<10)
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			out.Flush()
			return
		}
		answered.Store(true)
		if msg[0] == 'C' {
			if tag := string(msg[5 : len(msg)-1]); tag == "COMMIT" || tag == "ROLLBACK" {
				w.commits.Add(1)
			}
		}
		w.toClient.Add(int64(len(msg)))
		if _, err := out.Write(msg); err != nil {
			return
		}
		if r.Buffered() == 0 && out.Flush() != nil {
			return
		}
	}
}

// count counts a client message: Parse records a statement's text, Bind
// and Query count a call of one, Execute and Query an execution.
func (w *wire) count(msg []byte, stmts map[string]string) {
	body := msg[5:]
	switch msg[0] {
	case 'P':
		name, rest := cstring(body)
		query, _ := cstring(rest)
		stmts[name] = query
	case 'B':
		_, rest := cstring(body) // the portal
		name, _ := cstring(rest)
		w.call(stmts[name])
	case 'Q':
		query, _ := cstring(body)
		w.call(query)
		w.executes.Add(1)
	case 'E':
		w.executes.Add(1)
	}
}

// call counts a call of statement q.
func (w *wire) call(q string) {
	w.mu.Lock()
	w.calls[statementKey(q)]++
	w.mu.Unlock()
}

// statementKey names a statement in the counts: its start on one line; for
// a SELECT of a column list, "SELECT … " and what follows the first FROM,
// since statements reading the same columns differ only there.
func statementKey(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if rest, ok := strings.CutPrefix(q, "SELECT "); ok {
		if i := strings.Index(rest, " FROM "); i > 40 {
			q = "SELECT …" + rest[i:]
		}
	}
	return shortSQL(q)
}

// cstring splits a NUL-terminated string off b.
func cstring(b []byte) (string, []byte) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:]
		}
	}
	return string(b), nil
}

// readMessage reads one protocol message, whole: with typed, a type byte
// and a length; without (the startup packet), a length only.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head, 64)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || n > 1<<30 {
		return nil, errors.New("malformed message length")
	}
	msg = append(msg, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, msg[head:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// write prints the wire counts per step, and the statements called at
// least once per 100 steps, most called first.
func (w *wire) write(out io.Writer, steps int, indent string) {
	per := func(n int64) float64 { return float64(n) / float64(steps) }
	fmt.Fprintf(out, "%sper step: %.2f round trips, %.2f transactions, %.2f statements, %.0f bytes sent, %.0f received (%d connections)\n",
		indent, per(w.roundTrips.Load()), per(w.commits.Load()), per(w.executes.Load()), per(w.toServer.Load()), per(w.toClient.Load()), w.conns.Load())
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(w.calls), func(x, y string) int { return int(w.calls[y] - w.calls[x]) })
	for _, k := range keys {
		if per(w.calls[k]) < 0.01 {
			break
		}
		fmt.Fprintf(out, "%s  %6.3f/step  %s\n", indent, per(w.calls[k]), k)
	}
}
