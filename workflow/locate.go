package workflow

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/weft-dev/weft"
)

// Position is a place in a workflow document: Line and Column count from
// 1, Column in characters (Unicode code points) from the start of the line.
// A byte order mark that starts the document is not counted. The zero
// Position means unknown.
type Position struct {
	Line, Column int
}

// Known reports whether p is a place, not the zero Position.
func (p Position) Known() bool { return p.Line > 0 }

// Locate returns the line and column (see Position) where path, the path of
// a ValidationError such as `$.steps.fetch.depends_on[1]` or
// `$.steps["a.b"].type`, points in a JSON or YAML document, told apart as
// FormatAuto does. It places the path as LocateErrors does, nearest
// ancestor included; ok is false when no part of the path can be found,
// such as in a document that does not parse.
func Locate(data []byte, path string) (line, col int, ok bool) {
	p := LocateErrors(data, nil, weft.ValidationErrors{{Path: path}})[0]
	return p.Line, p.Column, p.Known()
}

// LocateErrors returns where in a document each problem that Parse found
// in it stands: positions[i] is the place of errs[i], the zero Position
// when unknown. opts must be those given to Parse (their Format and
// Limits).
//
// A syntax error whose message gives a line and column (and a YAML
// document refused as too deep before it was parsed) is placed there. Any
// other problem is placed by its path: an object member at its key, an
// array element at its value, the document at its first value; when the
// path is not in the document (a missing field), at the nearest ancestor
// that is. A duplicate key is placed at its second occurrence. In YAML,
// paths are followed through anchors, aliases and merge keys (<<) to
// where the text is.
//
// The document is read once, and only when a problem needs its path
// placed. JSON is read in time linear in its size. YAML is read with the
// parser Parse uses, whose cost grows faster than the size: YAML documents
// over opts.Limits.MaxDocumentBytes, or nested deeper than the depth limit
// allows, are not read (their problems are placed only by their
// messages), and callers that take documents from the network should cap
// YAML documents further, as the HTTP API does.
func LocateErrors(data []byte, opts *Options, errs weft.ValidationErrors) []Position {
	lim, format := opts.settings(data)
	data = trimBOM(data)
	lines := newLineIndex(data, format == FormatYAML)
	out := make([]Position, len(errs))
	var pending []int // problems placed by their path
	for i, e := range errs {
		if p, ok := messagePosition(e, format); ok {
			out[i] = lines.fromByteColumn(data, p, format == FormatYAML && e.Code == weft.VSyntax)
			continue
		}
		pending = append(pending, i)
	}
	if len(pending) == 0 || int64(len(data)) > lim.MaxDocumentBytes {
		return out
	}
	if format == FormatYAML {
		l := newYAMLLocator(data, lim)
		if l == nil {
			return out
		}
		for _, i := range pending {
			segs, _ := parsePath(errs[i].Path)
			out[i] = l.locate(segs, errs[i].Code == weft.VDuplicateKey)
		}
		return out
	}
	root := &pathTrie{at: -1, dup: -1}
	ends := make([][]*pathTrie, len(pending))
	for k, i := range pending {
		segs, _ := parsePath(errs[i].Path)
		ends[k] = root.add(segs)
	}
	walkJSON(data, root)
	for k, i := range pending {
		chain := ends[k]
		off := -1
		if last := chain[len(chain)-1]; errs[i].Code == weft.VDuplicateKey && last.dup >= 0 {
			off = last.dup
		} else {
			for j := len(chain) - 1; j >= 0 && off < 0; j-- {
				off = chain[j].at
			}
		}
		if off >= 0 {
			out[i] = lines.position(data, off)
		}
	}
	return out
}

// messagePosition returns the line and column a problem's message gives:
// "line L, column C: …" at the start of a syntax error's, "(line L,
// column C)" at the end of a YAML document refused as too deep. The
// column is in bytes, except in the messages of the YAML parser (syntax
// errors of YAML), where it is in characters.
func messagePosition(e weft.ValidationError, format Format) (Position, bool) {
	msg := e.Message
	switch {
	case e.Code == weft.VSyntax && strings.HasPrefix(msg, "line "):
	case e.Code == weft.VTooDeep && format == FormatYAML && e.Path == rootPath && strings.HasSuffix(msg, ")"):
		i := strings.LastIndex(msg, "(line ")
		if i < 0 {
			return Position{}, false
		}
		msg = msg[i+1:]
	default:
		return Position{}, false
	}
	var p Position
	rest, ok := cutNumber(strings.TrimPrefix(msg, "line "), &p.Line)
	if !ok || !strings.HasPrefix(rest, ", column ") {
		return Position{}, false
	}
	if _, ok := cutNumber(strings.TrimPrefix(rest, ", column "), &p.Column); !ok || p.Line < 1 || p.Column < 1 {
		return Position{}, false
	}
	return p, true
}

// cutNumber reads the decimal number that starts s into n and returns the
// rest of s.
func cutNumber(s string, n *int) (string, bool) {
	i := 0
	for i < len(s) && i < 10 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	v, err := strconv.Atoi(s[:i])
	if err != nil {
		return s, false
	}
	*n = v
	return s[i:], true
}

