package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/weft-dev/weft"
)

// Template is a JSON value in which any string may hold {{ expression }}
// parts. It is safe for concurrent use.
//
// A string that is exactly one {{ … }} (whitespace around it allowed) is
// replaced by the expression's value, whatever its JSON type: "{{ data.n }}"
// may give 3, an object, an array, true or null. In any other string each
// {{ … }} is replaced by its value as text: a string as it is, null as the
// empty string, numbers and booleans as in JSON, arrays and objects as
// compact JSON. Object keys are not templated. The end of an expression is
// the first "}}" outside its string literals and braces, so
// "{{ {"a": {"b": 1}} }}" is one expression; write a literal "{{" as
// {{ "{{" }}.
type Template struct {
	raw  json.RawMessage
	root *tnode // nil when the template is static
	refs []string
	max  int
}

type tkind uint8

const (
	tRaw    tkind = iota // JSON with no template inside
	tObject              // an object with templates inside
	tArray               // an array with templates inside
	tExpr                // a string that is exactly one {{ }}
	tText                // a string with {{ }} parts and text
)

type tnode struct {
	kind  tkind
	raw   []byte   // tRaw: compact JSON
	keys  [][]byte // tObject: the keys, as JSON strings
	kids  []*tnode // tObject, tArray
	parts []tpart  // tText
	expr  *Expr    // tExpr
	path  string   // where the node is, for errors
}

// tpart is a piece of a tText string: text, or an expression when expr is
// not nil.
type tpart struct {
	text string
	expr *Expr
}

// CompileTemplate compiles a JSON value whose strings may hold {{ }}
// expressions. The problems found come back together, with paths relative
// to the value ("$" is the value itself, e.g. "$.rules[0].value"): code
// syntax for JSON that does not parse, weft.VExpression for expressions
// that do not compile and "{{" with no "}}". An empty raw gives a static
// template that renders as empty.
func CompileTemplate(raw json.RawMessage, opts *Options) (*Template, weft.ValidationErrors) {
	o := opts.withDefaults()
	t := &Template{raw: raw, max: o.MaxResultBytes}
	if len(bytes.TrimSpace(raw)) == 0 {
		return t, nil
	}
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		msg := "invalid JSON"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, weft.ValidationErrors{{Path: "$", Code: weft.VSyntax, Message: msg}}
	}
	if !bytes.Contains(raw, []byte("{{")) && !bytes.Contains(raw, []byte(`\u`)) {
		return t, nil // fast path: no string can hold "{{"
	}
	p := &tparser{src: raw, opts: &o}
	root := p.value("$")
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	if root.kind != tRaw {
		t.root = root
	}
	slices.Sort(p.refs)
	t.refs = slices.Compact(p.refs)
	return t, nil
}

// Static reports whether the template has no {{ }} anywhere: Render then
// returns the raw value as it is.
func (t *Template) Static() bool { return t.root == nil }

// Refs returns the ids of the steps the template's expressions read through
// steps and deps (see Expr.Refs), sorted and without duplicates.
func (t *Template) Refs() []string { return slices.Clone(t.refs) }

// Render evaluates the template's expressions over env and returns the
// resulting JSON: compact, except that a static template is returned as it
// was given. Errors are *weft.Error values with code invalid whose message
// starts with the path of the failing string.
func (t *Template) Render(env map[string]any) (json.RawMessage, error) {
	if t.root == nil {
		return t.raw, nil
	}
	e := encoder{max: t.max}
	if err := t.root.render(&e, env); err != nil {
		return nil, err
	}
	return json.RawMessage(e.buf), nil
}

