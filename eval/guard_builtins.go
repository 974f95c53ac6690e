package eval

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/builtin"
)

// The guarded builtins: each computes the size of its result and charges it
// before building it; and the helpers that check and name their arguments.

// callBuiltin calls expr's own implementation of a builtin.
func callBuiltin(name string, args []any) (any, error) {
	f := builtin.Builtins[builtin.Index[name]]
	switch {
	case f.Func != nil:
		return f.Func(args...)
	case f.Safe != nil:
		out, _, err := f.Safe(args...)
		return out, err
	case f.Fast != nil && len(args) == 1:
		return f.Fast(args[0]), nil
	}
	return nil, fmt.Errorf("internal error: builtin %s", name)
}

func argString(name string, args []any, i int) (string, error) {
	if i >= len(args) {
		return "", fmt.Errorf("not enough arguments to call %s", name)
	}
	s, ok := args[i].(string)
	if !ok {
		return "", fmt.Errorf("%s: argument %d must be a string, got %s", name, i+1, typeName(args[i]))
	}
	return s, nil
}

func guardRepeat(m *meter, args []any) (any, error) {
	s, err := argString("repeat", args, 0)
	if err != nil {
		return nil, err
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("repeat: expected 2 arguments, got %d", len(args))
	}
	n, ok := toInt(args[1])
	if !ok || n < 0 {
		return nil, fmt.Errorf("repeat: the count must be an integer of 0 or more, got %s", typeName(args[1]))
	}
	if len(s) > 0 && uint(n) > m.left()/uint(len(s)) {
		return nil, &budgetError{m.limit}
	}
	if err := m.charge(uint(len(s)) * uint(n)); err != nil {
		return nil, err
	}
	return strings.Repeat(s, n), nil
}

func guardReplace(m *meter, args []any) (any, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("replace: expected 3 or 4 arguments, got %d", len(args))
	}
	s, err := argString("replace", args, 0)
	if err != nil {
		return nil, err
	}
	old, err := argString("replace", args, 1)
	if err != nil {
		return nil, err
	}
	repl, err := argString("replace", args, 2)
	if err != nil {
		return nil, err
	}
	count := uint(strings.Count(s, old))
	if len(args) == 4 {
		if n, ok := toInt(args[3]); ok && n >= 0 && uint(n) < count {
			count = uint(n)
		}
	}
	if len(repl) > len(old) && count > 0 && uint(len(repl)-len(old)) > m.left()/count {
		return nil, &budgetError{m.limit}
	}
	size := uint(len(s))
	if len(repl) > len(old) {
		size += count * uint(len(repl)-len(old))
	}
	if err := m.charge(size); err != nil {
		return nil, err
	}
	return callBuiltin("replace", args)
}

func guardJoin(m *meter, args []any) (any, error) {
	if len(args) != 1 && len(args) != 2 {
		return nil, fmt.Errorf("join: expected 1 or 2 arguments, got %d", len(args))
	}
	glue := ""
	if len(args) == 2 {
		var err error
		if glue, err = argString("join", args, 1); err != nil {
			return nil, err
		}
	}
	var parts []string
	switch x := args[0].(type) {
	case []string:
		parts = x
	case []any:
		parts = make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %s, not a string", i, typeName(e))
			}
			parts[i] = s
		}
	default:
		return nil, fmt.Errorf("join: expected an array of strings, got %s", typeName(args[0]))
	}
	if err := m.charge(uint(len(parts))); err != nil {
		return nil, err
	}
	for i, p := range parts {
		if err := m.charge(uint(len(p))); err != nil {
			return nil, err
		}
		if i > 0 {
			if err := m.charge(uint(len(glue))); err != nil {
				return nil, err
			}
		}
	}
	return strings.Join(parts, glue), nil
}

func guardSplit(m *meter, args []any) (any, error) {
	return split("split", m, args)
}

func guardSplitAfter(m *meter, args []any) (any, error) {
	return split("splitAfter", m, args)
}

