package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
)

// AI is the executor of step type "ai": one chat request to a language
// model through one of the configured providers (package ai), answering
// with the model's reply.
//
// Input fields (the engine has rendered their {{ }} templates):
//   - prompt (required): the request, a non-empty string. A template that
//     yields another JSON value is sent as its JSON text.
//   - system: the system message, a string.
//   - provider: the name of the provider to ask (Config.AI). Defaults to
//     the default provider.
//   - model: the model to ask. Defaults to the provider's default model.
//   - temperature: a number from 0 to 2. Defaults to the model's.
//   - max_tokens: the most tokens the reply may have, a whole number ≥ 1.
//     Defaults to the model's limit. It also counts against the run's
//     token budget before the request is sent (see below).
//   - response_format: "text" (the default), "json" (the reply must be one
//     JSON value: the server's JSON mode) or a JSON Schema object (the
//     reply must be JSON that the schema accepts: the server's structured
//     output; draft 2020-12 unless $schema says otherwise, references
//     inside the schema only). With json or a schema, the system message
//     also asks for JSON only, and a reply wrapped in a Markdown code
//     fence is unwrapped.
//   - include_data: whether the flowing value (StepContext.Data) is
//     attached to the prompt as context. Defaults to true. The context is
//     the value's compact JSON after the line "Context (JSON):", below the
//     prompt, in the same user message.
//   - max_context_bytes: the most bytes of context attached, a whole number
//     ≥ 1. Defaults to 65536 (64 KiB). Longer context is cut at a character
//     boundary and ends with the marker "…[truncated N bytes]".
//
// The output is {"text", "json", "model", "usage": {"prompt_tokens",
// "completion_tokens", "total_tokens"}, "finish_reason"}: json is the parsed
// reply with response format json or a schema, else null.
//
// Tokens: before the request, the step asks the run's budget
// (StepContext.Tokens.Reserve) for max_tokens (0 when not set); a refusal
// fails the attempt with that error (code budget_exceeded, not retried) and
// sends nothing. Every reply's usage is recorded (Tokens.Spend), also when
// the reply is then refused. A nil Tokens counts nothing and refuses
// nothing.
//
// Failures: a reply that does not parse as JSON, or does not match the
// schema, fails with code ai_invalid_output, retried (the next reply may
// do); the provider's errors keep their codes (rate_limited with the
// server's Retry-After, unavailable, timeout: retried; invalid: not); an
// unknown provider, or none configured, fails with code invalid.
//
// Rate limits: AI is a weft.Throttler. When the step's provider has a rate
// limit, the engine asks Throttle before starting the step and keeps the
// step waiting, holding no worker slot, until the provider has a free
// slot; Execute then takes the slot held for it at once. Used without the
// engine, Execute waits for the slot itself. A provider given as a
// template is known only at run time: such steps wait in Execute.
//
// Create one with NewAI; the zero value has no provider. It is safe for
// concurrent use.
type AI struct {
	providers *ai.Providers
	schemas   Input // compiles and caches response_format schemas
}

// NewAI returns the ai executor of the given providers (nil: none).
func NewAI(providers *ai.Providers) *AI { return &AI{providers: providers} }

// aiFields are the fields of an ai step's input.
var aiFields = []string{
	"prompt", "system", "provider", "model", "temperature", "max_tokens",
	"response_format", "include_data", "max_context_bytes",
}

const (
	// aiMaxContextBytes is the default of max_context_bytes.
	aiMaxContextBytes = 64 << 10
	// aiContextHeader introduces the attached context.
	aiContextHeader = "Context (JSON):\n"
	// aiJSONInstruction is added to the system message when JSON is asked
	// for (OpenAI's JSON mode also wants the word JSON in the messages).
	aiJSONInstruction = "Reply with JSON only: one JSON value, without any other text or code fences."
	// aiTextFormat and aiJSONFormat are the string values of
	// response_format.
	aiTextFormat = "text"
	aiJSONFormat = "json"
)

// aiSpec is a decoded ai step input.
type aiSpec struct {
	prompt      string
	system      string
	provider    string
	model       string
	temperature *float64
	maxTokens   *int64
	format      ai.FormatType
	schemaRaw   json.RawMessage // compact, with format json_schema
	schema      *jsonschema.Schema
	includeData bool
	maxContext  int
}

// aiOutput is the output of an ai step.
type aiOutput struct {
	Text         string          `json:"text"`
	JSON         json.RawMessage `json:"json"`
	Model        string          `json:"model"`
	Usage        weft.Usage      `json:"usage"`
	FinishReason string          `json:"finish_reason"`
}

