package dag_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/weft-dev/weft/dag"
)

// The seed's parallel workflow: two inputs, processed in parallel, analyzed
// together, then output.
func ExampleNew() {
	ids := []string{"input_a", "input_b", "process_a", "process_b", "ai_analysis", "output"}
	deps := [][]int32{
		nil,    // input_a
		nil,    // input_b
		{0},    // process_a depends on input_a
		{1},    // process_b depends on input_b
		{2, 3}, // ai_analysis depends on process_a and process_b
		{4},    // output depends on ai_analysis
	}
	g, err := dag.New(ids, deps)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g.Plan()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "steps": 6,
	//   "edges": 5,
	//   "width": 2,
	//   "depth": 4,
	//   "order": [
	//     "input_a",
	//     "input_b",
	//     "process_a",
	//     "process_b",
	//     "ai_analysis",
	//     "output"
	//   ],
	//   "levels": [
	//     [
	//       "input_a",
	//       "input_b"
	//     ],
	//     [
	//       "process_a",
	//       "process_b"
	//     ],
	//     [
	//       "ai_analysis"
	//     ],
	//     [
	//       "output"
	//     ]
	//   ],
	//   "critical_path": [
	//     "input_a",
	//     "process_a",
	//     "ai_analysis",
	//     "output"
	//   ]
	// }
}

func ExampleCycleError() {
	// a depends on c, c depends on b, b depends on a.
	ids := []string{"a", "b", "c"}
	deps := [][]int32{{2}, {0}, {1}}
	_, err := dag.New(ids, deps)
	var ce *dag.CycleError
	if errors.As(err, &ce) {
		fmt.Println(ce.Cycles)
		fmt.Println(err)
	}
	// Output:
	// [[a c b a]]
	// cycle: a -> c -> b -> a
}
