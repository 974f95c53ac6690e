package workflow

import (
	"bytes"
	"strings"
)

// The pre-parse nesting scan of YAML documents.

// yamlNestingExceeds reports whether the nesting of collections in src
// passes limit somewhere, and the line and column (from 1) where it does,
// without parsing src. It counts the block collections open at each line
// (from indentation, "- " and "key:") and the flow collections ([ and {)
// inside them, skipping comments, quoted scalars, block scalars and the
// continuation lines of plain scalars. The count is meant to be a lower
// bound of the real depth, so that a document this refuses is always too
// deep; the conversion checks depth exactly afterwards.
func yamlNestingExceeds(src []byte, limit int) (line, col int, exceeded bool) {
	if bytes.IndexByte(src, '\r') >= 0 {
		// YAML line breaks are LF, CRLF and a lone CR: scan with LF only.
		src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		src = bytes.ReplaceAll(src, []byte("\r"), []byte("\n"))
	}
	s := yamlNestingScanner{src: src, limit: limit, hit: -1}
	s.run()
	if s.hit < 0 {
		return 0, 0, false
	}
	line = 1 + bytes.Count(src[:s.hit], []byte("\n"))
	col = s.hit - (bytes.LastIndexByte(src[:s.hit], '\n') + 1) + 1
	return line, col, true
}

// yamlNestingScanner is the state of yamlNestingExceeds.
type yamlNestingScanner struct {
	src   []byte
	limit int
	// pos is where scanning goes on, at the start of a line.
	pos int
	// lineStart is the offset of the first byte of the line being scanned.
	lineStart int
	// stack holds the block collections open, innermost last.
	stack []yamlBlockLevel
	// hit is the offset where the depth passed the limit, or -1.
	hit int
}

// yamlBlockLevel is an open block collection: the column of its entries and
// whether it is a sequence.
type yamlBlockLevel struct {
	col int
	seq bool
}

// run scans the whole of src, line by line.
func (s *yamlNestingScanner) run() {
	src := s.src
	for s.pos < len(src) && s.hit < 0 {
		s.lineStart = s.pos
		p := s.pos
		for p < len(src) && src[p] == ' ' {
			p++
		}
		indent := p - s.lineStart
		switch {
		case s.blankRest(p) || src[p] == '#':
			s.pos = s.nextLine(p)
			continue
		case indent == 0 && s.docMarker(p):
			s.stack = s.stack[:0]
			if src[p] == '.' {
				s.pos = s.nextLine(p)
				continue
			}
			s.node(p+3, -1)
			continue
		case indent == 0 && src[p] == '%':
			s.pos = s.nextLine(p)
			continue
		}
		for len(s.stack) > 0 && s.stack[len(s.stack)-1].col > indent {
			s.stack = s.stack[:len(s.stack)-1]
		}
		n := -1
		for i := len(s.stack) - 1; i >= 0; i-- {
			if s.stack[i].col < indent {
				n = s.stack[i].col
				break
			}
		}
		s.node(p, n)
	}
}

// node scans the nodes that start at p, on a line whose parent collection
// is indented by n (-1 at the top level), and sets pos to the next line to
// scan.
func (s *yamlNestingScanner) node(p, n int) {
	src := s.src
	nodeCol := -1 // column where the current node, properties included, starts
	for s.hit < 0 {
		for p < len(src) && (src[p] == ' ' || src[p] == '\t') {
			p++
		}
		if p >= len(src) || src[p] == '\n' || src[p] == '\r' {
			s.pos = s.nextLine(p)
			return
		}
		ch := src[p]
		col := p - s.lineStart
		if nodeCol < 0 {
			nodeCol = col
		}
		switch {
		case ch == '#':
			s.pos = s.nextLine(p)
			return
		case (ch == '-' || ch == '?') && s.blankAfter(p):
			s.enter(col, ch == '-', p)
			p++
			n, nodeCol = col, -1
			continue
		case ch == ':' && s.blankAfter(p):
			p++
			n, nodeCol = col, -1
			continue
		case ch == '&' || ch == '!':
			p = s.skipToken(p, false)
			continue
		case ch == '|' || ch == '>':
			s.pos = s.nextLine(p)
			s.skipIndented(n)
			return
		case ch == '*':
			p = s.skipToken(p, false)
		case ch == '[' || ch == '{':
			p = s.flow(p)
		case ch == '\'' || ch == '"':
			p = s.quoted(p)
		default:
			end, key := s.plain(p)
			if key {
				s.enter(nodeCol, false, p)
				p = end
				n, nodeCol = nodeCol, -1
				continue
			}
			s.pos = s.nextLine(end)
			s.skipIndented(n)
			return
		}
		// After an alias, a flow collection or a quoted scalar: a key?
		for p < len(src) && (src[p] == ' ' || src[p] == '\t') {
			p++
		}
		if p < len(src) && src[p] == ':' && s.blankAfter(p) {
			s.enter(nodeCol, false, p)
			p++
			n, nodeCol = nodeCol, -1
			continue
		}
		s.pos = s.nextLine(p)
		return
	}
}

// enter records a block sequence entry (seq) or mapping key at column col,
// found at offset p.
func (s *yamlNestingScanner) enter(col int, seq bool, p int) {
	for len(s.stack) > 0 && s.stack[len(s.stack)-1].col > col {
		s.stack = s.stack[:len(s.stack)-1]
	}
	if k := len(s.stack); k > 0 && s.stack[k-1].col == col {
		top := s.stack[k-1]
		if top.seq == seq {
			return // another entry of the same collection
		}
		if top.seq {
			// A key after a sequence at the same column: the sequence was
			// the value of a key of this mapping.
			s.stack = s.stack[:k-1]
			if k > 1 && s.stack[k-2].col == col {
				return
			}
		}
		// Otherwise a sequence in the value of a key, at the same column.
	}
	s.stack = append(s.stack, yamlBlockLevel{col: col, seq: seq})
	if len(s.stack) > s.limit {
		s.hit = p
	}
}

