package workflow

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/weft-dev/weft"
)

// scanner is a strict, allocation-light JSON reader that decodes a document
// in one pass. It keeps the JSON path of the value being read as a stack of
// segments and renders it only when it reports a problem, so a million-step
// document costs no path strings.
//
// Problems that leave the input readable (wrong type, unknown field,
// duplicate key, bad value) are recorded and reading goes on, so that one
// pass reports them all. Syntax errors and the depth limit stop the scan:
// the scanner panics with abort, recovered by decode.
type scanner struct {
	data  []byte
	pos   int
	depth int
	lim   weft.Limits
	segs  []segment
	errs  weft.ValidationErrors
	// scratch is reused to unescape strings.
	scratch []byte
}

// segment is one step of a path: a member key or an array index.
type segment struct {
	key   string
	index int // -1 for a key
}

// abort is the panic value that stops a scan after a fatal problem.
type abort struct{}

// maxErrors bounds the problems kept for one document.
const maxErrors = 1000

func (s *scanner) push(key string)    { s.segs = append(s.segs, segment{key: key, index: -1}) }
func (s *scanner) pushIndex(i int)    { s.segs = append(s.segs, segment{index: i}) }
func (s *scanner) pop()               { s.segs = s.segs[:len(s.segs)-1] }
func (s *scanner) setIndex(i int)     { s.segs[len(s.segs)-1].index = i }
func (s *scanner) path() string       { return renderPath(s.segs) }
func (s *scanner) more() bool         { return len(s.errs) < maxErrors }
func (s *scanner) line() (int, int)   { return lineCol(s.data, s.pos) }
func (s *scanner) peekIs(b byte) bool { return s.pos < len(s.data) && s.data[s.pos] == b }

func renderPath(segs []segment) string {
	p := rootPath
	for _, sg := range segs {
		if sg.index >= 0 {
			p = indexPath(p, sg.index)
		} else {
			p = keyPath(p, sg.key)
		}
	}
	return p
}

// lineCol returns the 1-based line and column (in bytes) of offset pos.
func lineCol(data []byte, pos int) (int, int) {
	if pos > len(data) {
		pos = len(data)
	}
	line := 1 + bytes.Count(data[:pos], []byte{'\n'})
	col := pos - bytes.LastIndexByte(data[:pos], '\n')
	return line, col
}

// add records a problem at the current path.
func (s *scanner) add(code, msg, suggestion string) {
	s.addAt(s.path(), code, msg, suggestion)
}

func (s *scanner) addAt(path, code, msg, suggestion string) {
	if !s.more() {
		return
	}
	s.errs = append(s.errs, weft.ValidationError{Path: path, Code: code, Message: msg, Suggestion: suggestion})
	if !s.more() {
		s.errs[len(s.errs)-1] = weft.ValidationError{Path: rootPath, Code: weft.VLimit,
			Message: fmt.Sprintf("too many problems: the first %d are shown", maxErrors-1)}
		panic(abort{})
	}
}

// fail records a syntax error at the current position and stops the scan.
func (s *scanner) fail(format string, args ...any) {
	line, col := s.line()
	s.add(weft.VSyntax, fmt.Sprintf("line %d, column %d: ", line, col)+fmt.Sprintf(format, args...), "")
	panic(abort{})
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// kind returns the JSON type of the next value without consuming it:
// 'o' object, 'a' array, 's' string, 'n' number, 'b' boolean, 'z' null.
// It fails on anything that cannot start a value.
func (s *scanner) kind() byte {
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input, expected a value")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return 'o'
	case c == '[':
		return 'a'
	case c == '"':
		return 's'
	case c == '-' || (c >= '0' && c <= '9'):
		return 'n'
	case c == 't' || c == 'f':
		return 'b'
	case c == 'n':
		return 'z'
	}
	s.fail("%s cannot start a value", quoteChar(s.data[s.pos:]))
	return 0
}

// kindName names a kind for messages: "an object", "a string"…
func kindName(k byte) string {
	switch k {
	case 'o':
		return "an object"
	case 'a':
		return "an array"
	case 's':
		return "a string"
	case 'n':
		return "a number"
	case 'b':
		return "a boolean"
	case 'z':
		return "null"
	}
	return "nothing"
}

func quoteChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", b[0])
	}
	return strconv.QuoteRune(r)
}

