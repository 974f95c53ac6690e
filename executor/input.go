package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/weft-dev/weft"
)

// Input is the executor of step type "input": its output is its data,
// checked against an optional JSON Schema and list of required fields.
//
// Input fields:
//   - data: any JSON value, the step's output. Without data the step passes
//     the flowing value (StepContext.Data: the dependencies' output) through,
//     checked the same way; a root step without data outputs null.
//   - schema: a JSON Schema the data must satisfy: draft 2020-12 unless the
//     schema's $schema names another draft; "format" is asserted. Only
//     references inside the schema resolve (such as "#/$defs/item"): nothing
//     is loaded from files or the network.
//   - required: names of top-level fields the data must have; the data must
//     then be an object.
//
// A failed check is an error with code invalid that names each failing place
// and what was expected, such as "data.orders[1].total: must be >= 0, got -3".
//
// The zero value is ready to use and safe for concurrent use. Each distinct
// schema is compiled once and cached.
type Input struct {
	mu      sync.Mutex
	schemas map[[sha256.Size]byte]*inputSchema
}

// inputFields are the fields of an input step's input.
var inputFields = []string{"data", "schema", "required"}

const (
	// inputSchemaCacheMax bounds the compiled schemas kept by one Input;
	// templated schemas could otherwise grow the cache without end.
	inputSchemaCacheMax = 256
	// inputSchemaURL names the schema inside the compiler; relative
	// references resolve against it (and are refused by inputNoLoader).
	inputSchemaURL = "mem:///input-schema.json"
	// inputMaxProblems bounds the problems listed in one error.
	inputMaxProblems = 10
)

// inputPrinter renders the messages of the jsonschema library.
var inputPrinter = message.NewPrinter(language.English)

// inputSchema is a compiled schema, or the problems that kept it from
// compiling (paths relative to the schema).
type inputSchema struct {
	once     sync.Once
	compact  []byte
	schema   *jsonschema.Schema
	problems weft.ValidationErrors
}

// inputSpec is a decoded input step input.
type inputSpec struct {
	data     json.RawMessage // nil when absent
	schema   *jsonschema.Schema
	required []string
	hasReq   bool
}

// Execute outputs the step's data (input.data, or the flowing value) once it
// passes the checks.
func (in *Input) Execute(_ context.Context, step *weft.StepContext) (json.RawMessage, error) {
	spec, problems := in.parse(step.Input, false)
	if len(problems) > 0 {
		return nil, stepInputError("input", problems)
	}
	data := spec.data
	if data == nil {
		data = step.Data
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = json.RawMessage("null")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "input step: data is not valid JSON: %v", err)
	}
	data = buf.Bytes()
	if problems := spec.check(data, "data"); len(problems) > 0 {
		return nil, weft.Errorf(weft.CodeInvalid, "input step: %s", inputJoin(problems))
	}
	return data, nil
}

// ValidateInput checks the input at definition time: known fields, a schema
// that compiles, required as an array of strings, and, when data holds no
// template, the data itself. Fields holding a {{ }} template are checked at
// run time.
func (in *Input) ValidateInput(input json.RawMessage) weft.ValidationErrors {
	spec, problems := in.parse(input, true)
	var data bytes.Buffer
	if spec.data != nil && !bytes.Contains(spec.data, []byte("{{")) && json.Compact(&data, spec.data) == nil {
		problems = append(problems, spec.check(data.Bytes(), "$.data")...)
	}
	return problems
}

// parse decodes and checks an input step input. At definition time,
// template-valued fields are skipped (their schema and required list are
// then nil).
func (in *Input) parse(raw json.RawMessage, definition bool) (inputSpec, weft.ValidationErrors) {
	var spec inputSpec
	fields, perr := stepInputFields(raw)
	if perr != nil {
		return spec, weft.ValidationErrors{*perr}
	}
	problems := stepInputUnknown(fields, inputFields, "an input step's input")
	for _, f := range fields {
		path := stepInputPath("$", f.key)
		switch f.key {
		case "data":
			spec.data = f.value
		case "schema":
			if definition && bytes.Contains(f.value, []byte("{{")) {
				continue
			}
			sch, errs := in.compile(f.value)
			for _, e := range errs {
				e.Path = path + strings.TrimPrefix(e.Path, "$")
				problems = append(problems, e)
			}
			spec.schema = sch
		case "required":
			if definition && stepInputIsTemplate(f.value) {
				continue
			}
			var items []json.RawMessage
			if err := json.Unmarshal(f.value, &items); err != nil || items == nil {
				problems = append(problems, weft.ValidationError{Path: path, Code: weft.VType,
					Message: "expected an array of field names, found " + stepInputKind(f.value)})
				continue
			}
			spec.hasReq = true
			for i, item := range items {
				name, perr := stepInputString(item, path+"["+strconv.Itoa(i)+"]")
				if perr != nil {
					problems = append(problems, *perr)
					continue
				}
				spec.required = append(spec.required, name)
			}
		}
	}
	return spec, problems
}

