// Package eval compiles and evaluates weft's expressions and {{ }}
// templates (DESIGN.md section 4), on github.com/expr-lang/expr.
//
// An expression is compiled once (Compile) and evaluated many times (Eval,
// EvalBool) over an environment: a map from names to values of the value
// model (see ToValue). The engine's environment holds steps, data, deps,
// params and run (TemplateVars); the process step type gives its rules the
// fields of the working value.
//
// Evaluation is bounded: an expression has at most Options.MaxBytes bytes
// and Options.MaxNodes nodes, and one evaluation spends at most
// Options.MemoryBudget units (a byte of a string, an element of an array,
// of a map or of a loop, a share of regular expression work), counted by
// expr's VM and by guards this package adds around concatenation, the
// builtins that can return more than they are given, the builtins that
// loop and regular expressions. Nothing reachable from an
// expression does I/O: expr-lang has no I/O builtins, and the one builtin
// that reads files (timezone, and date with a time zone, which load the
// time zone database) is refused.
//
// A few builtins differ from expr-lang's documentation, to fit JSON values:
// string(x) writes arrays and objects as compact JSON and nil as the empty
// string; toJSON writes compact JSON without HTML escaping; fromJSON
// follows the number rule of ToValue; split and splitAfter return []any.
//
// Templates (CompileTemplate) are JSON values whose strings may hold
// {{ expression }} parts.
package eval

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/weft-dev/weft"
)

// TemplateVars are the names the engine gives templates: steps (id →
// {output, status, attempts, error}), data, deps (id → output), params and
// run. They are the default Options.Vars.
var TemplateVars = []string{"steps", "data", "deps", "params", "run"}

// Default budgets.
const (
	// DefaultMaxNodes is the default Options.MaxNodes.
	DefaultMaxNodes = 1000
	// DefaultMemoryBudget is the default Options.MemoryBudget.
	DefaultMemoryBudget = 1_000_000
)

// Options tune compilation and evaluation. A nil *Options and zero fields
// mean the defaults.
type Options struct {
	// MaxNodes bounds the AST size of one expression. Defaults to 1000.
	MaxNodes uint
	// MemoryBudget bounds what one evaluation allocates and loops over, in
	// units: a byte of a string, an element of an array, map or loop, and
	// regular expression work (compiling a pattern costs 20 units a byte,
	// matching n bytes against an m-byte pattern n×m/100). Defaults to
	// 1,000,000.
	MemoryBudget uint
	// MaxBytes bounds the source length of one expression. Defaults to
	// weft.DefaultMaxExpressionBytes.
	MaxBytes int
	// MaxResultBytes bounds the JSON size of a rendered template. Defaults
	// to DefaultMaxResultBytes.
	MaxResultBytes int
	// Vars are the names an expression may read. Defaults to TemplateVars.
	// A name not in Vars fails to compile ("unknown name"), unless
	// AllowUndefined is set.
	Vars []string
	// AllowUndefined lets expressions read names not in Vars; they are nil
	// unless the environment has them. The process step type sets it, as
	// its rules read the working value's fields by name.
	AllowUndefined bool
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxNodes == 0 {
		c.MaxNodes = DefaultMaxNodes
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = weft.DefaultMaxExpressionBytes
	}
	if c.MaxResultBytes <= 0 {
		c.MaxResultBytes = DefaultMaxResultBytes
	}
	if c.Vars == nil {
		c.Vars = TemplateVars
	}
	return c
}

// exprOptions returns the expr options of a compilation; guarded adds the
// budget guards (see guard.go).
func (o *Options) exprOptions(g *guard) []expr.Option {
	env := types.Map{}
	for _, v := range o.Vars {
		env[v] = types.Any
	}
	if o.AllowUndefined {
		env[types.Extra] = types.Any
	}
	if g != nil {
		env[meterVar] = types.Any
	}
	opts := []expr.Option{
		expr.Env(env),
		expr.MaxNodes(o.MaxNodes),
		expr.DisableBuiltin("timezone"),
	}
	if o.AllowUndefined {
		opts = append(opts, expr.AllowUndefinedVariables())
	}
	if g != nil {
		opts = append(opts, expr.Patch(g))
		opts = append(opts, guardFunctions()...)
	}
	return opts
}

// Expr is a compiled expression. It is safe for concurrent use.
type Expr struct {
	src     string
	prog    *vm.Program
	metered bool
	budget  uint
	refs    []string
}

// Compile compiles an expression. Errors are *weft.Error values with code
// invalid whose message says what is wrong and where (line and column in
// the expression).
func Compile(src string, opts *Options) (*Expr, error) {
	o := opts.withDefaults()
	return compile(src, &o)
}

