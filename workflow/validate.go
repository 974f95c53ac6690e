package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/dag"
)

// maxSuggestionCandidates bounds the names searched for a "did you mean"
// suggestion, so that a huge workflow with many bad references stays fast.
const maxSuggestionCandidates = 10_000

// validator collects the semantic problems of a decoded workflow.
type validator struct {
	wf   *weft.Workflow
	reg  *weft.Registry
	lim  weft.Limits
	errs weft.ValidationErrors
}

func (v *validator) add(path, code, msg, suggestion string) {
	if len(v.errs) < maxErrors {
		v.errs = append(v.errs, weft.ValidationError{Path: path, Code: code, Message: msg, Suggestion: suggestion})
	}
}

// check validates a decoded workflow and builds its graph. Problems come
// in the order of d.order. Edges that are in error (unknown, self or
// duplicate dependencies) are left out of the graph, so that cycles among
// the others are still found.
func check(d *decoded, reg *weft.Registry, lim weft.Limits) (*Definition, weft.ValidationErrors) {
	v := &validator{wf: d.wf, reg: reg, lim: lim}
	v.workflow()
	deps := v.dependencies(d)
	g, err := dag.New(d.order, deps)
	if err != nil {
		var ce *dag.CycleError
		if !errors.As(err, &ce) {
			v.add(keyPath(rootPath, "steps"), weft.VInvalidValue, err.Error(), "")
			return nil, v.errs
		}
		for _, c := range ce.Cycles {
			v.add(keyPath(stepPath(c[0]), "depends_on"), weft.VCycle,
				"dependency cycle: "+cyclePath(c),
				"remove one of these dependencies")
		}
	}
	if g == nil {
		return nil, v.errs
	}
	c := v.compile(d.order, d.steps, g)
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return &Definition{Workflow: d.wf, Graph: g, index: d.index, c: c}, nil
}

// maxCycleShown bounds the ids of a cycle written in a message.
const maxCycleShown = 20

// cyclePath writes a cycle as "a -> b -> c -> a", eliding the middle of a
// long one.
func cyclePath(c []string) string {
	if len(c) <= maxCycleShown {
		return strings.Join(c, " -> ")
	}
	head, tail := c[:maxCycleShown/2], c[len(c)-maxCycleShown/2:]
	return fmt.Sprintf("%s -> … %d more … -> %s (%d steps)", strings.Join(head, " -> "), len(c)-len(head)-len(tail), strings.Join(tail, " -> "), len(c)-1)
}

func stepPath(id string) string { return keyPath(keyPath(rootPath, "steps"), id) }

func (v *validator) workflow() {
	wf := v.wf
	switch {
	case wf.ID == "":
		v.add(keyPath(rootPath, "id"), weft.VRequired, "missing workflow id", `add "id": "my_workflow"`)
	case !weft.ValidID(wf.ID):
		v.add(keyPath(rootPath, "id"), weft.VInvalidID, idProblem("workflow id", wf.ID), idSuggestion(wf.ID))
	}
	if wf.MaxParallel < 0 {
		v.add(keyPath(rootPath, "max_parallel"), weft.VInvalidValue, fmt.Sprintf("max_parallel is %d: expected 0 (no cap) or more", wf.MaxParallel), "")
	}
	if wf.AITokenBudget < 0 {
		v.add(keyPath(rootPath, "ai_token_budget"), weft.VInvalidValue, fmt.Sprintf("ai_token_budget is %d: expected 0 (no budget) or more", wf.AITokenBudget), "")
	}
	if wf.Defaults != nil {
		v.retry(keyPath(keyPath(rootPath, "defaults"), "retry"), wf.Defaults.Retry)
	}
	if wf.Steps != nil && len(wf.Steps) == 0 {
		v.add(keyPath(rootPath, "steps"), weft.VEmpty, "a workflow needs at least one step", "")
	}
	if len(wf.Steps) > v.lim.MaxSteps {
		v.add(keyPath(rootPath, "steps"), weft.VLimit, fmt.Sprintf("%d steps, more than the limit of %d", len(wf.Steps), v.lim.MaxSteps), "split the workflow or raise the step limit")
	}
}

