package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/weft-dev/weft/workflow"
)

const seedBasic = "../../examples/seed_basic.json"

// runDoc is the document of weft run --json, as tests read it.
type runDoc struct {
	RunID      string                     `json:"run_id"`
	WorkflowID string                     `json:"workflow_id"`
	Status     string                     `json:"status"`
	Result     json.RawMessage            `json:"result"`
	Error      *errDoc                    `json:"error"`
	Steps      map[string]json.RawMessage `json:"steps"`
	Metrics    map[string]json.RawMessage `json:"metrics"`
}

type errDoc struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type stepDoc struct {
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	Reason      string          `json:"reason"`
	Attempts    int             `json:"attempts"`
	Output      json.RawMessage `json:"output"`
	Error       *errDoc         `json:"error"`
	QueueWaitMS float64         `json:"queue_wait_ms"`
	DurationMS  float64         `json:"duration_ms"`
	AITokens    *tokensDoc      `json:"ai_tokens"`
}

type tokensDoc struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// parseRunDoc decodes the stdout of weft run --json, checking that it is
// exactly one document with the documented fields.
func parseRunDoc(t *testing.T, r result) *runDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.stdout)
	}
	// Times of a run that has not started or ended are left out.
	delete(fields, "started_at")
	delete(fields, "finished_at")
	wantKeys(t, "document", fields, "run_id", "workflow_id", "status", "result", "error", "created_at",
		"last_event", "completed", "active", "order", "steps", "metrics")
	var doc runDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "metrics", doc.Metrics, "duration_ms", "steps_total", "succeeded", "failed", "skipped", "canceled",
		"retries", "peak_parallel", "utilization", "ai_tokens")
	var tokens map[string]json.RawMessage
	if err := json.Unmarshal(doc.Metrics["ai_tokens"], &tokens); err != nil {
		t.Fatalf("metrics.ai_tokens: %v", err)
	}
	wantKeys(t, "metrics.ai_tokens", tokens, "prompt_tokens", "completion_tokens", "total_tokens")
	for id, raw := range doc.Steps {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		delete(f, "reason")     // only when there is one
		delete(f, "ai_tokens")  // only for steps that used AI tokens
		delete(f, "started_at") // only for steps that started
		delete(f, "finished_at")
		wantKeys(t, "step "+id, f, "type", "status", "attempts", "output", "error", "queue_wait_ms", "duration_ms")
	}
	return &doc
}

func wantKeys(t *testing.T, what string, m map[string]json.RawMessage, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s has fields %v, want %v", what, got, keys)
	}
}