func compile(src string, o *Options) (x *Expr, err error) {
	if len(src) > o.MaxBytes {
		return nil, weft.Errorf(weft.CodeInvalid, "the expression is %d bytes long, more than the limit of %d", len(src), o.MaxBytes)
	}
	if strings.TrimSpace(src) == "" {
		return nil, weft.Errorf(weft.CodeInvalid, "the expression is empty")
	}
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, weft.Errorf(weft.CodeInvalid, "the expression does not compile: %v", r)
		}
	}()
	// First compile the expression as written, for expr's own checks
	// (names, argument types) and messages; then again with the guards,
	// whose functions take any argument.
	checked, err := expr.Compile(src, o.exprOptions(nil)...)
	if err != nil {
		return nil, compileError(src, err, o)
	}
	refs, err := inspect(checked.Node())
	if err != nil {
		return nil, err
	}
	g := &guard{}
	prog, err := expr.Compile(src, o.exprOptions(g)...)
	if err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "internal error: the guarded expression does not compile: %s", errMessage(compileError(src, err, o)))
	}
	return &Expr{src: src, prog: prog, metered: g.patched, budget: o.MemoryBudget, refs: refs}, nil
}

// inspect walks a checked tree: it collects the step ids read through
// steps and deps, and refuses what this package does not allow.
func inspect(root ast.Node) ([]string, error) {
	w := &refWalker{}
	ast.Walk(&root, w)
	if w.err != nil {
		return nil, w.err
	}
	slices.Sort(w.refs)
	return slices.Compact(w.refs), nil
}

type refWalker struct {
	refs []string
	err  error
}

func (w *refWalker) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return
		}
		if isRefRoot(n.Node) {
			w.refs = append(w.refs, prop.Value)
		}
	case *ast.BuiltinNode:
		if n.Name == "date" && len(n.Arguments) > 2 && w.err == nil {
			w.err = weft.Errorf(weft.CodeInvalid, "date with a time zone is not allowed: it reads the time zone database (column %d)", n.Location().From+1)
		}
	}
}

// isRefRoot reports whether n is `steps` or `deps`, possibly as
// `$env.steps` or `$env["deps"]`.
func isRefRoot(n ast.Node) bool {
	if c, ok := n.(*ast.ChainNode); ok {
		n = c.Node
	}
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value == "steps" || x.Value == "deps"
	case *ast.MemberNode:
		id, ok := x.Node.(*ast.IdentifierNode)
		prop, ok2 := x.Property.(*ast.StringNode)
		return ok && ok2 && id.Value == "$env" && (prop.Value == "steps" || prop.Value == "deps")
	}
	return false
}

// maxMessage bounds the length of error messages, in runes: they may quote
// values and patterns of any size.
const maxMessage = 300

// compileError turns an expr compilation error into a *weft.Error.
func compileError(src string, err error, o *Options) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return weft.Errorf(weft.CodeInvalid, "the expression does not compile: %v", err)
	}
	msg := shorten(fe.Message, maxMessage)
	if strings.Contains(msg, "exceeds maximum allowed nodes") {
		msg = fmt.Sprintf("the expression has more than %d nodes", o.MaxNodes)
	}
	return weft.Errorf(weft.CodeInvalid, "%s%s", msg, position(src, fe))
}

// position formats where an error is: " (column C)" for a one-line
// expression, " (line L, column C)" otherwise.
func position(src string, fe *file.Error) string {
	if fe.Line == 0 {
		return ""
	}
	if strings.Contains(src, "\n") {
		return fmt.Sprintf(" (line %d, column %d)", fe.Line, fe.Column+1)
	}
	return fmt.Sprintf(" (column %d)", fe.Column+1)
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// Refs returns the ids of the steps the expression reads through
// `steps.X`, `steps["X"]`, `deps.X` or `deps["X"]`, sorted and without
// duplicates. Ids computed at run time (`steps[name]`, `values(deps)`) are
// not known here.
func (e *Expr) Refs() []string { return slices.Clone(e.refs) }

// Eval evaluates the expression over env, which it does not modify. Errors
// are *weft.Error values with code invalid; when the memory budget is
// exceeded the message says so.
func (e *Expr) Eval(env map[string]any) (out any, err error) {
	if e.metered {
		menv := make(map[string]any, len(env)+1)
		for k, v := range env {
			menv[k] = v
		}
		menv[meterVar] = &meter{limit: e.budget}
		env = menv
	} else if env == nil {
		env = map[string]any{}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, weft.Errorf(weft.CodeInvalid, "evaluation failed: %v", r)
		}
	}()
	machine := vm.VM{MemoryBudget: e.budget}
	out, err = machine.Run(e.prog, env)
	if err != nil {
		return nil, e.runError(err)
	}
	return out, nil
}

// runError turns an evaluation error into a *weft.Error.
func (e *Expr) runError(err error) error {
	var be *budgetError
	if errors.As(err, &be) || strings.Contains(err.Error(), "memory budget exceeded") {
		return weft.Errorf(weft.CodeInvalid, "the evaluation exceeded its memory budget of %d units (bytes and elements allocated, loop iterations, regular expression work)", e.budget)
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		return weft.Errorf(weft.CodeInvalid, "%s%s", shorten(fe.Message, maxMessage), position(e.src, fe))
	}
	return weft.Errorf(weft.CodeInvalid, "%s", shorten(err.Error(), maxMessage))
}

// EvalBool evaluates a condition: the result must be true or false.
func (e *Expr) EvalBool(env map[string]any) (bool, error) {
	v, err := e.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, weft.Errorf(weft.CodeInvalid, "expected true or false, got %s", typeName(v))
	}
	return b, nil
}
