package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/weft-dev/weft"
)

// The fields of each object of the format, in the order the document
// section of DESIGN.md lists them. Their index is their bit in a seen mask.
var (
	workflowFields = []string{"id", "name", "description", "max_parallel", "timeout", "fail_fast", "defaults", "params", "ai_token_budget", "steps"}
	stepFields     = []string{"type", "description", "input", "depends_on", "max_retries", "retry", "timeout", "when", "trigger", "pool"}
	defaultsFields = []string{"timeout", "retry"}
	retryFields    = []string{"max_retries", "initial_interval", "backoff", "max_interval", "jitter", "retry_on", "no_retry_on", "max_elapsed", "max_retry_after"}
)

// decoded is what decodeJSON read.
type decoded struct {
	wf *weft.Workflow
	// order holds the step ids in document order; steps[i] is the step of
	// order[i].
	order []string
	steps []*weft.Step
	// index maps a step id to its position in order.
	index map[string]int32
	// deps[i][j] is the position of steps[i].DependsOn[j], or -1 when that
	// id was not known yet where it was read (the validator resolves it).
	deps [][]int32
	// fatal reports a problem that stopped the reading (syntax, nesting,
	// size, a document that is not an object): the workflow is then too
	// partial to validate.
	fatal bool
	errs  weft.ValidationErrors
}

// decodeJSON reads a JSON workflow document: as much of the workflow as
// could be read, and every problem found while reading. It never panics.
func decodeJSON(data []byte, lim weft.Limits) (d *decoded) {
	d = &decoded{wf: &weft.Workflow{}}
	if int64(len(data)) > lim.MaxDocumentBytes {
		d.errs, d.fatal = weft.ValidationErrors{sizeError(int64(len(data)), lim)}, true
		return d
	}
	data = trimBOM(data)
	s := &scanner{data: data, lim: lim}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(abort); !ok {
				panic(r)
			}
			d.fatal = true
		}
		d.errs = s.errs
	}()
	s.skipSpace()
	if s.pos == len(data) {
		s.add(weft.VType, "the document is empty: expected an object with \"id\" and \"steps\"", "")
		d.fatal = true
		return d
	}
	if k := s.kind(); k != 'o' {
		s.add(weft.VType, "expected an object (the workflow document), found "+kindName(k), "")
		d.fatal = true
		return d
	}
	s.workflow(d)
	s.skipSpace()
	if s.pos < len(data) {
		s.fail("unexpected %s after the document", quoteChar(data[s.pos:]))
	}
	return d
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

// field checks the current member of an object with a fixed set of
// fields. It records unknown and repeated fields (skipping their values)
// and returns -1 for them, else the field's index.
func (s *scanner) field(it *objectIter, seen *uint64, what string) int {
	i := it.field
	if i < 0 {
		s.add(weft.VUnknownField, fmt.Sprintf("unknown field %q in %s", it.key, what), weft.DidYouMean(it.key, it.names))
		s.skip()
		return -1
	}
	if *seen&(1<<i) != 0 {
		s.add(weft.VDuplicateKey, fmt.Sprintf("duplicate key %q", it.key), "remove one of them")
		s.skip()
		return -1
	}
	*seen |= 1 << i
	return i
}

func (s *scanner) workflow(d *decoded) {
	wf := d.wf
	var seen uint64
	for it := s.openObject(workflowFields); s.member(&it); {
		switch s.field(&it, &seen, "the workflow") {
		case 0:
			s.readString(&wf.ID)
		case 1:
			s.readString(&wf.Name)
		case 2:
			s.readString(&wf.Description)
		case 3:
			var n int64
			if s.readInt(&n) {
				wf.MaxParallel = int(n)
			}
		case 4:
			s.readDuration(&wf.Timeout)
		case 5:
			s.readBool(&wf.FailFast)
		case 6:
			wf.Defaults = s.defaults()
		case 7:
			wf.Params = s.readObjectRaw()
		case 8:
			s.readInt(&wf.AITokenBudget)
		case 9:
			s.steps(d)
		}
	}
	if seen&(1<<9) == 0 {
		s.addAt(rootPath, weft.VRequired, "missing field \"steps\": a workflow needs at least one step", "")
	}
}

