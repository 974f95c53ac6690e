package eval

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// Budgets. expr-lang's VM counts the elements of the ranges, array and map
// literals and sorted arrays it builds against its memory budget, but not
// what builtins and operators allocate (repeat checks its count, not the
// size of its result), nor the iterations of loops over data from the
// environment. An expression of a thousand nodes could still allocate
// without bound (`repeat(repeat("x", 999999), 999999)`, a chain of
// `let b = a + a` doublings) or loop for hours (`map(a, map(a, map(a, #)))`
// over a large array).
//
// So Compile rewrites the expression's tree before it is compiled:
//
//   - string concatenation (`+` where both sides may be strings) and the
//     builtins that can return more than they are given (repeat, replace,
//     join, split, splitAfter, concat, flatten, toJSON, fromJSON, string,
//     toBase64) or copy a string (upper, lower, trim, trimPrefix,
//     trimSuffix, fromBase64) become calls to guarded versions that compute
//     the size of their result before building it, and charge it;
//   - the strings scanned by contains, startsWith, endsWith, indexOf and
//     lastIndexOf cost a unit per 64 bytes;
//   - the matches operator becomes a call that charges the compilation of
//     its pattern (when not cached) and the matching, whose cost grows
//     with the product of the lengths of the string and the pattern;
//   - the collection argument of every builtin that loops (map, filter,
//     all, reduce, sort, uniq, keys, …) and the right side of `in` are
//     wrapped in calls that charge their length.
//
// The charges go to a meter, one per evaluation, that Eval passes in the
// environment under a name no expression can write (it holds a space).
// The meter's limit is Options.MemoryBudget, like the VM's own counter
// (each counts separately): a unit is a byte of a string built, an element
// of an array, map or loop, 64 bytes of a string scanned, or a share of
// regular expression work. The work of one iteration is bounded by the
// node count and the sizes of the values involved.

// meterVar is the environment name of the meter. It holds a space, so no
// expression can name it.
const meterVar = "weft meter"

// Names of the guarded functions: they hold a space too.
const (
	guardAdd     = "weft add"
	guardIter    = "weft iter"
	guardScan    = "weft scan"
	guardMatches = "weft matches"
)

// guardedBuiltins are the builtins replaced by guarded versions.
var guardedBuiltins = map[string]func(m *meter, args []any) (any, error){
	"repeat":     guardRepeat,
	"replace":    guardReplace,
	"join":       guardJoin,
	"split":      guardSplit,
	"splitAfter": guardSplitAfter,
	"concat":     guardConcat,
	"flatten":    guardFlatten,
	"toJSON":     guardToJSON,
	"fromJSON":   guardFromJSON,
	"string":     guardString,
	"toBase64":   guardToBase64,
}

// loopingBuiltins are the builtins whose cost grows with the length of
// their collection arguments.
var loopingBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true,
	"map": true, "count": true, "sum": true, "find": true, "findIndex": true,
	"findLast": true, "findLastIndex": true, "groupBy": true, "sortBy": true,
	"reduce": true, "sort": true, "uniq": true, "reverse": true, "keys": true,
	"values": true, "toPairs": true, "fromPairs": true, "max": true,
	"min": true, "mean": true, "median": true, "take": true,
}

// scanningBuiltins are the builtins that scan their first argument, a
// string.
var scanningBuiltins = map[string]bool{"indexOf": true, "lastIndexOf": true}

// copyingBuiltins are the builtins that return a string about as long as
// their first argument.
var copyingBuiltins = []string{"upper", "lower", "trim", "trimPrefix", "trimSuffix", "fromBase64"}

func init() {
	for _, name := range copyingBuiltins {
		guardedBuiltins[name] = func(m *meter, args []any) (any, error) {
			s, err := argString(name, args, 0)
			if err != nil {
				return nil, err
			}
			for i := 1; i < len(args); i++ {
				if _, err := argString(name, args, i); err != nil {
					return nil, err
				}
			}
			if err := m.charge(uint(len(s))); err != nil {
				return nil, err
			}
			return callBuiltin(name, args)
		}
	}
}

// scanDiv is how many bytes of a string scanned (by contains, startsWith,
// endsWith, indexOf, lastIndexOf) cost one budget unit.
const scanDiv = 64

// variadicBuiltins are the looping builtins whose every argument may be a
// collection.
var variadicBuiltins = map[string]bool{"max": true, "min": true, "mean": true, "median": true}

// meter counts the budget units an evaluation spends.
type meter struct {
	used, limit uint
}

// budgetError reports an evaluation that went over its budget.
type budgetError struct{ limit uint }

func (e *budgetError) Error() string {
	return fmt.Sprintf("memory budget exceeded (the budget is %d)", e.limit)
}

// charge spends n units, failing when that goes over the limit.
func (m *meter) charge(n uint) error {
	if m.used > m.limit || n > m.limit-m.used {
		m.used = m.limit + 1
		return &budgetError{m.limit}
	}
	m.used += n
	return nil
}

// left is how many units remain.
func (m *meter) left() uint {
	if m.used >= m.limit {
		return 0
	}
	return m.limit - m.used
}

// guard is the visitor that rewrites an expression's tree (see above).
type guard struct {
	patched bool
}

func meterIdent() ast.Node { return &ast.IdentifierNode{Value: meterVar} }

func (g *guard) call(name string, args ...ast.Node) *ast.CallNode {
	g.patched = true
	return &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: name},
		Arguments: append([]ast.Node{meterIdent()}, args...),
	}
}