func (s *scanner) expect(b byte, what string) {
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input, expected %s", what)
	}
	if s.data[s.pos] != b {
		s.fail("found %s, expected %s", quoteChar(s.data[s.pos:]), what)
	}
	s.pos++
}

func (s *scanner) enter() {
	s.depth++
	if s.depth > s.lim.MaxDepth {
		s.add(weft.VTooDeep, fmt.Sprintf("nesting deeper than %d levels", s.lim.MaxDepth), "flatten the data or raise the depth limit")
		panic(abort{})
	}
}

// objectIter walks the members of an object; see openObject.
type objectIter struct {
	first  bool
	pushed bool
	// names are the object's known member names, if it has a fixed set.
	names []string
	// key is the current member's name; field its index in names, or -1.
	key   string
	field int
}

// openObject consumes '{'. Then each call to s.member(&it) positions the
// scanner at the next member's value, with it.key set and pushed on the
// path, until it returns false at '}'. The caller must consume each value.
// When names is not nil, a key found in it sets it.field to its index and
// shares its string (no allocation); otherwise it.field is -1.
// Duplicate-key detection is the caller's business.
func (s *scanner) openObject(names []string) objectIter {
	s.expect('{', "'{'")
	s.enter()
	return objectIter{first: true, names: names}
}

func (s *scanner) member(it *objectIter) bool {
	if it.pushed {
		// The next key is not read yet: problems belong to the object.
		s.pop()
		it.pushed = false
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input inside an object, expected '}'")
	}
	c := s.data[s.pos]
	if c == '}' {
		s.pos++
		s.depth--
		return false
	}
	if !it.first {
		if c != ',' {
			s.fail("found %s, expected ',' or '}'", quoteChar(s.data[s.pos:]))
		}
		s.pos++
		s.skipSpace()
	}
	it.first = false
	if !s.peekIs('"') {
		if s.pos >= len(s.data) {
			s.fail("unexpected end of input inside an object")
		}
		s.fail("found %s, expected a quoted member name", quoteChar(s.data[s.pos:]))
	}
	b := s.strBytes()
	it.field = -1
	for i, n := range it.names {
		if n == string(b) {
			it.key, it.field = n, i
			break
		}
	}
	if it.field < 0 {
		it.key = string(b)
	}
	s.push(it.key)
	it.pushed = true
	s.expect(':', "':' after a member name")
	return true
}

// arrayIter walks the elements of an array; see openArray.
type arrayIter struct {
	index int
}

// openArray consumes '['. Then each call to s.element(&it) positions the
// scanner at the next element, with its index pushed on the path, until it
// returns false at ']'. The caller must consume each element.
func (s *scanner) openArray() arrayIter {
	s.expect('[', "'['")
	s.enter()
	return arrayIter{index: -1}
}

func (s *scanner) element(it *arrayIter) bool {
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input inside an array, expected ']'")
	}
	c := s.data[s.pos]
	if c == ']' {
		s.pos++
		s.depth--
		if it.index >= 0 {
			s.pop()
		}
		return false
	}
	if it.index >= 0 {
		if c != ',' {
			s.fail("found %s, expected ',' or ']'", quoteChar(s.data[s.pos:]))
		}
		s.pos++
		it.index++
		s.setIndex(it.index)
		return true
	}
	it.index = 0
	s.pushIndex(0)
	return true
}

// str reads a string value. Invalid UTF-8 is recorded and replaced.
func (s *scanner) str() string { return string(s.strBytes()) }

// strBytes reads a string value and returns its unescaped bytes, valid
// until the next read. Invalid UTF-8 is recorded and replaced.
func (s *scanner) strBytes() []byte {
	s.expect('"', "'\"'")
	start := s.pos
	// Fast path: no escapes, all ASCII.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			s.pos++
			return s.data[start : s.pos-1]
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		s.pos++
	}
	buf := append(s.scratch[:0], s.data[start:s.pos]...)
	for {
		if s.pos >= len(s.data) {
			s.fail("unexpected end of input inside a string")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			s.scratch = buf
			return buf
		case c < 0x20:
			s.fail("control character %s inside a string: escape it", quoteChar(s.data[s.pos:]))
		case c == '\\':
			buf = s.escape(buf)
		case c < 0x80:
			buf = append(buf, c)
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				s.add(weft.VInvalidUTF8, fmt.Sprintf("invalid UTF-8 byte 0x%02x at offset %d", c, s.pos), "save the document as UTF-8")
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, s.data[s.pos:s.pos+size]...)
			}
			s.pos += size
		}
	}
}