// stepArena hands out steps and dependency lists from large blocks, so that
// a million-step document does not cost millions of small allocations.
type stepArena struct {
	steps []weft.Step
	ids   []string
	idx   []int32
	// scratch lists a depends_on while it is read.
	scratchIDs []string
	scratchIdx []int32
}

const arenaBlock = 1024

func (a *stepArena) step() *weft.Step {
	if len(a.steps) == 0 {
		a.steps = make([]weft.Step, arenaBlock)
	}
	st := &a.steps[0]
	a.steps = a.steps[1:]
	return st
}

// keep copies the scratch lists into the arena and returns the copies.
func (a *stepArena) keep() ([]string, []int32) {
	n := len(a.scratchIDs)
	if cap(a.ids)-len(a.ids) < n {
		size := max(n, 4*arenaBlock)
		a.ids, a.idx = make([]string, 0, size), make([]int32, 0, size)
	}
	start := len(a.ids)
	a.ids = append(a.ids, a.scratchIDs...)
	a.idx = append(a.idx, a.scratchIdx...)
	return a.ids[start:len(a.ids):len(a.ids)], a.idx[start:len(a.idx):len(a.idx)]
}

func (s *scanner) steps(d *decoded) {
	switch k := s.kind(); k {
	case 'o':
	case 'z':
		s.null()
		return
	default:
		s.mismatch("an object of steps keyed by step id", k, "")
		return
	}
	// Every step has a "type": counting them (a fast scan) sizes the maps
	// and lists closely enough to spare their growth.
	hint := min(bytes.Count(s.data[s.pos:], []byte(`"type"`)), s.lim.MaxSteps)
	d.index = make(map[string]int32, hint)
	d.order = make([]string, 0, hint)
	d.steps = make([]*weft.Step, 0, hint)
	d.deps = make([][]int32, 0, hint)
	var arena stepArena
	overLimit := false
	for it := s.openObject(nil); s.member(&it); {
		id := it.key
		if _, dup := d.index[id]; dup {
			s.add(weft.VDuplicateKey, fmt.Sprintf("duplicate step id %q", id), "rename one of the steps")
			s.skip()
			continue
		}
		if len(d.order) >= s.lim.MaxSteps {
			if !overLimit {
				overLimit = true
				s.addAt(keyPath(rootPath, "steps"), weft.VLimit,
					fmt.Sprintf("more than %d steps", s.lim.MaxSteps), "split the workflow or raise the step limit")
			}
			s.skip()
			continue
		}
		st := arena.step()
		st.ID = id
		d.index[id] = int32(len(d.order))
		d.order = append(d.order, id)
		d.steps = append(d.steps, st)
		d.deps = append(d.deps, s.step(st, d, &arena))
	}
	d.wf.Steps = make(map[string]*weft.Step, len(d.order))
	for i, id := range d.order {
		d.wf.Steps[id] = d.steps[i]
	}
}

// step reads one step and returns the positions of its dependencies as far
// as they are known (see decoded.deps).
func (s *scanner) step(st *weft.Step, d *decoded, arena *stepArena) (deps []int32) {
	k := s.kind()
	if k != 'o' {
		s.mismatch("an object (a step)", k, `a step looks like {"type": "process", "depends_on": [...]}`)
		return nil
	}
	var seen uint64
	for it := s.openObject(stepFields); s.member(&it); {
		switch s.field(&it, &seen, "a step") {
		case 0:
			st.Type = s.readType()
		case 1:
			s.readString(&st.Description)
		case 2:
			st.Input = s.readObjectRaw()
		case 3:
			st.DependsOn, deps = s.dependsOn(d, arena)
		case 4:
			var n int64
			if s.readInt(&n) {
				v := int(n)
				st.MaxRetries = &v
			}
		case 5:
			st.Retry = s.retry()
		case 6:
			s.readDuration(&st.Timeout)
		case 7:
			s.readString(&st.When)
		case 8:
			var t string
			s.readString(&t)
			st.Trigger = weft.Trigger(t)
		case 9:
			s.readString(&st.Pool)
		}
	}
	return deps
}

