package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weft-dev/weft"
)

// outputStep is one attempt of an output step whose flowing value is
// {"a":1}.
func outputStep(input string) *weft.StepContext {
	step := &weft.StepContext{
		RunID: "run-1", StepID: "deliver", Type: "output", Attempt: 1,
		IdempotencyKey: "run-1/deliver", Data: json.RawMessage(`{"a": 1}`),
	}
	if input != "" {
		step.Input = json.RawMessage(input)
	}
	return step
}

func newTestOutput(t *testing.T, cfg Config) *Output {
	t.Helper()
	o, err := NewOutput(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// outputWantCode fails the test unless err has the code and retry decision.
func outputWantCode(t *testing.T, err error, code weft.Code, retryable bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want code %s", code)
	}
	if got := weft.ErrorCode(err); got != code || weft.IsRetryable(err) != retryable {
		t.Fatalf("error %q: code %s retryable %v, want %s retryable %v", err, got, weft.IsRetryable(err), code, retryable)
	}
}

func TestOutputResultAndStdout(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		wantOut    string
		wantStdout string
	}{
		{name: "no input: result is the flowing value", wantOut: `{"a":1}`},
		{name: "result with json format", input: `{"destination": "result", "format": "json"}`, wantOut: `{"a":1}`},
		{name: "data replaces the flowing value", input: `{"data": {"b": [1, 2]}}`, wantOut: `{"b":[1,2]}`},
		{name: "stdout json", input: `{"destination": "stdout"}`, wantOut: `{"a":1}`, wantStdout: "{\"a\":1}\n"},
		{name: "stdout text of a string", input: `{"destination": "stdout", "format": "text", "data": "hello\nworld"}`,
			wantOut: `"hello\nworld"`, wantStdout: "hello\nworld\n"},
		{name: "stdout text of an object is JSON", input: `{"destination": "stdout", "format": "text"}`,
			wantOut: `{"a":1}`, wantStdout: "{\"a\":1}\n"},
		{name: "stdout template", input: `{"destination": "stdout", "template": "total: 3\n"}`,
			wantOut: `{"a":1}`, wantStdout: "total: 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			o := newTestOutput(t, Config{Stdout: &stdout})
			out, err := o.Execute(context.Background(), outputStep(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.wantOut {
				t.Errorf("output = %s, want %s", out, tt.wantOut)
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.wantStdout)
			}
		})
	}

	// A root step without data delivers null.
	var stdout bytes.Buffer
	out, err := newTestOutput(t, Config{Stdout: &stdout}).Execute(context.Background(),
		&weft.StepContext{Input: json.RawMessage(`{"destination": "stdout"}`)})
	if err != nil || string(out) != "null" || stdout.String() != "null\n" {
		t.Errorf("root step: output %s, stdout %q, err %v; want null", out, stdout.String(), err)
	}
}

