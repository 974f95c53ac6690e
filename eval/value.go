package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/weft-dev/weft"
)

// The value model. Expressions see JSON values as plain Go values:
// map[string]any for objects, []any for arrays, string, bool, nil, and
// numbers as int when they are integral (integer literals within the int64
// range; other literals when their value is integral and within ±2^53,
// where float64 is exact) or float64 otherwise. So "2", "2.0" and "2e0" all
// become int 2, and `{{ data.n + 1 }}` gives 3, not 3.0. Integers beyond the
// int64 range become float64 and lose precision. When values go back to
// JSON, an integral float64 is written without a fraction (2.0 is written
// 2), -0 is written 0, and NaN and infinities are errors.

// maxExactInt is 2^53: every integer of smaller magnitude is exact in float64.
const maxExactInt = 1 << 53

// maxEncodeDepth bounds the nesting of values written as JSON, as
// encoding/json bounds the nesting of values it reads.
const maxEncodeDepth = 10000

// DefaultMaxResultBytes is the default bound on the JSON size of a rendered
// template or of a value written by FromValue: as large as a workflow
// document may be.
const DefaultMaxResultBytes = weft.DefaultMaxDocumentBytes

// ToValue decodes one JSON value into the value model: objects become
// map[string]any, arrays []any, integral numbers int, other numbers float64.
// An empty raw gives nil. Errors carry code invalid.
func ToValue(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "decode JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, weft.Errorf(weft.CodeInvalid, "decode JSON: unexpected data after the value")
	}
	return fixNumbers(v)
}

// fixNumbers replaces the json.Number values of a freshly decoded value, in
// place.
func fixNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return numberValue(string(x))
	case map[string]any:
		for k, e := range x {
			n, err := fixNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := fixNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// numberValue converts a JSON number literal by the number rule.
func numberValue(s string) (any, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return int(n), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "number %s is out of range", s)
	}
	return floatValue(f), nil
}

// floatValue returns f as an int when it is integral and exact.
func floatValue(f float64) any {
	if f == math.Trunc(f) && f >= -maxExactInt && f <= maxExactInt {
		return int(f)
	}
	return f
}

// Normalize converts a value produced by an expression into the value model
// (see ToValue): []string becomes []any, int64 becomes int, an integral
// float64 becomes int, time.Time its RFC 3339 string, time.Duration its
// string ("1h30m0s"), and so on. Values already in the model are returned
// as they are (not copied). NaN and infinities are errors with code
// invalid, as are values with no JSON form (functions, channels).
func Normalize(v any) (any, error) {
	out, _, err := normalize(v, 0)
	return out, err
}

// normalize returns the normalized value and whether it differs from v.
func normalize(v any, depth int) (any, bool, error) {
	if depth > maxEncodeDepth {
		return nil, false, weft.Errorf(weft.CodeInvalid, "value nested more than %d levels deep", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil, string, bool, int:
		return v, false, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false, weft.Errorf(weft.CodeInvalid, "%v is not a JSON number", x)
		}
		n := floatValue(x)
		_, changed := n.(int)
		return n, changed, nil
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			ne, changed, err := normalize(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = ne
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case []any:
		var out []any
		for i, e := range x {
			ne, changed, err := normalize(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = slices.Clone(x)
			}
			if out != nil {
				out[i] = ne
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case json.Number:
		n, err := numberValue(string(x))
		return n, true, err
	case json.RawMessage:
		nv, err := ToValue(x)
		return nv, true, err
	case time.Time:
		return x.Format(time.RFC3339Nano), true, nil
	case time.Duration:
		return x.String(), true, nil
	case []byte:
		return string(x), true, nil
	}
	return normalizeReflect(reflect.ValueOf(v), depth)
}

func normalizeReflect(rv reflect.Value, depth int) (any, bool, error) {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return float64(u), true, nil
		}
		return int(u), true, nil
	case reflect.Float32, reflect.Float64:
		v, _, err := normalize(rv.Float(), depth)
		return v, true, err
	case reflect.String:
		return rv.String(), true, nil
	case reflect.Bool:
		return rv.Bool(), true, nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, true, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, _, err := normalize(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, false, err
			}
			out[i] = e
		}
		return out, true, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, false, weft.Errorf(weft.CodeInvalid, "a map with %s keys has no JSON form", rv.Type().Key())
		}
		if rv.IsNil() {
			return nil, true, nil
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			e, _, err := normalize(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, false, err
			}
			out[it.Key().String()] = e
		}
		return out, true, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, true, nil
		}
		v, _, err := normalize(rv.Elem().Interface(), depth+1)
		return v, true, err
	case reflect.Struct:
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return nil, false, weft.Errorf(weft.CodeInvalid, "a %s has no JSON form: %v", rv.Type(), err)
		}
		v, err := ToValue(b)
		return v, true, err
	}
	if !rv.IsValid() {
		return nil, true, nil
	}
	return nil, false, weft.Errorf(weft.CodeInvalid, "a %s has no JSON form", rv.Type())
}

