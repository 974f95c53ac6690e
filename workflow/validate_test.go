package workflow

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

// want is one expected problem: its path and code.
type want struct{ path, code string }

func (w want) String() string { return w.path + " " + w.code }

func problems(err error) []want {
	var ve weft.ValidationErrors
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]want, len(ve))
	for i, e := range ve {
		out[i] = want{e.Path, e.Code}
	}
	return out
}

// step builds a minimal valid document around the given steps object text.
func doc(steps string) string { return `{"id": "w", "steps": {` + steps + `}}` }

func TestParseInvalid(t *testing.T) {
	deep := `{"id": "w", "steps": {"a": {"type": "input", "input": ` + strings.Repeat(`{"x":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `}}}`
	tests := []struct {
		name string
		doc  string
		want []want
		// suggestion, when set, must appear in the first problem's suggestion.
		suggestion string
	}{
		{"array document", `[1, 2]`, []want{{"$", weft.VType}}, ""},
		{"string document", `"hello"`, []want{{"$", weft.VType}}, ""},
		{"empty document", ``, []want{{"$", weft.VType}}, ""},
		{"whitespace document", " \n\t ", []want{{"$", weft.VType}}, ""},
		{"missing id and steps", `{}`, []want{{"$", weft.VRequired}, {"$.id", weft.VRequired}}, ""},
		{"empty steps", `{"id": "w", "steps": {}}`, []want{{"$.steps", weft.VEmpty}}, ""},
		{"steps is an array", `{"id": "w", "steps": [{"type": "input"}]}`, []want{{"$.steps", weft.VType}}, ""},
		{"workflow id with spaces", `{"id": "my flow", "steps": {"a": {"type": "input"}}}`, []want{{"$.id", weft.VInvalidID}}, `"my_flow"`},
		{"workflow id too long", `{"id": "` + strings.Repeat("w", 129) + `", "steps": {"a": {"type": "input"}}}`, []want{{"$.id", weft.VInvalidID}}, ""},
		{"step id with spaces", doc(`"my step": {"type": "input"}`), []want{{`$.steps["my step"]`, weft.VInvalidID}}, `"my_step"`},
		{"step id too long", doc(`"` + strings.Repeat("s", 200) + `": {"type": "input"}`), []want{{"$.steps." + strings.Repeat("s", 200), weft.VInvalidID}}, ""},
		{"depends_on is a string", doc(`"a": {"type": "input"}, "b": {"type": "process", "depends_on": "a"}`), []want{{"$.steps.b.depends_on", weft.VType}}, `["a", "b"]`},
		{"depends_on element is a number", doc(`"a": {"type": "input"}, "b": {"type": "process", "depends_on": ["a", 7]}`), []want{{"$.steps.b.depends_on[1]", weft.VType}}, ""},
		{"unknown dependency", doc(`"fetch": {"type": "input"}, "b": {"type": "process", "depends_on": ["fetc"]}`), []want{{"$.steps.b.depends_on[0]", weft.VUnknownDependency}}, `did you mean "fetch"?`},
		{"self dependency", doc(`"a": {"type": "input", "depends_on": ["a"]}`), []want{{"$.steps.a.depends_on[0]", weft.VSelfDependency}}, ""},
		{"duplicate dependency", doc(`"a": {"type": "input"}, "b": {"type": "process", "depends_on": ["a", "a"]}`), []want{{"$.steps.b.depends_on[1]", weft.VDuplicateDependency}}, ""},
		{"two-step cycle", doc(`"a": {"type": "input", "depends_on": ["b"]}, "b": {"type": "process", "depends_on": ["a"]}`), []want{{"$.steps.a.depends_on", weft.VCycle}}, ""},
		{"three-step cycle and an unknown dependency", doc(`"a": {"type": "input", "depends_on": ["c"]}, "b": {"type": "process", "depends_on": ["a", "nope"]}, "c": {"type": "process", "depends_on": ["b"]}`),
			[]want{{"$.steps.b.depends_on[1]", weft.VUnknownDependency}, {"$.steps.a.depends_on", weft.VCycle}}, ""},
		{"unknown step type", doc(`"a": {"type": "proces"}`), []want{{"$.steps.a.type", weft.VUnknownStepType}}, `did you mean "process"?`},
		{"missing step type", doc(`"a": {"depends_on": []}`), []want{{"$.steps.a.type", weft.VRequired}}, ""},
		{"step is a string", doc(`"a": "input"`), []want{{"$.steps.a", weft.VType}, {"$.steps.a.type", weft.VRequired}}, ""},
		{"unknown step field", doc(`"a": {"type": "input", "dependson": []}`), []want{{"$.steps.a.dependson", weft.VUnknownField}}, `did you mean "depends_on"?`},
		{"unknown top-level field", `{"id": "w", "stepz": {}, "steps": {"a": {"type": "input"}}}`, []want{{"$.stepz", weft.VUnknownField}}, `did you mean "steps"?`},
		{"duplicate step field", doc(`"a": {"type": "input", "type": "process"}`), []want{{"$.steps.a.type", weft.VDuplicateKey}}, ""},
		{"duplicate step id", doc(`"a": {"type": "input"}, "a": {"type": "input"}`), []want{{"$.steps.a", weft.VDuplicateKey}}, ""},
		{"duplicate key inside input", doc(`"a": {"type": "input", "input": {"data": {"x": 1, "x": 2}}}`), []want{{"$.steps.a.input.data.x", weft.VDuplicateKey}}, ""},
		{"input is an array", doc(`"a": {"type": "input", "input": [1]}`), []want{{"$.steps.a.input", weft.VType}}, ""},
		{"malformed duration", doc(`"a": {"type": "input", "timeout": "5 sec"}`), []want{{"$.steps.a.timeout", weft.VInvalidDuration}}, ""},
		{"duration without unit", doc(`"a": {"type": "input", "timeout": "30"}`), []want{{"$.steps.a.timeout", weft.VInvalidDuration}}, `"30s"`},
		{"duration as a number", doc(`"a": {"type": "input", "timeout": 30}`), []want{{"$.steps.a.timeout", weft.VType}}, `"30s"`},
		{"negative duration", `{"id": "w", "timeout": "-1m", "steps": {"a": {"type": "input"}}}`, []want{{"$.timeout", weft.VInvalidDuration}}, ""},
		{"max_retries negative", doc(`"a": {"type": "input", "max_retries": -1}`), []want{{"$.steps.a.max_retries", weft.VInvalidValue}}, ""},
		{"max_retries not an integer", doc(`"a": {"type": "input", "max_retries": 1.5}`), []want{{"$.steps.a.max_retries", weft.VType}}, ""},
		{"max_retries set twice", doc(`"a": {"type": "input", "max_retries": 1, "retry": {"max_retries": 2}}`), []want{{"$.steps.a.max_retries", weft.VInvalidValue}}, ""},
		{"retry policy out of range", doc(`"a": {"type": "input", "retry": {"max_retries": 5000, "backoff": 0.5, "initial_interval": "10s", "max_interval": "1s", "jitter": "ful"}}`),
			[]want{{"$.steps.a.retry.max_retries", weft.VInvalidValue}, {"$.steps.a.retry.backoff", weft.VInvalidValue}, {"$.steps.a.retry.max_interval", weft.VInvalidValue}, {"$.steps.a.retry.jitter", weft.VInvalidValue}}, ""},
		{"retry codes", doc(`"a": {"type": "input", "retry": {"retry_on": ["Timeout!"], "no_retry_on": ["x", "timeout"], "retry_on": []}}`),
			[]want{{"$.steps.a.retry.retry_on", weft.VDuplicateKey}, {"$.steps.a.retry.retry_on[0]", weft.VInvalidValue}}, ""},
		{"code in both retry lists", doc(`"a": {"type": "input", "retry": {"retry_on": ["timeout"], "no_retry_on": ["timeout"]}}`), []want{{"$.steps.a.retry.no_retry_on[0]", weft.VInvalidValue}}, ""},
		{"defaults retry out of range", `{"id": "w", "defaults": {"retry": {"backoff": 1000}}, "steps": {"a": {"type": "input"}}}`, []want{{"$.defaults.retry.backoff", weft.VInvalidValue}}, ""},
		{"unknown trigger", doc(`"a": {"type": "input", "trigger": "all_sucess"}`), []want{{"$.steps.a.trigger", weft.VInvalidValue}}, `did you mean "all_success"?`},
		{"bad pool name", doc(`"a": {"type": "input", "pool": "my pool"}`), []want{{"$.steps.a.pool", weft.VInvalidID}}, ""},
		{"negative max_parallel", `{"id": "w", "max_parallel": -2, "steps": {"a": {"type": "input"}}}`, []want{{"$.max_parallel", weft.VInvalidValue}}, ""},
		{"fail_fast is a string", `{"id": "w", "fail_fast": "yes", "steps": {"a": {"type": "input"}}}`, []want{{"$.fail_fast", weft.VType}}, ""},
		{"params is an array", `{"id": "w", "params": [1], "steps": {"a": {"type": "input"}}}`, []want{{"$.params", weft.VType}}, ""},
		{"trailing comma", doc(`"a": {"type": "input",}`), []want{{"$.steps.a", weft.VSyntax}}, ""},
		{"unterminated", `{"id": "w", "steps": {"a": {"type": "inp`, []want{{"$.steps.a.type", weft.VSyntax}}, ""},
		{"content after the document", `{"id": "w", "steps": {"a": {"type": "input"}}} {}`, []want{{"$", weft.VSyntax}}, ""},
		{"single quotes", `{'id': 'w'}`, []want{{"$", weft.VSyntax}}, ""},
		{"control character in a string", "{\"id\": \"a\tb\", \"steps\": {}}", []want{{"$.id", weft.VSyntax}}, ""},
		{"invalid UTF-8", doc("\"a\": {\"type\": \"input\", \"description\": \"caf\xe9\"}"), []want{{"$.steps.a.description", weft.VInvalidUTF8}}, ""},
		{"deep nesting in input", deep, []want{{"$.steps.a.input" + strings.Repeat(".x", 125), weft.VTooDeep}}, ""},
		{"template reads a step that is not upstream", doc(`"a": {"type": "input"}, "b": {"type": "input", "input": {"data": "{{ steps.a.output }}"}}`),
			[]want{{"$.steps.b", weft.VNotUpstream}}, `add "a" to depends_on`},
		{"template reads an unknown step", doc(`"a": {"type": "input"}, "b": {"type": "input", "depends_on": ["a"], "input": {"data": "{{ steps.aa.output }}"}}`),
			[]want{{"$.steps.b", weft.VUnknownDependency}}, `did you mean "a"?`},
		{"when reads its own step", doc(`"a": {"type": "input", "when": "steps.a.status == 'x'"}`),
			[]want{{"$.steps.a", weft.VNotUpstream}}, ""},
		{"when does not compile", doc(`"a": {"type": "input", "when": "params.x ==="}`),
			[]want{{"$.steps.a.when", weft.VExpression}}, ""},
		{"template does not compile", doc(`"a": {"type": "input", "input": {"data": {"x": "{{ 1 + }}"}}}`),
			[]want{{"$.steps.a.input.data.x", weft.VExpression}}, ""},
		{"unterminated template", doc(`"a": {"type": "input", "input": {"data": "{{ params.x"}}`),
			[]want{{"$.steps.a.input.data", weft.VExpression}}, ""},
		{"every problem at once", `{"id": "bad id", "steps": {"a": {"type": "nope", "depends_on": ["b", "zzz"]}, "b": {"type": "input", "depends_on": ["a"], "timeout": "1x"}}}`,
			[]want{{"$.steps.b.timeout", weft.VInvalidDuration}, {"$.id", weft.VInvalidID}, {"$.steps.a.type", weft.VUnknownStepType},
				{"$.steps.a.depends_on[1]", weft.VUnknownDependency}, {"$.steps.a.depends_on", weft.VCycle}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := Parse([]byte(tt.doc), &Options{Format: FormatJSON})
			if err == nil {
				t.Fatalf("Parse succeeded with %d steps, want problems %v", len(def.Workflow.Steps), tt.want)
			}
			if !errors.Is(err, weft.ErrInvalidWorkflow) {
				t.Fatalf("error %v does not match ErrInvalidWorkflow", err)
			}
			got := problems(err)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("problems:\n got %v\nwant %v\nfull error:\n%v", got, tt.want, err)
			}
			var ve weft.ValidationErrors
			errors.As(err, &ve)
			for _, e := range ve {
				if e.Message == "" {
					t.Errorf("problem at %s has no message", e.Path)
				}
			}
			if tt.suggestion != "" && !strings.Contains(ve[0].Suggestion, tt.suggestion) {
				t.Errorf("suggestion %q does not contain %q", ve[0].Suggestion, tt.suggestion)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"id": "w", "steps": {`)
	for i := range 11 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"s%d": {"type": "input"}`, i)
	}
	b.WriteString("}}")
	tests := []struct {
		name string
		lim  weft.Limits
		doc  string
		want []want
	}{
		{"steps over the limit", weft.Limits{MaxSteps: 10}, b.String(), []want{{"$.steps", weft.VLimit}}},
		{"steps at the limit", weft.Limits{MaxSteps: 11}, b.String(), nil},
		{"document over the size limit", weft.Limits{MaxDocumentBytes: 100}, b.String(), []want{{"$", weft.VLimit}}},
		{"dependencies over the limit", weft.Limits{MaxDependencies: 1}, doc(`"a": {"type": "input"}, "b": {"type": "input"}, "c": {"type": "process", "depends_on": ["a", "b"]}`), []want{{"$.steps.c.depends_on", weft.VLimit}}},
		{"expression over the limit", weft.Limits{MaxExpressionBytes: 8}, doc(`"a": {"type": "input", "when": "params.x == 12345"}`), []want{{"$.steps.a.when", weft.VLimit}}},
		{"depth at the limit", weft.Limits{MaxDepth: 4}, doc(`"a": {"type": "input", "input": {}}`), nil},
		{"depth over the limit", weft.Limits{MaxDepth: 4}, doc(`"a": {"type": "input", "input": {"x": 1}}`), nil},
	}
	tests[len(tests)-1].want = []want{{"$.steps.a.input.x", weft.VTooDeep}}
	tests[len(tests)-1].doc = doc(`"a": {"type": "input", "input": {"x": {}}}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), &Options{Limits: tt.lim})
			if got := problems(err); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("problems:\n got %v\nwant %v\nerror: %v", got, tt.want, err)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	src := `{
		"id": "full", "name": "All fields", "description": "d", "max_parallel": 3, "timeout": "10m",
		"fail_fast": true, "ai_token_budget": 5000, "params": {"customer": "acme"},
		"defaults": {"timeout": "30s", "retry": {"max_retries": 2, "initial_interval": "250ms", "backoff": 1.5,
			"max_interval": "1m", "jitter": "equal", "retry_on": ["timeout"], "no_retry_on": ["invalid"],
			"max_elapsed": "5m", "max_retry_after": "2m"}},
		"steps": {
			"a": {"type": "input", "input": {"data": {"v": "\u00e9\ud83d\ude00\n"}}, "depends_on": []},
			"b": {"type": "ai", "depends_on": ["a"], "max_retries": 3, "timeout": "60s", "when": "params.customer != ''",
				"trigger": "all_done", "pool": "ai", "description": "x", "input": {"prompt": "hi"}}
		}
	}`
	def, err := Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	wf := def.Workflow
	if wf.ID != "full" || wf.MaxParallel != 3 || !wf.FailFast || wf.AITokenBudget != 5000 || wf.Timeout.String() != "10m0s" {
		t.Errorf("workflow fields: %+v", wf)
	}
	if string(wf.Params) != `{"customer": "acme"}` {
		t.Errorf("params = %s", wf.Params)
	}
	r := wf.Defaults.Retry
	if *r.MaxRetries != 2 || r.InitialInterval.String() != "250ms" || *r.Backoff != 1.5 || r.Jitter != weft.JitterEqual ||
		r.RetryOn[0] != weft.CodeTimeout || r.NoRetryOn[0] != weft.CodeInvalid || r.MaxElapsed.String() != "5m0s" || r.MaxRetryAfter.String() != "2m0s" {
		t.Errorf("retry policy: %+v", r)
	}
	a, b := wf.Steps["a"], wf.Steps["b"]
	if a.ID != "a" || string(a.Input) != `{"data": {"v": "\u00e9\ud83d\ude00\n"}}` || len(a.DependsOn) != 0 {
		t.Errorf("step a: %+v input %s", a, a.Input)
	}
	if b.Type != "ai" || *b.MaxRetries != 3 || b.Timeout.String() != "1m0s" || b.Trigger != weft.TriggerAllDone || b.Pool != "ai" || b.When == "" {
		t.Errorf("step b: %+v", b)
	}
	if i, ok := def.Node("b"); !ok || def.Graph.ID(i) != "b" {
		t.Errorf("Node(b) = %d, %v", i, ok)
	}
}

func TestParseStringEscapes(t *testing.T) {
	src := `{"id": "w", "name": "tab\there \"q\" \\ \/ \u00e9 \ud83d\ude00 \ud800 x", "steps": {"a": {"type": "input"}}}`
	def, err := Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "tab\there \"q\" \\ / é 😀 \uFFFD x"; def.Workflow.Name != want {
		t.Errorf("name = %q, want %q", def.Workflow.Name, want)
	}
}

func TestValidateGoWorkflow(t *testing.T) {
	wf := &weft.Workflow{ID: "go", Steps: map[string]*weft.Step{
		"a": {Type: "input"},
		"b": {Type: "process", DependsOn: []string{"a"}},
		"c": {Type: "custom", DependsOn: []string{"b", "x"}},
	}}
	_, err := Validate(wf, nil)
	want := []want{{"$.steps.c.type", weft.VUnknownStepType}, {"$.steps.c.depends_on[1]", weft.VUnknownDependency}}
	if got := problems(err); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	reg := &weft.Registry{}
	for _, name := range append(weft.BuiltinTypes, "custom") {
		if err := reg.Register(name, weft.ExecutorFunc(nil)); err != nil {
			t.Fatal(err)
		}
	}
	wf.Steps["c"].DependsOn = []string{"b"}
	def, err := Validate(wf, &Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Graph.Plan().CriticalPath; fmt.Sprint(got) != "[a b c]" {
		t.Errorf("critical path %v", got)
	}
}