// lineIndex holds the offsets at which the lines of a document start.
type lineIndex []int

// newLineIndex indexes the lines of data: a line ends at LF, and in YAML
// also at CRLF and a lone CR.
func newLineIndex(data []byte, crBreaks bool) lineIndex {
	idx := lineIndex{0}
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			idx = append(idx, i+1)
		case '\r':
			if crBreaks && (i+1 == len(data) || data[i+1] != '\n') {
				idx = append(idx, i+1)
			}
		}
	}
	return idx
}

// position returns the Position of byte offset off.
func (idx lineIndex) position(data []byte, off int) Position {
	off = min(off, len(data))
	l := sort.Search(len(idx), func(i int) bool { return idx[i] > off }) - 1
	return Position{Line: l + 1, Column: utf8.RuneCount(data[idx[l]:off]) + 1}
}

// fromByteColumn turns a position whose column counts bytes into one that
// counts characters, unless chars says it already does.
func (idx lineIndex) fromByteColumn(data []byte, p Position, chars bool) Position {
	if chars || p.Line > len(idx) {
		return p
	}
	start := idx[p.Line-1]
	end := len(data)
	if p.Line < len(idx) {
		end = idx[p.Line]
	}
	return idx.position(data, min(start+p.Column-1, end))
}

// parsePath reads a path as path.go writes them into its segments. ok is
// false when the path is malformed; segs then holds the segments read
// before the problem.
func parsePath(path string) (segs []segment, ok bool) {
	if !strings.HasPrefix(path, rootPath) {
		return nil, false
	}
	s := path[len(rootPath):]
	for s != "" {
		switch {
		case s[0] == '.':
			n := 1
			for n < len(s) && s[n] != '.' && s[n] != '[' {
				n++
			}
			if n == 1 {
				return segs, false
			}
			segs = append(segs, segment{key: s[1:n], index: -1})
			s = s[n:]
		case strings.HasPrefix(s, `["`):
			q, err := strconv.QuotedPrefix(s[1:])
			if err != nil || !strings.HasPrefix(s[1+len(q):], "]") {
				return segs, false
			}
			key, err := strconv.Unquote(q)
			if err != nil {
				return segs, false
			}
			segs = append(segs, segment{key: key, index: -1})
			s = s[1+len(q)+1:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			i, err := strconv.Atoi(s[1:max(end, 1)])
			if end < 0 || err != nil || i < 0 {
				return segs, false
			}
			segs = append(segs, segment{index: i})
			s = s[end+1:]
		default:
			return segs, false
		}
	}
	return segs, true
}

// pathTrie is the tree of the paths to find in a JSON document, a node a
// segment, with where the walk found each.
type pathTrie struct {
	kids map[segment]*pathTrie
	// at and dup are the offsets of the node's first and second
	// occurrences, -1 when not found.
	at, dup int
}

// add adds a path and returns its nodes, the root first.
func (t *pathTrie) add(segs []segment) []*pathTrie {
	chain := make([]*pathTrie, 0, len(segs)+1)
	chain = append(chain, t)
	for _, sg := range segs {
		if t.kids == nil {
			t.kids = map[segment]*pathTrie{}
		}
		kid := t.kids[sg]
		if kid == nil {
			kid = &pathTrie{at: -1, dup: -1}
			t.kids[sg] = kid
		}
		t = kid
		chain = append(chain, t)
	}
	return chain
}

// found records an occurrence at offset off.
func (t *pathTrie) found(off int) {
	switch {
	case t.at < 0:
		t.at = off
	case t.dup < 0:
		t.dup = off
	}
}

// walkJSON reads a JSON document and records in the trie where its nodes
// are: members at their keys, elements and the document at their values.
// It follows only the paths of the trie and stops at the first syntax
// error, keeping what it found before.
func walkJSON(data []byte, root *pathTrie) {
	w := &jsonWalker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	root.found(w.next())
	if root.kids != nil {
		w.walk(root)
	}
}

// jsonWalker reads a JSON document token by token.
type jsonWalker struct {
	data []byte
	dec  *json.Decoder
}

// next returns the offset at which the next token starts.
func (w *jsonWalker) next() int {
	off := int(w.dec.InputOffset())
	for off < len(w.data) {
		switch w.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// walk reads the value of trie node t, recording its members' and
// elements' places.
func (w *jsonWalker) walk(t *pathTrie) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	open, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	for i := 0; w.dec.More(); i++ {
		at := w.next()
		sg := segment{index: i}
		if open == '{' {
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			sg = segment{key: key, index: -1}
		}
		kid := t.kids[sg]
		if kid != nil {
			kid.found(at)
		}
		if kid == nil || kid.kids == nil {
			err = w.dec.Decode(&skipValue{})
		} else {
			err = w.walk(kid)
		}
		if err != nil {
			return err
		}
	}
	_, err = w.dec.Token() // the closing delimiter
	return err
}

// skipValue reads a JSON value and keeps nothing of it.
type skipValue struct{}

// UnmarshalJSON ignores the value.
func (skipValue) UnmarshalJSON([]byte) error { return nil }
