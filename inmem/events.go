package inmem

import (
	"encoding/json"
	"time"

	"github.com/weft-dev/weft"
)

// eventChunk is how many events one block of an eventLog holds.
const eventChunk = 1024

// eventLog is a run's event history, kept compact (most events are step
// starts and successes with nothing but a time and an attempt) in
// fixed-size blocks, so that it grows without copying what it holds and
// costs the garbage collector little.
type eventLog struct {
	chunks [][]storedEvent
	n      int
}

// storedEvent is an event as the log keeps it: the step as a node index
// (-1 for run events), the time as Unix nanoseconds, the type as an index,
// and the rare fields behind one pointer.
type storedEvent struct {
	time    int64
	step    int32
	attempt int32
	typ     uint8
	worker  string
	extra   *eventExtra
}

type eventExtra struct {
	delay  time.Duration
	reason string
	err    *weft.ErrorInfo
	data   json.RawMessage
}

var eventTypes = []weft.EventType{
	weft.EventRunCreated, weft.EventRunStarted, weft.EventRunSucceeded, weft.EventRunFailed, weft.EventRunCanceled,
	weft.EventStepStarted, weft.EventStepRetrying, weft.EventStepSucceeded, weft.EventStepFailed,
	weft.EventStepSkipped, weft.EventStepCanceled, weft.EventRunRetried,
}

func typeIndex(t weft.EventType) uint8 {
	for i, et := range eventTypes {
		if et == t {
			return uint8(i)
		}
	}
	panic("inmem: unknown event type " + string(t))
}

func (l *eventLog) len() int { return l.n }

// add appends e, whose step is node step (-1 for a run event).
func (l *eventLog) add(e weft.Event, step int32) {
	if l.n%eventChunk == 0 {
		l.chunks = append(l.chunks, make([]storedEvent, 0, eventChunk))
	}
	se := storedEvent{time: e.Time.UnixNano(), step: step, attempt: int32(e.Attempt), typ: typeIndex(e.Type), worker: e.Worker}
	if e.Delay != 0 || e.Reason != "" || e.Error != nil || e.Data != nil {
		se.extra = &eventExtra{delay: e.Delay, reason: e.Reason, err: e.Error, data: e.Data}
	}
	last := len(l.chunks) - 1
	l.chunks[last] = append(l.chunks[last], se)
	l.n++
}

// slice returns up to limit events after the first skip (all when
// limit ≤ 0) of run r.
func (l *eventLog) slice(r *run, skip int64, limit int) []weft.Event {
	if skip >= int64(l.n) {
		return nil
	}
	n := l.n - int(skip)
	if limit > 0 && n > limit {
		n = limit
	}
	out := make([]weft.Event, n)
	for k := range out {
		i := int(skip) + k
		se := &l.chunks[i/eventChunk][i%eventChunk]
		e := &out[k]
		e.Seq, e.RunID, e.Type = int64(i+1), r.rec.ID, eventTypes[se.typ]
		e.Time, e.Attempt, e.Worker = time.Unix(0, se.time), int(se.attempt), se.worker
		if se.step >= 0 {
			e.StepID = r.steps[se.step].StepID
		}
		if x := se.extra; x != nil {
			e.Delay, e.Reason, e.Error, e.Data = x.delay, x.reason, x.err, x.data
		}
	}
	return out
}