// split runs split or splitAfter, charging one unit per element (the
// elements share the string's bytes).
func split(name string, m *meter, args []any) (any, error) {
	if len(args) != 2 && len(args) != 3 {
		return nil, fmt.Errorf("%s: expected 2 or 3 arguments, got %d", name, len(args))
	}
	s, err := argString(name, args, 0)
	if err != nil {
		return nil, err
	}
	sep, err := argString(name, args, 1)
	if err != nil {
		return nil, err
	}
	if len(args) == 3 {
		if _, ok := toInt(args[2]); !ok {
			return nil, fmt.Errorf("%s: the count must be an integer, got %s", name, typeName(args[2]))
		}
	}
	if err := m.charge(uint(strings.Count(s, sep)) + 1); err != nil {
		return nil, err
	}
	out, err := callBuiltin(name, args)
	if err != nil {
		return nil, err
	}
	return Normalize(out)
}

func guardConcat(m *meter, args []any) (any, error) {
	var n uint
	for _, a := range args {
		n += length(a, false)
	}
	if err := m.charge(n); err != nil {
		return nil, err
	}
	return callBuiltin("concat", args)
}

func guardFlatten(m *meter, args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("flatten: expected 1 argument, got %d", len(args))
	}
	// Count the leaves first: shared sub-arrays may hold far more than
	// their memory suggests.
	var count func(v any, depth int) error
	count = func(v any, depth int) error {
		if depth > maxEncodeDepth {
			return fmt.Errorf("flatten: arrays nested more than %d levels deep", maxEncodeDepth)
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return m.charge(1)
		}
		for i := 0; i < rv.Len(); i++ {
			if err := count(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := count(args[0], 0); err != nil {
		return nil, err
	}
	return callBuiltin("flatten", args)
}

// encodeMetered writes v as compact JSON within the meter's remaining
// budget and charges the bytes written.
func encodeMetered(m *meter, v any, text bool) (string, error) {
	e := encoder{max: int(min(m.left(), uint(DefaultMaxResultBytes)))}
	var err error
	if text {
		err = e.text(v)
	} else {
		err = e.value(v, 0)
	}
	if err != nil {
		var tl *errTooLarge
		if errors.As(err, &tl) {
			return "", &budgetError{m.limit}
		}
		return "", err
	}
	if err := m.charge(uint(len(e.buf))); err != nil {
		return "", err
	}
	return string(e.buf), nil
}

func guardToJSON(m *meter, args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("toJSON: expected 1 argument, got %d", len(args))
	}
	return encodeMetered(m, args[0], false)
}

func guardString(m *meter, args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("string: expected 1 argument, got %d", len(args))
	}
	if s, ok := args[0].(string); ok {
		return s, nil
	}
	return encodeMetered(m, args[0], true)
}

func guardFromJSON(m *meter, args []any) (any, error) {
	s, err := argString("fromJSON", args, 0)
	if err != nil {
		return nil, err
	}
	if err := m.charge(uint(len(s))); err != nil {
		return nil, err
	}
	v, err := ToValue([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("fromJSON: %s", strings.TrimPrefix(err.Error(), "decode JSON: "))
	}
	return v, nil
}

func guardToBase64(m *meter, args []any) (any, error) {
	s, err := argString("toBase64", args, 0)
	if err != nil {
		return nil, err
	}
	if err := m.charge(uint(base64.StdEncoding.EncodedLen(len(s)))); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// toInt converts an integral number to int.
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() <= uint64(^uint(0)>>1) {
			return int(rv.Uint()), true
		}
	}
	return 0, false
}

// typeName names the JSON type of a value, for messages.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if utf8.RuneCountInString(x) <= 20 {
			return fmt.Sprintf("the string %q", x)
		}
		return "a string"
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case int, float64:
		return fmt.Sprintf("the number %v", x)
	case map[string]any:
		return "an object"
	case []any, []string:
		return "an array"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return fmt.Sprintf("the number %v", v)
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