// check returns the problems of data (compact JSON) against the required
// fields and the schema, with paths under root.
func (spec *inputSpec) check(data json.RawMessage, root string) weft.ValidationErrors {
	var problems weft.ValidationErrors
	add := func(path, format string, args ...any) {
		problems = append(problems, weft.ValidationError{Path: path, Code: weft.VInvalidInput, Message: fmt.Sprintf(format, args...)})
	}
	if spec.hasReq {
		var obj map[string]json.RawMessage
		if data[0] != '{' || json.Unmarshal(data, &obj) != nil {
			add(root, "must be an object with the required fields, found %s", stepInputKind(data))
		} else {
			var missing []string
			for _, name := range spec.required {
				if _, ok := obj[name]; !ok {
					missing = append(missing, strconv.Quote(name))
				}
			}
			switch len(missing) {
			case 0:
			case 1:
				add(root, "missing required field %s", missing[0])
			default:
				add(root, "missing required fields %s", strings.Join(missing, ", "))
			}
		}
	}
	if spec.schema == nil {
		return problems
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		add(root, "not valid JSON: %v", err)
		return problems
	}
	err = spec.schema.Validate(inst)
	var verr *jsonschema.ValidationError
	if errors.As(err, &verr) {
		problems = append(problems, inputSchemaProblems(verr, root, inst, false)...)
	} else if err != nil {
		add(root, "%v", err)
	}
	return problems
}

// inputJoin joins problems into one line, listing at most inputMaxProblems.
func inputJoin(problems weft.ValidationErrors) string {
	msgs := make([]string, 0, min(len(problems), inputMaxProblems)+1)
	for i, p := range problems {
		if i == inputMaxProblems {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(problems)-i))
			break
		}
		msgs = append(msgs, p.Error())
	}
	return strings.Join(msgs, "; ")
}

// compile returns the compiled schema of raw, from the cache when it was
// compiled before, or the problems (paths relative to the schema).
func (in *Input) compile(raw json.RawMessage) (*jsonschema.Schema, weft.ValidationErrors) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, weft.ValidationErrors{{Path: "$", Code: weft.VSyntax, Message: "malformed JSON: " + err.Error()}}
	}
	key := sha256.Sum256(buf.Bytes())
	in.mu.Lock()
	if in.schemas == nil {
		in.schemas = make(map[[sha256.Size]byte]*inputSchema)
	}
	e := in.schemas[key]
	if e == nil {
		if len(in.schemas) >= inputSchemaCacheMax {
			clear(in.schemas)
		}
		e = &inputSchema{compact: buf.Bytes()}
		in.schemas[key] = e
	}
	in.mu.Unlock()
	e.once.Do(func() {
		e.schema, e.problems = inputCompile(e.compact)
		e.compact = nil
	})
	return e.schema, e.problems
}

// inputNoLoader refuses to load any schema: references must stay inside
// the schema document.
type inputNoLoader struct{}

func (inputNoLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("only references inside the schema (such as \"#/$defs/item\") are supported; %q is not loaded", u)
}