// dependencies checks every step and returns the graph edges: deps[i]
// holds the nodes step d.order[i] depends on. It reuses d.deps, resolving
// the positions the decoder could not.
func (v *validator) dependencies(d *decoded) [][]int32 {
	var candidates []string // step ids for suggestions
	for i, id := range d.order {
		st := d.steps[i]
		if st == nil {
			v.add(stepPath(id), weft.VRequired, "step is null: expected an object", "")
			continue
		}
		v.step(id, st)
		pos := d.deps[i]
		if len(pos) != len(st.DependsOn) {
			pos = make([]int32, len(st.DependsOn))
			for j := range pos {
				pos[j] = -1
			}
		}
		kept := pos[:0]
		for j, dep := range st.DependsOn {
			k := pos[j]
			if k < 0 {
				if at, ok := d.index[dep]; ok {
					k = at
				}
			}
			switch {
			case k == int32(i):
				v.add(depPath(id, j), weft.VSelfDependency, fmt.Sprintf("step %q depends on itself", id), "remove it from its own depends_on")
			case k < 0:
				if candidates == nil {
					candidates = d.order[:min(len(d.order), maxSuggestionCandidates)]
				}
				v.add(depPath(id, j), weft.VUnknownDependency, fmt.Sprintf("step %q depends on %q, which is not a step of this workflow", id, dep), weft.DidYouMean(dep, candidates))
			case repeated(kept, k):
				v.add(depPath(id, j), weft.VDuplicateDependency, fmt.Sprintf("%q is listed twice in depends_on", dep), "remove the second one")
			default:
				kept = append(kept, k)
			}
		}
		if n := len(st.DependsOn); n > v.lim.MaxDependencies {
			v.add(keyPath(stepPath(id), "depends_on"), weft.VLimit, fmt.Sprintf("%d dependencies, more than the limit of %d", n, v.lim.MaxDependencies), "")
		}
		d.deps[i] = kept
	}
	return d.deps
}

// repeated reports whether k is in list. Lists longer than a few dozen
// entries are rare; MaxDependencies bounds the quadratic worst case.
func repeated(list []int32, k int32) bool { return slices.Contains(list, k) }

func depPath(id string, j int) string { return indexPath(keyPath(stepPath(id), "depends_on"), j) }

// step checks one step's own fields. Paths are built only for problems:
// a valid million-step workflow costs no path strings.
func (v *validator) step(id string, st *weft.Step) {
	p := func(field string) string {
		if field == "" {
			return stepPath(id)
		}
		return keyPath(stepPath(id), field)
	}
	if !weft.ValidID(st.ID) {
		v.add(p(""), weft.VInvalidID, idProblem("step id", st.ID), idSuggestion(st.ID))
	}
	switch {
	case st.Type == "":
		v.add(p("type"), weft.VRequired, "missing step type", "set \"type\" to one of "+strings.Join(v.types(), ", "))
	case !v.hasType(st.Type):
		v.add(p("type"), weft.VUnknownStepType, fmt.Sprintf("unknown step type %q", st.Type), v.typeSuggestion(st.Type))
	default:
		v.input(p, st)
	}
	if !st.Trigger.Valid() {
		names := make([]string, len(weft.Triggers))
		for i, t := range weft.Triggers {
			names[i] = string(t)
		}
		v.add(p("trigger"), weft.VInvalidValue, fmt.Sprintf("unknown trigger %q: expected one of %s", st.Trigger, strings.Join(names, ", ")), weft.DidYouMean(string(st.Trigger), names))
	}
	if st.Pool != "" && !weft.ValidID(st.Pool) {
		v.add(p("pool"), weft.VInvalidID, idProblem("pool name", st.Pool), idSuggestion(st.Pool))
	}
	if len(st.When) > v.lim.MaxExpressionBytes {
		v.add(p("when"), weft.VLimit, fmt.Sprintf("expression of %d bytes, more than the limit of %d", len(st.When), v.lim.MaxExpressionBytes), "")
	}
	if st.MaxRetries != nil {
		v.maxRetries(p("max_retries"), *st.MaxRetries)
		if st.Retry != nil && st.Retry.MaxRetries != nil {
			v.add(p("max_retries"), weft.VInvalidValue, "max_retries is set twice: here and in retry.max_retries", "keep one of them")
		}
	}
	if st.Retry != nil {
		v.retry(p("retry"), st.Retry)
	}
}

