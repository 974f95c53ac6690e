package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/weft-dev/weft/dag"
	"github.com/weft-dev/weft/workflow"
)

var planExtensions = map[string]string{"text": "txt", "json": "json", "dot": "dot", "mermaid": "mmd"}

func TestPlanGolden(t *testing.T) {
	for _, example := range []string{"seed_parallel", "seed_basic"} {
		file := "../../examples/" + example + ".json"
		for _, format := range []string{"text", "json", "dot", "mermaid"} {
			t.Run(example+"/"+format, func(t *testing.T) {
				r := cli(t, "plan", "--format", format, file)
				if r.code != exitOK || r.stderr != "" {
					t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
				}
				golden(t, "plan_"+example+"."+planExtensions[format], r.stdout)
			})
		}
	}
}

func TestPlanDefaultFormatIsText(t *testing.T) {
	want := `workflow parallel_workflow: 6 steps, 5 edges, 4 levels, width 2
level 0: input_a, input_b
level 1: process_a, process_b
level 2: ai_analysis
level 3: output
critical path (4 steps): input_a -> process_a -> ai_analysis -> output
`
	cli(t, "plan", "../../examples/seed_parallel.json").expect(t, exitOK, want, "")
	cli(t, "plan", "-f", "text", "../../examples/seed_parallel.json").expect(t, exitOK, want, "")
}

// TestPlanJSONIsThePlan checks that the JSON output holds exactly the
// fields of dag.Plan, with its values, plus the workflow id.
func TestPlanJSONIsThePlan(t *testing.T) {
	file := "../../examples/seed_parallel.json"
	r := cli(t, "plan", "--format=json", file)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"workflow"}
	pt := reflect.TypeFor[dag.Plan]()
	for i := range pt.NumField() {
		want = append(want, strings.Split(pt.Field(i).Tag.Get("json"), ",")[0])
	}
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	var id string
	if err := json.Unmarshal(fields["workflow"], &id); err != nil || id != "parallel_workflow" {
		t.Errorf("workflow %s", fields["workflow"])
	}
	var p dag.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	def, err := workflow.ParseFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := def.Graph.Plan(); !reflect.DeepEqual(&p, want) {
		t.Errorf("plan %+v, want %+v", p, want)
	}
}

func TestPlanOneStep(t *testing.T) {
	file := writeFile(t, "one.json", `{"id": "one", "steps": {"only": {"type": "input"}}}`)
	cli(t, "plan", file).expect(t, exitOK, `workflow one: 1 step, 0 edges, 1 level, width 1
level 0: only
critical path (1 step): only
`, "")
	cli(t, "plan", "-f", "mermaid", file).expect(t, exitOK, `flowchart LR
  n0["only<br/>input"]
  classDef critical stroke:#d62728,stroke-width:3px
  class n0 critical
`, "")
	cli(t, "plan", "-f", "dot", file).expect(t, exitOK, `digraph "one" {
  rankdir=LR;
  node [shape=box, style=rounded, fontname="Helvetica"];
  edge [color="#555555"];

  "only" [label="only\ninput", color="#d62728", penwidth=2];


  {rank=same; "only";}
}
`, "")
}

// TestPlanIDs checks ids with '.' and '-', which DOT must quote and Mermaid
// must not use as node names, and a diamond, whose critical path takes the
// first branch by id.
func TestPlanIDs(t *testing.T) {
	file := writeFile(t, "ids.json", `{"id": "v1.2-ids", "steps": {
		"z.last": {"type": "output", "depends_on": ["b-right", "a.left"]},
		"a.left": {"type": "process", "depends_on": ["0-start"]},
		"b-right": {"type": "process", "depends_on": ["0-start"]},
		"0-start": {"type": "input"}}}`)
	cli(t, "plan", "-f", "mermaid", file).expect(t, exitOK, `flowchart LR
  n0["0-start<br/>input"]
  n1["a.left<br/>process"]
  n2["b-right<br/>process"]
  n3["z.last<br/>output"]
  n0 --> n1
  n0 --> n2
  n1 --> n3
  n2 --> n3
  classDef critical stroke:#d62728,stroke-width:3px
  class n0,n1,n3 critical
  linkStyle 0,2 stroke:#d62728,stroke-width:3px
`, "")
	r := cli(t, "plan", "-f", "dot", file)
	for _, line := range []string{
		`digraph "v1.2-ids" {`,
		`  "0-start" [label="0-start\ninput", color="#d62728", penwidth=2];`,
		`  "b-right" [label="b-right\nprocess"];`,
		`  "0-start" -> "a.left" [color="#d62728", penwidth=2];`,
		`  "0-start" -> "b-right";`,
		`  "b-right" -> "z.last";`,
		`  {rank=same; "a.left"; "b-right";}`,
	} {
		if !slices.Contains(strings.Split(r.stdout, "\n"), line) {
			t.Errorf("dot output lacks the line %s:\n%s", line, r.stdout)
		}
	}
}

func TestEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"plain_id.v-1": "plain_id.v-1",
		`a"b`:          `a\"b`,
		`a\b`:          `a\\b`,
		`\N`:           `\\N`,
		`end\`:         `end\\`,
		"two\nlines":   `two\nlines`,
	} {
		if got := dotEscape(in); got != want {
			t.Errorf("dotEscape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := dotQuote(`say "hi"`); got != `"say \"hi\""` {
		t.Errorf("dotQuote = %s", got)
	}
	for in, want := range map[string]string{
		"plain_id.v-1": "plain_id.v-1",
		`a"b`:          "a#34;b",
		"#35;":         "#35;35;",
		"<b>&":         "#60;b#62;#38;",
		"two\nlines":   "two<br/>lines",
	} {
		if got := mermaidEscape(in); got != want {
			t.Errorf("mermaidEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPlanDeterministic plans a larger generated workflow several times, in
// every format, and expects the same bytes each time. Step names are
// shuffled relative to document order, so that any reliance on map or
// document order would show.
func TestPlanDeterministic(t *testing.T) {
	const n = 300
	name := func(i int) string { return fmt.Sprintf("s%03d", (i*7919)%n) }
	var b strings.Builder
	b.WriteString(`{"id": "wide", "steps": {`)
	for i := range n {
		var deps []string
		for _, d := range []int{i - 1, i / 2, i / 3, i - 7} {
			if d >= 0 && d < i && !slices.Contains(deps, `"`+name(d)+`"`) {
				deps = append(deps, `"`+name(d)+`"`)
			}
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `"%s": {"type": "process", "depends_on": [%s]}`, name(i), strings.Join(deps, ", "))
	}
	b.WriteString("}}")
	file := writeFile(t, "wide.json", b.String())
	for _, format := range []string{"text", "json", "dot", "mermaid"} {
		first := cli(t, "plan", "-f", format, file)
		if first.code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, first.code, first.stderr)
		}
		for range 5 {
			if again := cli(t, "plan", "-f", format, file); again.stdout != first.stdout {
				t.Fatalf("%s: two plans of one workflow differ", format)
			}
		}
	}
	r := cli(t, "plan", file)
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; !strings.HasPrefix(first, "workflow wide: 300 steps, ") {
		t.Errorf("first line %q", first)
	}
}

func TestPlanInvalid(t *testing.T) {
	for _, format := range []string{"text", "json", "dot", "mermaid"} {
		cli(t, "plan", "-f", format, "testdata/invalid/cycle.json").expect(t, exitUsage, "",
			"testdata/invalid/cycle.json: $.steps.fetch.depends_on: dependency cycle: fetch -> store -> parse -> fetch (remove one of these dependencies)\n")
	}
	cli(t, "plan", "testdata/missing.json").expect(t, exitUsage, "", "testdata/missing.json: cannot read: no such file or directory\n")
	cli(t, "plan", "--max-steps", "5", "../../examples/seed_parallel.json").expect(t, exitUsage, "",
		"../../examples/seed_parallel.json: $.steps: more than 5 steps (split the workflow or raise the step limit)\n")
}

// writeFile writes content to a file named name in a new temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPlanDOTRenders feeds the DOT outputs to Graphviz, when it is
// installed, to check that they parse.
func TestPlanDOTRenders(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz dot is not installed")
	}
	for _, file := range []string{"../../examples/seed_parallel.json", "../../examples/seed_basic.json"} {
		r := cli(t, "plan", "-f", "dot", file)
		cmd := exec.CommandContext(t.Context(), dot, "-Tplain")
		cmd.Stdin = strings.NewReader(r.stdout)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "graph ") {
			t.Errorf("%s: dot: %v\n%s", file, err, out)
		}
	}
}
