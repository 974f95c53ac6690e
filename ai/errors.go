package ai

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/weft-dev/weft"
)

// maxDetail bounds the bytes of a server's message quoted in an error.
const maxDetail = 300

// StatusError classifies an HTTP answer of provider that is not a success,
// as every provider does:
//
//   - 429: code rate_limited, carrying the server's wait (Retry-After in
//     seconds or as an HTTP date, or retry-after-ms) as weft.RetryAfter;
//   - 408: code timeout;
//   - a context length exceeded (any status whose detail says so): code
//     invalid, Permanent;
//   - other 4xx (400, 401, 403, 404, 422, ...): code invalid, Permanent;
//   - 5xx and anything else: code unavailable.
//
// detail is the server's own message, if any (such as
// "context_length_exceeded: This model's maximum context length is ...");
// it is quoted cut to 300 bytes, on one line, with secrets (the API key)
// masked. now turns a Retry-After date into a wait.
func StatusError(provider string, status int, header http.Header, detail string, now time.Time, secrets ...string) error {
	what := strconv.Itoa(status)
	if text := http.StatusText(status); text != "" {
		what += " " + text
	}
	if detail = Sanitize(detail, secrets...); detail != "" {
		what += ": " + detail
	}
	switch {
	case status == http.StatusTooManyRequests:
		d := RetryAfterHeader(header, now)
		if d > 0 {
			return weft.RetryAfter(weft.Errorf(weft.CodeRateLimited,
				"ai provider %s: rate limited: %s (retry after %s)", provider, what, d), d)
		}
		return weft.Errorf(weft.CodeRateLimited, "ai provider %s: rate limited: %s", provider, what)
	case status == http.StatusRequestTimeout:
		return weft.Errorf(weft.CodeTimeout, "ai provider %s: %s", provider, what)
	case IsContextLength(detail):
		return weft.Permanent(weft.Errorf(weft.CodeInvalid,
			"ai provider %s: the request is longer than the model's context: %s (shorten the prompt, or lower max_context_bytes)", provider, what))
	case status >= 400 && status < 500:
		return weft.Permanent(weft.Errorf(weft.CodeInvalid, "ai provider %s: request refused: %s%s", provider, what, statusHint(status)))
	}
	return weft.Errorf(weft.CodeUnavailable, "ai provider %s: server error: %s", provider, what)
}

// statusHint says what usually causes a refusal.
func statusHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return " (check the provider's API key)"
	case http.StatusForbidden:
		return " (the API key may not use this model or endpoint)"
	case http.StatusNotFound:
		return " (check the provider's base URL and the model name)"
	}
	return ""
}

// IsContextLength reports whether a server's message says the request
// does not fit the model's context window.
func IsContextLength(detail string) bool {
	d := strings.ToLower(detail)
	for _, s := range []string{"context_length_exceeded", "context length", "context window", "maximum context", "exceed_context_size", "context_length"} {
		if strings.Contains(d, s) {
			return true
		}
	}
	return false
}

// TransportError classifies a request of provider that got no answer. ctx
// is the caller's context (the step's), and timeout the provider's own
// request timeout, which ended the request when ctx is not done:
//
//   - ctx canceled: code canceled;
//   - ctx past its deadline: code timeout ("the step ran out of time");
//   - the request timeout or a network timeout: code timeout;
//   - an untrusted TLS certificate: code invalid, Permanent;
//   - anything else (connection refused, reset, DNS): code unavailable.
//
// Messages never hold URLs (their query could hold secrets) and mask
// secrets.
func TransportError(ctx context.Context, provider string, timeout time.Duration, err error, secrets ...string) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return weft.Errorf(weft.CodeCanceled, "ai provider %s: canceled", provider)
	case ctx.Err() != nil:
		return weft.Errorf(weft.CodeTimeout, "ai provider %s: the step ran out of time", provider)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text holds the full URL
	}
	var (
		ne net.Error
		cv *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return weft.Errorf(weft.CodeTimeout, "ai provider %s: no answer within %s", provider, timeout)
	case errors.As(err, &cv):
		return weft.Permanent(weft.Errorf(weft.CodeInvalid,
			"ai provider %s: the server's TLS certificate is not trusted: %s", provider, Sanitize(cv.Err.Error(), secrets...)))
	}
	return weft.Errorf(weft.CodeUnavailable, "ai provider %s: cannot reach the server: %s", provider, Sanitize(err.Error(), secrets...))
}

// RetryAfterHeader returns the wait a server asked for: header
// retry-after-ms (milliseconds), else Retry-After (seconds, or an HTTP
// date, turned into a wait from now). It returns 0 when there is none, it
// is malformed, or it is not in the future.
func RetryAfterHeader(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && !math.IsInf(ms, 0) {
			return time.Duration(min(ms, float64(math.MaxInt32)*1000) * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || math.IsInf(s, 0) || math.IsNaN(s) {
			return 0
		}
		return time.Duration(min(s, float64(math.MaxInt32)) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// Sanitize prepares a server's or library's text for an error message:
// each secret (of 4 bytes or more) masked as "[redacted]", control
// characters and line breaks turned into spaces, runs of spaces squeezed,
// cut to 300 bytes with "…".
func Sanitize(s string, secrets ...string) string {
	s = Redact(s, secrets...)
	s = strings.ToValidUTF8(s, "")
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)), " ")
	if len(s) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s // secrets were masked before the cut: no piece of one is left
}

// Redact replaces every occurrence of each secret of 4 bytes or more in s
// with "[redacted]". Shorter secrets are not masked: they would mask
// ordinary text, and are not keys.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// Errorf is weft.Errorf for a provider's messages: "ai provider NAME: ...",
// with secrets masked.
func Errorf(code weft.Code, provider string, secrets []string, format string, args ...any) error {
	msg := Redact(fmt.Sprintf(format, args...), secrets...)
	return weft.Errorf(code, "ai provider %s: %s", provider, msg)
}
