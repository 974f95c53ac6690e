package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/eval"
)

// Process is the executor of the "process" step type (DESIGN.md section
// 5). It implements weft.Executor and weft.InputValidator.
//
// Its input has two optional fields: "rules", an array of rules applied in
// order to the working value, and "data", the working value (by default
// the flowing value, StepContext.Data). With no rules the working value
// passes through unchanged. The output is the working value after the
// rules; objects come out with their keys sorted.
//
// Every rule is an object with a "type" and the fields of that type. The
// fields "field", "to", "target" and "key" hold field paths: dotted keys
// and [n] indices, as in `a.b[0].c`; a negative index counts from the end
// ([-1] is the last element); keys holding '.', '[' or ']' are written
// quoted, as in `a["b.c"]`; "$" is the working value itself ("$.a" is
// "a"). "expr" and "condition" hold expressions (package eval). In expressions, the working value's fields
// are in scope by name when it is an object, the whole working value is
// `data` and the run's parameters are `params`; in filter and map rules
// `item` is the array element and `index` its position. These four names
// win over fields of the same name.
//
//   - transform {field, operation}: operation is one of uppercase,
//     lowercase, trim, title, reverse (a string or an array), length (of a
//     string in characters, an array or an object), to_number, to_string,
//     to_bool, round (optional "digits", default 0; halves round away from
//     zero), abs, floor, ceil, split (optional "separator", default ","),
//     join (optional "separator", default ","), sort, unique, json_parse,
//     json_stringify, sha256 (hex), base64_encode, base64_decode.
//   - set {field, value} or {field, expr}; missing objects on the way are
//     created.
//   - rename {field, to}, copy {field, to}, delete {field}.
//   - filter {field, condition}: keeps the elements for which condition is
//     true.
//   - map {field, expr}: replaces each element by the value of expr.
//   - sort {field, key, order}: a stable sort of an array, by the value at
//     path key inside each element (the element itself without key), in
//     order "asc" (the default) or "desc". Numbers sort numerically,
//     strings by bytes, false before true; mixed types are an error.
//   - aggregate {field, operation, key, target}: sum, avg, min, max or
//     count of an array's elements (or of the values at path key inside
//     them), written at target. Like SQL, nulls and missing keys are
//     skipped; count without key counts every element. avg, min and max
//     of nothing are null, sum is 0. min and max take numbers or strings.
//   - validate {condition, message}: the step fails with code invalid and
//     the message (by default "condition is false: CONDITION") when
//     condition is false.
//
// A rule whose field is missing fails, unless it says "optional": true:
// then it does nothing. A rule that fails, or is malformed, fails the step
// with a *weft.Error with code invalid, never retried, whose message starts
// with "rules[N] (TYPE): "; other problems of the input start with
// "process step: ". A canceled context stops the step with code canceled
// (timeout when its deadline passed).
//
// Rule expressions are compiled once per distinct source and cached in
// the Process (rules may come from rendered templates, so they are
// compiled when the step runs; ValidateInput compiles those that hold no
// {{ }}). A Process is safe for concurrent use; the zero value uses the
// default eval options.
type Process struct {
	opts  eval.Options
	mu    sync.Mutex
	cache map[string]procCompiled
}

// procCompiled is a cached compilation.
type procCompiled struct {
	x   *eval.Expr
	err error
}

// procCacheMax bounds the expression cache; when it is full an arbitrary
// entry makes room.
const procCacheMax = 4096

// procVars are the names rule expressions are given besides the working
// value's fields.
var procVars = []string{"data", "params", "item", "index"}

// NewProcess returns a process executor whose rule expressions are
// compiled with opts (nil means the defaults). Vars and AllowUndefined are
// set by the executor.
func NewProcess(opts *eval.Options) *Process {
	p := &Process{}
	if opts != nil {
		p.opts = *opts
	}
	return p
}