// readType reads a step type, sharing the strings of the built-in types.
func (s *scanner) readType() string {
	var t string
	s.readString(&t)
	for _, b := range weft.BuiltinTypes {
		if t == b {
			return b
		}
	}
	return t
}

// dependsOn reads a depends_on list. Ids of steps already read share those
// steps' id strings and come with their positions; others get -1.
func (s *scanner) dependsOn(d *decoded, arena *stepArena) ([]string, []int32) {
	switch k := s.kind(); k {
	case 'a':
	case 'z':
		s.null()
		return nil, nil
	default:
		s.mismatch("an array of step ids", k, `write "depends_on": ["a", "b"]`)
		return nil, nil
	}
	arena.scratchIDs, arena.scratchIdx = arena.scratchIDs[:0], arena.scratchIdx[:0]
	for it := s.openArray(); s.element(&it); {
		if k := s.kind(); k != 's' {
			s.mismatch("a string (a step id)", k, "")
			continue
		}
		b := s.strBytes()
		id, pos := "", int32(-1)
		if i, ok := d.index[string(b)]; ok {
			id, pos = d.order[i], i
		} else {
			id = string(b)
		}
		arena.scratchIDs = append(arena.scratchIDs, id)
		arena.scratchIdx = append(arena.scratchIdx, pos)
	}
	return arena.keep()
}

func (s *scanner) defaults() *weft.Defaults {
	k := s.kind()
	if k == 'z' {
		s.null()
		return nil
	}
	if k != 'o' {
		s.mismatch("an object", k, `write "defaults": {"timeout": "30s", "retry": {...}}`)
		return nil
	}
	d := &weft.Defaults{}
	var seen uint64
	for it := s.openObject(defaultsFields); s.member(&it); {
		switch s.field(&it, &seen, "defaults") {
		case 0:
			s.readDuration(&d.Timeout)
		case 1:
			d.Retry = s.retry()
		}
	}
	return d
}

func (s *scanner) retry() *weft.RetryPolicy {
	k := s.kind()
	if k == 'z' {
		s.null()
		return nil
	}
	if k != 'o' {
		s.mismatch("an object (a retry policy)", k, `write "retry": {"max_retries": 3, "initial_interval": "1s"}`)
		return nil
	}
	p := &weft.RetryPolicy{}
	var seen uint64
	for it := s.openObject(retryFields); s.member(&it); {
		switch s.field(&it, &seen, "a retry policy") {
		case 0:
			var n int64
			if s.readInt(&n) {
				v := int(n)
				p.MaxRetries = &v
			}
		case 1:
			p.InitialInterval = s.readDurationPtr()
		case 2:
			var f float64
			if s.readFloat(&f) {
				p.Backoff = &f
			}
		case 3:
			p.MaxInterval = s.readDurationPtr()
		case 4:
			var j string
			s.readString(&j)
			p.Jitter = weft.Jitter(j)
		case 5:
			p.RetryOn = codes(s.readStringList("an array of error codes", `write ["timeout", "unavailable"]`))
		case 6:
			p.NoRetryOn = codes(s.readStringList("an array of error codes", `write ["invalid"]`))
		case 7:
			p.MaxElapsed = s.readDurationPtr()
		case 8:
			p.MaxRetryAfter = s.readDurationPtr()
		}
	}
	return p
}

func codes(list []string) []weft.Code {
	if list == nil {
		return nil
	}
	out := make([]weft.Code, len(list))
	for i, c := range list {
		out[i] = weft.Code(c)
	}
	return out
}

