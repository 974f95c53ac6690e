package httpapi

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weft-dev/weft"
)

// events streams a run's events as Server-Sent Events: GET
// /api/v1/runs/{id}/events. Each event is sent with its sequence number as
// the SSE id and its type as the SSE event name; a client that reconnects
// with Last-Event-ID (or ?after=SEQ) gets the events after it. The stream
// ends after the run's terminal event with an event named "end" (data {}),
// so that clients can tell the end of a run from a dropped connection (a
// retried run's history goes on past its earlier terminal events).
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	after, err := lastEventID(r)
	if err != nil {
		return err
	}
	client := clientAddr(r)
	if !s.openStream(client) {
		return errorf(http.StatusTooManyRequests, CodeTooMany, "too many event streams from this client (at most %d at once)", s.cfg.MaxStreamsPerClient)
	}
	defer s.closeStream(client)
	rc := http.NewResponseController(w)
	// A stream outlives the server's read timeout, which would otherwise
	// end it (and cancel its context) mid-run.
	rc.SetReadDeadline(time.Time{})
	ctx := r.Context()
	ch, err := s.cfg.Engine.Subscribe(ctx, id, after)
	if err != nil {
		return notFound(err, "run", id)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.observeStream(+1)
	defer s.observeStream(-1)
	// Tell EventSource to reconnect after 1s rather than its default 3s.
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil
	}
	rc.Flush()
	keep := time.NewTicker(s.cfg.KeepAlive)
	defer keep.Stop()
	var buf []byte
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				if ctx.Err() == nil {
					// The run ended: say so, so that a client can tell
					// the end from a dropped connection.
					w.Write([]byte("event: end\ndata: {}\n\n"))
					rc.Flush()
				}
				return nil
			}
			buf = buf[:0]
			if err := appendEvent(&buf, ev); err != nil {
				s.log.Error("encode event", "run", id, "err", err)
				return nil
			}
			// Send what else is waiting in the same write.
			for len(ch) > 0 && len(buf) < 64<<10 {
				if err := appendEvent(&buf, <-ch); err != nil {
					s.log.Error("encode event", "run", id, "err", err)
					return nil
				}
			}
			if _, err := w.Write(buf); err != nil {
				return nil
			}
			rc.Flush()
		case <-keep.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return nil
			}
			rc.Flush()
		case <-s.closing:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// appendEvent appends ev in the SSE format to buf.
func appendEvent(buf *[]byte, ev weft.Event) error {
	data, err := json.Marshal(&ev)
	if err != nil {
		return err
	}
	b := append(*buf, "id: "...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	*buf = append(b, "\n\n"...)
	return nil
}

// lastEventID returns the sequence number after which a stream starts:
// the Last-Event-ID header of a reconnecting EventSource, or ?after=SEQ.
func lastEventID(r *http.Request) (int64, error) {
	v, name := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, name = r.URL.Query().Get("after"), "after"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, CodeBadRequest, "%s: expected an event sequence number (a non-negative integer), got %q", name, v)
	}
	return n, nil
}

// clientAddr returns the client's IP address, the key of the stream limit.
// Forwarding headers are not trusted: behind a proxy every client shares
// the proxy's limit.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// openStream counts a new stream of a client, refusing it over the limit.
func (s *Server) openStream(client string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[client] >= s.cfg.MaxStreamsPerClient {
		return false
	}
	s.streams[client]++
	return true
}

// closeStream uncounts a stream of a client.
func (s *Server) closeStream(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[client]--; s.streams[client] <= 0 {
		delete(s.streams, client)
	}
}
