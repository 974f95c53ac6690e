package executor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/echo"
)

// The ai step's input: its validation, its checks at run time, and the
// context attached to the prompt.

func TestAIContextTruncated(t *testing.T) {
	a := NewAI(&ai.Providers{})
	_ = a.providers.Add("echo", echo.New())
	step := aiStep(`{"prompt": "Sum", "max_context_bytes": 18}`, nil)
	step.Data = json.RawMessage(`{"text": "héllo wörld", "n": [1, 2, 3, 4, 5]}`)
	raw, err := a.Execute(context.Background(), step)
	if err != nil {
		t.Fatal(err)
	}
	// The compact JSON is 40 bytes; 18 would split "ö", so 17 are kept.
	want := "Sum\n\nContext (JSON):\n" + `{"text":"héllo w` + "…[truncated 23 bytes]"
	if got := aiOut(t, raw).Text; got != want {
		t.Errorf("text %q\nwant %q", got, want)
	}
	// Under the bound, nothing is cut; null data attaches nothing.
	step = aiStep(`{"prompt": "Sum", "max_context_bytes": 40}`, nil)
	step.Data = json.RawMessage(`{"text": "héllo wörld", "n": [1, 2, 3, 4, 5]}`)
	raw, _ = a.Execute(context.Background(), step)
	if got := aiOut(t, raw).Text; strings.Contains(got, "truncated") {
		t.Errorf("text %q", got)
	}
	step.Data = json.RawMessage(`null`)
	raw, _ = a.Execute(context.Background(), step)
	if got := aiOut(t, raw).Text; got != "Sum" {
		t.Errorf("text %q", got)
	}
	if got := aiContext(json.RawMessage(strings.Repeat(`"x"`, 1)), 1); got != `"…[truncated 2 bytes]` {
		t.Errorf("aiContext = %q", got)
	}
}

// TestAIRunTimeInput: rendered templates are checked when the step runs;
// a prompt that a template made a JSON value is sent as its JSON.
func TestAIRunTimeInput(t *testing.T) {
	a := NewAI(&ai.Providers{})
	_ = a.providers.Add("echo", echo.New())
	raw, err := a.Execute(context.Background(), aiStep(`{"prompt": {"q": 1}, "include_data": false, "temperature": null}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := aiOut(t, raw).Text; got != `{"q":1}` {
		t.Errorf("text %q", got)
	}
	for _, tt := range []struct{ input, msg string }{
		{`{}`, "ai step: input: an ai step needs a prompt: what to ask the model"},
		{`{"prompt": "  "}`, "ai step: input.prompt: the prompt is empty"},
		{`{"prompt": null}`, "ai step: input.prompt: the prompt is empty"},
		{`{"prompt": "x", "temperature": "hot"}`, "ai step: input.temperature: expected a number, found a string"},
		{`{"prompt": "x", "max_tokens": 0}`, "ai step: input.max_tokens: max_tokens must be a whole number of 1 or more, got 0"},
		{`{"prompt": "x", "response_format": "jsn"}`, `ai step: input.response_format: unknown response format "jsn": expected "text", "json" or a JSON Schema object (did you mean "json"?)`},
	} {
		_, err := a.Execute(context.Background(), aiStep(tt.input, nil))
		outputWantCode(t, err, weft.CodeInvalid, false)
		if err.Error() != tt.msg {
			t.Errorf("%s: error %q\nwant %q", tt.input, err, tt.msg)
		}
	}
}

func TestAIValidateInput(t *testing.T) {
	tests := []struct {
		input string
		want  []weft.ValidationError
	}{
		{input: `{"prompt": "Analyze data"}`},
		{input: `{"prompt": "Summarize {{ data }}", "system": "be brief", "provider": "openai", "model": "gpt-4o-mini",
			"temperature": 0.2, "max_tokens": 200, "response_format": {"type": "object"}, "include_data": false, "max_context_bytes": 4096}`},
		{input: `{"prompt": "x", "response_format": "json"}`},
		{input: `{"prompt": "x", "response_format": "text", "temperature": 0, "max_tokens": 1}`},
		// Templates are checked at run time.
		{input: `{"prompt": "x", "temperature": "{{ params.t }}", "max_tokens": "{{ params.n }}", "response_format": "{{ params.f }}",
			"include_data": "{{ params.i }}", "max_context_bytes": "{{ params.m }}", "provider": "{{ params.p }}"}`},
		{input: `{"prompt": "x", "response_format": {"type": "object", "properties": {"a": {"const": "{{ params.a }}"}}}}`},
		{input: ``, want: []weft.ValidationError{{Path: "$", Code: weft.VRequired, Message: "an ai step needs a prompt: what to ask the model"}}},
		{input: `{"prompt": 3}`, want: []weft.ValidationError{{Path: "$.prompt", Code: weft.VType, Message: "expected a string, found a number"}}},
		{input: `{"prompt": ""}`, want: []weft.ValidationError{{Path: "$.prompt", Code: weft.VInvalidValue, Message: "the prompt is empty"}}},
		{input: `{"prompt": "x", "promt": "x"}`, want: []weft.ValidationError{{Path: "$.promt", Code: weft.VUnknownField,
			Message: `unknown field "promt" in an ai step's input`, Suggestion: `did you mean "prompt"?`}}},
		{input: `"x"`, want: []weft.ValidationError{{Path: "$", Code: weft.VType, Message: "expected an object, found a string"}}},
		{input: `{"prompt": "x", "system": 1, "provider": true, "model": []}`, want: []weft.ValidationError{
			{Path: "$.system", Code: weft.VType, Message: "expected a string, found a number"},
			{Path: "$.provider", Code: weft.VType, Message: "expected a string, found a boolean"},
			{Path: "$.model", Code: weft.VType, Message: "expected a string, found an array"},
		}},
		{input: `{"prompt": "x", "temperature": 2.5, "max_tokens": 1.5, "max_context_bytes": -1}`, want: []weft.ValidationError{
			{Path: "$.temperature", Code: weft.VInvalidValue, Message: "the temperature must be from 0 to 2, got 2.5"},
			{Path: "$.max_tokens", Code: weft.VInvalidValue, Message: "max_tokens must be a whole number of 1 or more, got 1.5"},
			{Path: "$.max_context_bytes", Code: weft.VInvalidValue, Message: "max_context_bytes must be a whole number of 1 or more, got -1"},
		}},
		{input: `{"prompt": "x", "include_data": "yes"}`, want: []weft.ValidationError{
			{Path: "$.include_data", Code: weft.VType, Message: "expected true or false, found a string"}}},
		{input: `{"prompt": "x", "response_format": "xml"}`, want: []weft.ValidationError{{Path: "$.response_format", Code: weft.VInvalidValue,
			Message: `unknown response format "xml": expected "text", "json" or a JSON Schema object`}}},
		{input: `{"prompt": "x", "response_format": 1}`, want: []weft.ValidationError{{Path: "$.response_format", Code: weft.VType,
			Message: `expected "text", "json" or a JSON Schema object, found a number`}}},
		{input: `{"prompt": "x", "response_format": {"type": "objekt"}}`, want: []weft.ValidationError{{Path: "$.response_format.type", Code: weft.VInvalidInput}}},
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
			w := tt.want[i]
			if w.Message == "" { // only the place and the code
				w.Message, w.Suggestion = got[i].Message, got[i].Suggestion
			}
			if got[i] != w {
				t.Errorf("ValidateInput(%s)[%d] = %+v, want %+v", tt.input, i, got[i], w)
			}
		}
	}
}
