package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

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