// Execute sends the step's request to its provider and outputs the reply.
func (a *AI) Execute(ctx context.Context, step *weft.StepContext) (json.RawMessage, error) {
	spec, problems := a.parse(step.Input, false)
	if len(problems) > 0 {
		return nil, stepInputError("ai", problems)
	}
	p, err := a.provider(spec.provider)
	if err != nil {
		return nil, err
	}
	req := spec.request(step)

	if step.Tokens != nil {
		var n int64
		if spec.maxTokens != nil {
			n = *spec.maxTokens
		}
		if err := step.Tokens.Reserve(n); err != nil {
			return nil, err
		}
	}
	resp, err := p.Complete(ctx, req)
	if step.Tokens != nil {
		var used weft.Usage
		if resp != nil {
			used = resp.Usage
		}
		step.Tokens.Spend(used) // once per reserve, whatever happened
	}
	if err != nil {
		return nil, weft.Errorf(weft.ErrorCode(err), "ai step: %w", err)
	}

	out := aiOutput{Text: resp.Text, Model: resp.Model, Usage: resp.Usage, FinishReason: resp.FinishReason}
	if out.Model == "" {
		out.Model = req.Model
	}
	if spec.format == ai.FormatJSON || spec.format == ai.FormatJSONSchema {
		if out.JSON, err = spec.checkReply(resp); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, weft.Errorf(weft.CodeInternal, "ai step: encode the output: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Throttle returns how long the step must wait for its provider's rate
// limit, 0 when it may start now (its request slot is then taken and held
// for its Execute). Steps whose provider has no limit, is unknown, or is a
// template, never wait here.
func (a *AI) Throttle(input []byte) time.Duration {
	if !a.providers.HasLimits() {
		return 0
	}
	name, ok := aiProviderOf(input)
	if !ok {
		return 0
	}
	return a.providers.Limiter(name).Throttle()
}

// aiProviderOf returns the provider named by a step's input as written:
// "" for none (the default); false when it is not known before the step
// runs (a template) or the input is malformed.
func aiProviderOf(input []byte) (string, bool) {
	fields, perr := stepInputFields(input)
	if perr != nil {
		return "", false
	}
	for _, f := range fields {
		if f.key != "provider" {
			continue
		}
		if stepInputIsTemplate(f.value) {
			return "", false
		}
		name, perr := stepInputString(f.value, "")
		return name, perr == nil
	}
	return "", true
}

// ValidateInput checks the input at definition time: known fields, a
// non-empty prompt, values of the right types and ranges, a
// response_format of "text", "json" or a schema that compiles. Fields
// holding a {{ }} template are checked when the step runs. Whether the
// provider exists is checked when the step runs too: providers are the
// operator's, and may differ between where a workflow is validated and
// where it runs.
func (a *AI) ValidateInput(input json.RawMessage) weft.ValidationErrors {
	_, problems := a.parse(input, true)
	return problems
}

// provider returns the provider of that name ("" for the default).
func (a *AI) provider(name string) (ai.Provider, error) {
	if a.providers.Len() == 0 {
		return nil, weft.Permanent(weft.Errorf(weft.CodeInvalid,
			"ai step: no AI provider is configured: use --ai-provider echo for an offline dry run, "+
				"or set WEFT_AI_BASE_URL (an OpenAI-compatible server) or WEFT_AI_API_KEY (OpenAI); in Go, set executor.Config.AI"))
	}
	if p, ok := a.providers.Get(name); ok {
		return p, nil
	}
	names := a.providers.Names()
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if name == "" {
		return nil, weft.Permanent(weft.Errorf(weft.CodeInvalid,
			"ai step: the step names no provider and there is no default one; set input.provider to one of the configured providers: %s", strings.Join(quoted, ", ")))
	}
	msg := fmt.Sprintf("ai step: unknown AI provider %q", name)
	if s := weft.DidYouMean(name, names); s != "" {
		msg += " (" + s + ")"
	}
	return nil, weft.Permanent(weft.Errorf(weft.CodeInvalid, "%s; configured providers: %s", msg, strings.Join(quoted, ", ")))
}

// parse decodes and checks an ai step input. At definition time,
// template-valued fields are skipped.
func (a *AI) parse(raw json.RawMessage, definition bool) (aiSpec, weft.ValidationErrors) {
	spec := aiSpec{includeData: true, maxContext: aiMaxContextBytes}
	fields, perr := stepInputFields(raw)
	if perr != nil {
		return spec, weft.ValidationErrors{*perr}
	}
	problems := stepInputUnknown(fields, aiFields, "an ai step's input")
	add := func(path, code, format string, args ...any) {
		problems = append(problems, weft.ValidationError{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	// text reads a string field; at run time, a template may have made it
	// another JSON value, which is taken as its JSON text.
	text := func(f stepInputField, path string) (string, bool) {
		s, perr := stepInputString(f.value, path)
		if perr == nil {
			return s, true
		}
		if v := bytes.TrimSpace(f.value); !definition && len(v) > 0 && string(v) != "null" {
			var buf bytes.Buffer
			if json.Compact(&buf, f.value) == nil {
				return buf.String(), true
			}
		}
		problems = append(problems, *perr)
		return "", false
	}
	hasPrompt := false
	for _, f := range fields {
		path := stepInputPath("$", f.key)
		if definition && f.key != "prompt" && f.key != "system" && stepInputIsTemplate(f.value) {
			continue
		}
		if f.key != "prompt" && string(bytes.TrimSpace(f.value)) == "null" {
			continue // null is the default, as a template may yield
		}
		switch f.key {
		case "prompt":
			hasPrompt = true
			if s, ok := text(f, path); ok {
				if strings.TrimSpace(s) == "" {
					add(path, weft.VInvalidValue, "the prompt is empty")
				}
				spec.prompt = s
			}
		case "system":
			spec.system, _ = text(f, path)
		case "provider", "model":
			s, perr := stepInputString(f.value, path)
			if perr != nil {
				problems = append(problems, *perr)
				continue
			}
			if f.key == "provider" {
				spec.provider = s
			} else {
				spec.model = s
			}
		case "temperature":
			v, ok := aiNumber(f.value, path, &problems)
			if !ok {
				continue
			}
			if v < 0 || v > 2 {
				add(path, weft.VInvalidValue, "the temperature must be from 0 to 2, got %s", aiFormatNumber(v))
				continue
			}
			spec.temperature = &v
		case "max_tokens":
			if n, ok := aiWhole(f.value, path, "max_tokens", &problems); ok {
				spec.maxTokens = &n
			}
		case "max_context_bytes":
			if n, ok := aiWhole(f.value, path, "max_context_bytes", &problems); ok {
				spec.maxContext = int(min(n, math.MaxInt32))
			}
		case "include_data":
			if err := json.Unmarshal(f.value, &spec.includeData); err != nil {
				add(path, weft.VType, "expected true or false, found %s", stepInputKind(f.value))
			}
		case "response_format":
			a.parseFormat(f.value, path, definition, &spec, &problems)
		}
	}
	if !hasPrompt {
		add("$", weft.VRequired, "an ai step needs a prompt: what to ask the model")
	}
	return spec, problems
}

// parseFormat reads response_format: "text", "json" or a JSON Schema.
func (a *AI) parseFormat(raw json.RawMessage, path string, definition bool, spec *aiSpec, problems *weft.ValidationErrors) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '"':
		s, _ := stepInputString(raw, path)
		switch s {
		case aiTextFormat:
			spec.format = ai.FormatText
		case aiJSONFormat:
			spec.format = ai.FormatJSON
		default:
			e := weft.ValidationError{Path: path, Code: weft.VInvalidValue,
				Message: fmt.Sprintf("unknown response format %q: expected \"text\", \"json\" or a JSON Schema object", s)}
			e.Suggestion = weft.DidYouMean(s, []string{aiTextFormat, aiJSONFormat})
			*problems = append(*problems, e)
		}
	case len(raw) > 0 && raw[0] == '{':
		if definition && bytes.Contains(raw, []byte("{{")) {
			return
		}
		sch, errs := a.schemas.compile(raw)
		for _, e := range errs {
			e.Path = path + strings.TrimPrefix(e.Path, "$")
			*problems = append(*problems, e)
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw) // it compiled, or the problems say why
		spec.format, spec.schema, spec.schemaRaw = ai.FormatJSONSchema, sch, buf.Bytes()
	default:
		*problems = append(*problems, weft.ValidationError{Path: path, Code: weft.VType,
			Message: "expected \"text\", \"json\" or a JSON Schema object, found " + stepInputKind(raw)})
	}
}

// aiNumber decodes a number field.
func aiNumber(raw json.RawMessage, path string, problems *weft.ValidationErrors) (float64, bool) {
	var v float64
	if r := bytes.TrimSpace(raw); len(r) == 0 || (r[0] != '-' && (r[0] < '0' || r[0] > '9')) || json.Unmarshal(r, &v) != nil {
		*problems = append(*problems, weft.ValidationError{Path: path, Code: weft.VType,
			Message: "expected a number, found " + stepInputKind(raw)})
		return 0, false
	}
	return v, true
}

// aiWhole decodes a whole number ≥ 1.
func aiWhole(raw json.RawMessage, path, name string, problems *weft.ValidationErrors) (int64, bool) {
	v, ok := aiNumber(raw, path, problems)
	if !ok {
		return 0, false
	}
	if v < 1 || v != math.Trunc(v) || v > 1<<53 {
		*problems = append(*problems, weft.ValidationError{Path: path, Code: weft.VInvalidValue,
			Message: fmt.Sprintf("%s must be a whole number of 1 or more, got %s", name, aiFormatNumber(v))})
		return 0, false
	}
	return int64(v), true
}

func aiFormatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// request builds the provider request of a step.
func (spec *aiSpec) request(step *weft.StepContext) *ai.Request {
	req := &ai.Request{
		Model:       spec.model,
		Temperature: spec.temperature,
		MaxTokens:   spec.maxTokens,
		ResponseFormat: ai.ResponseFormat{
			Type: spec.format, Schema: spec.schemaRaw, Name: aiSchemaName(step.StepID),
		},
	}
	if spec.format != ai.FormatJSONSchema {
		req.ResponseFormat.Name = ""
	}
	system := spec.system
	if spec.format == ai.FormatJSON || spec.format == ai.FormatJSONSchema {
		if system != "" {
			system += "\n\n"
		}
		system += aiJSONInstruction
	}
	if system != "" {
		req.Messages = append(req.Messages, ai.Message{Role: ai.RoleSystem, Content: system})
	}
	user := spec.prompt
	if spec.includeData {
		if data := bytes.TrimSpace(step.Data); len(data) > 0 && string(data) != "null" {
			user += "\n\n" + aiContextHeader + aiContext(data, spec.maxContext)
		}
	}
	req.Messages = append(req.Messages, ai.Message{Role: ai.RoleUser, Content: user})
	return req
}

// aiContext returns data as compact JSON, cut to at most max bytes (at a
// character boundary) and then marked "…[truncated N bytes]".
func aiContext(data json.RawMessage, max int) string {
	var buf bytes.Buffer
	if json.Compact(&buf, data) == nil {
		data = buf.Bytes()
	}
	if len(data) <= max {
		return string(data)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(data[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…[truncated %d bytes]", data[:cut], len(data)-cut)
}

// aiSchemaName names a step's response schema after the step: the
// letters, digits, '_' and '-' of its id (others become '_'), at most 64;
// "response" for an empty id.
func aiSchemaName(stepID string) string {
	if stepID == "" {
		return "response"
	}
	b := []byte(stepID)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), 64)])
}

// checkReply parses a reply asked as JSON and checks it against the
// schema, returning it as compact JSON, or an error with code
// ai_invalid_output.
func (spec *aiSpec) checkReply(resp *ai.Response) (json.RawMessage, error) {
	hint := ""
	if resp.FinishReason == "length" {
		hint = " (the reply was cut: finish_reason is \"length\"; raise max_tokens)"
	}
	text := aiUnfence(resp.Text)
	var buf bytes.Buffer
	if text == "" || json.Compact(&buf, []byte(text)) != nil {
		return nil, weft.Errorf(weft.CodeAIInvalidOutput, "ai step: the reply is not JSON%s: %q", hint, ai.Sanitize(resp.Text))
	}
	data := json.RawMessage(buf.Bytes())
	if spec.schema == nil {
		return data, nil
	}
	check := inputSpec{schema: spec.schema}
	if problems := check.check(data, "reply"); len(problems) > 0 {
		return nil, weft.Errorf(weft.CodeAIInvalidOutput, "ai step: the reply does not match the response format's schema%s: %s", hint, inputJoin(problems))
	}
	return data, nil
}

// aiUnfence returns a reply without the Markdown code fence some models
// wrap JSON in (```json ... ```), trimmed.
func aiUnfence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	body := strings.TrimSuffix(s, "```")
	nl := strings.IndexByte(body, '\n')
	if nl < 0 {
		return s
	}
	return strings.TrimSpace(body[nl+1:])
}