// readString reads a string into dst. null leaves dst as it is; any other
// type is recorded and skipped.
func (s *scanner) readString(dst *string) {
	switch k := s.kind(); k {
	case 's':
		*dst = s.str()
	case 'z':
		s.null()
	default:
		s.mismatch("a string", k, "")
	}
}

// readInt reads an integer into dst and reports whether it did.
func (s *scanner) readInt(dst *int64) bool {
	switch k := s.kind(); k {
	case 'n':
		lit := s.number()
		n, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			if f, ferr := strconv.ParseFloat(string(lit), 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
				*dst = int64(f)
				return true
			}
			s.add(weft.VType, fmt.Sprintf("expected an integer, found %s", lit), "")
			return false
		}
		*dst = n
		return true
	case 'z':
		s.null()
	default:
		s.mismatch("an integer", k, "")
	}
	return false
}

// readFloat reads a number into dst and reports whether it did.
func (s *scanner) readFloat(dst *float64) bool {
	switch k := s.kind(); k {
	case 'n':
		lit := s.number()
		f, err := strconv.ParseFloat(string(lit), 64)
		if err != nil {
			s.add(weft.VType, fmt.Sprintf("number %s is out of range", lit), "")
			return false
		}
		*dst = f
		return true
	case 'z':
		s.null()
	default:
		s.mismatch("a number", k, "")
	}
	return false
}

func (s *scanner) readBool(dst *bool) {
	switch k := s.kind(); k {
	case 'b':
		*dst = s.boolean()
	case 'z':
		s.null()
	default:
		s.mismatch("true or false", k, "")
	}
}

// readDuration reads a duration string into dst.
func (s *scanner) readDuration(dst *weft.Duration) {
	if d := s.readDurationPtr(); d != nil {
		*dst = *d
	}
}

func (s *scanner) readDurationPtr() *weft.Duration {
	switch k := s.kind(); k {
	case 's':
		text := s.str()
		d, err := weft.ParseDuration(text)
		if err != nil {
			s.add(weft.VInvalidDuration, err.Error(), durationSuggestion(text))
			return nil
		}
		return &d
	case 'n':
		lit := s.number()
		s.add(weft.VType, "expected a duration string, found the number "+string(lit), fmt.Sprintf(`write "%ss" for seconds`, lit))
	case 'z':
		s.null()
	default:
		s.mismatch("a duration string such as \"30s\"", k, "")
	}
	return nil
}

// durationSuggestion proposes a fix for a malformed duration: a bare number
// gets a unit, common unit spellings get Go's.
func durationSuggestion(text string) string {
	if _, err := strconv.ParseFloat(text, 64); err == nil {
		return fmt.Sprintf("add a unit: %q", text+"s")
	}
	for _, u := range []struct{ from, to string }{{"sec", "s"}, {"secs", "s"}, {"seconds", "s"}, {"min", "m"}, {"mins", "m"}, {"minutes", "m"}, {"hours", "h"}, {"hr", "h"}} {
		if n, ok := cutSuffix(text, u.from); ok {
			if _, err := strconv.ParseFloat(n, 64); err == nil {
				return fmt.Sprintf("write %q", n+u.to)
			}
		}
	}
	return "units are ns, us, ms, s, m, h"
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// readStringList reads an array of strings. A lone string is recorded as a
// type error with suggestion.
func (s *scanner) readStringList(expected, suggestion string) []string {
	switch k := s.kind(); k {
	case 'a':
		list := make([]string, 0, 4)
		for it := s.openArray(); s.element(&it); {
			if k := s.kind(); k != 's' {
				s.mismatch("a string", k, "")
				continue
			}
			list = append(list, s.str())
		}
		return list
	case 'z':
		s.null()
	default:
		s.mismatch(expected, k, suggestion)
	}
	return nil
}

// readObjectRaw reads an object and returns its JSON text; null gives nil.
func (s *scanner) readObjectRaw() json.RawMessage {
	switch k := s.kind(); k {
	case 'o':
		return s.raw()
	case 'z':
		s.null()
	default:
		s.mismatch("an object", k, "")
	}
	return nil
}
