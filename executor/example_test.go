package executor_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/executor"
)

// A custom step type is an Executor registered under a name, beside the
// built-in ones. Here it is run directly, as the engine runs each attempt.
func Example() {
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		panic(err)
	}
	greet := weft.ExecutorFunc(func(ctx context.Context, step *weft.StepContext) (json.RawMessage, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(step.Input, &in); err != nil || in.Name == "" {
			// Bad input is never retried.
			return nil, weft.Errorf(weft.CodeInvalid, "greet step: input.name must be a non-empty string")
		}
		return json.Marshal(map[string]string{"greeting": "hello, " + in.Name, "key": step.IdempotencyKey})
	})
	if err := reg.Register("greet", greet); err != nil {
		panic(err)
	}
	fmt.Println(reg.Types())

	exec, err := reg.Lookup("greet")
	if err != nil {
		panic(err)
	}
	out, err := exec.Execute(context.Background(), &weft.StepContext{
		RunID: "run-1", StepID: "hello", Type: "greet", Attempt: 1,
		IdempotencyKey: "run-1/hello", Input: json.RawMessage(`{"name": "weft"}`),
	})
	fmt.Println(string(out), err)

	_, err = exec.Execute(context.Background(), &weft.StepContext{Input: json.RawMessage(`{}`)})
	fmt.Println(weft.ErrorCode(err), weft.IsRetryable(err), err)
	// Output:
	// [ai greet input output process]
	// {"greeting":"hello, weft","key":"run-1/hello"} <nil>
	// invalid false greet step: input.name must be a non-empty string
}
