package httpapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"sync"
)

// minGzip is the size from which JSON answers are compressed for clients
// that accept gzip: a 10,000-step run's document shrinks about tenfold.
const minGzip = 8 << 10

// gzipOK wraps the ResponseWriter of a request whose client accepts gzip,
// so that writeRawJSON may compress. It unwraps for
// http.ResponseController.
type gzipOK struct{ http.ResponseWriter }

func (w gzipOK) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// compressed returns b gzipped (fastest level: the answer is made for one
// client).
func compressed(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) / 6)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&out)
	zw.Write(b)
	zw.Write([]byte{'\n'})
	zw.Close()
	gzipWriters.Put(zw)
	return out.Bytes()
}
