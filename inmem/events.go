package inmem

import "github.com/weft-dev/weft"

// eventChunk is how many events one block of an eventLog holds.
const eventChunk = 1024

// eventLog is a run's event history, kept in fixed-size blocks so that it
// grows without copying what it holds.
type eventLog struct {
	chunks [][]weft.Event
	n      int
}

func (l *eventLog) len() int { return l.n }

func (l *eventLog) add(e weft.Event) {
	if l.n%eventChunk == 0 {
		l.chunks = append(l.chunks, make([]weft.Event, 0, eventChunk))
	}
	last := len(l.chunks) - 1
	l.chunks[last] = append(l.chunks[last], e)
	l.n++
}

// slice returns a copy of up to limit events after the first skip (all
// when limit ≤ 0).
func (l *eventLog) slice(skip int64, limit int) []weft.Event {
	if skip >= int64(l.n) {
		return nil
	}
	n := l.n - int(skip)
	if limit > 0 && n > limit {
		n = limit
	}
	out := make([]weft.Event, 0, n)
	for i := int(skip); len(out) < n; {
		c := l.chunks[i/eventChunk][i%eventChunk:]
		c = c[:min(len(c), n-len(out))]
		out = append(out, c...)
		i += len(c)
	}
	return out
}
