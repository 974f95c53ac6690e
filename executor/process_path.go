package executor

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Field paths of process rules name a place in the working value:
// dotted keys and [n] indices, as in `a.b[0].c`. A key is any run of
// characters but '.', '[' and ']'; other keys are written quoted, as in
// `a["b.c"]`. An index may be negative, counting from the end ([-1] is the
// last element). A leading "$" names the working value itself: "$" is the
// whole value, "$.a" is the same as "a", "$[0]" as "[0]".

// procSeg is one step of a field path: a key, or an index when isIndex.
type procSeg struct {
	key     string
	index   int
	isIndex bool
}

// procPath is a parsed field path; the empty path is the working value.
type procPath []procSeg

// procMaxIndex bounds the indices a path may hold.
const procMaxIndex = 1 << 30

// procParsePath parses a field path.
func procParsePath(s string) (procPath, error) {
	if s == "" {
		return nil, fmt.Errorf("empty field path")
	}
	p := procPath{}
	i := 0
	if s[0] == '$' && (len(s) == 1 || s[1] == '.' || s[1] == '[') {
		i = 1
	}
	start := i == 0 // a bare key may come without a '.'
	for i < len(s) {
		c := s[i]
		switch {
		case c == '[':
			seg, next, err := procParseBracket(s, i)
			if err != nil {
				return nil, err
			}
			p = append(p, seg)
			i = next
		case c == '.' && !start, c != '.' && c != ']' && start:
			if c == '.' {
				i++
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' && s[j] != ']' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("field path %q: empty key at byte %d", s, i)
			}
			p = append(p, procSeg{key: s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("field path %q: unexpected %q at byte %d", s, c, i)
		}
		start = false
	}
	return p, nil
}

// procParseBracket parses `[n]` or `["key"]` at s[i] and returns the
// segment and the index after it.
func procParseBracket(s string, i int) (procSeg, int, error) {
	j := i + 1
	if j < len(s) && s[j] == '"' {
		// A JSON string, then ']'.
		k := j + 1
		for k < len(s) && s[k] != '"' {
			if s[k] == '\\' {
				k++
			}
			k++
		}
		if k >= len(s) {
			return procSeg{}, 0, fmt.Errorf("field path %q: unterminated quoted key at byte %d", s, j)
		}
		var key string
		if err := json.Unmarshal([]byte(s[j:k+1]), &key); err != nil {
			return procSeg{}, 0, fmt.Errorf("field path %q: bad quoted key at byte %d", s, j)
		}
		if k+1 >= len(s) || s[k+1] != ']' {
			return procSeg{}, 0, fmt.Errorf("field path %q: missing ']' at byte %d", s, k+1)
		}
		return procSeg{key: key}, k + 2, nil
	}
	end := strings.IndexByte(s[j:], ']')
	if end < 0 {
		return procSeg{}, 0, fmt.Errorf("field path %q: missing ']' after byte %d", s, i)
	}
	num := s[j : j+end]
	n, err := strconv.Atoi(num)
	if err != nil || num == "" || num[0] == '+' || n > procMaxIndex || n < -procMaxIndex ||
		(len(num) > 1 && (num[0] == '0' || strings.HasPrefix(num, "-0"))) {
		return procSeg{}, 0, fmt.Errorf("field path %q: expected an index or a quoted key in [] at byte %d, found %q", s, i, num)
	}
	return procSeg{index: n, isIndex: true}, j + end + 1, nil
}

// String writes the path back in its canonical form, which parses to the
// same path.
func (p procPath) String() string {
	if len(p) == 0 {
		return "$"
	}
	var b strings.Builder
	for i, seg := range p {
		switch {
		case seg.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(seg.index))
			b.WriteByte(']')
		case procBareKey(seg.key) && !(i == 0 && seg.key == "$"):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg.key)
		default:
			q, _ := json.Marshal(seg.key)
			b.WriteByte('[')
			b.Write(q)
			b.WriteByte(']')
		}
	}
	return b.String()
}

func procBareKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, ".[]")
}

// procIndex resolves index i of an array of n elements (negative counts
// from the end); ok is false when it is out of range.
func procIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// procGet returns the value at path p inside v, and whether it exists.
func procGet(v any, p procPath) (any, bool) {
	for _, seg := range p {
		if seg.isIndex {
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i, ok := procIndex(seg.index, len(arr))
			if !ok {
				return nil, false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[seg.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// procSet returns a copy of v with the value at p replaced by nv. The
// containers on the way are copied, never modified, so values may share
// parts freely. Missing objects on the way are created; missing array
// elements are an error.
func procSet(v any, p procPath, nv any) (any, error) {
	if len(p) == 0 {
		return nv, nil
	}
	seg := p[0]
	if seg.isIndex {
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot set [%d] in %s", seg.index, procKind(v))
		}
		i, ok := procIndex(seg.index, len(arr))
		if !ok {
			return nil, fmt.Errorf("index %d is out of range: the array has %d items", seg.index, len(arr))
		}
		kid, err := procSet(arr[i], p[1:], nv)
		if err != nil {
			return nil, err
		}
		out := slices.Clone(arr)
		out[i] = kid
		return out, nil
	}
	var obj map[string]any
	switch x := v.(type) {
	case map[string]any:
		obj = x
	case nil:
		obj = nil
	default:
		return nil, fmt.Errorf("cannot set key %q in %s", seg.key, procKind(v))
	}
	kid, err := procSet(obj[seg.key], p[1:], nv)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(obj)+1)
	maps.Copy(out, obj)
	out[seg.key] = kid
	return out, nil
}

// procDelete returns a copy of v without the value at p, and whether
// there was one. The root cannot be deleted.
func procDelete(v any, p procPath) (any, bool) {
	if len(p) == 0 {
		return v, false
	}
	seg := p[0]
	if seg.isIndex {
		arr, ok := v.([]any)
		if !ok {
			return v, false
		}
		i, ok := procIndex(seg.index, len(arr))
		if !ok {
			return v, false
		}
		if len(p) == 1 {
			return slices.Delete(slices.Clone(arr), i, i+1), true
		}
		kid, found := procDelete(arr[i], p[1:])
		if !found {
			return v, false
		}
		out := slices.Clone(arr)
		out[i] = kid
		return out, true
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v, false
	}
	old, ok := obj[seg.key]
	if !ok {
		return v, false
	}
	out := maps.Clone(obj)
	if len(p) == 1 {
		delete(out, seg.key)
		return out, true
	}
	kid, found := procDelete(old, p[1:])
	if !found {
		return v, false
	}
	out[seg.key] = kid
	return out, true
}

// procKind names the JSON type of a value of the value model, for
// messages: "a string", "a number", "an object"...
func procKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
