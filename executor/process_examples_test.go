package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/eval"
)

// procExampleWorkflow is the part of a workflow document the example test
// needs.
type procExampleWorkflow struct {
	ID     string          `json:"id"`
	Params json.RawMessage `json:"params"`
	Steps  map[string]struct {
		Type      string          `json:"type"`
		DependsOn []string        `json:"depends_on"`
		Input     json.RawMessage `json:"input"`
	} `json:"steps"`
}

// procRunExample runs the input and process steps of an example workflow
// the way the engine passes data (DESIGN.md section 4): templates in
// inputs are rendered over steps, data, deps, params and run; data is
// nothing for a root step, the single dependency's output, or an object
// keyed by dependency id. Other step types are skipped. It returns the
// outputs by step id.
func procRunExample(t *testing.T, file string) map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var wf procExampleWorkflow
	if err := json.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	proc := NewProcess(nil)
	outputs := map[string]json.RawMessage{}
	done := map[string]bool{}
	ids := make([]string, 0, len(wf.Steps))
	for id := range wf.Steps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for len(done) < len(ids) {
		progress := false
		for _, id := range ids {
			st := wf.Steps[id]
			if done[id] || slices.ContainsFunc(st.DependsOn, func(d string) bool { return !done[d] }) {
				continue
			}
			done[id], progress = true, true
			if st.Type != "input" && st.Type != "process" {
				continue
			}
			// Validation first, as the engine does.
			if st.Type == "process" {
				if errs := proc.ValidateInput(st.Input); len(errs) > 0 {
					t.Fatalf("%s: %s: ValidateInput: %v", file, id, errs)
				}
			}
			deps := map[string]json.RawMessage{}
			for _, d := range st.DependsOn {
				deps[d] = outputs[d]
			}
			var data json.RawMessage
			switch len(st.DependsOn) {
			case 0:
			case 1:
				data = outputs[st.DependsOn[0]]
			default:
				data, _ = json.Marshal(deps)
			}
			input := procRender(t, st.Input, wf, outputs, deps, data, id)
			switch st.Type {
			case "input":
				var in struct {
					Data json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(input, &in); err != nil {
					t.Fatal(err)
				}
				outputs[id] = in.Data
			case "process":
				out, err := proc.Execute(context.Background(), &weft.StepContext{
					RunID: "run-1", StepID: id, Type: st.Type, Attempt: 1, IdempotencyKey: "run-1/" + id,
					Input: input, Deps: deps, Data: data, Params: wf.Params,
				})
				if err != nil {
					t.Fatalf("%s: %s: %v", file, id, err)
				}
				if !json.Valid(out) {
					t.Fatalf("%s: %s: invalid JSON output %s", file, id, out)
				}
				outputs[id] = out
			}
		}
		if !progress {
			t.Fatalf("%s: cycle", file)
		}
	}
	return outputs
}

// procRender renders a step's input template as the engine would.
func procRender(t *testing.T, input json.RawMessage, wf procExampleWorkflow, outputs, deps map[string]json.RawMessage, data json.RawMessage, id string) json.RawMessage {
	t.Helper()
	tmpl, errs := eval.CompileTemplate(input, nil)
	if errs != nil {
		t.Fatalf("%s: template: %v", id, errs)
	}
	if tmpl.Static() {
		return input
	}
	value := func(raw json.RawMessage) any {
		v, err := eval.ToValue(raw)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := map[string]any{}
	for sid, out := range outputs {
		steps[sid] = map[string]any{"output": value(out), "status": "succeeded", "attempts": 1, "error": nil}
	}
	depVals := map[string]any{}
	for d, out := range deps {
		depVals[d] = value(out)
	}
	out, err := tmpl.Render(map[string]any{
		"steps":  steps,
		"data":   value(data),
		"deps":   depVals,
		"params": value(wf.Params),
		"run":    map[string]any{"id": "run-1", "workflow": wf.ID, "attempt": 1},
	})
	if err != nil {
		t.Fatalf("%s: render: %v", id, err)
	}
	return out
}

func TestProcessExamples(t *testing.T) {
	diamondConvert := `{"celsius":81.456,"fahrenheit":179,"sensor":"  boiler-7 "}`
	diamondLabel := `{"celsius":81.456,"sensor":"BOILER-7"}`
	customers := `["HOOLI (silver)","ACME (gold)","INITECH (gold)"]`
	paid := `[{"customer":"hooli","id":"o-1005","status":"paid","tier":"silver","total":310},` +
		`{"customer":"acme","id":"o-1001","status":"paid","tier":"gold","total":120.5},` +
		`{"customer":"initech","id":"o-1003","status":"paid","tier":"gold","total":42.25}]`
	tests := []struct {
		file string
		want map[string]string
	}{
		{"seed_basic.json", map[string]string{
			"process_data": `{"message":"HELLO"}`,
		}},
		{"seed_parallel.json", map[string]string{
			"process_a": `{"value":1}`,
			"process_b": `{"value":2}`,
		}},
		{"diamond.json", map[string]string{
			"label":   diamondLabel,
			"convert": diamondConvert,
			"join":    `{"convert":` + diamondConvert + `,"label":` + diamondLabel + `,"summary":"BOILER-7: 179 F"}`,
		}},
		{"data_pipeline.json", map[string]string{
			"paid_orders": `{"currency":"EUR","orders":` + paid + `}`,
			"revenue":     `{"currency":"EUR","largest_order":310,"order_count":3,"orders":` + paid + `,"revenue":472.75}`,
			"customers":   `{"customers":` + customers + `}`,
			"report":      `{"currency":"EUR","top_customers":` + customers + `,"total":472.75}`,
		}},
		{"fanout50.json", func() map[string]string {
			want := map[string]string{"combine": `{"shards":50,"total_score":42925}`}
			for i := 1; i <= 50; i++ {
				want[fmt.Sprintf("shard_%02d", i)] = fmt.Sprintf(`{"score":%d,"shard":%d,"weight":%d}`, i*i, i, i*i%7)
			}
			return want
		}()},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			outputs := procRunExample(t, tt.file)
			for id, want := range tt.want {
				if got := string(outputs[id]); got != want {
					t.Errorf("%s:\n got %s\nwant %s", id, got, want)
				}
			}
		})
	}
}
