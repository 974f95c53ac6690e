package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft/dag"
	"github.com/weft-dev/weft/workflow"
)

// planFormat is an output format of weft plan.
type planFormat struct {
	name   string
	render func(*bytes.Buffer, *workflow.Definition)
}

// planFormats returns the output formats of weft plan, the default first.
func planFormats() []planFormat {
	return []planFormat{
		{"text", planText},
		{"json", planJSON},
		{"dot", planDOT},
		{"mermaid", planMermaid},
	}
}

func planFormatNames() string {
	formats := planFormats()
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func newPlanCmd() *cobra.Command {
	var (
		format string
		limits limitFlags
	)
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show the plan of a workflow: levels, critical path, graph",
		Long: `Plan validates a workflow and prints its plan: the steps grouped by
level (the longest path from a root; steps of one level do not depend on
each other), the maximum width, and the critical path (a longest chain of
dependencies).

Formats:
  text     a summary for people (the default)
  json     {"workflow", "steps", "edges", "width", "depth", "levels",
           "critical_path", "order"}
  dot      a Graphviz digraph, critical path highlighted: weft plan -f dot
           wf.json | dot -Tsvg > wf.svg
  mermaid  a Mermaid flowchart, critical path highlighted

An invalid workflow prints its problems as validate does and exits 2.`,
		Example: `  weft plan examples/seed_parallel.json
  weft plan --format dot examples/seed_parallel.json | dot -Tsvg > plan.svg`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("no FILE given: plan needs one workflow file")
			case len(args) > 1:
				return usagef("too many arguments: plan takes one FILE, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := limits.options(nil)
			if err != nil {
				return internalError(cmd.ErrOrStderr(), err)
			}
			return plan(cmd, args[0], format, opts)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output `format`: "+planFormatNames())
	limits.register(cmd)
	return cmd
}

func plan(cmd *cobra.Command, file, format string, opts *workflow.Options) error {
	var render func(*bytes.Buffer, *workflow.Definition)
	for _, f := range planFormats() {
		if f.name == format {
			render = f.render
		}
	}
	if render == nil {
		return usagef("unknown format %q: expected one of %s", format, planFormatNames())
	}
	stderr := cmd.ErrOrStderr()
	def, err := workflow.ParseFile(file, opts)
	if err != nil {
		printProblems(stderr, problemsOf(file, err))
		return &exitError{code: exitUsage}
	}
	var buf bytes.Buffer
	render(&buf, def)
	if _, err := cmd.OutOrStdout().Write(buf.Bytes()); err != nil {
		return writeFailed(stderr, err)
	}
	return nil
}

// planText prints the plan for people:
//
//	workflow parallel_workflow: 6 steps, 5 edges, 4 levels, width 2
//	level 0: input_a, input_b
//	…
//	critical path (4 steps): input_a -> process_a -> ai_analysis -> output
func planText(b *bytes.Buffer, def *workflow.Definition) {
	p := def.Graph.Plan()
	fmt.Fprintf(b, "workflow %s: %s, %s, %s, width %d\n", def.Workflow.ID,
		plural(p.Steps, "step"), plural(p.Edges, "edge"), plural(p.Depth, "level"), p.Width)
	for l, ids := range p.Levels {
		fmt.Fprintf(b, "level %d: %s\n", l, strings.Join(ids, ", "))
	}
	fmt.Fprintf(b, "critical path (%s): %s\n", plural(len(p.CriticalPath), "step"), strings.Join(p.CriticalPath, " -> "))
}

// planDocument is the JSON form of a plan: the fields of dag.Plan and the
// workflow id.
type planDocument struct {
	Workflow     string     `json:"workflow"`
	Steps        int        `json:"steps"`
	Edges        int        `json:"edges"`
	Width        int        `json:"width"`
	Depth        int        `json:"depth"`
	Levels       [][]string `json:"levels"`
	CriticalPath []string   `json:"critical_path"`
	Order        []string   `json:"order"`
}

func planJSON(b *bytes.Buffer, def *workflow.Definition) {
	p := def.Graph.Plan()
	writeJSON(b, planDocument{
		Workflow:     def.Workflow.ID,
		Steps:        p.Steps,
		Edges:        p.Edges,
		Width:        p.Width,
		Depth:        p.Depth,
		Levels:       p.Levels,
		CriticalPath: p.CriticalPath,
		Order:        p.Order,
	})
}

// critical marks the critical path of g: onPath[u] tells whether node u is
// on it, and next[u] is the node after u on it, or -1.
func critical(g *dag.Graph) (onPath []bool, next []int32) {
	onPath = make([]bool, g.Len())
	next = make([]int32, g.Len())
	for i := range next {
		next[i] = -1
	}
	path := g.CriticalPath()
	for k, u := range path {
		onPath[u] = true
		if k+1 < len(path) {
			next[u] = path[k+1]
		}
	}
	return onPath, next
}

// Colours of the critical path.
const (
	dotCritical     = `color="#d62728", penwidth=2`
	mermaidCritical = "stroke:#d62728,stroke-width:3px"
)

// planDOT prints a Graphviz digraph: a node per step labelled with its id
// and type, an edge from each dependency to its dependent, the critical
// path in red, and one rank per level.
func planDOT(b *bytes.Buffer, def *workflow.Definition) {
	g := def.Graph
	onPath, next := critical(g)
	fmt.Fprintf(b, "digraph %s {\n", dotQuote(def.Workflow.ID))
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n")
	b.WriteString("  edge [color=\"#555555\"];\n\n")
	for _, u := range g.Order() {
		id := g.ID(u)
		fmt.Fprintf(b, "  %s [label=\"%s\\n%s\"", dotQuote(id), dotEscape(id), dotEscape(stepType(def, id)))
		if onPath[u] {
			b.WriteString(", " + dotCritical)
		}
		b.WriteString("];\n")
	}
	b.WriteByte('\n')
	for _, u := range g.Order() {
		for _, v := range g.Dependents(u) {
			fmt.Fprintf(b, "  %s -> %s", dotQuote(g.ID(u)), dotQuote(g.ID(v)))
			if next[u] == v {
				b.WriteString(" [" + dotCritical + "]")
			}
			b.WriteString(";\n")
		}
	}
	b.WriteByte('\n')
	for _, level := range g.Levels() {
		b.WriteString("  {rank=same;")
		for _, u := range level {
			b.WriteString(" " + dotQuote(g.ID(u)) + ";")
		}
		b.WriteString("}\n")
	}
	b.WriteString("}\n")
}

// dotQuote returns s as a DOT quoted string.
func dotQuote(s string) string { return `"` + dotEscape(s) + `"` }

// dotEscape escapes s for the inside of a DOT quoted string: quotes and
// backslashes are escaped (so that a backslash in an id is never read as a
// label escape such as \n or \N), line breaks become \n.
func dotEscape(s string) string {
	if !strings.ContainsAny(s, "\"\\\r\n") {
		return s
	}
	return strings.NewReplacer(`"`, `\"`, `\`, `\\`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// planMermaid prints a Mermaid flowchart: nodes n0, n1… in the plan's
// order, labelled with the step's id and type, an edge from each dependency
// to its dependent, and the critical path styled as class "critical".
func planMermaid(b *bytes.Buffer, def *workflow.Definition) {
	g := def.Graph
	_, next := critical(g)
	name := make([]string, g.Len())
	for k, u := range g.Order() {
		name[u] = "n" + strconv.Itoa(k)
	}
	b.WriteString("flowchart LR\n")
	for _, u := range g.Order() {
		id := g.ID(u)
		fmt.Fprintf(b, "  %s[\"%s<br/>%s\"]\n", name[u], mermaidEscape(id), mermaidEscape(stepType(def, id)))
	}
	var criticalEdges []string
	edge := 0
	for _, u := range g.Order() {
		for _, v := range g.Dependents(u) {
			fmt.Fprintf(b, "  %s --> %s\n", name[u], name[v])
			if next[u] == v {
				criticalEdges = append(criticalEdges, strconv.Itoa(edge))
			}
			edge++
		}
	}
	var criticalNodes []string
	for _, u := range g.CriticalPath() {
		criticalNodes = append(criticalNodes, name[u])
	}
	b.WriteString("  classDef critical " + mermaidCritical + "\n")
	if len(criticalNodes) > 0 {
		b.WriteString("  class " + strings.Join(criticalNodes, ",") + " critical\n")
	}
	if len(criticalEdges) > 0 {
		b.WriteString("  linkStyle " + strings.Join(criticalEdges, ",") + " " + mermaidCritical + "\n")
	}
}

// mermaidEscape escapes s for the inside of a quoted Mermaid label, with
// entity codes: quotes would end the label, '#' starts an entity, and '<',
// '>' and '&' would be read as HTML.
func mermaidEscape(s string) string {
	if !strings.ContainsAny(s, "\"#<>&\r\n") {
		return s
	}
	return strings.NewReplacer(`"`, "#34;", "#", "#35;", "<", "#60;", ">", "#62;", "&", "#38;",
		"\r\n", "<br/>", "\n", "<br/>", "\r", "<br/>").Replace(s)
}

func stepType(def *workflow.Definition, id string) string {
	if st := def.Workflow.Steps[id]; st != nil {
		return st.Type
	}
	return ""
}
