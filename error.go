package weft

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Code classifies an error so that the engine can decide whether to retry it
// and callers can react to it without parsing messages. Executors may define
// their own codes; a code is a short snake_case word.
type Code string

// The built-in error codes (DESIGN.md section 3).
const (
	// CodeInvalid marks bad input or a bad definition. Never retried.
	CodeInvalid Code = "invalid"
	// CodeTimeout marks an attempt or run that ran out of time.
	CodeTimeout Code = "timeout"
	// CodeUnavailable marks a dependency that could not be reached
	// (connection refused, 5xx answers).
	CodeUnavailable Code = "unavailable"
	// CodeRateLimited marks a refusal for sending too much (HTTP 429).
	CodeRateLimited Code = "rate_limited"
	// CodeCanceled marks work stopped by cancellation. Never retried.
	CodeCanceled Code = "canceled"
	// CodeInternal marks anything unclassified. Retried.
	CodeInternal Code = "internal"
)

// Retryable reports whether errors with this code are retried by default:
// every code except invalid and canceled.
func (c Code) Retryable() bool { return c != CodeInvalid && c != CodeCanceled }

// Valid reports whether c is a well-formed code: 1 to 64 bytes of lower-case
// letters, digits and underscores, starting with a letter.
func (c Code) Valid() bool {
	if len(c) == 0 || len(c) > 64 || c[0] < 'a' || c[0] > 'z' {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}

// Sentinel errors. Compare with errors.Is.
var (
	// ErrNotFound reports that a run, workflow or step does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidWorkflow is matched (errors.Is) by every ValidationErrors.
	ErrInvalidWorkflow = errors.New("invalid workflow")
	// ErrUnknownStepType reports a step type missing from the Registry.
	ErrUnknownStepType = errors.New("unknown step type")
	// ErrLeaseLost reports that a claimed attempt is no longer current: it
	// was reclaimed after its lease expired, or its run was canceled.
	ErrLeaseLost = errors.New("lease lost")
	// ErrRunFinished reports an operation that needs an unfinished run.
	ErrRunFinished = errors.New("run already finished")
	// ErrClosed reports use of an engine or store after Close.
	ErrClosed = errors.New("closed")
	// ErrQueueFull reports a submission refused because as many runs as
	// the engine allows are already unfinished; it comes wrapped in an
	// *Error whose RetryAfter says when to try again.
	ErrQueueFull = errors.New("too many unfinished runs")
)

// Error is an error with a Code, as returned by executors and the engine.
// Build one with Errorf, Permanent, Retryable or RetryAfter.
type Error struct {
	// Code classifies the error; empty means CodeInternal.
	Code Code
	// Message is the whole human-readable description, safe to show to
	// users; when empty, the cause's message stands for it.
	Message string
	// Retry overrides the code's default retry decision when not nil.
	Retry *bool
	// RetryAfter, when positive, is how long a server asked to wait before
	// the next attempt.
	RetryAfter time.Duration
	// Err is the wrapped cause, if any.
	Err error
}

// Error returns the message, or the cause's when there is no message, or
// the code when there is neither.
func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return string(e.code())
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) code() Code {
	if e.Code == "" {
		return CodeInternal
	}
	return e.Code
}

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb wraps its operand as the cause.
func Errorf(code Code, format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: wrapped.Error(), Err: errors.Unwrap(wrapped)}
}

// Permanent marks err as not to be retried, keeping its code (CodeInvalid
// when it has none). It returns nil for a nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	no := false
	code := ErrorCode(err)
	if code == CodeInternal {
		code = CodeInvalid
	}
	return &Error{Code: code, Retry: &no, Err: err}
}

// Retryable marks err as to be retried, keeping its code. It returns nil for
// a nil err.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	yes := true
	return &Error{Code: ErrorCode(err), Retry: &yes, Err: err}
}

// RetryAfter marks err as retryable after at least d, as a server's
// Retry-After header asks. The code is kept (CodeRateLimited when it has
// none). It returns nil for a nil err.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	yes := true
	code := ErrorCode(err)
	if code == CodeInternal {
		code = CodeRateLimited
	}
	return &Error{Code: code, Retry: &yes, RetryAfter: d, Err: err}
}