// inputCompile compiles one schema document.
func inputCompile(doc []byte) (*jsonschema.Schema, weft.ValidationErrors) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, weft.ValidationErrors{{Path: "$", Code: weft.VSyntax, Message: "malformed JSON: " + err.Error()}}
	}
	if _, ok := v.(map[string]any); !ok {
		if _, ok := v.(bool); !ok {
			return nil, weft.ValidationErrors{{Path: "$", Code: weft.VType,
				Message: "a JSON Schema is an object or a boolean, found " + stepInputKind(doc)}}
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(inputNoLoader{})
	if err := c.AddResource(inputSchemaURL, v); err != nil {
		return nil, weft.ValidationErrors{{Path: "$", Code: weft.VInvalidInput, Message: "invalid schema: " + err.Error()}}
	}
	sch, err := c.Compile(inputSchemaURL)
	if err == nil {
		return sch, nil
	}
	var (
		serr  *jsonschema.SchemaValidationError
		verr  *jsonschema.ValidationError
		lerr  *jsonschema.LoadURLError
		probs weft.ValidationErrors
	)
	switch {
	case errors.As(err, &serr) && errors.As(serr.Err, &verr):
		for _, p := range inputSchemaProblems(verr, "$", v, true) {
			p.Message = "invalid schema: " + p.Message
			probs = append(probs, p)
		}
	case errors.As(err, &lerr):
		probs = append(probs, weft.ValidationError{Path: "$", Code: weft.VInvalidInput,
			Message: "invalid schema: " + lerr.Err.Error()})
	default:
		probs = append(probs, weft.ValidationError{Path: "$", Code: weft.VInvalidInput,
			Message: "invalid schema: " + strings.ReplaceAll(err.Error(), inputSchemaURL, "")})
	}
	return nil, probs
}

// inputInstancePath renders a JSON pointer's tokens into the value v as a
// path under root: array elements as [i], members as .key or ["key"].
func inputInstancePath(root string, tokens []string, v any) string {
	path := root
	for _, tok := range tokens {
		switch cur := v.(type) {
		case []any:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(cur) {
				path += "[" + tok + "]"
				v = cur[i]
				continue
			}
		case map[string]any:
			v = cur[tok]
			path = stepInputPath(path, tok)
			continue
		}
		path = stepInputPath(path, tok)
		v = nil
	}
	return path
}

// inputSchemaProblems turns a validation error tree into one problem per
// failing place and keyword, sorted by path, with readable messages. A
// failed anyOf or oneOf is reported as such: why each alternative failed
// says less than the keyword. Against a metaschema (meta), whose
// alternatives are the forms a keyword may take, the deepest cause is
// reported instead ("must be one of 'array', 'boolean', ...").
func inputSchemaProblems(verr *jsonschema.ValidationError, root string, inst any, meta bool) weft.ValidationErrors {
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			if meta && len(e.Causes) > 0 {
				deepest := e.Causes[0]
				for _, c := range e.Causes[1:] {
					if len(c.InstanceLocation) > len(deepest.InstanceLocation) {
						deepest = c
					}
				}
				walk(deepest)
				return
			}
			leaves = append(leaves, e)
			return
		case *kind.Not, *kind.Contains:
			leaves = append(leaves, e)
			return
		}
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	var probs weft.ValidationErrors
	for _, e := range leaves {
		p := weft.ValidationError{
			Path:    inputInstancePath(root, e.InstanceLocation, inst),
			Code:    weft.VInvalidInput,
			Message: inputSchemaMessage(e.ErrorKind),
		}
		if !slices.Contains(probs, p) {
			probs = append(probs, p)
		}
	}
	slices.SortStableFunc(probs, func(a, b weft.ValidationError) int { return strings.Compare(a.Path, b.Path) })
	return probs
}

// inputSchemaMessage says what one failed keyword expected.
func inputSchemaMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be of type %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Required:
		if len(k.Missing) == 1 {
			return fmt.Sprintf("missing required field %q", k.Missing[0])
		}
		return "missing required fields " + inputQuoteAll(k.Missing)
	case *kind.AdditionalProperties:
		if len(k.Properties) == 1 {
			return fmt.Sprintf("field %q is not allowed", k.Properties[0])
		}
		return "fields " + inputQuoteAll(k.Properties) + " are not allowed"
	case *kind.Minimum:
		return "must be >= " + inputNum(k.Want) + ", got " + inputNum(k.Got)
	case *kind.Maximum:
		return "must be <= " + inputNum(k.Want) + ", got " + inputNum(k.Got)
	case *kind.ExclusiveMinimum:
		return "must be > " + inputNum(k.Want) + ", got " + inputNum(k.Got)
	case *kind.ExclusiveMaximum:
		return "must be < " + inputNum(k.Want) + ", got " + inputNum(k.Got)
	case *kind.MultipleOf:
		return "must be a multiple of " + inputNum(k.Want) + ", got " + inputNum(k.Got)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long, got %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, got %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d fields, got %d", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d fields, got %d", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %q, got %s", k.Want, inputShort(k.Got))
	case *kind.UniqueItems:
		return fmt.Sprintf("items must be unique, but items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	case *kind.AnyOf:
		return "must match at least one of the anyOf schemas, matched none"
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return "must match exactly one of the oneOf schemas, matched none"
		}
		return fmt.Sprintf("must match exactly one of the oneOf schemas, but schemas %d and %d both match", k.Subschemas[0], k.Subschemas[1])
	case *kind.Not:
		return "must not match the \"not\" schema"
	case *kind.Contains:
		return "must contain an item that matches the \"contains\" schema"
	case *kind.FalseSchema:
		return "is not allowed here (the schema is false)"
	}
	msg := k.LocalizedString(inputPrinter)
	return strings.TrimPrefix(msg, "value ")
}

func inputNum(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func inputQuoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// inputShort quotes s, cut to 64 bytes.
func inputShort(s string) string {
	if len(s) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