func (s *scanner) escape(buf []byte) []byte {
	if s.pos+1 >= len(s.data) {
		s.fail("unexpected end of input in an escape sequence")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(buf, c)
	case 'b':
		return append(buf, '\b')
	case 'f':
		return append(buf, '\f')
	case 'n':
		return append(buf, '\n')
	case 'r':
		return append(buf, '\r')
	case 't':
		return append(buf, '\t')
	case 'u':
		r := s.hex4()
		if utf16.IsSurrogate(r) {
			r2 := rune(-1)
			if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
				s.pos += 2
				r2 = s.hex4()
			}
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return utf8.AppendRune(buf, d)
			}
			buf = utf8.AppendRune(buf, utf8.RuneError)
			if r2 >= 0 && !utf16.IsSurrogate(r2) {
				buf = utf8.AppendRune(buf, r2)
			}
			return buf
		}
		return utf8.AppendRune(buf, r)
	}
	s.pos -= 2
	s.fail("invalid escape sequence \\%c", c)
	return buf
}

func (s *scanner) hex4() rune {
	if s.pos+4 > len(s.data) {
		s.fail("unexpected end of input in a \\u escape")
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			s.fail("invalid \\u escape: expected 4 hex digits")
		}
	}
	s.pos += 4
	return r
}

// number reads a number and returns its literal text.
func (s *scanner) number() []byte {
	s.skipSpace()
	start := s.pos
	d := s.data
	if s.pos < len(d) && d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && d[s.pos] >= '1' && d[s.pos] <= '9':
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	default:
		s.fail("invalid number: expected a digit")
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if s.pos >= len(d) || d[s.pos] < '0' || d[s.pos] > '9' {
			s.fail("invalid number: expected a digit after '.'")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if s.pos >= len(d) || d[s.pos] < '0' || d[s.pos] > '9' {
			s.fail("invalid number: expected a digit in the exponent")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	return d[start:s.pos]
}

func (s *scanner) literal(word string) {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		s.fail("invalid literal: expected %q", word)
	}
	s.pos += len(word)
}

// boolean reads true or false.
func (s *scanner) boolean() bool {
	s.skipSpace()
	if s.peekIs('t') {
		s.literal("true")
		return true
	}
	s.literal("false")
	return false
}

// null reads null.
func (s *scanner) null() {
	s.skipSpace()
	s.literal("null")
}

// skip reads and discards any value, checking its syntax, duplicate keys
// and UTF-8.
func (s *scanner) skip() {
	switch s.kind() {
	case 'o':
		var seen keySet
		for it := s.openObject(nil); s.member(&it); {
			if seen.add(it.key) {
				s.add(weft.VDuplicateKey, fmt.Sprintf("duplicate key %q", it.key), "remove one of them")
			}
			s.skip()
		}
	case 'a':
		for it := s.openArray(); s.element(&it); {
			s.skip()
		}
	case 's':
		s.str()
	case 'n':
		s.number()
	case 'b':
		s.boolean()
	case 'z':
		s.null()
	}
}

// raw reads any value as skip does and returns a copy of its JSON text.
func (s *scanner) raw() []byte {
	s.skipSpace()
	start := s.pos
	s.skip()
	return bytes.Clone(s.data[start:s.pos])
}

// mismatch records that the value found is not of the expected type and
// skips it. expected reads like "a string".
func (s *scanner) mismatch(expected string, found byte, suggestion string) {
	s.add(weft.VType, "expected "+expected+", found "+kindName(found), suggestion)
	s.skip()
}

// keySet detects duplicate keys: a slice for small objects, a map beyond.
type keySet struct {
	small []string
	big   map[string]struct{}
}

// add adds key and reports whether it was already there.
func (k *keySet) add(key string) bool {
	if k.big != nil {
		if _, ok := k.big[key]; ok {
			return true
		}
		k.big[key] = struct{}{}
		return false
	}
	for _, s := range k.small {
		if s == key {
			return true
		}
	}
	k.small = append(k.small, key)
	if len(k.small) > 16 {
		k.big = make(map[string]struct{}, 32)
		for _, s := range k.small {
			k.big[s] = struct{}{}
		}
		k.small = nil
	}
	return false
}
