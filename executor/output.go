package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weft-dev/weft"
)

// Output is the executor of step type "output": it delivers the working
// value (input.data if given, else the flowing value StepContext.Data; null
// for a root step without data) and outputs that same value, whatever the
// destination, so that dependents and the run's result see the data.
//
// Input fields:
//   - destination: "result" (the default: nothing is sent, the value becomes
//     the step's output and so the run's result), "stdout", "file" or
//     "webhook".
//   - format: how the value is written to stdout, a file or a webhook:
//     "json" (the default: compact JSON), "text" (a string as is, anything
//     else as JSON) or "template" (the template field's text). Giving
//     template implies format "template". The result destination is always
//     the JSON value, so it takes only format "json".
//   - template: the text to deliver with format "template". The engine
//     renders the {{ }} templates of every input string before the step
//     runs, so this is the rendered text.
//   - path (file, required): where to write, relative to Config.OutputDir;
//     absolute paths and ".." elements are refused, and symbolic links
//     cannot lead outside the directory. Parent directories are created. The
//     file is replaced atomically (written to a temporary file in the same
//     directory, synced, then renamed), with mode 0644 before umask. JSON
//     ends with a newline; text and templates are written as they are.
//   - url (webhook, required): an http or https URL. Its host must pass the
//     outbound allow-list (see NewHTTPClient).
//   - method (webhook): POST (the default), PUT or PATCH.
//   - headers (webhook): an object of header names to string values. They
//     may override Content-Type and User-Agent; Idempotency-Key, Host,
//     Content-Length, Transfer-Encoding and Connection are set by weft.
//   - timeout (webhook): how long one delivery may take, a duration string.
//     Defaults to "30s".
//   - data: the value to deliver instead of the flowing value.
//
// Stdout deliveries end with a newline. A webhook delivery makes exactly one
// request (the engine owns retries) with the body, Content-Type
// application/json (text/plain; charset=utf-8 for formats text and
// template), User-Agent weft, and Idempotency-Key RUN/STEP, the same for
// every attempt. A 2xx answer succeeds; 429 fails with code rate_limited,
// carrying the Retry-After delay when the server sent one; 5xx and
// connection failures fail with code unavailable; other answers and refused
// addresses fail with code invalid (not retried); running out of time fails
// with code timeout, and cancellation with code canceled. Error messages
// name the method and the URL's scheme and host only: never its path or
// query or header values (masked in the answer too), and quote at most 200
// bytes of the answer.
//
// Create one with NewOutput; the zero value delivers to os.Stdout, has no
// output directory, and reaches public addresses only. It is safe for
// concurrent use.
type Output struct {
	dir    string
	stdout io.Writer
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex // serializes writes to stdout
}

// outputFields are the fields of an output step's input.
var outputFields = []string{"destination", "format", "template", "path", "url", "method", "headers", "timeout", "data"}

var (
	outputDestinations = []string{"result", "stdout", "file", "webhook"}
	outputFormats      = []string{"json", "text", "template"}
	outputMethods      = []string{"POST", "PUT", "PATCH"}
	// outputReservedHeaders are set by weft or net/http, never by a step.
	outputReservedHeaders = []string{"Idempotency-Key", "Host", "Content-Length", "Transfer-Encoding", "Connection"}
)

const (
	outputDefaultTimeout = 30 * time.Second
	outputExcerptBytes   = 200
	outputDrainBytes     = 64 << 10
)

// outputDefaultClient is the zero Output's client: public addresses only.
var outputDefaultClient = sync.OnceValue(func() *http.Client { return NewHTTPClient(nil, 0) })

// NewOutput returns the output executor configured by cfg (nil means the
// zero Config). It returns an error when cfg.AllowHosts holds a malformed
// entry.
func NewOutput(cfg *Config) (*Output, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	for _, h := range cfg.AllowHosts {
		if _, err := guardParseEntry(strings.TrimSpace(h)); err != nil {
			return nil, err
		}
	}
	o := &Output{dir: cfg.OutputDir, stdout: cfg.Stdout, client: cfg.HTTPClient, now: cfg.Now}
	if o.client == nil {
		o.client = NewHTTPClient(cfg.AllowHosts, 0)
	}
	return o, nil
}

