package executor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
)

// Config configures the built-in executors. The zero value is usable.
type Config struct {
	// OutputDir is the root directory of output destination "file": a
	// step's path is resolved inside it and cannot leave it. It is created
	// on first use. Defaults to none: with an empty OutputDir, file
	// deliveries fail with code invalid ("no output directory configured
	// (--output-dir)").
	OutputDir string
	// Stdout receives output destination "stdout". Writes are serialized.
	// Defaults to os.Stdout.
	Stdout io.Writer
	// AllowHosts lists hostnames, IP addresses and CIDR blocks that
	// outbound HTTP may reach besides public addresses (see
	// ParseAllowHosts). Defaults to none: only public addresses.
	AllowHosts []string
	// HTTPClient makes the webhook deliveries. When set it is used as is,
	// and AllowHosts does not apply to it. Defaults to
	// NewHTTPClient(AllowHosts, 0), whose dialer enforces the allow-list.
	HTTPClient *http.Client
	// Now tells the time, to turn a Retry-After date into a delay.
	// Defaults to time.Now.
	Now func() time.Time
	// AI holds the providers of step type ai, chosen per step by its
	// provider field, else the default one (see ai.Providers). Their base
	// URLs are trusted: AllowHosts does not apply to them. Share one
	// Providers between registries to share the providers' rate limits.
	// Defaults to none: ai steps fail with code invalid ("no AI provider
	// is configured").
	AI *ai.Providers
}

// NewRegistry returns a registry with the built-in step types input,
// process, ai and output, configured by cfg (nil means the zero Config).
// Register custom types on it with Registry.Register. It returns an error
// when cfg.AllowHosts holds a malformed entry.
func NewRegistry(cfg *Config) (*weft.Registry, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	out, err := NewOutput(cfg)
	if err != nil {
		return nil, err
	}
	reg := &weft.Registry{}
	for _, t := range []struct {
		name string
		exec weft.Executor
	}{
		{"input", &Input{}},
		{"process", NewProcess(nil)},
		{"ai", NewAI(cfg.AI)},
		{"output", out},
	} {
		if err := reg.Register(t.name, t.exec); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// The helpers below are shared by the built-in types to read and check
// their input objects, at definition time (ValidateInput) and at run time
// (Execute).

// stepInputField is one member of a step's input object.
type stepInputField struct {
	key   string
	value json.RawMessage
}

// stepInputFields decodes a step's input object into its members, in
// document order. A nil or null input has no members. Anything but an
// object is a problem at "$".
func stepInputFields(raw json.RawMessage) ([]stepInputField, *weft.ValidationError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, &weft.ValidationError{Path: "$", Code: weft.VType,
			Message: "expected an object, found " + stepInputKind(raw)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, &weft.ValidationError{Path: "$", Code: weft.VSyntax, Message: "malformed JSON: " + err.Error()}
	}
	var fields []stepInputField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &weft.ValidationError{Path: "$", Code: weft.VSyntax, Message: "malformed JSON: " + err.Error()}
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, &weft.ValidationError{Path: "$", Code: weft.VSyntax, Message: "malformed JSON: " + err.Error()}
		}
		fields = append(fields, stepInputField{key, v})
	}
	return fields, nil
}

// stepInputUnknown returns a problem for each field whose key is not in
// known, with a suggestion when a known name is close.
func stepInputUnknown(fields []stepInputField, known []string, what string) weft.ValidationErrors {
	var errs weft.ValidationErrors
	for _, f := range fields {
		if slices.Contains(known, f.key) {
			continue
		}
		sugg := stepInputSuggest(f.key, known)
		if sugg == "" {
			sugg = "known fields: " + strings.Join(known, ", ")
		}
		errs = append(errs, weft.ValidationError{
			Path: stepInputPath("$", f.key), Code: weft.VUnknownField,
			Message: fmt.Sprintf("unknown field %q in %s", f.key, what), Suggestion: sugg,
		})
	}
	return errs
}

// stepInputContains reports whether list holds s.
func stepInputContains(list []string, s string) bool { return slices.Contains(list, s) }

// stepInputIsTemplate reports whether raw is a JSON string holding a
// {{ }} template: at definition time its value is not known yet.
func stepInputIsTemplate(raw json.RawMessage) bool {
	var s string
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil && strings.Contains(s, "{{")
}

// stepInputString decodes raw as a string, or returns a type problem at
// path.
func stepInputString(raw json.RawMessage, path string) (string, *weft.ValidationError) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &weft.ValidationError{Path: path, Code: weft.VType,
			Message: "expected a string, found " + stepInputKind(raw)}
	}
	return s, nil
}

// stepInputKind names the JSON type of raw for messages.
func stepInputKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// stepInputPath returns the JSONPath of member key under parent, as the
// workflow validator writes them: .key for plain keys, ["key"] otherwise.
func stepInputPath(parent, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if plain {
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

// stepInputError turns the problems found in an input at run time into an
// error with code invalid, naming the fields as "input.FIELD".
func stepInputError(stepType string, problems weft.ValidationErrors) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		p.Path = "input" + strings.TrimPrefix(p.Path, "$")
		msgs[i] = p.Error()
	}
	return weft.Errorf(weft.CodeInvalid, "%s step: %s", stepType, strings.Join(msgs, "; "))
}

// stepInputSuggest returns `did you mean "X"?` for the known name closest
// to name (weft.DidYouMean), or "".
func stepInputSuggest(name string, known []string) string { return weft.DidYouMean(name, known) }