// compile compiles a rule expression, through the cache.
func (p *Process) compile(src string) (*eval.Expr, error) {
	p.mu.Lock()
	c, ok := p.cache[src]
	p.mu.Unlock()
	if ok {
		return c.x, c.err
	}
	o := p.opts
	o.Vars = procVars
	o.AllowUndefined = true
	x, err := eval.Compile(src, &o)
	p.mu.Lock()
	if p.cache == nil {
		p.cache = make(map[string]procCompiled)
	}
	if len(p.cache) >= procCacheMax {
		for k := range p.cache {
			delete(p.cache, k)
			break
		}
	}
	p.cache[src] = procCompiled{x, err}
	p.mu.Unlock()
	return x, err
}

// procInputFields are the fields of a process step's input.
var procInputFields = []string{"data", "rules"}

// procRuleTypes are the rule types, and the fields each accepts.
var procRuleTypes = []string{"transform", "set", "rename", "copy", "delete", "filter", "map", "sort", "aggregate", "validate"}

var procRuleFields = map[string][]string{
	"transform": {"type", "field", "operation", "digits", "separator", "optional"},
	"set":       {"type", "field", "value", "expr"},
	"rename":    {"type", "field", "to", "optional"},
	"copy":      {"type", "field", "to", "optional"},
	"delete":    {"type", "field", "optional"},
	"filter":    {"type", "field", "condition", "optional"},
	"map":       {"type", "field", "expr", "optional"},
	"sort":      {"type", "field", "key", "order", "optional"},
	"aggregate": {"type", "field", "operation", "key", "target", "optional"},
	"validate":  {"type", "condition", "message"},
}

var procRuleRequired = map[string][]string{
	"transform": {"field", "operation"},
	"set":       {"field"},
	"rename":    {"field", "to"},
	"copy":      {"field", "to"},
	"delete":    {"field"},
	"filter":    {"field", "condition"},
	"map":       {"field", "expr"},
	"sort":      {"field"},
	"aggregate": {"field", "operation", "target"},
	"validate":  {"condition"},
}

// procTransformOps are the operations of transform rules.
var procTransformOps = []string{
	"uppercase", "lowercase", "trim", "title", "reverse", "length",
	"to_number", "to_string", "to_bool", "round", "abs", "floor", "ceil",
	"split", "join", "sort", "unique", "json_parse", "json_stringify",
	"sha256", "base64_encode", "base64_decode",
}

// procAggregateOps are the operations of aggregate rules.
var procAggregateOps = []string{"sum", "avg", "min", "max", "count"}

// procMaxDigits bounds the digits of a round operation.
const procMaxDigits = 15

// procRule is a parsed rule.
type procRule struct {
	index    int
	typ      string
	field    procPath
	fieldSrc string
	to       procPath
	op       string
	digits   int
	sep      string
	hasSep   bool
	value    json.RawMessage
	expr     *eval.Expr // expr or condition
	key      procPath
	hasKey   bool
	desc     bool
	target   procPath
	message  string
	optional bool
}

// procSpec is a parsed process input.
type procSpec struct {
	data    json.RawMessage
	hasData bool
	rules   []*procRule
	types   map[int]string // rule index → type, for messages
}

// ValidateInput checks a process step's input at definition time: known
// fields, rules with known types and operations, their fields, paths and
// expressions. Fields and expressions holding a {{ }} template are checked
// when the step runs.
func (p *Process) ValidateInput(input json.RawMessage) weft.ValidationErrors {
	_, problems := p.parse(input, true)
	return problems
}

// Execute applies the rules to the working value and returns it.
func (p *Process) Execute(ctx context.Context, step *weft.StepContext) (json.RawMessage, error) {
	spec, problems := p.parse(step.Input, false)
	if len(problems) > 0 {
		return nil, procProblems(spec, problems)
	}
	raw := step.Data
	if spec.hasData {
		raw = spec.data
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if len(spec.rules) == 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, weft.Errorf(weft.CodeInvalid, "process step: the working value is not valid JSON: %v", err)
		}
		return buf.Bytes(), nil
	}
	work, err := eval.ToValue(raw)
	if err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "process step: the working value: %s", procErrMessage(err))
	}
	params, err := eval.ToValue(step.Params)
	if err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "process step: the run's params: %s", procErrMessage(err))
	}
	run := &procRun{ctx: ctx, work: work, params: params}
	for _, r := range spec.rules {
		if err := ctx.Err(); err != nil {
			return nil, procCtxError(err)
		}
		if err := run.apply(r); err != nil {
			return nil, err
		}
	}
	out, err := eval.FromValue(run.work)
	if err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "process step: the result: %s", procErrMessage(err))
	}
	return out, nil
}

