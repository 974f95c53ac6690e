package executor

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/weft-dev/weft/eval"
)

// procTransform applies a transform rule's operation to v.
func procTransform(r *procRule, v any) (any, error) {
	op := r.op
	switch op {
	case "uppercase", "lowercase", "trim", "title", "split", "json_parse", "sha256", "base64_encode", "base64_decode":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s needs a string, found %s", op, procKind(v))
		}
		return procStringOp(r, s)
	case "reverse":
		switch x := v.(type) {
		case string:
			runes := []rune(x)
			slices.Reverse(runes)
			return string(runes), nil
		case []any:
			out := slices.Clone(x)
			slices.Reverse(out)
			return out, nil
		}
		return nil, fmt.Errorf("reverse needs a string or an array, found %s", procKind(v))
	case "length":
		switch x := v.(type) {
		case string:
			return utf8.RuneCountInString(x), nil
		case []any:
			return len(x), nil
		case map[string]any:
			return len(x), nil
		}
		return nil, fmt.Errorf("length needs a string, an array or an object, found %s", procKind(v))
	case "to_number":
		return procToNumber(v)
	case "to_string":
		s, err := eval.Stringify(v)
		if err != nil {
			return nil, fmt.Errorf("to_string: %s", procErrMessage(err))
		}
		return s, nil
	case "to_bool":
		return procToBool(v)
	case "round", "abs", "floor", "ceil":
		return procNumberOp(op, v, r.digits)
	case "join":
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("join needs an array, found %s", procKind(v))
		}
		sep := ","
		if r.hasSep {
			sep = r.sep
		}
		return procJoin(arr, sep)
	case "sort":
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("sort needs an array, found %s", procKind(v))
		}
		return procSortBy(arr, nil, false, false)
	case "unique":
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("unique needs an array, found %s", procKind(v))
		}
		seen := make(map[string]bool, len(arr))
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			k, err := eval.FromValue(e)
			if err != nil {
				return nil, fmt.Errorf("unique: %s", procErrMessage(err))
			}
			if !seen[string(k)] {
				seen[string(k)] = true
				out = append(out, e)
			}
		}
		return out, nil
	case "json_stringify":
		b, err := eval.FromValue(v)
		if err != nil {
			return nil, fmt.Errorf("json_stringify: %s", procErrMessage(err))
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// procStringOp applies an operation that takes a string.
func procStringOp(r *procRule, s string) (any, error) {
	switch r.op {
	case "uppercase":
		return strings.ToUpper(s), nil
	case "lowercase":
		return strings.ToLower(s), nil
	case "trim":
		return strings.TrimSpace(s), nil
	case "title":
		return procTitle(s), nil
	case "split":
		sep := ","
		if r.hasSep {
			sep = r.sep
		}
		parts := strings.Split(s, sep)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "json_parse":
		if len(strings.TrimSpace(s)) == 0 {
			return nil, fmt.Errorf("json_parse: the string is empty")
		}
		v, err := eval.ToValue([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("json_parse: the string is not valid JSON: %s", strings.TrimPrefix(procErrMessage(err), "decode JSON: "))
		}
		return v, nil
	case "sha256":
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:]), nil
	case "base64_encode":
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "base64_decode":
		t := strings.TrimSpace(s)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(t)
			if err != nil {
				continue
			}
			if !utf8.Valid(b) {
				return nil, fmt.Errorf("base64_decode: the decoded bytes are not UTF-8 text")
			}
			return string(b), nil
		}
		return nil, fmt.Errorf("base64_decode: the string is not base64")
	}
	return nil, fmt.Errorf("unknown operation %q", r.op)
}

// procTitle capitalizes the first letter of each word and lowers the
// others. A word starts after anything but a letter, a digit or an
// apostrophe: "o'neil mc-donald" gives "O'neil Mc-Donald".
func procTitle(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inWord := false
	for _, c := range s {
		if inWord {
			b.WriteRune(unicode.ToLower(c))
		} else {
			b.WriteRune(unicode.ToTitle(c))
		}
		inWord = unicode.IsLetter(c) || unicode.IsDigit(c) || c == '\'' || c == '’'
	}
	return b.String()
}

// procToNumber converts a string, number or boolean to a number.
func procToNumber(v any) (any, error) {
	switch x := v.(type) {
	case int, float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		t := strings.TrimSpace(x)
		if t != "" && strings.Trim(t, "0123456789+-.eE") == "" {
			if n, err := strconv.ParseInt(t, 10, 64); err == nil {
				return int(n), nil
			}
			if f, err := strconv.ParseFloat(t, 64); err == nil && !math.IsInf(f, 0) {
				return eval.Normalize(f)
			}
		}
		return nil, fmt.Errorf("to_number: %s is not a number", procQuote(x))
	}
	return nil, fmt.Errorf("to_number needs a string, a number or a boolean, found %s", procKind(v))
}

// procToBool converts a value to a boolean: numbers are true unless 0;
// null is false; strings true, yes, y, on, 1 are true and false, no, n,
// off, 0 and the empty string false (ignoring case and surrounding
// spaces).
func procToBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case nil:
		return false, nil
	case int:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "y", "on", "1":
			return true, nil
		case "false", "no", "n", "off", "0", "":
			return false, nil
		}
		return nil, fmt.Errorf("to_bool: %s is not true or false", procQuote(x))
	}
	return nil, fmt.Errorf("to_bool needs a string, a number, a boolean or null, found %s", procKind(v))
}

