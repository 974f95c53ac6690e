package eval_test

import (
	"encoding/json"
	"fmt"

	"github.com/weft-dev/weft/eval"
)

func Example() {
	tmpl, errs := eval.CompileTemplate(json.RawMessage(
		`{"total": "{{ data.n + 1 }}", "greeting": "Hello, {{ params.name }}!", "items": "{{ data.items }}"}`), nil)
	if errs != nil {
		fmt.Println(errs)
		return
	}
	data, _ := eval.ToValue(json.RawMessage(`{"n": 1, "items": [1, 2.5, "x"]}`))
	out, err := tmpl.Render(map[string]any{
		"data":   data,
		"params": map[string]any{"name": "Ada"},
	})
	fmt.Println(string(out), err)

	cond, _ := eval.Compile(`len(steps["fetch.users"].output) > 1`, nil)
	fmt.Println(cond.Refs())
	// Output:
	// {"total":2,"greeting":"Hello, Ada!","items":[1,2.5,"x"]} <nil>
	// [fetch.users]
}

func ExampleExpr_Eval() {
	x, _ := eval.Compile("repeat('x', 10000000)", nil)
	_, err := x.Eval(nil)
	fmt.Println(err)
	// Output:
	// the evaluation exceeded its memory budget of 1000000 units (bytes and elements allocated, loop iterations, regular expression work)
}
