package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/weft-dev/weft"
)

// YAML documents are converted to JSON text and then go through the same
// strict decoder as JSON documents. The conversion follows the YAML 1.2 core
// schema, whatever github.com/goccy/go-yaml's own (partly YAML 1.1) scalar
// resolution says:
//
//   - null, Null, NULL, ~ and an empty value are null;
//   - true, True, TRUE, false, False, FALSE are booleans, and nothing else
//     (yes, no, on, off, y, n are strings);
//   - [-+]?[0-9]+ is a decimal integer (0755 is 755, not octal 493), 0o17 is
//     octal and 0x1F hexadecimal; 0b101, 1_000 and -0x1F are strings;
//   - [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? is a float, so 1e5
//     is a number; .inf and .nan are errors, as JSON has no such numbers;
//   - everything else, timestamps included, is a string, as written.
//
// Mapping keys must be scalars and become their text as written ("007" stays
// "007", a null key ~ is "~"). Anchors and aliases are expanded; merge keys
// (<<) follow the YAML merge-key convention: explicit keys win over merged
// ones, earlier merge sources over later ones, and merged keys take the place
// of the << entry. The tags !!str, !!int, !!float, !!bool, !!null, !!map,
// !!seq (also written !<tag:yaml.org,2002:…>) and the non-specific ! are
// honoured; any other tag is an error, and so is a %TAG directive.
//
// github.com/goccy/go-yaml's parser is quadratic in nesting depth, so a
// cheap scan (yamlNestingExceeds) refuses absurdly deep documents before
// parsing; the conversion itself then checks depth exactly, reporting the
// JSON path where the limit is passed.

// yamlToJSON converts a YAML document to the equivalent JSON text, so that YAML workflows go
// through the same strict JSON decoder as JSON ones. It reports problems as weft.ValidationErrors
// with JSON paths (use keyPath/indexPath/rootPath from path.go).
//
// lim must have had WithDefaults applied. The JSON text is compact, keeps
// the key order of the YAML mappings and is never longer than
// lim.MaxDocumentBytes; nesting deeper than lim.MaxDepth is refused. Every
// problem found is reported, except that a syntax error or an exceeded limit
// ends the conversion. The JSON text is nil whenever there are problems.
func yamlToJSON(src []byte, lim weft.Limits) ([]byte, weft.ValidationErrors) {
	if !utf8.Valid(src) {
		return nil, weft.ValidationErrors{{
			Path:    rootPath,
			Code:    weft.VInvalidUTF8,
			Message: fmt.Sprintf("the document is not valid UTF-8 (invalid byte at offset %d)", yamlInvalidUTF8Offset(src)),
		}}
	}
	if int64(len(src)) > lim.MaxDocumentBytes {
		return nil, weft.ValidationErrors{{
			Path:    rootPath,
			Code:    weft.VLimit,
			Message: fmt.Sprintf("the document is %d bytes, more than the limit of %d", len(src), lim.MaxDocumentBytes),
		}}
	}
	// A byte order mark may start a YAML stream; goccy would make it part of
	// the first key.
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	if line, col, deep := yamlNestingExceeds(src, yamlScanDepth(lim.MaxDepth)); deep {
		return nil, weft.ValidationErrors{{
			Path:    rootPath,
			Code:    weft.VTooDeep,
			Message: fmt.Sprintf("nesting deeper than %d levels (line %d, column %d)", lim.MaxDepth, line, col),
		}}
	}
	file, err := yamlParse(src)
	if err != nil {
		return nil, weft.ValidationErrors{{Path: rootPath, Code: weft.VSyntax, Message: yamlErrorMessage(err)}}
	}
	return yamlConvertFile(file, lim)
}

// yamlScanDepth is the depth beyond which yamlNestingExceeds refuses a
// document before parsing it: twice the limit, so that a document only a
// little too deep reaches the exact check, which reports a JSON path.
func yamlScanDepth(maxDepth int) int {
	if maxDepth > math.MaxInt/4 {
		return math.MaxInt / 2
	}
	return 2 * maxDepth
}

// yamlInvalidUTF8Offset returns the offset of the first byte of src that does not
// start a valid UTF-8 sequence, or len(src).
func yamlInvalidUTF8Offset(src []byte) int {
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(src)
}

