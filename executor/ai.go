package executor

import (
	"context"
	"encoding/json"

	"github.com/weft-dev/weft"
)

// AI is the executor of step type "ai" until AI providers are supported: it
// accepts the ai step's input at definition time, so that workflows with ai
// steps validate and plan, and fails every run of the step with code
// invalid, which is never retried, because no AI provider is configured.
//
// Input fields (DESIGN.md section 5): prompt (a string), system, provider,
// model, temperature, max_tokens, response_format, include_data,
// max_context_bytes. The zero value is ready to use.
type AI struct{}

// aiFields are the fields of an ai step's input.
var aiFields = []string{
	"prompt", "system", "provider", "model", "temperature", "max_tokens",
	"response_format", "include_data", "max_context_bytes",
}

// Execute fails with code invalid: no AI provider is configured.
func (*AI) Execute(_ context.Context, _ *weft.StepContext) (json.RawMessage, error) {
	return nil, weft.Errorf(weft.CodeInvalid,
		"ai step: no AI provider is configured (AI providers come with the ai step support, which this version of weft does not have yet)")
}

// ValidateInput checks that the input has only ai step fields and that
// prompt, when present, is a string.
func (*AI) ValidateInput(input json.RawMessage) weft.ValidationErrors {
	fields, perr := stepInputFields(input)
	if perr != nil {
		return weft.ValidationErrors{*perr}
	}
	problems := stepInputUnknown(fields, aiFields, "an ai step's input")
	for _, f := range fields {
		if f.key == "prompt" {
			if _, perr := stepInputString(f.value, "$.prompt"); perr != nil {
				problems = append(problems, *perr)
			}
		}
	}
	return problems
}