// outputSpec is a decoded output step input. Empty strings mean defaults.
type outputSpec struct {
	data        json.RawMessage
	destination string
	format      string
	template    string
	path        string
	url         *url.URL
	method      string
	headers     [][2]string
	timeout     time.Duration
}

// Execute delivers the working value and returns it as the step's output.
func (o *Output) Execute(ctx context.Context, step *weft.StepContext) (json.RawMessage, error) {
	spec, problems := outputParse(step.Input, false)
	if len(problems) > 0 {
		return nil, stepInputError("output", problems)
	}
	value := spec.data
	if value == nil {
		value = step.Data
	}
	if len(bytes.TrimSpace(value)) == 0 {
		value = json.RawMessage("null")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, value); err != nil {
		return nil, weft.Errorf(weft.CodeInvalid, "output step: the value to deliver is not valid JSON: %v", err)
	}
	value = buf.Bytes()
	payload := spec.render(value)
	var err error
	switch spec.destination {
	case "stdout":
		if !bytes.HasSuffix(payload, []byte("\n")) {
			payload = append(payload, '\n')
		}
		err = o.writeStdout(payload)
	case "file":
		if spec.format == "json" {
			payload = append(payload, '\n')
		}
		err = o.writeFile(spec.path, payload)
	case "webhook":
		err = o.deliver(ctx, step, &spec, payload)
	}
	if err != nil {
		return nil, err
	}
	return value, nil
}

// ValidateInput checks the input at definition time: known fields, the
// destination, format, method, headers, path and timeout, and the fields
// each destination needs or does not take. Fields holding a {{ }} template
// are checked at run time.
func (o *Output) ValidateInput(input json.RawMessage) weft.ValidationErrors {
	_, problems := outputParse(input, true)
	return problems
}

// render formats value as the delivered bytes.
func (spec *outputSpec) render(value json.RawMessage) []byte {
	switch spec.format {
	case "template":
		return []byte(spec.template)
	case "text":
		var s string
		if value[0] == '"' && json.Unmarshal(value, &s) == nil {
			return []byte(s)
		}
	}
	return bytes.Clone(value)
}