// Visit implements ast.Visitor. ast.Walk visits children first, so nodes
// made here are not visited again.
func (g *guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			if maybeString(n.Left) && maybeString(n.Right) && !(isLiteral(n.Left) && isLiteral(n.Right)) {
				ast.Patch(node, g.call(guardAdd, n.Left, n.Right))
			}
		case "in":
			n.Right = g.call(guardScan, n.Right)
		case "contains", "startsWith", "endsWith":
			n.Left = g.call(guardScan, n.Left)
		case "matches":
			ast.Patch(node, g.call(guardMatches, n.Left, n.Right))
		}
	case *ast.BuiltinNode:
		if _, ok := guardedBuiltins[n.Name]; ok {
			ast.Patch(node, g.call("weft "+n.Name, n.Arguments...))
			return
		}
		if scanningBuiltins[n.Name] && len(n.Arguments) > 0 {
			n.Arguments[0] = g.call(guardScan, n.Arguments[0])
		}
		if loopingBuiltins[n.Name] && len(n.Arguments) > 0 {
			// The collection is the first argument, or any argument of
			// the variadic aggregates (max(a, b), min(list)...).
			last := 1
			if variadicBuiltins[n.Name] {
				last = len(n.Arguments)
			}
			for i := range last {
				if _, ok := n.Arguments[i].(*ast.PredicateNode); !ok {
					n.Arguments[i] = g.call(guardIter, n.Arguments[i])
				}
			}
		}
	}
}

// maybeString reports whether a node's value may be a string (its type is
// string or not known).
func maybeString(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String
}

func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

// guardFunctions returns the expr options that define the guarded
// functions of one compiled expression.
func guardFunctions() []expr.Option {
	re := &regexCache{m: map[string]*regexp.Regexp{}}
	opts := []expr.Option{
		expr.Function(guardAdd, metered(guardAddFn)),
		expr.Function(guardMatches, metered(re.matches)),
		expr.Function(guardIter, metered(func(m *meter, args []any) (any, error) {
			return args[0], m.charge(length(args[0], true))
		})),
		expr.Function(guardScan, metered(func(m *meter, args []any) (any, error) {
			if s, ok := args[0].(string); ok {
				return s, m.charge(uint(len(s))/scanDiv + 1)
			}
			return args[0], m.charge(length(args[0], false))
		})),
	}
	for name, fn := range guardedBuiltins {
		opts = append(opts, expr.Function("weft "+name, metered(fn)))
	}
	return opts
}

// metered adapts a guarded function to expr's function signature: the first
// argument is the meter.
func metered(fn func(m *meter, args []any) (any, error)) func(params ...any) (any, error) {
	return func(params ...any) (any, error) {
		if len(params) == 0 {
			return nil, fmt.Errorf("internal error: no meter")
		}
		m, ok := params[0].(*meter)
		if !ok || m == nil {
			return nil, fmt.Errorf("internal error: no meter")
		}
		return fn(m, params[1:])
	}
}

// length returns the length of an array (and of a map when maps is true),
// or 0.
func length(v any, maps bool) uint {
	switch x := v.(type) {
	case []any:
		return uint(len(x))
	case map[string]any:
		if maps {
			return uint(len(x))
		}
		return 0
	case string, nil, int, float64, bool:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		return uint(rv.Len())
	case reflect.Map:
		if maps {
			return uint(rv.Len())
		}
	}
	return 0
}

func guardAddFn(m *meter, args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("internal error: + with %d operands", len(args))
	}
	a, aok := args[0].(string)
	b, bok := args[1].(string)
	if aok && bok {
		if err := m.charge(uint(len(a)) + uint(len(b))); err != nil {
			return nil, err
		}
		return a + b, nil
	}
	return runtime.Add(args[0], args[1]), nil
}

// regexCache holds the regular expressions one expression has compiled.
type regexCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

// regexCacheMax bounds a regexCache.
const regexCacheMax = 64

// Costs of regular expressions, in budget units: compiling costs
// regexCompileCost units per byte of the pattern; matching a string of n
// bytes against a pattern of m bytes costs n×m/regexMatchDiv units (RE2
// matches in time proportional to n×m at worst).
const (
	regexCompileCost = 20
	regexMatchDiv    = 100
)

// matches implements the matches operator: `s matches pattern`.
func (c *regexCache) matches(m *meter, args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("internal error: matches with %d operands", len(args))
	}
	if args[0] == nil || args[1] == nil {
		return false, nil
	}
	pattern, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("matches: the pattern must be a string, got %s", typeName(args[1]))
	}
	var s string
	switch x := args[0].(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return nil, fmt.Errorf("matches: expected a string, got %s", typeName(args[0]))
	}
	c.mu.Lock()
	re := c.m[pattern]
	c.mu.Unlock()
	if re == nil {
		if uint(len(pattern)) > m.left()/regexCompileCost {
			return nil, &budgetError{m.limit}
		}
		if err := m.charge(uint(len(pattern)) * regexCompileCost); err != nil {
			return nil, err
		}
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, fmt.Errorf("matches: %v", err)
		}
		c.mu.Lock()
		if len(c.m) >= regexCacheMax {
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
		c.m[pattern] = re
		c.mu.Unlock()
	}
	n, p := uint(len(s)), uint(len(pattern))
	if p > 0 && n > (m.left()+1)*regexMatchDiv/p {
		return nil, &budgetError{m.limit}
	}
	if err := m.charge(n*p/regexMatchDiv + 1); err != nil {
		return nil, err
	}
	return re.MatchString(s), nil
}

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
