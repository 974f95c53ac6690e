package workflow

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/dag"
	"github.com/weft-dev/weft/eval"
)

// compiled holds what a Definition compiled once at validation: the
// templates of step inputs and the when expressions, and the step ids each
// step reads through them. Slices are indexed by graph node; nil entries
// mean "none".
type compiled struct {
	inputs []*eval.Template
	whens  []*eval.Expr
	reads  [][]string

	sourceOnce sync.Once
	source     json.RawMessage
	sourceErr  error
}

// Input returns the compiled input template of node i, or nil when the
// step has no input.
func (d *Definition) Input(i int32) *eval.Template { return d.c.inputs[i] }

// When returns the compiled when expression of node i, or nil.
func (d *Definition) When(i int32) *eval.Expr { return d.c.whens[i] }

// Reads returns the ids of the steps whose state node i's templates and
// when expression read (all upstream of it), sorted.
func (d *Definition) Reads(i int32) []string { return d.c.reads[i] }

// Source returns the workflow as a JSON document: the document it was
// parsed from (YAML converted to JSON), or, for a workflow built in Go, its
// encoding. It returns an error only when a Go-built workflow cannot be
// encoded.
func (d *Definition) Source() (json.RawMessage, error) {
	d.c.sourceOnce.Do(func() {
		if d.c.source == nil {
			d.c.source, d.c.sourceErr = json.Marshal(d.Workflow)
		}
	})
	return d.c.source, d.c.sourceErr
}

// compile compiles the templates and when expressions of every step and
// checks that they read only upstream steps. It reports problems with
// their document paths.
func (v *validator) compile(order []string, steps []*weft.Step, g *dag.Graph) *compiled {
	c := &compiled{
		inputs: make([]*eval.Template, g.Len()),
		whens:  make([]*eval.Expr, g.Len()),
		reads:  make([][]string, g.Len()),
	}
	opts := &eval.Options{MaxBytes: v.lim.MaxExpressionBytes}
	index := make(map[string]int32) // built on first need
	// Steps often share their inputs and conditions (generated fan-outs):
	// compile each distinct text once.
	tpls := make(map[string]*eval.Template)
	whens := make(map[string]*eval.Expr)
	var up upstream
	for i, id := range order {
		st := steps[i]
		if st == nil {
			continue
		}
		var refs []string
		if len(st.Input) > 0 {
			tpl, seen := tpls[string(st.Input)]
			if !seen {
				var errs weft.ValidationErrors
				tpl, errs = eval.CompileTemplate(st.Input, opts)
				for _, e := range errs {
					v.add(relPath(keyPath(stepPath(id), "input"), e.Path), e.Code, e.Message, e.Suggestion)
				}
				if len(errs) == 0 {
					tpls[string(st.Input)] = tpl
				}
			}
			if tpl != nil {
				c.inputs[i] = tpl
				refs = append(refs, tpl.Refs()...)
			}
		}
		if st.When != "" && len(st.When) <= v.lim.MaxExpressionBytes {
			x, seen := whens[st.When]
			if !seen {
				var err error
				if x, err = eval.Compile(st.When, opts); err != nil {
					v.add(keyPath(stepPath(id), "when"), weft.VExpression, err.Error(), "")
				} else {
					whens[st.When] = x
				}
			}
			if x != nil {
				c.whens[i] = x
				refs = append(refs, x.Refs()...)
			}
		}
		if len(refs) == 0 {
			continue
		}
		refs = slices.Compact(slices.Sorted(slices.Values(refs)))
		if len(index) == 0 {
			for j, id := range order {
				index[id] = int32(j)
			}
		}
		for _, r := range refs {
			j, ok := index[r]
			switch {
			case !ok:
				v.add(stepPath(id), weft.VUnknownDependency, fmt.Sprintf("a template or when expression of step %q reads step %q, which is not a step of this workflow", id, r), weft.DidYouMean(r, order[:min(len(order), maxSuggestionCandidates)]))
			case j == int32(i):
				v.add(stepPath(id), weft.VNotUpstream, fmt.Sprintf("step %q reads its own state in a template or when expression", id), "read data or deps instead")
			case !up.reaches(g, int32(i), j):
				v.add(stepPath(id), weft.VNotUpstream, fmt.Sprintf("step %q reads step %q, which is not upstream of it: %q might not have run yet", id, r, r), fmt.Sprintf("add %q to depends_on", r))
			}
		}
		c.reads[i] = refs
	}
	return c
}

// upstream answers "is j an ancestor of i" by walking dependencies, with
// a visit mark reused across questions.
type upstream struct {
	mark  []uint32
	epoch uint32
	stack []int32
}

func (u *upstream) reaches(g *dag.Graph, i, j int32) bool {
	if slices.Contains(g.Deps(i), j) {
		return true
	}
	if u.mark == nil {
		u.mark = make([]uint32, g.Len())
	}
	u.epoch++
	u.stack = append(u.stack[:0], i)
	for len(u.stack) > 0 {
		n := u.stack[len(u.stack)-1]
		u.stack = u.stack[:len(u.stack)-1]
		for _, d := range g.Deps(n) {
			if d == j {
				return true
			}
			if u.mark[d] != u.epoch {
				u.mark[d] = u.epoch
				u.stack = append(u.stack, d)
			}
		}
	}
	return false
}
