package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/bench"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/workflow"
)

// stepType and stepInput are what every step of a workload runs: an input
// step with a small constant datum. The workers run only built-in step
// types. Any of the no-op candidates costs a few microseconds a call (see
// BenchmarkStepTypes: about 2.7 µs for this one, 3.2 µs for a process step
// with a datum and no rules), against hundreds for a step's store work. A
// process step without rules or datum is cheaper still (1.5 µs) but
// passes the flowing data on, so its output grows with its fan-in (for
// wide10k's sink, an object of 10,000 outputs), whereas this one's output
// is the same 1 byte for every step.
const (
	stepType  = "input"
	stepInput = `{"data":1}`
)

// spec names a workload and generates its shape.
type spec struct {
	// name names the workload in the report.
	name string
	// gen returns the workload's graph, a bench workload of noop steps
	// (only its shape is used).
	gen func() *bench.Workload
	// chain is true when each step depends on the one before: the
	// workers always have a free slot, so dispatch is never queueing.
	chain bool
}

// specs are the workloads weftdist knows, by name: the shapes of the bench
// package's workloads (bench.Wide, bench.Layered, bench.Chain), with
// built-in steps.
var specs = []spec{
	{name: "wide10k", gen: func() *bench.Workload { return bench.ByName("wide10k") }},
	{name: "layered100k", gen: func() *bench.Workload { return bench.ByName("layered100k") }},
	{name: "chain1k", gen: func() *bench.Workload { return bench.Chain("chain1k", 1_000) }, chain: true},
	{name: "chain10k", gen: func() *bench.Workload { return bench.ByName("chain10k") }, chain: true},
}

// defaultWorkloads are the workloads run when -workloads is not given.
const defaultWorkloads = "wide10k,layered100k,chain1k"

// specsByName returns the specs of a comma-separated list of names.
func specsByName(list string) ([]spec, error) {
	var out []spec
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(specs, func(s spec) bool { return s.name == name })
		if i < 0 {
			names := make([]string, len(specs))
			for k, s := range specs {
				names[k] = s.name
			}
			return nil, fmt.Errorf("unknown workload %q (want some of %s)", name, strings.Join(names, ","))
		}
		out = append(out, specs[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no workload given")
	}
	return out, nil
}

// prepared is a workload ready to submit: its definition, parsed and
// validated once from the generated document against the built-in step
// types.
type prepared struct {
	spec
	steps int
	def   *workflow.Definition
	// reg holds the built-in step types, for the engines that submit and
	// run it.
	reg *weft.Registry
}

// stepDoc is one step of a generated document.
type stepDoc struct {
	Type      string          `json:"type"`
	Input     json.RawMessage `json:"input"`
	DependsOn []string        `json:"depends_on"`
}

// document returns the JSON document of w's graph with every step an
// input step (stepType, stepInput), its workflow id the workload's name.
func document(w *bench.Workload) ([]byte, error) {
	steps := make(map[string]stepDoc, len(w.Workflow.Steps))
	for id, st := range w.Workflow.Steps {
		deps := st.DependsOn
		if deps == nil {
			deps = []string{}
		}
		steps[id] = stepDoc{Type: stepType, Input: json.RawMessage(stepInput), DependsOn: deps}
	}
	return json.Marshal(struct {
		ID    string             `json:"id"`
		Steps map[string]stepDoc `json:"steps"`
	}{w.Name, steps})
}

// prepare generates s's document and parses it with the built-in step
// types, as a user's document would be.
func prepare(s spec) (*prepared, error) {
	w := s.gen()
	doc, err := document(w)
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", s.name, err)
	}
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		return nil, err
	}
	def, err := workflow.Parse(doc, &workflow.Options{Registry: reg})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	if n := len(def.Workflow.Steps); n != w.Steps() {
		return nil, fmt.Errorf("%s: the document has %d steps, the graph %d", s.name, n, w.Steps())
	}
	return &prepared{spec: s, steps: w.Steps(), def: def, reg: reg}, nil
}