// procProblems turns the problems found in an input at run time into an
// error with code invalid: "rules[N] (TYPE): FIELD: MESSAGE" for those of
// a rule, "process step: input.FIELD: MESSAGE" for the others.
func procProblems(spec *procSpec, problems weft.ValidationErrors) error {
	var msgs []string
	var others weft.ValidationErrors
	for _, pr := range problems {
		rest, ok := strings.CutPrefix(pr.Path, "$.rules[")
		n, after, found := strings.Cut(rest, "]")
		i, err := strconv.Atoi(n)
		if !ok || !found || err != nil {
			others = append(others, pr)
			continue
		}
		typ := spec.types[i]
		if typ == "" {
			typ = "rule"
		}
		msg := pr.Message
		if after = strings.TrimPrefix(after, "."); after != "" {
			msg = after + ": " + msg
		}
		if pr.Suggestion != "" {
			msg += " (" + pr.Suggestion + ")"
		}
		msgs = append(msgs, fmt.Sprintf("rules[%d] (%s): %s", i, typ, msg))
	}
	if len(others) > 0 {
		err := stepInputError("process", others)
		if len(msgs) == 0 {
			return err
		}
		msgs = append([]string{procErrMessage(err)}, msgs...)
	}
	return weft.Errorf(weft.CodeInvalid, "%s", strings.Join(msgs, "; "))
}

// procCtxError reports a step stopped by its context.
func procCtxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return weft.Errorf(weft.CodeTimeout, "process step: %v", err)
	}
	return weft.Errorf(weft.CodeCanceled, "process step: %v", err)
}

// procRun is one execution of a process step's rules.
type procRun struct {
	ctx    context.Context
	work   any
	params any
}

// procCheckEvery is how many elements a loop handles between checks of
// the context.
const procCheckEvery = 1024

// fail returns rule r's error.
func (r *procRule) fail(format string, args ...any) error {
	return weft.Errorf(weft.CodeInvalid, "rules[%d] (%s): %s", r.index, r.typ, fmt.Sprintf(format, args...))
}

// env returns the environment of rule expressions: the working value's
// fields, data and params.
func (run *procRun) env() map[string]any {
	obj, _ := run.work.(map[string]any)
	env := make(map[string]any, len(obj)+4)
	for k, v := range obj {
		env[k] = v
	}
	env["data"] = run.work
	env["params"] = run.params
	delete(env, "item")
	delete(env, "index")
	return env
}

// get returns the array at rule r's field, or ok false when the rule is
// optional and the field is missing.
func (run *procRun) array(r *procRule) (arr []any, ok bool, err error) {
	v, found := procGet(run.work, r.field)
	if !found {
		return nil, false, run.missing(r)
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false, r.fail("field %q is %s, not an array", r.fieldSrc, procKind(v))
	}
	return arr, true, nil
}

// missing returns the error of a missing field, or nil for an optional
// rule.
func (run *procRun) missing(r *procRule) error {
	if r.optional {
		return nil
	}
	msg := fmt.Sprintf("field %q not found", r.fieldSrc)
	if _, isObj := run.work.(map[string]any); !isObj && len(r.field) > 0 && !r.field[0].isIndex {
		msg += fmt.Sprintf(": the working value is %s, not an object", procKind(run.work))
	}
	return r.fail("%s (set \"optional\": true to skip the rule when the field is missing)", msg)
}

// set writes v at path p of the working value.
func (run *procRun) set(r *procRule, p procPath, src string, v any) error {
	w, err := procSet(run.work, p, v)
	if err != nil {
		return r.fail("field %q: %v", src, err)
	}
	run.work = w
	return nil
}