// outputParse decodes and checks an output step input. At definition time
// (definition true), fields holding a template are not checked, nor the
// rules that depend on them.
func outputParse(raw json.RawMessage, definition bool) (outputSpec, weft.ValidationErrors) {
	spec := outputSpec{destination: "result", method: http.MethodPost, timeout: outputDefaultTimeout}
	fields, perr := stepInputFields(raw)
	if perr != nil {
		return spec, weft.ValidationErrors{*perr}
	}
	problems := stepInputUnknown(fields, outputFields, "an output step's input")
	add := func(path, code, format string, args ...any) {
		problems = append(problems, weft.ValidationError{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	given := map[string]bool{}   // fields present
	dynamic := map[string]bool{} // fields whose value is a template (definition time)
	for _, f := range fields {
		if !slices.Contains(outputFields, f.key) {
			continue
		}
		path := stepInputPath("$", f.key)
		given[f.key] = true
		if f.key == "data" {
			spec.data = f.value
			continue
		}
		if definition && f.key != "template" && stepInputIsTemplate(f.value) {
			dynamic[f.key] = true
			continue
		}
		if f.key == "headers" {
			spec.headers = outputParseHeaders(f.value, definition, &problems)
			continue
		}
		s, perr := stepInputString(f.value, path)
		if perr != nil {
			problems = append(problems, *perr)
			dynamic[f.key] = true // unknown value: skip the rules that depend on it
			continue
		}
		switch f.key {
		case "destination", "format":
			options := outputDestinations
			if f.key == "format" {
				options = outputFormats
			}
			if !slices.Contains(options, s) {
				problems = append(problems, weft.ValidationError{Path: path, Code: weft.VInvalidValue,
					Message:    fmt.Sprintf("%q is not a %s: expected one of %s", s, f.key, strings.Join(options, ", ")),
					Suggestion: stepInputSuggest(s, options)})
				dynamic[f.key] = true
				continue
			}
			if f.key == "destination" {
				spec.destination = s
			} else {
				spec.format = s
			}
		case "template":
			spec.template = s
		case "path":
			if msg := outputCheckPath(s); msg != "" {
				add(path, weft.VInvalidValue, "%s", msg)
			}
			spec.path = s
		case "url":
			u, err := url.Parse(s)
			switch {
			case err != nil:
				add(path, weft.VInvalidValue, "not a valid URL")
			case u.Scheme != "http" && u.Scheme != "https":
				add(path, weft.VInvalidValue, "expected an http or https URL, found scheme %q", u.Scheme)
			case u.Host == "" || u.Hostname() == "":
				add(path, weft.VInvalidValue, "the URL has no host")
			default:
				spec.url = u
			}
		case "method":
			m := strings.ToUpper(s)
			if !slices.Contains(outputMethods, m) {
				add(path, weft.VInvalidValue, "%q is not a webhook method: expected one of %s", s, strings.Join(outputMethods, ", "))
				continue
			}
			spec.method = m
		case "timeout":
			d, err := weft.ParseDuration(s)
			switch {
			case err != nil:
				add(path, weft.VInvalidDuration, "%v", err)
			case d == 0:
				add(path, weft.VInvalidDuration, "a delivery timeout must be more than 0")
			default:
				spec.timeout = time.Duration(d)
			}
		}
	}

	// Rules across fields, when the values they depend on are known.
	if given["template"] && !given["format"] {
		spec.format = "template"
	}
	if spec.format == "" {
		spec.format = "json"
	}
	if !dynamic["format"] {
		switch {
		case spec.format == "template" && !given["template"]:
			add("$.format", weft.VRequired, "format \"template\" needs a template field with the text to deliver")
		case spec.format != "template" && given["template"]:
			add("$.template", weft.VInvalidValue, "a template is used only with format \"template\", not %q", spec.format)
		}
	}
	if dynamic["destination"] {
		return spec, problems
	}
	dest := spec.destination
	if dest == "result" && spec.format != "json" && !dynamic["format"] {
		add("$.format", weft.VInvalidValue, "destination \"result\" keeps the JSON value; format %q applies to stdout, file and webhook", spec.format)
	}
	for _, f := range []struct{ field, dest string }{
		{"url", "webhook"}, {"method", "webhook"}, {"headers", "webhook"}, {"timeout", "webhook"}, {"path", "file"},
	} {
		if given[f.field] && dest != f.dest {
			add(stepInputPath("$", f.field), weft.VInvalidValue,
				"%q applies to destination %q only, and this step's destination is %q", f.field, f.dest, dest)
		}
	}
	switch {
	case dest == "webhook" && !given["url"]:
		add("$", weft.VRequired, "destination \"webhook\" needs a url")
	case dest == "file" && !given["path"]:
		add("$", weft.VRequired, "destination \"file\" needs a path, relative to the output directory")
	}
	return spec, problems
}

// outputParseHeaders decodes the headers object, checking names and values.
// Messages never quote a header's value.
func outputParseHeaders(raw json.RawMessage, definition bool, problems *weft.ValidationErrors) [][2]string {
	add := func(path, code, msg string) {
		*problems = append(*problems, weft.ValidationError{Path: path, Code: code, Message: msg})
	}
	fields, perr := stepInputFields(raw)
	if perr != nil || (len(bytes.TrimSpace(raw)) > 0 && raw[0] != '{') {
		add("$.headers", weft.VType, "expected an object of header names to string values, found "+stepInputKind(raw))
		return nil
	}
	var headers [][2]string
	for _, f := range fields {
		path := stepInputPath("$.headers", f.key)
		if !outputValidHeaderName(f.key) {
			add(path, weft.VInvalidValue, fmt.Sprintf("%q is not a valid header name", f.key))
			continue
		}
		if slices.Contains(outputReservedHeaders, http.CanonicalHeaderKey(f.key)) {
			add(path, weft.VInvalidValue, fmt.Sprintf("header %q is set by weft, not by a step", http.CanonicalHeaderKey(f.key)))
			continue
		}
		var v string
		if err := json.Unmarshal(f.value, &v); err != nil {
			add(path, weft.VType, "expected a string header value, found "+stepInputKind(f.value))
			continue
		}
		if !(definition && strings.Contains(v, "{{")) && strings.ContainsFunc(v, func(r rune) bool {
			return r != '\t' && (r < 0x20 || r == 0x7f)
		}) {
			add(path, weft.VInvalidValue, "a header value may not hold control characters such as line breaks")
			continue
		}
		headers = append(headers, [2]string{f.key, v})
	}
	return headers
}

// outputValidHeaderName reports whether s is an HTTP token (RFC 9110).
func outputValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// outputCheckPath returns why p cannot name a file in the output
// directory, or "".
func outputCheckPath(p string) string {
	switch {
	case p == "":
		return "the path is empty: expected a file path relative to the output directory"
	case strings.ContainsRune(p, 0):
		return "the path holds a NUL byte"
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.VolumeName(p) != "":
		return fmt.Sprintf("%q is absolute: expected a path relative to the output directory", p)
	case strings.HasSuffix(p, "/") || strings.HasSuffix(p, `\`):
		return fmt.Sprintf("%q names a directory: expected a file path", p)
	}
	for elem := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if elem == ".." {
			return fmt.Sprintf("%q has a \"..\" element: a path may not leave the output directory", p)
		}
	}
	if filepath.Clean(p) == "." {
		return fmt.Sprintf("%q names the output directory itself: expected a file path", p)
	}
	return ""
}

// writeStdout writes payload to the configured stdout in one write.
func (o *Output) writeStdout(payload []byte) error {
	w := o.stdout
	if w == nil {
		w = os.Stdout
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := w.Write(payload); err != nil {
		return weft.Errorf(weft.CodeInternal, "output step: writing to stdout: %v", err)
	}
	return nil
}

// writeFile replaces the file at rel inside the output directory with
// payload, atomically: a temporary file in the same directory is written,
// synced and renamed over it. os.Root keeps every step inside the directory,
// symbolic links included.
func (o *Output) writeFile(rel string, payload []byte) (err error) {
	if o.dir == "" {
		return weft.Errorf(weft.CodeInvalid, "output step: no output directory configured (--output-dir)")
	}
	fail := func(what string, err error) error {
		// Problems of the path or the directory are invalid (retrying
		// will not help); os.Root reports a path leaving the directory
		// with an unexported error, "path escapes from parent".
		code := weft.CodeInternal
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrInvalid) ||
			errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
			strings.Contains(err.Error(), "escapes from parent") {
			code = weft.CodeInvalid
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is ours to name
		}
		return weft.Errorf(code, "output step: %s %q in the output directory: %v", what, rel, err)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fail("creating the output directory for", err)
	}
	root, err := os.OpenRoot(o.dir)
	if err != nil {
		return fail("opening the output directory for", err)
	}
	defer root.Close()
	name := filepath.Clean(filepath.FromSlash(rel))
	dir := filepath.Dir(name)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fail("creating the directory of", err)
		}
	}
	tmp := filepath.Join(dir, "."+filepath.Base(name)+".tmp-"+hex.EncodeToString(outputRandom()))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fail("creating a temporary file for", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			root.Remove(tmp)
		}
	}()
	if _, err := f.Write(payload); err != nil {
		return fail("writing", err)
	}
	if err := f.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := f.Close(); err != nil {
		return fail("closing", err)
	}
	if err := root.Rename(tmp, name); err != nil {
		return fail("renaming the temporary file to", err)
	}
	return nil
}

func outputRandom() []byte {
	b := make([]byte, 8)
	rand.Read(b)
	return b
}
