package workflow

import (
	"unicode/utf8"

	"github.com/weft-dev/weft/eval"
)

// Writing converted YAML values as JSON text.

// yamlJSONStringLen returns the length of s written as a JSON string by
// eval.AppendJSONString.
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

// yamlAppendValue appends the JSON text of v. Its recursion is as deep as
// v, which the conversion bounded by the depth limit.
func yamlAppendValue(dst []byte, v *yamlValue) []byte {
	switch v.kind {
	case yamlString:
		return eval.AppendJSONString(dst, v.text)
	case yamlObject:
		dst = append(dst, '{')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = eval.AppendJSONString(dst, v.keys[i])
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
