package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/weft-dev/weft"
)

const inputOrdersSchema = `{
	"type": "object",
	"properties": {
		"currency": {"type": "string", "minLength": 3, "maxLength": 3},
		"orders": {"type": "array", "items": {
			"type": "object",
			"required": ["id", "total"],
			"properties": {"total": {"type": "number", "minimum": 0}}
		}}
	}
}`

func TestInputExecute(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		data    string // StepContext.Data
		want    string // output, when no error is expected
		wantErr []string
	}{
		{name: "data is the output", input: `{"data": {"a": [1, 2], "b": "x"}}`, want: `{"a":[1,2],"b":"x"}`},
		{name: "null data is given data", input: `{"data": null}`, data: `{"a":1}`, want: `null`},
		{name: "no data passes the flowing value through", input: `{}`, data: `{"a": 1}`, want: `{"a":1}`},
		{name: "no input passes through", data: `[1,2]`, want: `[1,2]`},
		{name: "root step without data outputs null", want: `null`},
		{
			name:  "schema passes",
			input: `{"data": {"currency": "EUR", "orders": [{"id": "o1", "total": 3}]}, "schema": ` + inputOrdersSchema + `}`,
			want:  `{"currency":"EUR","orders":[{"id":"o1","total":3}]}`,
		},
		{
			name:    "schema fails with paths and expectations",
			input:   `{"data": {"currency": "EURO", "orders": [{"id": "o1", "total": 3}, {"id": "o2", "total": -3}, {"total": 1}]}, "schema": ` + inputOrdersSchema + `}`,
			wantErr: []string{"data.orders[1].total: must be >= 0, got -3", "data.currency: must be at most 3 characters long, got 4", `data.orders[2]: missing required field "id"`},
		},
		{
			name:    "schema type mismatch",
			input:   `{"data": {"orders": "none"}, "schema": ` + inputOrdersSchema + `}`,
			wantErr: []string{"data.orders: must be of type array, got string"},
		},
		{
			name:    "schema checks the flowing value too",
			input:   `{"schema": {"type": "object", "properties": {"n": {"type": "integer", "maximum": 5}}}}`,
			data:    `{"n": 9}`,
			wantErr: []string{"data.n: must be <= 5, got 9"},
		},
		{
			name:    "formats are asserted",
			input:   `{"data": {"email": "nope"}, "schema": {"properties": {"email": {"format": "email"}}}}`,
			wantErr: []string{"data.email:", "not valid email"},
		},
		{
			name:    "long lists are cut",
			input:   `{"data": [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1], "schema": {"items": {"minimum": 0}}}`,
			wantErr: []string{"data[0]: must be >= 0, got -1; ", "; and 5 more"},
		},
		{name: "required present", input: `{"data": {"a": 1, "b": null}, "required": ["a", "b"]}`, want: `{"a":1,"b":null}`},
		{
			name:    "required missing",
			input:   `{"data": {"a": 1}, "required": ["a", "currency", "orders"]}`,
			wantErr: []string{`data: missing required fields "currency", "orders"`},
		},
		{
			name:    "required on a non-object",
			input:   `{"data": [1], "required": ["a"]}`,
			wantErr: []string{"data: must be an object with the required fields, found an array"},
		},
		{
			name:    "required is not an array",
			input:   `{"data": {}, "required": "a"}`,
			wantErr: []string{"input.required: expected an array of field names, found a string"},
		},
		{
			name:    "unknown field",
			input:   `{"data": {}, "requird": ["a"]}`,
			wantErr: []string{`input.requird: unknown field "requird"`, `did you mean "required"?`},
		},
		{
			name:    "bad schema",
			input:   `{"data": 1, "schema": {"type": "strin"}}`,
			wantErr: []string{"input.schema.type: invalid schema: must be one of"},
		},
		{
			name:    "input is not an object",
			input:   `[1]`,
			wantErr: []string{"input: expected an object, found an array"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := &weft.StepContext{RunID: "r", StepID: "s", Attempt: 1}
			if tt.input != "" {
				step.Input = json.RawMessage(tt.input)
			}
			if tt.data != "" {
				step.Data = json.RawMessage(tt.data)
			}
			out, err := (&Input{}).Execute(context.Background(), step)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Execute: %v", err)
				}
				if string(out) != tt.want {
					t.Fatalf("output = %s, want %s", out, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Execute succeeded with %s, want an error", out)
			}
			if c := weft.ErrorCode(err); c != weft.CodeInvalid || weft.IsRetryable(err) {
				t.Errorf("code %q retryable %v, want invalid and not retryable", c, weft.IsRetryable(err))
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestInputValidateInput(t *testing.T) {
	type problem struct{ path, code, msg string }
	tests := []struct {
		name  string
		input string
		want  []problem
	}{
		{name: "no input"},
		{name: "all fields", input: `{"data": {"a": 1}, "schema": {"type": "object"}, "required": ["a"]}`},
		{name: "not an object", input: `"x"`, want: []problem{{"$", weft.VType, "expected an object"}}},
		{
			name:  "unknown field with suggestion",
			input: `{"dta": 1}`,
			want:  []problem{{"$.dta", weft.VUnknownField, `unknown field "dta"`}},
		},
		{
			name:  "schema that does not compile",
			input: `{"schema": {"properties": {"total": {"minimum": "zero"}}}}`,
			want:  []problem{{"$.schema.properties.total.minimum", weft.VInvalidInput, "must be of type number, got string"}},
		},
		{
			name:  "schema that is not a schema",
			input: `{"schema": 3}`,
			want:  []problem{{"$.schema", weft.VType, "a JSON Schema is an object or a boolean"}},
		},
		{
			name:  "schema references are local only",
			input: `{"schema": {"$ref": "https://example.com/s.json"}}`,
			want:  []problem{{"$.schema", weft.VInvalidInput, "only references inside the schema"}},
		},
		{
			name:  "required of the wrong type",
			input: `{"required": ["a", 2]}`,
			want:  []problem{{"$.required[1]", weft.VType, "expected a string"}},
		},
		{
			name:  "literal data is checked at definition time",
			input: `{"data": {"n": -1}, "schema": {"properties": {"n": {"minimum": 0}}}, "required": ["m"]}`,
			want: []problem{
				{"$.data", weft.VInvalidInput, `missing required field "m"`},
				{"$.data.n", weft.VInvalidInput, "must be >= 0, got -1"},
			},
		},
		{
			name:  "templated data is checked at run time",
			input: `{"data": {"n": "{{ params.n }}"}, "schema": {"properties": {"n": {"type": "number"}}}}`,
		},
		{name: "templated schema is checked at run time", input: `{"schema": "{{ params.schema }}"}`},
		{name: "templated required is checked at run time", input: `{"required": "{{ params.fields }}", "data": {}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if tt.input != "" {
				raw = json.RawMessage(tt.input)
			}
			got := (&Input{}).ValidateInput(raw)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Code != w.code || !strings.Contains(g.Message, w.msg) {
					t.Errorf("problem %d = %s [%s], want %s [%s] containing %q", i, g, g.Code, w.path, w.code, w.msg)
				}
			}
		})
	}
	got := (&Input{}).ValidateInput(json.RawMessage(`{"dta": 1}`))
	if len(got) != 1 || got[0].Suggestion != `did you mean "data"?` {
		t.Errorf("suggestion = %+v, want did you mean \"data\"?", got)
	}
}

// TestInputSchemaCache checks that concurrent steps share one compiled
// schema per distinct schema (run with -race), and that the cache is
// bounded.
func TestInputSchemaCache(t *testing.T) {
	in := &Input{}
	schemas := []string{
		`{"type": "object", "required": ["a"]}`,
		`{"type": "object",   "required": ["a"]}`, // same schema, other spacing
		`{"type": "object", "required": ["b"]}`,
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			input := fmt.Sprintf(`{"data": {"a": 1}, "schema": %s}`, schemas[i%len(schemas)])
			_, err := in.Execute(context.Background(), &weft.StepContext{Input: json.RawMessage(input)})
			if i%len(schemas) == 2 && err == nil {
				errs <- fmt.Errorf("schema %d: missing b accepted", i)
			}
			if i%len(schemas) != 2 && err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(in.schemas); n != 2 {
		t.Errorf("cache holds %d schemas, want 2", n)
	}

	for i := range inputSchemaCacheMax + 10 {
		in.compile(json.RawMessage(fmt.Sprintf(`{"maximum": %d}`, i)))
	}
	if n := len(in.schemas); n > inputSchemaCacheMax {
		t.Errorf("cache holds %d schemas, want at most %d", n, inputSchemaCacheMax)
	}
}