// flow skips the flow collection starting at p, counting its depth, and
// returns the offset after it.
func (s *yamlNestingScanner) flow(p int) int {
	src := s.src
	base := len(s.stack)
	depth := 0
	atStart := true    // a node may start here
	afterJSON := false // the last node was quoted or a collection: ':' may follow it directly
	for p < len(src) {
		switch ch := src[p]; ch {
		case '[', '{':
			depth++
			if base+depth > s.limit {
				s.hit = p
				return p
			}
			atStart, afterJSON = true, false
		case ']', '}':
			depth--
			if depth <= 0 {
				return p + 1
			}
			atStart, afterJSON = false, true
		case ',':
			atStart, afterJSON = true, false
		case '\n':
			s.lineStart = p + 1
		case ' ', '\t', '\r':
		case '#':
			if p == s.lineStart || src[p-1] == ' ' || src[p-1] == '\t' {
				for p+1 < len(src) && src[p+1] != '\n' {
					p++
				}
			} else {
				atStart, afterJSON = false, false
			}
		case '\'', '"':
			if atStart {
				p = s.quoted(p)
				atStart, afterJSON = false, true
				continue
			}
			afterJSON = false
		case ':':
			next := byte(' ')
			if p+1 < len(src) {
				next = src[p+1]
			}
			if afterJSON || strings.IndexByte(" \t\r\n,[]{}", next) >= 0 {
				atStart, afterJSON = true, false
			} else {
				atStart = false
			}
		case '&', '!', '*':
			if atStart {
				p = s.skipToken(p, true)
				atStart = ch != '*'
				afterJSON = false
				continue
			}
			afterJSON = false
		case '?':
			if !(atStart && s.blankAfter(p)) {
				atStart, afterJSON = false, false
			}
		default:
			atStart, afterJSON = false, false
		}
		p++
	}
	return p
}

// quoted skips the quoted scalar starting at p and returns the offset after
// it.
func (s *yamlNestingScanner) quoted(p int) int {
	src := s.src
	q := src[p]
	for p++; p < len(src); p++ {
		switch src[p] {
		case '\n':
			s.lineStart = p + 1
		case '\\':
			if q == '"' && p+1 < len(src) {
				p++
				if src[p] == '\n' {
					s.lineStart = p + 1
				}
			}
		case q:
			if q == '\'' && p+1 < len(src) && src[p+1] == '\'' {
				p++
				continue
			}
			return p + 1
		}
	}
	return p
}

// plain scans a plain scalar starting at p, to the end of its line. If it
// is a mapping key it returns the offset after its ':' and true, otherwise
// the offset where it ends (a comment or the end of the line).
func (s *yamlNestingScanner) plain(p int) (int, bool) {
	src := s.src
	for i := p; i < len(src); i++ {
		switch src[i] {
		case '\n':
			return i, false
		case ':':
			if s.blankAfter(i) {
				return i + 1, true
			}
		case '#':
			if i > p && (src[i-1] == ' ' || src[i-1] == '\t') {
				return i, false
			}
		}
	}
	return len(src), false
}

// skipToken skips an anchor, alias or tag starting at p and returns the
// offset after it. In flow context it also ends at a flow indicator.
func (s *yamlNestingScanner) skipToken(p int, flow bool) int {
	src := s.src
	if src[p] == '!' && p+1 < len(src) && src[p+1] == '<' {
		for p < len(src) && src[p] != '>' && src[p] != '\n' {
			p++
		}
	}
	for p < len(src) {
		switch src[p] {
		case ' ', '\t', '\r', '\n':
			return p
		case ',', '[', ']', '{', '}':
			if flow {
				return p
			}
		}
		p++
	}
	return p
}

// skipIndented skips, from pos, the lines that belong to a block scalar or
// a multi-line plain scalar whose parent is indented by n: blank lines and
// lines indented by more than n (at the top level, n = -1, every line up to
// a document marker).
func (s *yamlNestingScanner) skipIndented(n int) {
	src := s.src
	for s.pos < len(src) {
		p := s.pos
		for p < len(src) && src[p] == ' ' {
			p++
		}
		indent := p - s.pos
		if !s.blankRest(p) && (indent <= n || indent == 0 && s.docMarker(p)) {
			return
		}
		s.pos = s.nextLine(p)
	}
}

// blankRest reports whether the line holds only spaces and tabs from p.
func (s *yamlNestingScanner) blankRest(p int) bool {
	for ; p < len(s.src); p++ {
		switch s.src[p] {
		case '\n':
			return true
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
	return true
}

// blankAfter reports whether the byte after p is a space, a tab, a line
// break or the end of src.
func (s *yamlNestingScanner) blankAfter(p int) bool {
	if p+1 >= len(s.src) {
		return true
	}
	switch s.src[p+1] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// docMarker reports whether a document marker (--- or ...) starts at p.
func (s *yamlNestingScanner) docMarker(p int) bool {
	src := s.src
	if p+3 > len(src) || !(string(src[p:p+3]) == "---" || string(src[p:p+3]) == "...") {
		return false
	}
	return s.blankAfter(p + 2)
}

// nextLine returns the offset of the line after the one holding p.
func (s *yamlNestingScanner) nextLine(p int) int {
	if p >= len(s.src) {
		return len(s.src)
	}
	if i := bytes.IndexByte(s.src[p:], '\n'); i >= 0 {
		return p + i + 1
	}
	return len(s.src)
}