func (d *runDoc) step(t *testing.T, id string) *stepDoc {
	t.Helper()
	raw, ok := d.Steps[id]
	if !ok {
		t.Fatalf("no step %q in %v", id, d.Steps)
	}
	var s stepDoc
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (d *runDoc) metric(t *testing.T, name string) float64 {
	t.Helper()
	var v float64
	if err := json.Unmarshal(d.Metrics[name], &v); err != nil {
		t.Fatalf("metrics.%s: %v", name, err)
	}
	return v
}

// jsonEq reports whether a and b are the same JSON value.
func jsonEq(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// writeWorkflow writes doc to a file in a temporary directory.
func writeWorkflow(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wf.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// yamlReady reports whether the YAML reader (workflow/yaml.go) is in.
func yamlReady() bool {
	_, err := workflow.Parse([]byte("id: y\nsteps:\n  a: {type: input}\n"), &workflow.Options{Format: workflow.FormatYAML})
	return err == nil
}

// TestRunExamples runs every example and checks its outcome.
func TestRunExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		ext := filepath.Ext(file)
		if ext != ".json" && ext != ".yaml" && ext != ".yml" {
			continue
		}
		n++
		t.Run(filepath.Base(file), func(t *testing.T) {
			if ext != ".json" && !yamlReady() {
				t.Skip("the YAML reader (workflow/yaml.go) is not in yet")
			}
			args := []string{"run", "--json", file}
			if filepath.Base(file) == "seed_parallel.json" {
				// Its ai step runs with the offline provider.
				args = append(args, "--ai-provider", "echo")
			}
			r := cli(t, args...)
			doc := parseRunDoc(t, r)
			if filepath.Base(file) == "seed_parallel.json" {
				var out struct{ Text, Model string }
				if err := json.Unmarshal(doc.step(t, "ai_analysis").Output, &out); err != nil ||
					!strings.Contains(out.Text, "process_a") || !strings.Contains(out.Text, "process_b") || out.Model != "echo" {
					t.Errorf("ai_analysis output %s (%v): want the echo of both process_a and process_b", doc.step(t, "ai_analysis").Output, err)
				}
			}
			if r.code != exitOK || doc.Status != "succeeded" || doc.Error != nil || r.stderr != "" {
				t.Fatalf("exit %d, status %s, error %+v, stderr %q", r.code, doc.Status, doc.Error, r.stderr)
			}
			def, err := workflow.ParseFile(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Steps) != len(def.Workflow.Steps) || doc.metric(t, "succeeded") != float64(len(def.Workflow.Steps)) {
				t.Errorf("%d steps in the document, %v succeeded, want %d", len(doc.Steps), doc.metric(t, "succeeded"), len(def.Workflow.Steps))
			}
			if doc.WorkflowID != def.Workflow.ID || doc.RunID == "" {
				t.Errorf("run_id %q, workflow_id %q", doc.RunID, doc.WorkflowID)
			}
		})
	}
	if n < 6 {
		t.Errorf("ran %d examples, want at least 6", n)
	}
}

func TestRunSeedBasicJSON(t *testing.T) {
	r := cli(t, "run", seedBasic, "--json")
	doc := parseRunDoc(t, r)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !jsonEq(t, string(doc.Result), `{"message": "HELLO"}`) {
		t.Errorf("result %s, want {\"message\": \"HELLO\"}", doc.Result)
	}
	for _, id := range []string{"collect_data", "process_data"} {
		s := doc.step(t, id)
		if s.Status != "succeeded" || s.Attempts != 1 || s.Error != nil || s.DurationMS < 0 || s.QueueWaitMS < 0 {
			t.Errorf("%s: %+v", id, s)
		}
	}
	if !jsonEq(t, string(doc.step(t, "collect_data").Output), `{"message": "hello"}`) {
		t.Errorf("collect_data output %s", doc.step(t, "collect_data").Output)
	}
	// "error": null is written, not left out.
	if !strings.Contains(r.stdout, "\"error\": null,\n  \"created_at\"") {
		t.Errorf("the run's error is not null:\n%s", r.stdout)
	}
	for name, want := range map[string]float64{"steps_total": 2, "succeeded": 2, "failed": 0, "skipped": 0, "retries": 0, "peak_parallel": 1} {
		if got := doc.metric(t, name); got != want {
			t.Errorf("metrics.%s = %v, want %v", name, got, want)
		}
	}
	if u := doc.metric(t, "utilization"); u < 0 || u > 1 {
		t.Errorf("utilization %v", u)
	}
}

// normalizeRun replaces what changes from run to run (the run id, times
// and durations) with placeholders.
func normalizeRun(s string) string {
	if m := regexp.MustCompile(`run ([0-9a-f]{16}) started`).FindStringSubmatch(s); m != nil {
		s = strings.ReplaceAll(s, m[1], "<RUN>")
	}
	s = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3} `).ReplaceAllString(s, "<TIME> ")
	return regexp.MustCompile(`\b\d+h\d+m\d+s|\b\d+m\d+s|\b\d+(\.\d+)?(µs|ms|s)\b`).ReplaceAllString(s, "<DUR>")
}

func TestRunEventsGolden(t *testing.T) {
	r := cli(t, "run", seedBasic)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "run_seed_basic.events", normalizeRun(r.stdout))

	r = cli(t, "run", "--quiet", seedBasic)
	r.expect(t, exitOK, "{\n  \"message\": \"HELLO\"\n}\n", "")
}

func TestRunFailedEvents(t *testing.T) {
	noAIEnv(t)
	r := cli(t, "run", "../../examples/seed_parallel.json")
	if r.code != exitRunFailed || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	out := normalizeRun(r.stdout)
	for _, want := range []string{
		"run <RUN> started: workflow parallel_workflow, 6 steps\n",
		"<TIME> step ai_analysis failed (attempt 1, <DUR>): invalid: ai step: no AI provider is configured",
		"<TIME> step output skipped (upstream_failed)\n",
		"run <RUN> failed in <DUR>: 6 steps, 4 succeeded, 1 failed, 1 skipped\nerror: invalid: step ai_analysis failed: ai step: no AI provider",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "\nnull\n") {
		t.Errorf("output does not end with the result, null:\n%s", out)
	}

	r = cli(t, "run", "-q", "../../examples/seed_parallel.json")
	if r.code != exitRunFailed || r.stdout != "null\n" ||
		!strings.HasPrefix(normalizeRun(r.stderr), "weft: run ") ||
		!strings.Contains(r.stderr, " failed in ") || !strings.Contains(r.stderr, "\nweft: error: invalid: step ai_analysis failed: ") {
		t.Errorf("--quiet: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// failingWorkflow fails in its check step, with a validate rule.
const failingWorkflow = `{
  "id": "failing",
  "steps": {
    "load": {"type": "input", "input": {"data": {"value": 1}}},
    "check": {"type": "process", "depends_on": ["load"],
              "input": {"rules": [{"type": "validate", "condition": "value > 5", "message": "value must be above 5"}]}},
    "report": {"type": "output", "depends_on": ["check"]}
  }
}`

func TestRunExitCodes(t *testing.T) {
	failing := writeWorkflow(t, failingWorkflow)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a line stderr must hold
	}{
		{"invalid workflow", []string{"run", "testdata/invalid/cycle.json"}, exitUsage,
			"testdata/invalid/cycle.json: $.steps.fetch.depends_on: dependency cycle: fetch -> store -> parse -> fetch (remove one of these dependencies)\n"},
		{"invalid workflow --json", []string{"run", "--json", "testdata/invalid/unknown_field.json"}, exitUsage,
			"testdata/invalid/unknown_field.json: $.steps.process_data.dependson: unknown field \"dependson\" in a step (did you mean \"depends_on\"?)\n"},
		{"invalid step input", []string{"run", writeWorkflow(t, `{"id": "w", "steps": {"o": {"type": "output", "input": {"destination": "ftp"}}}}`)}, exitUsage,
			`$.steps.o.input.destination: `},
		{"missing file", []string{"run", "testdata/missing.json"}, exitUsage,
			"testdata/missing.json: cannot read: no such file or directory\n"},
		{"no file", []string{"run"}, exitUsage,
			"weft: no FILE given: run needs one workflow file\nRun 'weft run --help' for usage.\n"},
		{"two files", []string{"run", seedBasic, seedBasic}, exitUsage,
			"weft: too many arguments: run takes one FILE, got 2\n"},
		{"param without =", []string{"run", "--param", "name", seedBasic}, exitUsage,
			"weft: --param \"name\": expected KEY=VALUE, such as --param name=weft\nRun 'weft run --help' for usage.\n"},
		{"param with an empty key", []string{"run", "--param", "=v", seedBasic}, exitUsage,
			"weft: --param \"=v\": \"\" is not a parameter name: expected 1 to 128 letters, digits, '_' and '-', starting with a letter or '_'\n"},
		{"param key starting with a digit", []string{"run", "-p", "1x=2", seedBasic}, exitUsage,
			"weft: --param \"1x=2\": \"1x\" is not a parameter name"},
		{"param key with a dot", []string{"run", "--param=a.b=2", seedBasic}, exitUsage,
			"weft: --param \"a.b=2\": \"a.b\" is not a parameter name"},
		{"bad allow-hosts", []string{"run", "--allow-hosts", "http://example.com", seedBasic}, exitUsage,
			"weft: --allow-hosts: allowed host \"http://example.com\": "},
		{"bad allow-hosts CIDR", []string{"run", "--allow-hosts", "10.0.0.0/33", seedBasic}, exitUsage,
			"weft: --allow-hosts: allowed host \"10.0.0.0/33\": not a valid CIDR block"},
		{"max-parallel zero", []string{"run", "--max-parallel", "0", seedBasic}, exitUsage,
			"weft: invalid argument \"0\" for \"--max-parallel\" flag: expected a whole number of 1 or more\n"},
		{"json and quiet", []string{"run", "--json", "-q", seedBasic}, exitUsage,
			"weft: --json and --quiet cannot be used together: each prints one JSON document\n"},
		{"unknown flag", []string{"run", "--stor", "x.db", seedBasic}, exitUsage,
			"weft: unknown flag: --stor\n"},
		{"malformed store", []string{"run", "--store", "x.db", seedBasic}, exitUsage,
			"weft: --store \"x.db\": expected memory, sqlite:PATH or postgres://USER@HOST/DB\n"},
		{"postgres store URL without a host", []string{"run", "--store", "postgres://", seedBasic}, exitUsage,
			"weft: --store postgres://: expected a URL such as postgres://USER@HOST:5432/DB"},
		{"postgres store that cannot be reached hides its password", []string{"run", "--store", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", seedBasic}, exitUsage,
			"weft: "},
		{"store that is not a database", []string{"run", "--store", "sqlite:testdata/invalid/cycle.json", seedBasic}, exitUsage,
			"weft: sqlite: open testdata/invalid/cycle.json"},
		{"max-steps", []string{"run", "--max-steps", "1", seedBasic}, exitUsage,
			seedBasic + ": $.steps: more than 1 steps (split the workflow or raise the step limit)\n"},
		{"failing workflow", []string{"run", failing}, exitRunFailed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, want %d\nstderr:\n%s\nwant it to hold:\n%s", r.code, tt.code, r.stderr, tt.stderr)
			}
			if tt.code == exitUsage && r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestRunAllowHostsFromEnvironment(t *testing.T) {
	t.Setenv(envAllowHosts, "not a host!")
	r := cli(t, "run", seedBasic)
	if r.code != exitUsage || !strings.HasPrefix(r.stderr, "weft: $WEFT_ALLOW_HOSTS: allowed host \"not a host!\": ") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	// The flag wins over the environment.
	r = cli(t, "run", "--allow-hosts", "127.0.0.1", "--quiet", seedBasic)
	if r.code != exitOK {
		t.Errorf("with --allow-hosts: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRunFailingWorkflowJSON(t *testing.T) {
	r := cli(t, "run", "--json", writeWorkflow(t, failingWorkflow))
	doc := parseRunDoc(t, r)
	if r.code != exitRunFailed || doc.Status != "failed" || r.stderr != "" {
		t.Fatalf("exit %d, status %s, stderr %q", r.code, doc.Status, r.stderr)
	}
	check := doc.step(t, "check")
	if check.Status != "failed" || check.Attempts != 1 || check.Error == nil || check.Error.Code != "invalid" ||
		!strings.Contains(check.Error.Message, "value must be above 5") || string(check.Output) != "null" {
		t.Errorf("check: %+v, error %+v", check, check.Error)
	}
	if s := doc.step(t, "report"); s.Status != "skipped" || s.Reason != "upstream_failed" {
		t.Errorf("report: %+v", s)
	}
	if doc.Error == nil || doc.Error.Code != "invalid" || !strings.Contains(doc.Error.Message, "value must be above 5") {
		t.Errorf("run error %+v", doc.Error)
	}
	if string(doc.Result) != "null" {
		t.Errorf("result %s, want null", doc.Result)
	}
}

func TestRunParams(t *testing.T) {
	file := writeWorkflow(t, `{
  "id": "params",
  "params": {"greeting": "hello", "name": "nobody"},
  "steps": {
    "in": {"type": "input", "input": {"data": {
      "name": "{{ params.name }}", "n": "{{ params.n }}", "flag": "{{ params.flag }}",
      "obj": "{{ params.obj }}", "text": "{{ params.text }}", "quoted": "{{ params.quoted }}",
      "greeting": "{{ params.greeting }}, {{ params.name }}", "dash": "{{ params[\"with-dash\"] }}"
    }}}
  }
}`)
	r := cli(t, "run", "--json",
		"--param", "name=nobody-else", "--param", "name=weft", // the last one wins
		"--param", "n=3", "-p", "flag=true", "-p", `obj={"a": [1, 2]}`,
		"-p", "text=hello world", "-p", `quoted="3"`, "-p", "with-dash=x=y", file)
	doc := parseRunDoc(t, r)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q, error %+v", r.code, r.stderr, doc.Error)
	}
	want := `{"name": "weft", "n": 3, "flag": true, "obj": {"a": [1, 2]}, "text": "hello world",
		"quoted": "3", "greeting": "hello, weft", "dash": "x=y"}`
	if !jsonEq(t, string(doc.Result), want) {
		t.Errorf("result %s\nwant %s", doc.Result, want)
	}
}

// TestRunStepOrder checks that steps are reported in topological order,
// whatever their order in the document.
func TestRunStepOrder(t *testing.T) {
	file := writeWorkflow(t, `{"id": "backwards", "steps": {
  "c": {"type": "process", "depends_on": ["b"]},
  "b": {"type": "process", "depends_on": ["a"]},
  "a": {"type": "input", "input": {"data": 1}}
}}`)
	r := cli(t, "run", "--json", file)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var order []string
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	depth := 0
	inSteps := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				depth++
			} else {
				depth--
				if depth == 1 {
					inSteps = false
				}
			}
		case string:
			if depth == 1 && tok == "steps" {
				inSteps = true
			} else if inSteps && depth == 2 && dec.More() {
				order = append(order, tok)
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if !slices.Equal(order, []string{"a", "b", "c"}) {
		t.Errorf("steps in order %v, want [a b c]", order)
	}

	r = cli(t, "run", file)
	ia, ib, ic := strings.Index(r.stdout, "step a succeeded"), strings.Index(r.stdout, "step b succeeded"), strings.Index(r.stdout, "step c succeeded")
	if r.code != exitOK || ia < 0 || ia > ib || ib > ic {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
}

func TestRunOutputDir(t *testing.T) {
	file := writeWorkflow(t, `{"id": "to_file", "steps": {
  "in": {"type": "input", "input": {"data": {"message": "hello"}}},
  "save": {"type": "output", "depends_on": ["in"], "input": {"destination": "file", "path": "reports/out.json"}}
}}`)
	dir := filepath.Join(t.TempDir(), "out")
	r := cli(t, "run", "--quiet", "--output-dir", dir, file)
	r.expect(t, exitOK, "{\n  \"message\": \"hello\"\n}\n", "")
	got, err := os.ReadFile(filepath.Join(dir, "reports", "out.json"))
	if err != nil || string(got) != "{\"message\":\"hello\"}\n" {
		t.Errorf("file: %q, %v", got, err)
	}

	// Without --output-dir, the step fails and says what to do.
	r = cli(t, "run", "--json", file)
	doc := parseRunDoc(t, r)
	if s := doc.step(t, "save"); r.code != exitRunFailed || s.Status != "failed" || s.Error == nil || s.Error.Code != "invalid" ||
		!strings.Contains(s.Error.Message, "--output-dir") {
		t.Errorf("exit %d, save: %+v %+v", r.code, s, s.Error)
	}
}

// stdoutWorkflow has three steps that write lines to stdout at once.
const stdoutWorkflow = `{"id": "to_stdout", "steps": {
  "in": {"type": "input", "input": {"data": {"message": "hello"}}},
  "say1": {"type": "output", "depends_on": ["in"], "input": {"destination": "stdout", "format": "template", "template": "line one {{ data.message }}"}},
  "say2": {"type": "output", "depends_on": ["in"], "input": {"destination": "stdout", "format": "template", "template": "line two {{ data.message }}"}},
  "say3": {"type": "output", "depends_on": ["in"], "input": {"destination": "stdout"}}
}}`

func TestRunStepStdout(t *testing.T) {
	file := writeWorkflow(t, stdoutWorkflow)
	r := cli(t, "run", file)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(r.stdout, "\n")
	for _, want := range []string{"line one hello", "line two hello", `{"message":"hello"}`} {
		if !slices.Contains(lines, want) {
			t.Errorf("stdout lacks the line %q:\n%s", want, r.stdout)
		}
	}

	// With --json and --quiet, stdout is the document's: the steps write
	// to stderr.
	r = cli(t, "run", "--json", file)
	parseRunDoc(t, r)
	for _, want := range []string{"line one hello\n", "line two hello\n", "{\"message\":\"hello\"}\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--json: stderr lacks %q: %q", want, r.stderr)
		}
	}
	r = cli(t, "run", "--quiet", file)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "{\n") || !strings.Contains(r.stderr, "line one hello\n") {
		t.Errorf("--quiet: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunMaxParallel(t *testing.T) {
	// fanout50.json says max_parallel 8; the flag overrides it.
	r := cli(t, "run", "--json", "--max-parallel", "2", "../../examples/fanout50.json")
	doc := parseRunDoc(t, r)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if p := doc.metric(t, "peak_parallel"); p < 1 || p > 2 {
		t.Errorf("peak_parallel %v, want 1 or 2", p)
	}
}

// TestValidateChecksStepInputs checks that validate and plan check step
// inputs with the built-in executors, as run does.
func TestValidateChecksStepInputs(t *testing.T) {
	file := writeWorkflow(t, `{"id": "w", "steps": {"o": {"type": "output", "input": {"destination": "ftp"}}}}`)
	for _, cmd := range []string{"validate", "plan"} {
		r := cli(t, cmd, file)
		if r.code != exitUsage || r.stdout != "" || !strings.HasPrefix(r.stderr, file+": $.steps.o.input.destination: ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", cmd, r.code, r.stdout, r.stderr)
		}
	}
}
