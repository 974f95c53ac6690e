package workflow

import (
	"math"
	"strconv"
	"strings"

	"github.com/weft-dev/weft"
)

// YAML 1.2 core schema scalars: nulls, booleans, integers, floats and
// strings, and the tags that force them.

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