// procNumberOp applies round, abs, floor or ceil.
func procNumberOp(op string, v any, digits int) (any, error) {
	switch x := v.(type) {
	case int:
		switch op {
		case "abs":
			if x == math.MinInt {
				return -float64(x), nil
			}
			if x < 0 {
				return -x, nil
			}
			return x, nil
		case "round":
			if digits >= 0 {
				return x, nil
			}
			return procRound(float64(x), digits), nil
		}
		return x, nil
	case float64:
		switch op {
		case "abs":
			return eval.Normalize(math.Abs(x))
		case "floor":
			return eval.Normalize(math.Floor(x))
		case "ceil":
			return eval.Normalize(math.Ceil(x))
		}
		return procRound(x, digits), nil
	}
	return nil, fmt.Errorf("%s needs a number, found %s", op, procKind(v))
}

// procRound rounds x to digits decimals (negative digits round to tens,
// hundreds...), halves away from zero.
func procRound(x float64, digits int) any {
	p := math.Pow(10, float64(digits))
	scaled := x * p
	if math.IsInf(scaled, 0) || math.Abs(scaled) >= 1<<53 {
		v, _ := eval.Normalize(x) // already more precise than asked
		return v
	}
	v, _ := eval.Normalize(math.Round(scaled) / p)
	return v
}

// procJoin joins the elements of arr as text (strings as they are, null as
// nothing, other values as JSON).
func procJoin(arr []any, sep string) (any, error) {
	var b strings.Builder
	for i, e := range arr {
		if i > 0 {
			b.WriteString(sep)
		}
		s, err := eval.Stringify(e)
		if err != nil {
			return nil, fmt.Errorf("join: item %d: %s", i, procErrMessage(err))
		}
		b.WriteString(s)
		if b.Len() > eval.DefaultMaxResultBytes {
			return nil, fmt.Errorf("join: the result is larger than %d bytes", eval.DefaultMaxResultBytes)
		}
	}
	return b.String(), nil
}

// procClass classifies a value for ordering.
func procClass(v any) string {
	switch v.(type) {
	case int, float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return ""
}

// procSameClass checks that vals can be ordered: all numbers, all strings
// or all booleans. at maps positions in vals to item numbers for messages
// (nil: the same).
func procSameClass(vals []any, at []int, what string) error {
	item := func(i int) int {
		if at != nil {
			return at[i]
		}
		return i
	}
	first := ""
	firstAt := 0
	for i, v := range vals {
		c := procClass(v)
		if c == "" {
			return fmt.Errorf("%s: item %d is %s: only numbers, strings and booleans can be ordered", what, item(i), procKind(v))
		}
		if first == "" {
			first, firstAt = c, i
			continue
		}
		if c != first {
			return fmt.Errorf("%s: mixed types: item %d is a %s, item %d a %s", what, item(firstAt), first, item(i), c)
		}
	}
	return nil
}

// procCompare orders two values of the same class.
func procCompare(a, b any) int {
	switch x := a.(type) {
	case int:
		if y, ok := b.(int); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
		return procCmpFloat(float64(x), procFloat(b))
	case float64:
		return procCmpFloat(x, procFloat(b))
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return 0
}

func procFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

func procCmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// procAggregate computes an aggregate rule's value.
func procAggregate(op string, arr []any, key procPath, hasKey bool) (any, error) {
	if op == "count" && !hasKey {
		return len(arr), nil
	}
	vals := make([]any, 0, len(arr))
	at := make([]int, 0, len(arr))
	for i, item := range arr {
		v := item
		if hasKey {
			var found bool
			if v, found = procGet(item, key); !found {
				continue
			}
		}
		if v == nil {
			continue
		}
		vals = append(vals, v)
		at = append(at, i)
	}
	switch op {
	case "count":
		return len(vals), nil
	case "sum", "avg":
		isum, fsum, isInt := 0, 0.0, true
		for j, v := range vals {
			switch x := v.(type) {
			case int:
				if isInt {
					if s := isum + x; (x > 0 && s < isum) || (x < 0 && s > isum) {
						isInt, fsum = false, float64(isum)+float64(x)
					} else {
						isum = s
					}
				} else {
					fsum += float64(x)
				}
			case float64:
				if isInt {
					isInt, fsum = false, float64(isum)
				}
				fsum += x
			default:
				return nil, fmt.Errorf("%s: item %d is %s, not a number", op, at[j], procKind(v))
			}
		}
		if op == "avg" {
			if len(vals) == 0 {
				return nil, nil
			}
			total := fsum
			if isInt {
				total = float64(isum)
			}
			return eval.Normalize(total / float64(len(vals)))
		}
		if isInt {
			return isum, nil
		}
		return eval.Normalize(fsum)
	case "min", "max":
		if len(vals) == 0 {
			return nil, nil
		}
		if err := procSameClass(vals, at, op); err != nil {
			return nil, err
		}
		if procClass(vals[0]) == "boolean" {
			return nil, fmt.Errorf("%s needs numbers or strings, found booleans", op)
		}
		best := vals[0]
		for _, v := range vals[1:] {
			c := procCompare(v, best)
			if (op == "min" && c < 0) || (op == "max" && c > 0) {
				best = v
			}
		}
		return best, nil
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// procQuote quotes a string for a message, cutting it when long.
func procQuote(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:39]) + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