// yamlParse parses src with goccy's parser, turning a panic inside the
// parser into an error. Duplicate keys are allowed here: the conversion
// reports them with their JSON path.
func yamlParse(src []byte) (file *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			file, err = nil, fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	return parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
}

// yamlErrorMessage turns a parser error into one line, "line L, column C:
// message", without the colours and source excerpt of goccy's Error().
func yamlErrorMessage(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := yamlOneLine(ye.GetMessage())
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Sprintf("line %d, column %d: %s", tk.Position.Line, tk.Position.Column, msg)
		}
		return msg
	}
	msg := yamlStripANSI(err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return yamlOneLine(msg)
}

// yamlOneLine replaces line breaks and tabs in s with spaces and trims it.
func yamlOneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s))
}

// yamlClip shortens a text quoted in a message to at most 64 bytes.
func yamlClip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// yamlStripANSI removes ANSI escape sequences (ESC [ … letter) from s.
func yamlStripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		}
	}
	return b.String()
}

// yamlConvertFile converts the one document of a parsed YAML stream.
func yamlConvertFile(file *ast.File, lim weft.Limits) (out []byte, errs weft.ValidationErrors) {
	defer func() {
		// A safety net for an AST shape this code does not expect; the fuzz
		// test fails on this message.
		if r := recover(); r != nil {
			out, errs = nil, weft.ValidationErrors{{
				Path:    rootPath,
				Code:    weft.VSyntax,
				Message: fmt.Sprintf("internal error converting YAML: %v", r),
			}}
		}
	}()
	var docs []*ast.DocumentNode
	for _, doc := range file.Docs {
		if doc == nil {
			continue
		}
		// goccy returns the directives before a document as a document of
		// their own.
		if dir, ok := doc.Body.(*ast.DirectiveNode); ok {
			if name := yamlDirectiveName(dir); name != "YAML" {
				return nil, weft.ValidationErrors{{
					Path:    rootPath,
					Code:    weft.VSyntax,
					Message: fmt.Sprintf("the %%%s directive is not supported", yamlClip(yamlOneLine(name))),
				}}
			}
			continue
		}
		docs = append(docs, doc)
	}
	if len(docs) > 1 {
		return nil, weft.ValidationErrors{{
			Path:    rootPath,
			Code:    weft.VSyntax,
			Message: fmt.Sprintf("expected one YAML document, found %d", len(docs)),
		}}
	}
	if len(docs) == 0 || docs[0].Body == nil {
		return nil, weft.ValidationErrors{{Path: rootPath, Code: weft.VType, Message: "expected an object, found nothing"}}
	}
	c := &yamlConverter{
		maxDepth: lim.MaxDepth,
		maxBytes: lim.MaxDocumentBytes,
		anchors:  map[string]*yamlAnchor{},
	}
	root := c.convert(docs[0].Body, rootPath, 0)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	if root.size > c.maxBytes {
		c.limitExceeded()
		return nil, c.errs
	}
	out = make([]byte, 0, root.size)
	return yamlAppendValue(out, root), nil
}

// yamlDirectiveName returns the name of a directive (YAML, TAG, …).
func yamlDirectiveName(dir *ast.DirectiveNode) string {
	if s, ok := dir.Name.(*ast.StringNode); ok && s != nil {
		return s.Value
	}
	return "?"
}

// yamlKind is the JSON type of a converted value.
type yamlKind uint8

// The JSON types.
const (
	yamlNull yamlKind = iota
	yamlBool
	yamlNumber
	yamlString
	yamlObject
	yamlArray
)

// yamlValue is a converted YAML node: a JSON value. Aliases share the value
// of their anchor, so a document is converted to a graph no larger than the
// YAML source even when its aliases expand exponentially; size and height
// say how large it is once expanded.
type yamlValue struct {
	kind yamlKind
	// text is the JSON literal of a null, boolean or number, and the
	// (unescaped) content of a string.
	text string
	// keyText is the text of a scalar as written, its name as a mapping key.
	keyText string
	// keys are the member names of an object, in order.
	keys []string
	// elems are the member values of an object (parallel to keys) or the
	// elements of an array.
	elems []*yamlValue
	// size is the length in bytes of the value's JSON text.
	size int64
	// height is 0 for a scalar, 1 + the greatest height of its elements for
	// an object or an array.
	height int
}

