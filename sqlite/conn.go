package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/weft-dev/weft"
)

// wconn is the writer connection, used by the writer goroutine only. It
// talks to the driver directly (no database/sql: one goroutine owns the
// connection, and the hot path runs a dozen statements per step) and keeps
// every statement it runs prepared.
type wconn struct {
	c     driver.Conn
	stmts map[string]driver.Stmt
	many  map[string]string // see manySQL
	vals  []any             // reused by insertMany
	args  []driver.NamedValue
}

func newWconn(c driver.Conn) *wconn {
	return &wconn{c: c, stmts: make(map[string]driver.Stmt)}
}

// bg is the context of the writer's statements: a batch of operations is
// not stopped halfway because one caller gave up (a caller that gives up
// before its operation starts is skipped, see Store.do).
var bg = context.Background()

func (w *wconn) stmt(q string) (driver.Stmt, error) {
	if s, ok := w.stmts[q]; ok {
		return s, nil
	}
	s, err := w.c.(driver.ConnPrepareContext).PrepareContext(bg, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = s
	return s, nil
}

func (w *wconn) named(args []any) []driver.NamedValue {
	w.args = w.args[:0]
	for i, a := range args {
		w.args = append(w.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return w.args
}

// exec runs a statement and returns the number of rows it changed.
func (w *wconn) exec(q string, args ...any) (int64, error) {
	s, err := w.stmt(q)
	if err != nil {
		return 0, err
	}
	res, err := s.(driver.StmtExecContext).ExecContext(bg, w.named(args))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// insert runs an INSERT and returns the new row's rowid.
func (w *wconn) insert(q string, args ...any) (int64, error) {
	s, err := w.stmt(q)
	if err != nil {
		return 0, err
	}
	res, err := s.(driver.StmtExecContext).ExecContext(bg, w.named(args))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// query runs a query. The rows must be closed before the same statement
// runs again; other statements may run while they are open, as long as
// they do not change what the rows read.
func (w *wconn) query(q string, args ...any) (*wrows, error) {
	s, err := w.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.(driver.StmtQueryContext).QueryContext(bg, w.named(args))
	if err != nil {
		return nil, err
	}
	return &wrows{rows: rows, vals: make([]driver.Value, len(rows.Columns()))}, nil
}

// row reads the first row of a query into a fresh slice of values, or
// returns nil when there is none.
func (w *wconn) row(q string, args ...any) ([]driver.Value, error) {
	rows, err := w.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.close()
	if !rows.next() {
		return nil, rows.err
	}
	return rows.vals, nil
}

// int64s reads the first column of every row of a query.
func (w *wconn) int64s(q string, args ...any) ([]int64, error) {
	rows, err := w.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.close()
	var out []int64
	for rows.next() {
		out = append(out, i64(rows.vals[0]))
	}
	return out, rows.err
}

func (w *wconn) close() error {
	for _, s := range w.stmts {
		s.Close()
	}
	w.stmts = nil
	return w.c.Close()
}

// wrows iterates over the rows of a query; vals holds the current row
// (a fresh slice each time, so that it may be kept).
type wrows struct {
	rows driver.Rows
	vals []driver.Value
	err  error
}

func (r *wrows) next() bool {
	vals := make([]driver.Value, len(r.vals))
	if err := r.rows.Next(vals); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		return false
	}
	r.vals = vals
	return true
}

func (r *wrows) close() {
	if err := r.rows.Close(); err != nil && r.err == nil {
		r.err = err
	}
}

// Column values, as the driver returns them: int64, string, []byte (a copy
// the caller may keep) or nil.

func i64(v any) int64 {
	n, _ := v.(int64)
	return n
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func blob(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}

// nullBlob is b, or NULL when empty.
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullStr is s, or NULL when empty.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt is n, or NULL when 0 (times: 0 stands for none).
func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// nanos is t as Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// timeOf is the time of Unix nanoseconds n, the zero time for 0.
func timeOf(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// errorOf reads an error from its code and message columns (NULL code: no
// error).
func errorOf(code, msg any) *weft.ErrorInfo {
	if code == nil {
		return nil
	}
	return &weft.ErrorInfo{Code: weft.Code(str(code)), Message: str(msg)}
}

// errorArgs are the code and message columns of e.
func errorArgs(e *weft.ErrorInfo) (code, msg any) {
	if e == nil {
		return nil, nil
	}
	return string(e.Code), e.Message
}

// encodeIdx packs node indices into 4-byte little-endian words.
func encodeIdx(idx []int32) []byte {
	b := make([]byte, 4*len(idx))
	for k, i := range idx {
		binary.LittleEndian.PutUint32(b[4*k:], uint32(i))
	}
	return b
}

// decodeIdx unpacks encodeIdx.
func decodeIdx(b []byte) ([]int32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("corrupt index list of %d bytes", len(b))
	}
	out := make([]int32, len(b)/4)
	for k := range out {
		out[k] = int32(binary.LittleEndian.Uint32(b[4*k:]))
	}
	return out, nil
}

// stepKey is the id of node idx of run seq.
func stepKey(runSeq int64, idx int32) int64 { return runSeq<<32 | int64(uint32(idx)) }