func (n *tnode) render(e *encoder, env map[string]any) error {
	switch n.kind {
	case tRaw:
		e.buf = append(e.buf, n.raw...)
		return e.check()
	case tObject:
		e.buf = append(e.buf, '{')
		for i, k := range n.keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, k...)
			e.buf = append(e.buf, ':')
			if err := n.kids[i].render(e, env); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return e.check()
	case tArray:
		e.buf = append(e.buf, '[')
		for i, k := range n.kids {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := k.render(e, env); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return e.check()
	case tExpr:
		v, err := n.expr.Eval(env)
		if err != nil {
			return n.fail(n.expr, err)
		}
		if err := e.value(v, 0); err != nil {
			return n.fail(n.expr, err)
		}
		return nil
	case tText:
		text := encoder{max: e.max - len(e.buf)}
		for _, p := range n.parts {
			if p.expr == nil {
				text.buf = append(text.buf, p.text...)
				continue
			}
			v, err := p.expr.Eval(env)
			if err != nil {
				return n.fail(p.expr, err)
			}
			if err := text.text(v); err != nil {
				return n.fail(p.expr, err)
			}
		}
		e.buf = AppendJSONString(e.buf, string(text.buf))
		return e.check()
	}
	return nil
}

// fail reports an error of expression x at the node's path.
func (n *tnode) fail(x *Expr, err error) error {
	return weft.Errorf(weft.CodeInvalid, "%s: {{ %s }}: %s", n.path, shorten(x.src, 60), errMessage(err))
}

// errMessage is the message of err without the wrapping of a *weft.Error.
func errMessage(err error) string {
	if we, ok := err.(*weft.Error); ok && we.Message != "" {
		return we.Message
	}
	return err.Error()
}

// shorten cuts s to at most n runes, marking the cut with "…".
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// tparser parses a valid JSON value into template nodes.
type tparser struct {
	src  []byte
	pos  int
	opts *Options
	errs weft.ValidationErrors
	refs []string
}

func (p *tparser) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value at p.pos (the input is valid JSON).
func (p *tparser) value(path string) *tnode {
	p.ws()
	start := p.pos
	switch p.src[p.pos] {
	case '{':
		return p.object(path, start)
	case '[':
		return p.array(path, start)
	case '"':
		s := p.str()
		if strings.Contains(s, "{{") {
			return p.templated(s, path, start)
		}
		return p.rawNode(start)
	default:
		for p.pos < len(p.src) && strings.IndexByte(",]} \t\r\n", p.src[p.pos]) < 0 {
			p.pos++
		}
		return p.rawNode(start)
	}
}

// rawNode makes a tRaw node of src[start:p.pos].
func (p *tparser) rawNode(start int) *tnode {
	var b bytes.Buffer
	if err := json.Compact(&b, p.src[start:p.pos]); err != nil {
		return &tnode{kind: tRaw, raw: slices.Clone(p.src[start:p.pos])}
	}
	return &tnode{kind: tRaw, raw: b.Bytes()}
}

func (p *tparser) object(path string, start int) *tnode {
	p.pos++ // {
	n := &tnode{kind: tObject, path: path}
	dynamic := false
	for {
		p.ws()
		if p.src[p.pos] == '}' {
			p.pos++
			break
		}
		key := p.str()
		rawKey := AppendJSONString(nil, key)
		p.ws()
		p.pos++ // :
		kid := p.value(keyPath(path, key))
		if kid.kind != tRaw {
			dynamic = true
		}
		n.keys = append(n.keys, rawKey)
		n.kids = append(n.kids, kid)
		p.ws()
		if p.src[p.pos] == ',' {
			p.pos++
		}
	}
	if !dynamic {
		return p.rawNode(start)
	}
	return n
}

func (p *tparser) array(path string, start int) *tnode {
	p.pos++ // [
	n := &tnode{kind: tArray, path: path}
	dynamic := false
	for i := 0; ; i++ {
		p.ws()
		if p.src[p.pos] == ']' {
			p.pos++
			break
		}
		kid := p.value(path + "[" + strconv.Itoa(i) + "]")
		if kid.kind != tRaw {
			dynamic = true
		}
		n.kids = append(n.kids, kid)
		p.ws()
		if p.src[p.pos] == ',' {
			p.pos++
		}
	}
	if !dynamic {
		return p.rawNode(start)
	}
	return n
}