func (v *validator) input(p func(string) string, st *weft.Step) {
	if v.reg == nil {
		return
	}
	exec, err := v.reg.Lookup(st.Type)
	if err != nil {
		return
	}
	iv, ok := exec.(weft.InputValidator)
	if !ok {
		return
	}
	for _, e := range iv.ValidateInput(st.Input) {
		e.Path = relPath(p("input"), e.Path)
		if e.Code == "" {
			e.Code = weft.VInvalidInput
		}
		v.add(e.Path, e.Code, e.Message, e.Suggestion)
	}
}

func (v *validator) types() []string {
	if v.reg == nil {
		return weft.BuiltinTypes
	}
	return v.reg.Types()
}

func (v *validator) hasType(name string) bool {
	if v.reg == nil {
		return slices.Contains(weft.BuiltinTypes, name)
	}
	return v.reg.Has(name)
}

func (v *validator) typeSuggestion(name string) string {
	if s := weft.DidYouMean(name, v.types()); s != "" {
		return s
	}
	return "known types: " + strings.Join(v.types(), ", ")
}

func (v *validator) maxRetries(p string, n int) {
	if n < 0 || n > weft.MaxRetriesLimit {
		v.add(p, weft.VInvalidValue, fmt.Sprintf("max_retries is %d: expected 0 to %d", n, weft.MaxRetriesLimit), "")
	}
}

func (v *validator) retry(p string, r *weft.RetryPolicy) {
	if r == nil {
		return
	}
	if r.MaxRetries != nil {
		v.maxRetries(keyPath(p, "max_retries"), *r.MaxRetries)
	}
	if r.Backoff != nil && (*r.Backoff < 1 || *r.Backoff > weft.MaxBackoff) {
		v.add(keyPath(p, "backoff"), weft.VInvalidValue, fmt.Sprintf("backoff is %g: expected 1 to %g", *r.Backoff, weft.MaxBackoff), "")
	}
	if r.InitialInterval != nil && r.MaxInterval != nil && *r.MaxInterval < *r.InitialInterval {
		v.add(keyPath(p, "max_interval"), weft.VInvalidValue, fmt.Sprintf("max_interval %s is shorter than initial_interval %s", r.MaxInterval, r.InitialInterval), "")
	}
	if !r.Jitter.Valid() {
		names := make([]string, len(weft.Jitters))
		for i, j := range weft.Jitters {
			names[i] = string(j)
		}
		v.add(keyPath(p, "jitter"), weft.VInvalidValue, fmt.Sprintf("unknown jitter %q: expected one of %s", r.Jitter, strings.Join(names, ", ")), weft.DidYouMean(string(r.Jitter), names))
	}
	v.codes(keyPath(p, "retry_on"), r.RetryOn)
	v.codes(keyPath(p, "no_retry_on"), r.NoRetryOn)
	for i, c := range r.NoRetryOn {
		if slices.Contains(r.RetryOn, c) {
			v.add(indexPath(keyPath(p, "no_retry_on"), i), weft.VInvalidValue, fmt.Sprintf("code %q is in both retry_on and no_retry_on", c), "keep it in one of them")
		}
	}
}

func (v *validator) codes(p string, codes []weft.Code) {
	for i, c := range codes {
		if !c.Valid() {
			v.add(indexPath(p, i), weft.VInvalidValue, fmt.Sprintf("%q is not an error code: expected lower-case letters, digits and '_'", c), weft.DidYouMean(string(c), builtinCodes))
		}
	}
}

var builtinCodes = []string{
	string(weft.CodeInvalid), string(weft.CodeTimeout), string(weft.CodeUnavailable),
	string(weft.CodeRateLimited), string(weft.CodeCanceled), string(weft.CodeInternal),
}

func idProblem(what, id string) string {
	switch {
	case id == "":
		return what + " is empty"
	case len(id) > weft.MaxIDBytes:
		return fmt.Sprintf("%s is %d bytes, more than %d", what, len(id), weft.MaxIDBytes)
	}
	return fmt.Sprintf("%s %q has characters outside [A-Za-z0-9_.-]", what, id)
}

// idSuggestion proposes a valid id close to id: bad characters become '_'.
func idSuggestion(id string) string {
	if id == "" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(id) && b.Len() < weft.MaxIDBytes; i++ {
		c := id[i]
		if weft.ValidID(string(c)) {
			b.WriteByte(c)
		} else if b.Len() == 0 || !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	if s := b.String(); weft.ValidID(s) && s != id {
		return fmt.Sprintf("try %q", s)
	}
	return ""
}