// ErrorCode returns the code of the outermost *Error in err's chain, or
// CodeInternal when there is none. It returns "" for a nil err.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code()
	}
	return CodeInternal
}

// IsRetryable reports whether the engine should retry err by default: an
// explicit Permanent or Retryable mark wins, otherwise the code decides.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if we, ok := e.(*Error); ok && we.Retry != nil {
			return *we.Retry
		}
	}
	return ErrorCode(err).Retryable()
}

// RetryAfterOf returns the Retry-After duration carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if we, ok := e.(*Error); ok && we.RetryAfter > 0 {
			return we.RetryAfter
		}
	}
	return 0
}

// Validation problem codes, as found in ValidationError.Code.
const (
	VSyntax              = "syntax"               // malformed JSON or YAML
	VInvalidUTF8         = "invalid_utf8"         // bytes that are not UTF-8
	VUnknownField        = "unknown_field"        // a field the format does not have
	VDuplicateKey        = "duplicate_key"        // the same key twice in one object
	VType                = "type"                 // a value of the wrong JSON type
	VRequired            = "required"             // a missing required field
	VInvalidID           = "invalid_id"           // an id that breaks the id rules
	VInvalidValue        = "invalid_value"        // a value out of range or not allowed
	VInvalidDuration     = "invalid_duration"     // a malformed or negative duration
	VEmpty               = "empty"                // an empty steps object
	VUnknownDependency   = "unknown_dependency"   // depends_on names no step
	VSelfDependency      = "self_dependency"      // a step depends on itself
	VDuplicateDependency = "duplicate_dependency" // the same dependency twice
	VCycle               = "cycle"                // a dependency cycle
	VUnknownStepType     = "unknown_step_type"    // a type the registry does not have
	VTooDeep             = "too_deep"             // nesting beyond the depth limit
	VLimit               = "limit_exceeded"       // a configured limit was exceeded
	VInvalidInput        = "invalid_input"        // a step type refused its input
	VExpression          = "invalid_expression"   // an expression or template that does not compile
	VNotUpstream         = "not_upstream"         // a template reads a step that is not upstream
)

// StepNotFoundError reports a step id that a run's workflow does not
// have. It matches ErrNotFound with errors.Is.
type StepNotFoundError struct {
	RunID, StepID string
	// Suggestion proposes a close step id (DidYouMean), or is empty.
	Suggestion string
}

// Error says which step the run lacks, with the suggestion if any.
func (e *StepNotFoundError) Error() string {
	msg := fmt.Sprintf("no step %q in run %s", e.StepID, e.RunID)
	if e.Suggestion != "" {
		msg += "; " + e.Suggestion
	}
	return msg
}

// Is reports whether target is ErrNotFound.
func (e *StepNotFoundError) Is(target error) bool { return target == ErrNotFound }

// ValidationError is one problem found in a workflow document.
type ValidationError struct {
	// Path locates the problem as a JSON path, such as
	// `$.steps.fetch.depends_on[1]`; `$` is the whole document.
	Path string `json:"path"`
	// Code classifies the problem (one of the V* constants).
	Code string `json:"code"`
	// Message says what is wrong and what was expected.
	Message string `json:"message"`
	// Suggestion, when not empty, proposes a fix, such as a close name.
	Suggestion string `json:"suggestion,omitempty"`
}

// Error formats the problem as "PATH: MESSAGE (SUGGESTION)".
func (e ValidationError) Error() string {
	s := e.Path + ": " + e.Message
	if e.Suggestion != "" {
		s += " (" + e.Suggestion + ")"
	}
	return s
}

// ValidationErrors is every problem found in one document, in document order.
// It matches ErrInvalidWorkflow with errors.Is.
type ValidationErrors []ValidationError

// Error joins the problems, one per line.
func (v ValidationErrors) Error() string {
	var b strings.Builder
	for i, e := range v {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidWorkflow.
func (v ValidationErrors) Is(target error) bool { return target == ErrInvalidWorkflow }

// Err returns v as an error, or nil when v is empty.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}
