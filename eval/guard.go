package eval

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
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