// FromValue writes v as compact JSON: object keys sorted, no HTML escaping,
// integral numbers without a fraction. NaN, infinities and values with no
// JSON form are errors with code invalid, and so is a result larger than
// DefaultMaxResultBytes (values built by expressions may share parts, so
// that their JSON is far larger than their memory).
func FromValue(v any) (json.RawMessage, error) {
	e := encoder{max: DefaultMaxResultBytes}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return json.RawMessage(e.buf), nil
}

// Stringify returns the text a {{ }} part inside a longer string is replaced
// with: a string as it is, nil as the empty string, numbers and booleans as
// in JSON, arrays and objects as compact JSON.
func Stringify(v any) (string, error) {
	e := encoder{max: DefaultMaxResultBytes}
	if err := e.text(v); err != nil {
		return "", err
	}
	return string(e.buf), nil
}

// errTooLarge is the error of an encoder that reached its size bound.
type errTooLarge struct{ max int }

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("the result is larger than %d bytes", e.max)
}

// encoder writes values as JSON into buf, failing once buf would exceed max
// bytes.
type encoder struct {
	buf []byte
	max int
}

func (e *encoder) check() error {
	if len(e.buf) > e.max {
		return &weft.Error{Code: weft.CodeInvalid, Err: &errTooLarge{e.max}}
	}
	return nil
}

// text appends v as interpolated text (see Stringify).
func (e *encoder) text(v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		e.buf = append(e.buf, x...)
		return e.check()
	}
	return e.value(v, 0)
}

func (e *encoder) value(v any, depth int) error {
	if depth > maxEncodeDepth {
		return weft.Errorf(weft.CodeInvalid, "value nested more than %d levels deep", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.buf = AppendJSONString(e.buf, x)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case float64:
		return e.float(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = AppendJSONString(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.value(x[k], depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	case []any:
		e.buf = append(e.buf, '[')
		for i, el := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(el, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case []string:
		e.buf = append(e.buf, '[')
		for i, el := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = AppendJSONString(e.buf, el)
			if err := e.check(); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case json.RawMessage:
		if !json.Valid(x) {
			return weft.Errorf(weft.CodeInvalid, "invalid JSON in a json.RawMessage")
		}
		var b bytes.Buffer
		_ = json.Compact(&b, x)
		e.buf = append(e.buf, b.Bytes()...)
	default:
		n, changed, err := normalize(v, depth)
		if err != nil {
			return err
		}
		if !changed {
			return weft.Errorf(weft.CodeInvalid, "a %T has no JSON form", v)
		}
		return e.value(n, depth)
	}
	return e.check()
}

// float appends f the way encoding/json does (shortest form, exponent only
// beyond 1e21 or below 1e-6), so that integral values have no fraction.
func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return weft.Errorf(weft.CodeInvalid, "%v is not a JSON number", f)
	}
	if f == 0 {
		f = 0 // no "-0"
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(e.buf) - start
		if n >= 4 && e.buf[len(e.buf)-4] == 'e' && e.buf[len(e.buf)-3] == '-' && e.buf[len(e.buf)-2] == '0' {
			e.buf[len(e.buf)-2] = e.buf[len(e.buf)-1]
			e.buf = e.buf[:len(e.buf)-1]
		}
	}
	return e.check()
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaping as encoding/json does
// with HTML escaping off: quotes, backslashes, control characters, U+2028
// and U+2029; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
