package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/workflow"
)

// Execute runs the seed's basic workflow in memory and prints its result.
func ExampleEngine_Execute() {
	reg, _ := executor.NewRegistry(nil)
	def, err := workflow.Parse([]byte(`{
		"id": "simple_workflow",
		"steps": {
			"collect_data": {"type": "input", "input": {"data": {"message": "hello"}}, "depends_on": []},
			"process_data": {"type": "process", "depends_on": ["collect_data"],
				"input": {"rules": [{"type": "transform", "field": "message", "operation": "uppercase"}]}}
		}
	}`), &workflow.Options{Registry: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, _ := engine.New(inmem.New(), &engine.Config{Registry: reg})
	defer eng.Close()
	status, err := eng.Execute(context.Background(), def, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(status.State, string(status.Result), status.Metrics.Succeeded, "steps succeeded")
	// Output: succeeded {"message":"HELLO"} 2 steps succeeded
}

// A custom step type is an Executor registered under a name; workflows
// then use it like a built-in type.
func ExampleEngine_Execute_customType() {
	reg, _ := executor.NewRegistry(nil)
	reg.Register("greet", weft.ExecutorFunc(func(ctx context.Context, sc *weft.StepContext) (json.RawMessage, error) {
		var in struct{ Name string }
		if err := json.Unmarshal(sc.Input, &in); err != nil || in.Name == "" {
			return nil, weft.Errorf(weft.CodeInvalid, "greet needs a name")
		}
		return json.Marshal("hello, " + strings.ToUpper(in.Name))
	}))
	def, _ := workflow.Parse([]byte(`{"id": "hi", "params": {"who": "ada"},
		"steps": {"hi": {"type": "greet", "input": {"name": "{{ params.who }}"}}}}`), &workflow.Options{Registry: reg})
	eng, _ := engine.New(inmem.New(), &engine.Config{Registry: reg})
	defer eng.Close()
	status, _ := eng.Execute(context.Background(), def, &engine.SubmitOptions{Params: json.RawMessage(`{"who": "grace"}`)})
	fmt.Println(string(status.Result))
	// Output: "hello, GRACE"
}
