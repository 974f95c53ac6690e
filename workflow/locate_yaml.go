package workflow

import (
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/weft-dev/weft"
)

// The placing of paths in YAML documents, for LocateErrors: a walk of the
// parser's syntax tree along a path, through anchors, aliases and merge
// keys.

// yamlLocator finds the places of paths in a parsed YAML document.
type yamlLocator struct {
	body ast.Node
	// anchors lists the anchors by name, in document order; built at the
	// first alias met.
	anchors map[string][]*ast.AnchorNode
}

// maxYAMLHops bounds the anchors, tags and aliases followed at one step of
// a path, and the nesting of merge keys searched, against documents made
// to loop.
const maxYAMLHops = 64

// newYAMLLocator parses a YAML document for placing paths, or returns nil
// when it is not worth parsing (not UTF-8, too deep: see LocateErrors) or
// does not parse.
func newYAMLLocator(src []byte, lim weft.Limits) *yamlLocator {
	if !utf8.Valid(src) {
		return nil
	}
	if _, _, deep := yamlNestingExceeds(src, yamlScanDepth(lim.MaxDepth)); deep {
		return nil
	}
	file, err := yamlParse(src)
	if err != nil || file == nil {
		return nil
	}
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, dir := doc.Body.(*ast.DirectiveNode); !dir {
			return &yamlLocator{body: doc.Body}
		}
	}
	return nil
}

// locate returns the place of a path: see LocateErrors. second asks for
// the second occurrence of the last key, for a duplicate key.
func (l *yamlLocator) locate(segs []segment, second bool) (pos Position) {
	defer func() {
		// A safety net for a syntax tree shape this code does not expect
		// (typed nil nodes): the place is then unknown.
		if recover() != nil {
			pos = Position{}
		}
	}()
	n := l.body
	pos = yamlStart(n)
	for k, sg := range segs {
		n = l.resolve(n)
		if sg.index >= 0 {
			seq, ok := n.(*ast.SequenceNode)
			if !ok || seq == nil || sg.index >= len(seq.Values) {
				return pos
			}
			n = seq.Values[sg.index]
			pos = yamlStart(n)
			continue
		}
		mv := l.member(n, sg.key, second && k == len(segs)-1, 0)
		if mv == nil {
			return pos
		}
		pos = yamlStart(mv.Key)
		n = mv.Value
	}
	return pos
}

// resolve returns the node n stands for: itself without its anchor and
// tag, or the node an alias refers to.
func (l *yamlLocator) resolve(n ast.Node) ast.Node {
	for range maxYAMLHops {
		switch p := n.(type) {
		case *ast.AnchorNode:
			n = p.Value
		case *ast.TagNode:
			n = p.Value
		case *ast.MappingKeyNode:
			n = p.Value
		case *ast.AliasNode:
			a := l.anchor(p)
			if a == nil {
				return nil
			}
			n = a.Value
		default:
			return n
		}
	}
	return nil
}

// anchor returns the anchor an alias refers to: the last one of its name
// before it, or nil.
func (l *yamlLocator) anchor(alias *ast.AliasNode) *ast.AnchorNode {
	if l.anchors == nil {
		l.anchors = map[string][]*ast.AnchorNode{}
		ast.Walk(anchorCollector(l.anchors), l.body)
	}
	at := yamlStart(alias)
	var found *ast.AnchorNode
	for _, a := range l.anchors[yamlNodeText(alias.Value)] {
		if p := yamlStart(a); p.Line > at.Line || (p.Line == at.Line && p.Column >= at.Column) {
			break
		}
		found = a
	}
	return found
}

// anchorCollector is an ast.Visitor that lists the anchors by name.
type anchorCollector map[string][]*ast.AnchorNode

// Visit lists n when it is an anchor.
func (c anchorCollector) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a != nil {
		name := yamlNodeText(a.Name)
		c[name] = append(c[name], a)
	}
	return c
}

// member returns the entry of mapping n whose key is key: its first, or
// with second its second when there is one; or the entry merged into n by
// a merge key, the first source that has it winning. It returns nil when
// n has no such member.
func (l *yamlLocator) member(n ast.Node, key string, second bool, depth int) *ast.MappingValueNode {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		if m != nil {
			values = m.Values
		}
	case *ast.MappingValueNode:
		if m != nil {
			values = []*ast.MappingValueNode{m}
		}
	}
	var found *ast.MappingValueNode
	var merges []ast.Node
	for _, mv := range values {
		if mv == nil {
			continue
		}
		if yamlIsMergeKey(mv.Key) {
			merges = append(merges, mv.Value)
			continue
		}
		if text, ok := l.keyText(mv.Key); !ok || text != key {
			continue
		}
		if found == nil {
			found = mv
			if !second {
				return found
			}
		} else {
			return mv
		}
	}
	if found != nil || depth >= maxYAMLHops {
		return found
	}
	for _, src := range merges {
		src = l.resolve(src)
		sources := []ast.Node{src}
		if seq, ok := src.(*ast.SequenceNode); ok && seq != nil {
			sources = sources[:0]
			for _, item := range seq.Values {
				sources = append(sources, l.resolve(item))
			}
		}
		for _, s := range sources {
			if mv := l.member(s, key, false, depth+1); mv != nil {
				return mv
			}
		}
	}
	return nil
}

// keyText returns a mapping key's name as the conversion to JSON makes it:
// the text of a scalar as written. ok is false for a key that is not a
// scalar.
func (l *yamlLocator) keyText(key ast.Node) (string, bool) {
	switch k := l.resolve(key).(type) {
	case nil:
		return "", true
	case *ast.StringNode:
		if k == nil {
			return "", true
		}
		return k.Value, true
	case *ast.LiteralNode:
		if k == nil || k.Value == nil {
			return "", true
		}
		return k.Value.Value, true
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return "", false
	default:
		tk := k.GetToken()
		if tk == nil || tk.Type == token.ImplicitNullType {
			return "", true
		}
		return tk.Value, true
	}
}

// yamlStart returns where node n starts: a block mapping at its first key,
// any other node at its first token (a flow collection at its bracket, a
// node with properties at its anchor or tag).
func yamlStart(n ast.Node) Position {
	for range maxYAMLHops {
		switch p := n.(type) {
		case nil:
			return Position{}
		case *ast.DocumentNode:
			n = p.Body
			continue
		case *ast.MappingValueNode:
			n = p.Key
			continue
		case *ast.MappingNode:
			if !p.IsFlowStyle && len(p.Values) > 0 {
				n = p.Values[0]
				continue
			}
		}
		if tk := n.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			return Position{Line: tk.Position.Line, Column: max(tk.Position.Column, 1)}
		}
		return Position{}
	}
	return Position{}
}