func TestOutputValidateInput(t *testing.T) {
	type problem struct{ path, code, msg string }
	tests := []struct {
		name  string
		input string
		want  []problem
	}{
		{name: "no input"},
		{name: "result", input: `{"destination": "result", "format": "json"}`},
		{name: "stdout template", input: `{"destination": "stdout", "template": "{{ data.total }} EUR"}`},
		{name: "webhook", input: `{"destination": "webhook", "url": "https://hooks.example.com/x", "method": "PATCH",
			"headers": {"Authorization": "Bearer {{ params.token }}"}, "timeout": "5s", "format": "text"}`},
		{name: "templated headers", input: `{"destination": "webhook", "url": "https://x.example", "headers": "{{ params.headers }}"}`},
		{name: "templated destination", input: `{"destination": "{{ params.dest }}", "path": "x.json", "url": "{{ params.url }}"}`},
		{name: "not an object", input: `[]`, want: []problem{{"$", weft.VType, "expected an object"}}},
		{name: "unknown field", input: `{"destnation": "stdout"}`,
			want: []problem{{"$.destnation", weft.VUnknownField, `unknown field "destnation"`}}},
		{name: "unknown destination", input: `{"destination": "webhok"}`,
			want: []problem{{"$.destination", weft.VInvalidValue, `"webhok" is not a destination`}}},
		{name: "webhook without url", input: `{"destination": "webhook"}`,
			want: []problem{{"$", weft.VRequired, `destination "webhook" needs a url`}}},
		{name: "url without webhook", input: `{"url": "https://x.example"}`,
			want: []problem{{"$.url", weft.VInvalidValue, `"url" applies to destination "webhook" only`}}},
		{name: "bad url", input: `{"destination": "webhook", "url": "ftp://x.example"}`,
			want: []problem{{"$.url", weft.VInvalidValue, `expected an http or https URL`}}},
		{name: "url without host", input: `{"destination": "webhook", "url": "http:///x"}`,
			want: []problem{{"$.url", weft.VInvalidValue, "no host"}}},
		{name: "bad method", input: `{"destination": "webhook", "url": "https://x.example", "method": "GET"}`,
			want: []problem{{"$.method", weft.VInvalidValue, `"GET" is not a webhook method`}}},
		{name: "bad headers", input: `{"destination": "webhook", "url": "https://x.example",
			"headers": {"Bad Name": "v", "X-N": 1, "idempotency-key": "k", "X-Line": "a\r\nInjected: SECRET"}}`,
			want: []problem{
				{`$.headers["Bad Name"]`, weft.VInvalidValue, "not a valid header name"},
				{"$.headers.X-N", weft.VType, "expected a string header value"},
				{"$.headers.idempotency-key", weft.VInvalidValue, "set by weft"},
				{"$.headers.X-Line", weft.VInvalidValue, "control characters"},
			}},
		{name: "headers not an object", input: `{"destination": "webhook", "url": "https://x.example", "headers": ["a"]}`,
			want: []problem{{"$.headers", weft.VType, "expected an object"}}},
		{name: "file without path", input: `{"destination": "file"}`,
			want: []problem{{"$", weft.VRequired, `destination "file" needs a path`}}},
		{name: "absolute path", input: `{"destination": "file", "path": "/tmp/x"}`,
			want: []problem{{"$.path", weft.VInvalidValue, "is absolute"}}},
		{name: "dot-dot path", input: `{"destination": "file", "path": "a/../../x"}`,
			want: []problem{{"$.path", weft.VInvalidValue, `".." element`}}},
		{name: "path without file", input: `{"destination": "stdout", "path": "x"}`,
			want: []problem{{"$.path", weft.VInvalidValue, `applies to destination "file" only`}}},
		{name: "bad timeout", input: `{"destination": "webhook", "url": "https://x.example", "timeout": "soon"}`,
			want: []problem{{"$.timeout", weft.VInvalidDuration, "not a duration"}}},
		{name: "zero timeout", input: `{"destination": "webhook", "url": "https://x.example", "timeout": "0s"}`,
			want: []problem{{"$.timeout", weft.VInvalidDuration, "more than 0"}}},
		{name: "template format without template", input: `{"destination": "stdout", "format": "template"}`,
			want: []problem{{"$.format", weft.VRequired, "needs a template"}}},
		{name: "template with another format", input: `{"destination": "stdout", "format": "json", "template": "x"}`,
			want: []problem{{"$.template", weft.VInvalidValue, `used only with format "template"`}}},
		{name: "text to the result", input: `{"format": "text"}`,
			want: []problem{{"$.format", weft.VInvalidValue, `destination "result" keeps the JSON value`}}},
		{name: "wrong type", input: `{"destination": 3}`,
			want: []problem{{"$.destination", weft.VType, "expected a string"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if tt.input != "" {
				raw = json.RawMessage(tt.input)
			}
			got := (&Output{}).ValidateInput(raw)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Code != w.code || !strings.Contains(g.Message, w.msg) {
					t.Errorf("problem %d = %s [%s], want %s [%s] containing %q", i, g, g.Code, w.path, w.code, w.msg)
				}
				if strings.Contains(g.Error(), "SECRET") {
					t.Errorf("problem quotes a header value: %s", g)
				}
			}
		})
	}
	if got := (&Output{}).ValidateInput(json.RawMessage(`{"destination": "webhok"}`)); len(got) == 0 || got[0].Suggestion != `did you mean "webhook"?` {
		t.Errorf("suggestion: %v", got)
	}

	// At run time the same problems fail the step with code invalid.
	_, err := (&Output{}).Execute(context.Background(), outputStep(`{"destination": "webhok"}`))
	outputWantCode(t, err, weft.CodeInvalid, false)
	if !strings.Contains(err.Error(), `input.destination: "webhok" is not a destination`) {
		t.Errorf("error %q", err)
	}
}
