package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/weft-dev/weft"
)

// Error codes of the API, in the "code" field of every error answer. The
// codes of weft.Error (invalid, timeout, …) pass through too.
const (
	CodeBadRequest      = "bad_request"      // malformed request: not JSON, wrong field types
	CodeInvalidWorkflow = "invalid_workflow" // the workflow does not validate; details lists the problems
	CodeNotFound        = "not_found"        // no such run, workflow or route
	CodeConflict        = "conflict"         // the run is not in a state that allows it
	CodeUnauthorized    = "unauthorized"     // missing or wrong bearer token
	CodeTooLarge        = "too_large"        // the body is over the limit
	CodeQueueFull       = "queue_full"       // too many unfinished runs: retry after Retry-After
	CodeTooMany         = "too_many_streams" // too many event streams from one client
	CodeUnsupported     = "unsupported_media_type"
	CodeMethod          = "method_not_allowed"
	CodeUnavailable     = "unavailable" // the server is shutting down or the store is down
	CodeTimeout         = "timeout"     // the request took longer than its timeout
	CodeInternal        = "internal"    // a bug or an unexpected failure; the log has it
)

// ErrorBody is the JSON of every error answer: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a code from the list above, a message
// for people, and details such as validation problems with their paths.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// apiError is an error with its HTTP status and API code, made by the
// handlers for problems they find themselves.
type apiError struct {
	status     int
	code       string
	msg        string
	details    any
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.msg }

// errorf returns an *apiError.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError answers with err mapped to its HTTP status and code: the one
// place where errors meet status codes. Errors it does not know are
// logged and answered as internal errors without their text, which may
// hold paths or internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, retryAfter := s.classify(r, err)
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="weft"`)
	}
	writeJSON(w, status, body)
}

// classify maps err to an HTTP status, the error body and a Retry-After.
func (s *Server) classify(r *http.Request, err error) (int, *ErrorBody, time.Duration) {
	body := func(code, msg string, details any) *ErrorBody {
		return &ErrorBody{Error: ErrorDetail{Code: code, Message: msg, Details: details}}
	}
	var (
		ae   *apiError
		ve   weft.ValidationErrors
		mbe  *http.MaxBytesError
		werr *weft.Error
	)
	switch {
	case errors.As(err, &ae):
		return ae.status, body(ae.code, ae.msg, ae.details), ae.retryAfter
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, body(CodeInvalidWorkflow, summarize(ve), []weft.ValidationError(ve)), 0
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, body(CodeTooLarge, fmt.Sprintf("the request body is over the limit of %d bytes", mbe.Limit), nil), 0
	case errors.Is(err, weft.ErrQueueFull):
		after := time.Second
		if errors.As(err, &werr) && werr.RetryAfter > 0 {
			after = werr.RetryAfter
		}
		return http.StatusTooManyRequests, body(CodeQueueFull, "too many unfinished runs; try again later", nil), after
	case errors.Is(err, weft.ErrNotFound):
		return http.StatusNotFound, body(CodeNotFound, publicMessage(err), nil), 0
	case errors.Is(err, weft.ErrRunFinished):
		return http.StatusConflict, body(CodeConflict, publicMessage(err), nil), 0
	case errors.Is(err, weft.ErrClosed):
		return http.StatusServiceUnavailable, body(CodeUnavailable, "the server is shutting down", nil), 5 * time.Second
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
		return http.StatusServiceUnavailable, body(CodeTimeout, "the request did not complete within its timeout", nil), 0
	case errors.As(err, &werr) && werr.Code == weft.CodeInvalid:
		return http.StatusBadRequest, body(string(weft.CodeInvalid), publicMessage(err), nil), 0
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, body(CodeInternal, "internal error; the server log has the details", nil), 0
}

// publicMessage is the message of an error that is safe to show: the
// errors classified above carry messages written for users (ids, states),
// never file paths or secrets.
func publicMessage(err error) string { return err.Error() }

// summarize returns a one-line summary of validation problems.
func summarize(ve weft.ValidationErrors) string {
	switch len(ve) {
	case 0:
		return "invalid workflow"
	case 1:
		return "invalid workflow: " + ve[0].Error()
	}
	return fmt.Sprintf("invalid workflow: %s (and %d more problems)", ve[0].Error(), len(ve)-1)
}

// logRecover turns a panic in a handler into a 500 answer and a log line,
// never a stack trace to the client.
func (s *Server) logRecover(w http.ResponseWriter, r *http.Request) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
		writeJSON(w, http.StatusInternalServerError, &ErrorBody{Error: ErrorDetail{Code: CodeInternal, Message: "internal error; the server log has the details"}})
	}
}