// apply runs one rule.
func (run *procRun) apply(r *procRule) error {
	switch r.typ {
	case "transform":
		v, found := procGet(run.work, r.field)
		if !found {
			return run.missing(r)
		}
		nv, err := procTransform(r, v)
		if err != nil {
			return r.fail("field %q: %v", r.fieldSrc, err)
		}
		return run.set(r, r.field, r.fieldSrc, nv)

	case "set":
		var v any
		var err error
		if r.expr != nil {
			v, err = r.expr.Eval(run.env())
			if err == nil {
				v, err = eval.Normalize(v)
			}
		} else {
			v, err = eval.ToValue(r.value)
		}
		if err != nil {
			return r.fail("%s", procErrMessage(err))
		}
		return run.set(r, r.field, r.fieldSrc, v)

	case "rename", "copy":
		v, found := procGet(run.work, r.field)
		if !found {
			return run.missing(r)
		}
		if r.typ == "rename" {
			run.work, _ = procDelete(run.work, r.field)
		}
		return run.set(r, r.to, r.to.String(), v)

	case "delete":
		w, found := procDelete(run.work, r.field)
		if !found {
			return run.missing(r)
		}
		run.work = w
		return nil

	case "filter", "map":
		arr, ok, err := run.array(r)
		if !ok {
			return err
		}
		env := run.env()
		out := make([]any, 0, len(arr))
		for i, item := range arr {
			if i%procCheckEvery == procCheckEvery-1 {
				if err := run.ctx.Err(); err != nil {
					return procCtxError(err)
				}
			}
			env["item"], env["index"] = item, i
			if r.typ == "filter" {
				keep, err := r.expr.EvalBool(env)
				if err != nil {
					return r.fail("item %d: %s", i, procErrMessage(err))
				}
				if keep {
					out = append(out, item)
				}
				continue
			}
			v, err := r.expr.Eval(env)
			if err == nil {
				v, err = eval.Normalize(v)
			}
			if err != nil {
				return r.fail("item %d: %s", i, procErrMessage(err))
			}
			out = append(out, v)
		}
		return run.set(r, r.field, r.fieldSrc, out)

	case "sort":
		arr, ok, err := run.array(r)
		if !ok {
			return err
		}
		sorted, err := procSortBy(arr, r.key, r.hasKey, r.desc)
		if err != nil {
			return r.fail("field %q: %v", r.fieldSrc, err)
		}
		return run.set(r, r.field, r.fieldSrc, sorted)

	case "aggregate":
		arr, ok, err := run.array(r)
		if !ok {
			return err
		}
		v, err := procAggregate(r.op, arr, r.key, r.hasKey)
		if err != nil {
			return r.fail("field %q: %v", r.fieldSrc, err)
		}
		return run.set(r, r.target, r.target.String(), v)

	case "validate":
		ok, err := r.expr.EvalBool(run.env())
		if err != nil {
			return r.fail("%s", procErrMessage(err))
		}
		if !ok {
			msg := r.message
			if msg == "" {
				msg = "condition is false: " + r.expr.String()
			}
			return r.fail("%s", msg)
		}
		return nil
	}
	return r.fail("unknown rule type")
}

// procSortBy returns a sorted copy of arr (see Process: sort rules).
func procSortBy(arr []any, key procPath, hasKey, desc bool) ([]any, error) {
	keys := make([]any, len(arr))
	for i, item := range arr {
		if !hasKey {
			keys[i] = item
			continue
		}
		k, found := procGet(item, key)
		if !found {
			return nil, fmt.Errorf("item %d has no %q", i, key.String())
		}
		keys[i] = k
	}
	if err := procSameClass(keys, nil, "sort"); err != nil {
		return nil, err
	}
	idx := make([]int, len(arr))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		c := procCompare(keys[idx[a]], keys[idx[b]])
		if desc {
			return c > 0
		}
		return c < 0
	})
	out := make([]any, len(arr))
	for i, j := range idx {
		out[i] = arr[j]
	}
	return out, nil
}
