package weft

import (
	"bytes"
	"encoding/json"
)

// ComposeResult builds a run's result from its sink steps (those nothing
// depends on), given in node order with their states: the output of the
// one sink, or, with several, an object of the succeeded sinks' outputs
// keyed by step id. A lone sink that did not succeed gives null. Every store
// calls it, so that a run's result has one definition.
func ComposeResult(sinks []*StepRun) json.RawMessage {
	if len(sinks) == 1 {
		if sinks[0].Status == StepSucceeded && len(sinks[0].Output) > 0 {
			return sinks[0].Output
		}
		return json.RawMessage("null")
	}
	return KeyedObject(sinks, func(s *StepRun) (string, json.RawMessage, bool) {
		return s.StepID, s.Output, s.Status == StepSucceeded && len(s.Output) > 0
	})
}

// KeyedObject writes the JSON object {key: value, …} of the items for which
// pick returns true, in the items' order. Values must be valid JSON.
func KeyedObject[T any](items []T, pick func(T) (string, json.RawMessage, bool)) json.RawMessage {
	size := 2
	for _, it := range items {
		if k, v, ok := pick(it); ok {
			size += len(k) + len(v) + 4
		}
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteByte('{')
	first := true
	for _, it := range items {
		k, v, ok := pick(it)
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if ValidID(k) {
			b.WriteByte('"')
			b.WriteString(k)
			b.WriteByte('"')
		} else {
			q, _ := json.Marshal(k)
			b.Write(q)
		}
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}