// str reads the JSON string at p.pos and returns its value.
func (p *tparser) str() string {
	start := p.pos
	p.pos++ // "
	escaped := false
	for p.src[p.pos] != '"' {
		if p.src[p.pos] == '\\' {
			escaped = true
			p.pos++
		}
		p.pos++
	}
	p.pos++ // "
	if !escaped {
		return string(p.src[start+1 : p.pos-1])
	}
	var s string
	_ = json.Unmarshal(p.src[start:p.pos], &s)
	return s
}

// templated compiles a string holding "{{".
func (p *tparser) templated(s, path string, start int) *tnode {
	segs, err := splitTemplate(s)
	if err != "" {
		p.errs = append(p.errs, weft.ValidationError{Path: path, Code: weft.VExpression, Message: err})
		return p.rawNode(start)
	}
	compileSeg := func(src string) *Expr {
		x, cerr := compile(src, p.opts)
		if cerr != nil {
			p.errs = append(p.errs, weft.ValidationError{
				Path:    path,
				Code:    weft.VExpression,
				Message: fmt.Sprintf("{{ %s }}: %s", shorten(src, 60), errMessage(cerr)),
			})
			return nil
		}
		p.refs = append(p.refs, x.refs...)
		return x
	}
	if x, ok := single(segs); ok {
		return &tnode{kind: tExpr, expr: compileSeg(x.text), path: path}
	}
	n := &tnode{kind: tText, path: path}
	for _, sg := range segs {
		if !sg.expr {
			n.parts = append(n.parts, tpart{text: sg.text})
			continue
		}
		n.parts = append(n.parts, tpart{expr: compileSeg(sg.text)})
	}
	return n
}

// single returns the expression segment of a string that is exactly one
// {{ }} with only whitespace around it.
func single(segs []segment) (segment, bool) {
	var x segment
	n := 0
	for _, sg := range segs {
		switch {
		case sg.expr:
			x = sg
			n++
		case strings.TrimSpace(sg.text) != "":
			return x, false
		}
	}
	return x, n == 1
}

// segment is a piece of a templated string: text, or an expression's
// source when expr is set.
type segment struct {
	text string
	expr bool
}

// splitTemplate cuts a string into text and {{ expression }} segments. It
// returns a message when a "{{" has no "}}" or holds nothing.
func splitTemplate(s string) ([]segment, string) {
	var segs []segment
	i := 0
	for i < len(s) {
		open := strings.Index(s[i:], "{{")
		if open < 0 {
			segs = append(segs, segment{text: s[i:]})
			break
		}
		open += i
		if open > i {
			segs = append(segs, segment{text: s[i:open]})
		}
		end := exprEnd(s, open+2)
		if end < 0 {
			return nil, fmt.Sprintf(`unterminated "{{" at byte %d: no matching "}}"`, open)
		}
		src := strings.TrimSpace(s[open+2 : end])
		if src == "" {
			return nil, fmt.Sprintf(`empty expression "{{}}" at byte %d`, open)
		}
		segs = append(segs, segment{text: src, expr: true})
		i = end + 2
	}
	return segs, ""
}

// exprEnd returns the index of the "}}" closing an expression that starts
// at i, skipping string literals and balanced braces, or -1.
func exprEnd(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '"', '\'':
			i++
			for i < len(s) && s[i] != c {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		case '`':
			i++
			for i < len(s) && s[i] != '`' {
				i++
			}
		case '{':
			depth++
		case '}':
			if depth == 0 {
				if i+1 < len(s) && s[i+1] == '}' {
					return i
				}
			} else {
				depth--
			}
		}
		i++
	}
	return -1
}

// keyPath returns the path of member key inside the value at parent, in
// the style of the workflow package: ".key" for keys of [A-Za-z0-9_-],
// `["key"]` otherwise.
func keyPath(parent, key string) string {
	if key != "" && strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}