// yamlAnchor is an anchor seen so far. value is nil while the anchored node
// is being converted (an alias to it then is recursive).
type yamlAnchor struct {
	value *yamlValue
}

// yamlConverter turns goccy's AST into yamlValues, collecting problems.
type yamlConverter struct {
	maxDepth int
	maxBytes int64
	// emitted counts the bytes of JSON text that the values converted so
	// far will take in the output, to stop as soon as aliases expand beyond
	// maxBytes.
	emitted int64
	// expanded records that an alias or a merge key was expanded.
	expanded bool
	// stopped is set once a limit was exceeded: conversion ends.
	stopped bool
	anchors map[string]*yamlAnchor
	errs    weft.ValidationErrors
}

// fail records a problem.
func (c *yamlConverter) fail(path, code, format string, args ...any) {
	c.errs = append(c.errs, weft.ValidationError{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

// add accounts for n more bytes of JSON text, stopping the conversion when
// the total passes the limit.
func (c *yamlConverter) add(n int64) {
	c.emitted += n
	if c.emitted > c.maxBytes && !c.stopped {
		c.limitExceeded()
	}
}

// limitExceeded reports that the JSON text would be too long and stops.
func (c *yamlConverter) limitExceeded() {
	if c.expanded {
		c.fail(rootPath, weft.VLimit, "YAML aliases expand beyond %d bytes of JSON", c.maxBytes)
	} else {
		c.fail(rootPath, weft.VLimit, "the document is more than %d bytes once converted to JSON", c.maxBytes)
	}
	c.stopped = true
}

// tooDeep reports that v, found at path inside depth containers, nests
// deeper than the limit, at the path of its first container beyond it, and
// stops. v may be nil for a container not yet converted at path.
func (c *yamlConverter) tooDeep(path string, v *yamlValue, depth int) {
	level := depth + 1
	for v != nil && level <= c.maxDepth {
		next := -1
		for i, e := range v.elems {
			if e.height == v.height-1 {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		if v.kind == yamlObject {
			path = keyPath(path, v.keys[next])
		} else {
			path = indexPath(path, next)
		}
		v = v.elems[next]
		level++
	}
	c.fail(path, weft.VTooDeep, "nesting deeper than %d levels", c.maxDepth)
	c.stopped = true
}

// yamlNullValue is the placeholder for a value that could not be converted.
func yamlNullValue() *yamlValue {
	return &yamlValue{kind: yamlNull, text: "null", keyText: "null", size: 4}
}

// yamlScalarValue returns a scalar value with its JSON size.
func yamlScalarValue(kind yamlKind, text, keyText string) *yamlValue {
	v := &yamlValue{kind: kind, text: text, keyText: keyText}
	if kind == yamlString {
		v.size = int64(yamlJSONStringLen(text))
	} else {
		v.size = int64(len(text))
	}
	return v
}

// convert converts node n, found at path inside depth containers.
func (c *yamlConverter) convert(n ast.Node, path string, depth int) *yamlValue {
	if c.stopped {
		return yamlNullValue()
	}
	// Peel the node's properties: anchors and a tag, in either order.
	var anchors []string
	tag := ""
	for {
		switch p := n.(type) {
		case *ast.AnchorNode:
			if p == nil {
				n = nil
				continue
			}
			anchors = append(anchors, yamlNodeText(p.Name))
			n = p.Value
			continue
		case *ast.TagNode:
			if p == nil {
				n = nil
				continue
			}
			if tag != "" {
				c.fail(path, weft.VSyntax, "a node cannot have two tags")
			}
			if p.Start != nil {
				tag = p.Start.Value
			}
			n = p.Value
			continue
		}
		break
	}
	entries := make([]*yamlAnchor, len(anchors))
	for i, name := range anchors {
		entries[i] = &yamlAnchor{}
		c.anchors[name] = entries[i]
	}
	v := c.convertNode(n, tag, path, depth)
	for _, e := range entries {
		e.value = v
	}
	return v
}

// yamlNodeText returns the text of a scalar node such as an anchor or alias
// name.
func yamlNodeText(n ast.Node) string {
	switch s := n.(type) {
	case *ast.StringNode:
		if s != nil {
			return s.Value
		}
	case nil:
	default:
		if tk := n.GetToken(); tk != nil {
			return tk.Value
		}
	}
	return ""
}

// convertNode converts a node without properties, applying tag.
func (c *yamlConverter) convertNode(n ast.Node, tag, path string, depth int) *yamlValue {
	switch n := n.(type) {
	case nil:
		return c.scalar("", true, tag, path)
	case *ast.AliasNode:
		if tag != "" {
			c.fail(path, weft.VSyntax, "an alias cannot have a tag")
		}
		return c.alias(n, path, depth)
	case *ast.MappingNode:
		c.collectionTag(tag, "!!map", "a mapping", path)
		if n == nil {
			return c.mapping(nil, path, depth)
		}
		return c.mapping(n.Values, path, depth)
	case *ast.MappingValueNode:
		c.collectionTag(tag, "!!map", "a mapping", path)
		return c.mapping([]*ast.MappingValueNode{n}, path, depth)
	case *ast.SequenceNode:
		c.collectionTag(tag, "!!seq", "a sequence", path)
		return c.sequence(n, path, depth)
	case *ast.LiteralNode:
		text := ""
		if n != nil && n.Value != nil {
			text = n.Value.Value
		}
		return c.scalar(text, false, tag, path)
	case *ast.StringNode:
		if n == nil || n.Token == nil {
			return c.scalar("", true, tag, path)
		}
		plain := n.Token.Type != token.SingleQuoteType && n.Token.Type != token.DoubleQuoteType
		return c.scalar(n.Value, plain, tag, path)
	case *ast.MappingKeyNode:
		if n == nil {
			return c.scalar("", true, tag, path)
		}
		return c.convertNode(n.Value, tag, path, depth)
	case *ast.NullNode, *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode,
		*ast.InfinityNode, *ast.NanNode, *ast.MergeKeyNode:
		text := ""
		if tk := n.GetToken(); tk != nil && tk.Type != token.ImplicitNullType {
			text = tk.Value
		}
		return c.scalar(text, true, tag, path)
	}
	c.fail(path, weft.VSyntax, "unexpected YAML node (%s)", n.Type())
	return yamlNullValue()
}

// collectionTag checks the tag of a mapping or sequence: none, the
// non-specific "!" or want. The collection is converted either way, for the
// problems inside it.
func (c *yamlConverter) collectionTag(tag, want, what, path string) {
	switch yamlNormalizeTag(tag) {
	case "", "!", want:
	case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
		c.fail(path, weft.VType, "the tag %q cannot apply to %s", yamlClip(tag), what)
	default:
		c.fail(path, weft.VType, "unsupported YAML tag %q", yamlClip(tag))
	}
}

// yamlNormalizeTag writes the verbatim form of a core schema tag,
// !<tag:yaml.org,2002:str>, as its short form !!str.
func yamlNormalizeTag(tag string) string {
	const prefix = "!<tag:yaml.org,2002:"
	if strings.HasPrefix(tag, prefix) && strings.HasSuffix(tag, ">") {
		return "!!" + tag[len(prefix):len(tag)-1]
	}
	return tag
}

// alias returns the value of the anchor an alias names, shared.
func (c *yamlConverter) alias(n *ast.AliasNode, path string, depth int) *yamlValue {
	v := c.anchorValue(n, path)
	if v == nil {
		return yamlNullValue()
	}
	c.expanded = true
	if v.height > 0 && depth+v.height > c.maxDepth {
		c.tooDeep(path, v, depth)
		return yamlNullValue()
	}
	c.add(v.size)
	return v
}

// yamlMapEntry is one member of an object being built.
type yamlMapEntry struct {
	key   string
	value *yamlValue
	// merged lists the members merged in by a << entry, in place of it.
	merged  []yamlMapEntry
	isMerge bool
}

// mapping converts the entries of a mapping, found at path inside depth
// containers.
func (c *yamlConverter) mapping(values []*ast.MappingValueNode, path string, depth int) *yamlValue {
	if depth+1 > c.maxDepth {
		c.tooDeep(path, nil, depth)
		return yamlNullValue()
	}
	start := c.emitted
	c.add(2)     // {}
	members := 0 // members accounted for so far
	var entries []yamlMapEntry
	firstLine := map[string]int{} // explicit key -> line of its first occurrence
	mergeLine := 0                // line of the << entry, 0 when none
	for _, mv := range values {
		if c.stopped {
			return yamlNullValue()
		}
		if mv == nil {
			continue
		}
		if yamlIsMergeKey(mv.Key) {
			if mergeLine > 0 {
				c.fail(keyPath(path, "<<"), weft.VDuplicateKey, "duplicate merge key << (first at line %d)", mergeLine)
				c.discard(mv.Value, keyPath(path, "<<"), depth+1)
				continue
			}
			mergeLine = max(yamlNodeLine(mv.Key), 1)
			entries = append(entries, yamlMapEntry{isMerge: true, merged: c.mergeSources(mv.Value, keyPath(path, "<<"), depth)})
			continue
		}
		key, ok := c.mappingKey(mv.Key, path, depth)
		if !ok {
			c.discard(mv.Value, path, depth+1)
			continue
		}
		kp := keyPath(path, key)
		if line, dup := firstLine[key]; dup {
			c.fail(kp, weft.VDuplicateKey, "duplicate key %q (first at line %d)", yamlClip(key), line)
			c.discard(mv.Value, kp, depth+1)
			continue
		}
		firstLine[key] = yamlNodeLine(mv.Key)
		c.add(yamlMemberOverhead(key, members))
		members++
		entries = append(entries, yamlMapEntry{key: key, value: c.convert(mv.Value, kp, depth+1)})
	}
	if c.stopped {
		return yamlNullValue()
	}
	obj := &yamlValue{kind: yamlObject}
	seen := map[string]bool{}
	for _, e := range entries {
		if !e.isMerge {
			obj.keys = append(obj.keys, e.key)
			obj.elems = append(obj.elems, e.value)
			continue
		}
		for _, m := range e.merged {
			if _, explicit := firstLine[m.key]; explicit || seen[m.key] {
				continue
			}
			seen[m.key] = true
			if m.value.height > 0 && depth+1+m.value.height > c.maxDepth {
				c.tooDeep(keyPath(path, m.key), m.value, depth+1)
				return yamlNullValue()
			}
			c.add(yamlMemberOverhead(m.key, members) + m.value.size)
			members++
			if c.stopped {
				return yamlNullValue()
			}
			obj.keys = append(obj.keys, m.key)
			obj.elems = append(obj.elems, m.value)
		}
	}
	obj.size = 2
	for i, e := range obj.elems {
		if i > 0 {
			obj.size++
		}
		obj.size += int64(yamlJSONStringLen(obj.keys[i])) + 1 + e.size
		obj.height = max(obj.height, e.height)
	}
	obj.height++
	c.emitted = start + obj.size
	if c.emitted > c.maxBytes {
		c.limitExceeded()
		return yamlNullValue()
	}
	return obj
}

// yamlMemberOverhead is the length of the JSON text of an object member but its
// value: a comma unless it is the first, the quoted key and a colon.
func yamlMemberOverhead(key string, before int) int64 {
	n := int64(yamlJSONStringLen(key)) + 1
	if before > 0 {
		n++
	}
	return n
}

// discard converts a node that will not be part of the output, for its
// problems.
func (c *yamlConverter) discard(n ast.Node, path string, depth int) {
	saved := c.emitted
	c.convert(n, path, depth)
	if !c.stopped {
		c.emitted = saved
	}
}

// yamlIsMergeKey reports whether a mapping key is the merge key <<.
func yamlIsMergeKey(key ast.MapKeyNode) bool {
	var n ast.Node = key
	if k, ok := n.(*ast.MappingKeyNode); ok && k != nil {
		n = k.Value
	}
	_, ok := n.(*ast.MergeKeyNode)
	return ok
}

// yamlNodeLine returns the line a node starts on, or 0.
func yamlNodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// mappingKey returns the name of a mapping key: the text of a scalar.
func (c *yamlConverter) mappingKey(key ast.MapKeyNode, path string, depth int) (string, bool) {
	var n ast.Node = key
	if k, ok := n.(*ast.MappingKeyNode); ok && k != nil {
		n = k.Value
	}
	var v *yamlValue
	if a, ok := n.(*ast.AliasNode); ok {
		if v = c.anchorValue(a, path); v == nil {
			return "", false
		}
	} else {
		saved := c.emitted
		nerrs := len(c.errs)
		v = c.convert(n, path, depth)
		c.emitted = saved
		if len(c.errs) > nerrs {
			return "", false
		}
	}
	switch v.kind {
	case yamlObject:
		c.fail(path, weft.VType, "a mapping key must be a scalar, found a mapping (line %d)", yamlNodeLine(key))
		return "", false
	case yamlArray:
		c.fail(path, weft.VType, "a mapping key must be a scalar, found a sequence (line %d)", yamlNodeLine(key))
		return "", false
	}
	return v.keyText, true
}

// mergeSources converts the value of a << entry, a mapping or a sequence
// of mappings, and returns the members it merges: earlier sources win. The
// members of the sources end up inside the mapping being built, at depth+1.
func (c *yamlConverter) mergeSources(n ast.Node, path string, depth int) []yamlMapEntry {
	saved := c.emitted
	defer func() {
		if !c.stopped {
			c.emitted = saved
		}
	}()
	c.expanded = true
	var sources []*yamlValue
	var paths []string
	if seq, ok := n.(*ast.SequenceNode); ok && seq != nil {
		for i, item := range seq.Values {
			sources = append(sources, c.mergeSource(item, indexPath(path, i), depth))
			paths = append(paths, indexPath(path, i))
		}
	} else if v := c.mergeSource(n, path, depth); v.kind == yamlArray {
		// An alias to a sequence of mappings.
		for i, item := range v.elems {
			sources = append(sources, item)
			paths = append(paths, indexPath(path, i))
		}
	} else {
		sources = append(sources, v)
		paths = append(paths, path)
	}
	var merged []yamlMapEntry
	seen := map[string]bool{}
	for i, src := range sources {
		if c.stopped {
			return nil
		}
		if src.kind != yamlObject {
			c.fail(paths[i], weft.VType, "a merge key << takes a mapping or a sequence of mappings")
			continue
		}
		for j, k := range src.keys {
			if !seen[k] {
				seen[k] = true
				merged = append(merged, yamlMapEntry{key: k, value: src.elems[j]})
			}
		}
	}
	return merged
}

// mergeSource converts one source of a merge key. An alias is resolved
// without checking its depth here: the members merged are checked where
// they land.
func (c *yamlConverter) mergeSource(n ast.Node, path string, depth int) *yamlValue {
	a, ok := n.(*ast.AliasNode)
	if !ok {
		return c.convert(n, path, depth)
	}
	if v := c.anchorValue(a, path); v != nil {
		return v
	}
	return yamlNullValue()
}

// anchorValue returns the value an alias refers to, or nil after reporting
// an unknown or recursive alias.
func (c *yamlConverter) anchorValue(n *ast.AliasNode, path string) *yamlValue {
	name := ""
	if n != nil {
		name = yamlNodeText(n.Value)
	}
	a, ok := c.anchors[name]
	if !ok {
		c.fail(path, weft.VSyntax, "unknown alias %q", yamlClip(name))
		return nil
	}
	if a.value == nil {
		c.fail(path, weft.VInvalidValue, "alias %q is recursive: it is inside the node it refers to", yamlClip(name))
		return nil
	}
	return a.value
}

// sequence converts a sequence, found at path inside depth containers.
func (c *yamlConverter) sequence(n *ast.SequenceNode, path string, depth int) *yamlValue {
	if depth+1 > c.maxDepth {
		c.tooDeep(path, nil, depth)
		return yamlNullValue()
	}
	start := c.emitted
	c.add(2) // []
	arr := &yamlValue{kind: yamlArray, size: 2}
	if n != nil {
		for i, item := range n.Values {
			if c.stopped {
				return yamlNullValue()
			}
			if i > 0 {
				c.add(1) // a comma
			}
			e := c.convert(item, indexPath(path, i), depth+1)
			arr.elems = append(arr.elems, e)
			if i > 0 {
				arr.size++
			}
			arr.size += e.size
			arr.height = max(arr.height, e.height)
		}
	}
	if c.stopped {
		return yamlNullValue()
	}
	arr.height++
	c.emitted = start + arr.size
	if c.emitted > c.maxBytes {
		c.limitExceeded()
		return yamlNullValue()
	}
	return arr
}

// scalar resolves a scalar with the given text (its content, quotes and
// escapes processed), plain when it was written without quotes or block
// indicator, and tag (possibly "").
func (c *yamlConverter) scalar(text string, plain bool, tag, path string) *yamlValue {
	v := c.resolveScalar(text, plain, tag, path)
	c.add(v.size)
	return v
}

// resolveScalar is scalar without the size accounting.
func (c *yamlConverter) resolveScalar(text string, plain bool, tag, path string) *yamlValue {
	switch yamlNormalizeTag(tag) {
	case "":
		if !plain {
			return yamlScalarValue(yamlString, text, text)
		}
		return c.coreScalar(text, path)
	case "!", "!!str":
		return yamlScalarValue(yamlString, text, text)
	case "!!null":
		if text == "" || yamlIsNull(text) {
			return yamlScalarValue(yamlNull, "null", text)
		}
	case "!!bool":
		if b, ok := yamlCoreBool(text); ok {
			return yamlScalarValue(yamlBool, b, text)
		}
	case "!!int":
		if yamlIsDecimalInt(text) || yamlIsPrefixedInt(text) {
			return c.coreScalar(text, path)
		}
	case "!!float":
		if yamlIsDecimalInt(text) || yamlIsPrefixedInt(text) || yamlIsFloat(text) || yamlIsInf(text) || yamlIsNaN(text) {
			return c.coreScalar(text, path)
		}
	case "!!map", "!!seq":
		c.fail(path, weft.VType, "the tag %q cannot apply to a scalar", yamlClip(tag))
		return yamlNullValue()
	default:
		c.fail(path, weft.VType, "unsupported YAML tag %q", yamlClip(tag))
		return yamlNullValue()
	}
	c.fail(path, weft.VType, "%q is not a valid %s value", yamlClip(text), yamlClip(yamlOneLine(tag)))
	return yamlNullValue()
}

// coreScalar resolves a plain scalar with the YAML 1.2 core schema.
func (c *yamlConverter) coreScalar(text, path string) *yamlValue {
	if text == "" || yamlIsNull(text) {
		return yamlScalarValue(yamlNull, "null", text)
	}
	if b, ok := yamlCoreBool(text); ok {
		return yamlScalarValue(yamlBool, b, text)
	}
	if yamlIsDecimalInt(text) {
		return yamlScalarValue(yamlNumber, yamlNormalizeInt(text), text)
	}
	if yamlIsPrefixedInt(text) {
		base := 16
		if text[1] == 'o' {
			base = 8
		}
		u, err := strconv.ParseUint(text[2:], base, 64)
		if err != nil {
			c.fail(path, weft.VType, "the integer %s does not fit in 64 bits", yamlClip(text))
			return yamlNullValue()
		}
		return yamlScalarValue(yamlNumber, strconv.FormatUint(u, 10), text)
	}
	if yamlIsFloat(text) {
		if f, err := strconv.ParseFloat(text, 64); err == nil || !math.IsInf(f, 0) {
			return yamlScalarValue(yamlNumber, yamlNormalizeFloat(text), text)
		}
		c.fail(path, weft.VType, "the number %s is out of range", yamlClip(text))
		return yamlNullValue()
	}
	if yamlIsInf(text) || yamlIsNaN(text) {
		c.fail(path, weft.VType, "%s is not representable in JSON", yamlClip(text))
		return yamlNullValue()
	}
	return yamlScalarValue(yamlString, text, text)
}

// yamlIsNull reports whether text is a core schema null.
func yamlIsNull(text string) bool {
	switch text {
	case "null", "Null", "NULL", "~":
		return true
	}
	return false
}

// yamlCoreBool returns the JSON literal of a core schema boolean.
func yamlCoreBool(text string) (string, bool) {
	switch text {
	case "true", "True", "TRUE":
		return "true", true
	case "false", "False", "FALSE":
		return "false", true
	}
	return "", false
}

// yamlIsDigits reports whether s is one or more decimal digits.
func yamlIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// yamlIsDecimalInt reports whether text matches [-+]?[0-9]+.
func yamlIsDecimalInt(text string) bool {
	if text != "" && (text[0] == '-' || text[0] == '+') {
		text = text[1:]
	}
	return yamlIsDigits(text)
}

// yamlIsPrefixedInt reports whether text matches 0o[0-7]+ or 0x[0-9a-fA-F]+.
func yamlIsPrefixedInt(text string) bool {
	if len(text) < 3 || text[0] != '0' || (text[1] != 'o' && text[1] != 'x') {
		return false
	}
	for i := 2; i < len(text); i++ {
		b := text[i]
		switch {
		case b >= '0' && b <= '7':
		case text[1] == 'x' && (b >= '8' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'):
		default:
			return false
		}
	}
	return true
}

// yamlSplitFloat splits a core schema float
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? into its sign, integer
// digits, fraction digits (after the dot, hasDot when there is one) and
// exponent (after the e). ok is false when text is not such a float.
func yamlSplitFloat(text string) (neg bool, whole, frac string, hasDot bool, exp string, ok bool) {
	s := text
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	whole, s = s[:i], s[i:]
	if s != "" && s[0] == '.' {
		hasDot = true
		s = s[1:]
		i = 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac, s = s[:i], s[i:]
	}
	if whole == "" && frac == "" {
		return false, "", "", false, "", false
	}
	if s != "" {
		if s[0] != 'e' && s[0] != 'E' {
			return false, "", "", false, "", false
		}
		exp = s[1:]
		digits := exp
		if digits != "" && (digits[0] == '-' || digits[0] == '+') {
			digits = digits[1:]
		}
		if !yamlIsDigits(digits) {
			return false, "", "", false, "", false
		}
	}
	return neg, whole, frac, hasDot, exp, true
}

// yamlIsFloat reports whether text is a core schema float (integers
// included).
func yamlIsFloat(text string) bool {
	_, _, _, _, _, ok := yamlSplitFloat(text)
	return ok
}

// yamlIsInf reports whether text is a core schema infinity.
func yamlIsInf(text string) bool {
	if text != "" && (text[0] == '-' || text[0] == '+') {
		text = text[1:]
	}
	return text == ".inf" || text == ".Inf" || text == ".INF"
}

// yamlIsNaN reports whether text is a core schema not-a-number.
func yamlIsNaN(text string) bool {
	return text == ".nan" || text == ".NaN" || text == ".NAN"
}

// yamlNormalizeInt writes [-+]?[0-9]+ as a JSON number: no plus sign, no
// leading zeros.
func yamlNormalizeInt(text string) string {
	neg := text[0] == '-'
	if text[0] == '-' || text[0] == '+' {
		text = text[1:]
	}
	text = strings.TrimLeft(text, "0")
	if text == "" {
		return "0"
	}
	if neg {
		return "-" + text
	}
	return text
}

// yamlNormalizeFloat writes a core schema float as a JSON number, keeping its
// digits: 1. is 1.0, .5 is 0.5, +01.5e3 is 1.5e3.
func yamlNormalizeFloat(text string) string {
	neg, whole, frac, hasDot, exp, _ := yamlSplitFloat(text)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	b.WriteString(whole)
	if hasDot {
		if frac == "" {
			frac = "0"
		}
		b.WriteByte('.')
		b.WriteString(frac)
	}
	if exp != "" {
		b.WriteByte('e')
		b.WriteString(exp)
	}
	return b.String()
}

// yamlJSONStringLen returns the length of s written as a JSON string by
// yamlAppendJSONString.
func yamlJSONStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t' || b == '\b' || b == '\f':
				n += 2
			case b < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// yamlAppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, U+2028 and U+2029 escaped as encoding/json
// does, invalid UTF-8 replaced by \ufffd, and no HTML escaping.
func yamlAppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// yamlAppendValue appends the JSON text of v. Its recursion is as deep as
// v, which the conversion bounded by the depth limit.
func yamlAppendValue(dst []byte, v *yamlValue) []byte {
	switch v.kind {
	case yamlString:
		return yamlAppendJSONString(dst, v.text)
	case yamlObject:
		dst = append(dst, '{')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = yamlAppendJSONString(dst, v.keys[i])
			dst = append(dst, ':')
			dst = yamlAppendValue(dst, e)
		}
		return append(dst, '}')
	case yamlArray:
		dst = append(dst, '[')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = yamlAppendValue(dst, e)
		}
		return append(dst, ']')
	}
	return append(dst, v.text...)
}

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
