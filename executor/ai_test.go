package executor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

func TestAIExecute(t *testing.T) {
	_, err := (&AI{}).Execute(context.Background(), &weft.StepContext{Input: json.RawMessage(`{"prompt": "Analyze data"}`)})
	outputWantCode(t, err, weft.CodeInvalid, false)
	if !strings.Contains(err.Error(), "no AI provider is configured") {
		t.Errorf("error %q does not say no AI provider is configured", err)
	}
}

func TestAIValidateInput(t *testing.T) {
	tests := []struct {
		input string
		want  []weft.ValidationError
	}{
		{input: ``},
		{input: `{"prompt": "Analyze data"}`},
		{input: `{"prompt": "Summarize {{ data }}", "system": "be brief", "provider": "openai", "model": "gpt-4o-mini",
			"temperature": 0.2, "max_tokens": 200, "response_format": {"type": "object"}, "include_data": false, "max_context_bytes": 4096}`},
		{input: `{"prompt": 3}`, want: []weft.ValidationError{{Path: "$.prompt", Code: weft.VType, Message: "expected a string, found a number"}}},
		{input: `{"promt": "x"}`, want: []weft.ValidationError{{Path: "$.promt", Code: weft.VUnknownField,
			Message: `unknown field "promt" in an ai step's input`, Suggestion: `did you mean "prompt"?`}}},
		{input: `"x"`, want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "expected an object, found a string"}}},
	}
	for _, tt := range tests {
		var raw json.RawMessage
		if tt.input != "" {
			raw = json.RawMessage(tt.input)
		}
		got := (&AI{}).ValidateInput(raw)
		if len(got) != len(tt.want) {
			t.Errorf("ValidateInput(%s) = %v, want %v", tt.input, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ValidateInput(%s)[%d] = %+v, want %+v", tt.input, i, got[i], tt.want[i])
			}
		}
	}
}
