package workflow

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/weft-dev/weft"
)

// The conversion of YAML nodes to JSON values: mappings, merge keys,
// anchors and aliases, sequences, with size and depth accounting.

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
