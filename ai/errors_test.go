package ai_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
)

const secret = "sk-weft-test-SECRET-0123456789"

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		header map[string]string
		want   time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": " 1.5 "}, 1500 * time.Millisecond},
		{map[string]string{"Retry-After": "0"}, 0},
		{map[string]string{"Retry-After": "-3"}, 0},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{map[string]string{"retry-after-ms": "250"}, 250 * time.Millisecond},
		{map[string]string{"retry-after-ms": "250", "Retry-After": "1"}, 250 * time.Millisecond},
		{map[string]string{"retry-after-ms": "x", "Retry-After": "1"}, time.Second},
		{map[string]string{"Retry-After": "1e30"}, time.Duration(1<<31-1) * time.Second},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		if got := ai.RetryAfterHeader(h, now); got != tt.want {
			t.Errorf("RetryAfterHeader(%v) = %s, want %s", tt.header, got, tt.want)
		}
	}
}

func TestStatusError(t *testing.T) {
	now := time.Now()
	tests := []struct {
		status     int
		header     map[string]string
		detail     string
		code       weft.Code
		retryable  bool
		retryAfter time.Duration
		msg        string
	}{
		{429, map[string]string{"Retry-After": "7"}, "Rate limit reached", weft.CodeRateLimited, true, 7 * time.Second,
			"ai provider p: rate limited: 429 Too Many Requests: Rate limit reached (retry after 7s)"},
		{429, nil, "", weft.CodeRateLimited, true, 0, "ai provider p: rate limited: 429 Too Many Requests"},
		{500, nil, "boom", weft.CodeUnavailable, true, 0, "ai provider p: server error: 500 Internal Server Error: boom"},
		{503, nil, "", weft.CodeUnavailable, true, 0, "ai provider p: server error: 503 Service Unavailable"},
		{408, nil, "", weft.CodeTimeout, true, 0, "ai provider p: 408 Request Timeout"},
		{400, nil, "bad", weft.CodeInvalid, false, 0, "ai provider p: request refused: 400 Bad Request: bad"},
		{401, nil, "Incorrect API key provided: " + secret, weft.CodeInvalid, false, 0,
			"ai provider p: request refused: 401 Unauthorized: Incorrect API key provided: [redacted] (check the provider's API key)"},
		{403, nil, "", weft.CodeInvalid, false, 0, "ai provider p: request refused: 403 Forbidden (the API key may not use this model or endpoint)"},
		{404, nil, "model \"x\" not found", weft.CodeInvalid, false, 0,
			"ai provider p: request refused: 404 Not Found: model \"x\" not found (check the provider's base URL and the model name)"},
		{400, nil, "context_length_exceeded: This model's maximum context length is 8192 tokens", weft.CodeInvalid, false, 0,
			"ai provider p: the request is longer than the model's context: 400 Bad Request: context_length_exceeded: This model's maximum context length is 8192 tokens (shorten the prompt, or lower max_context_bytes)"},
		{500, nil, "the input exceeds the context length", weft.CodeInvalid, false, 0,
			"ai provider p: the request is longer than the model's context: 500 Internal Server Error: the input exceeds the context length (shorten the prompt, or lower max_context_bytes)"},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		err := ai.StatusError("p", tt.status, h, tt.detail, now, secret)
		if weft.ErrorCode(err) != tt.code || weft.IsRetryable(err) != tt.retryable || weft.RetryAfterOf(err) != tt.retryAfter || err.Error() != tt.msg {
			t.Errorf("StatusError(%d, %q) = %q: code %s retryable %v after %s\nwant %q: code %s retryable %v after %s",
				tt.status, tt.detail, err, weft.ErrorCode(err), weft.IsRetryable(err), weft.RetryAfterOf(err),
				tt.msg, tt.code, tt.retryable, tt.retryAfter)
		}
	}
}

func TestTransportError(t *testing.T) {
	bg := context.Background()
	canceled, cancel := context.WithCancel(bg)
	cancel()
	expired, cancel2 := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer cancel2()
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/chat/completions?key=" + secret,
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		ctx       context.Context
		err       error
		code      weft.Code
		retryable bool
		msg       string
	}{
		{bg, refused, weft.CodeUnavailable, true, "ai provider p: cannot reach the server: dial tcp: connection refused"},
		{bg, context.DeadlineExceeded, weft.CodeTimeout, true, "ai provider p: no answer within 1m0s"},
		{bg, &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, weft.CodeTimeout, true, "ai provider p: no answer within 1m0s"},
		{canceled, context.Canceled, weft.CodeCanceled, false, "ai provider p: canceled"},
		{expired, context.DeadlineExceeded, weft.CodeTimeout, true, "ai provider p: the step ran out of time"},
		{bg, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, weft.CodeInvalid, false,
			"ai provider p: the server's TLS certificate is not trusted: x509: certificate signed by unknown authority"},
		{bg, fmt.Errorf("weird %s", secret), weft.CodeUnavailable, true, "ai provider p: cannot reach the server: weird [redacted]"},
	}
	for _, tt := range tests {
		err := ai.TransportError(tt.ctx, "p", time.Minute, tt.err, secret)
		if weft.ErrorCode(err) != tt.code || weft.IsRetryable(err) != tt.retryable || err.Error() != tt.msg {
			t.Errorf("TransportError(%v) = %q: code %s retryable %v, want %q: code %s retryable %v",
				tt.err, err, weft.ErrorCode(err), weft.IsRetryable(err), tt.msg, tt.code, tt.retryable)
		}
		if errors.Unwrap(err) != nil && strings.Contains(fmt.Sprintf("%v", errors.Unwrap(err)), secret) {
			t.Errorf("the cause of %q holds the secret", err)
		}
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := []struct{ in, want string }{
		{"", ""},
		{"  a\n\tb\x00c  ", "a b c"},
		{"key " + secret + " leaked", "key [redacted] leaked"},
		{strings.Repeat("x", 295) + secret, strings.Repeat("x", 295) + "[reda…"},
		{long, strings.Repeat("é", 150) + "…"},
	}
	for _, tt := range tests {
		if got := ai.Sanitize(tt.in, secret, ""); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := ai.Redact("abc", "abc"); got != "abc" {
		t.Errorf("a secret under 4 bytes was masked: %q", got)
	}
}

func TestProviders(t *testing.T) {
	var nilPS *ai.Providers
	if _, ok := nilPS.Get(""); ok || nilPS.Len() != 0 || nilPS.Names() != nil || nilPS.Default() != "" || nilPS.HasLimits() || nilPS.Limiter("") != nil {
		t.Error("a nil Providers is not empty")
	}
	ps := &ai.Providers{}
	if err := ps.Add("bad name", stub{}); err == nil {
		t.Error("Add accepted a bad name")
	}
	if err := ps.Add("x", nil); err == nil {
		t.Error("Add accepted a nil provider")
	}
	if err := ps.Add("b", stub{}); err != nil {
		t.Fatal(err)
	}
	lim := ai.NewLimiter(5, nil)
	if err := ps.Add("a", limited{lim}); err != nil {
		t.Fatal(err)
	}
	if ps.Default() != "b" || ps.Len() != 2 || strings.Join(ps.Names(), ",") != "a,b" || !ps.HasLimits() {
		t.Errorf("default %q, len %d, names %v, limits %v", ps.Default(), ps.Len(), ps.Names(), ps.HasLimits())
	}
	if ps.Limiter("") != nil || ps.Limiter("a") != lim || ps.Limiter("zz") != nil {
		t.Error("Limiter")
	}
	if err := ps.SetDefault("zz"); err == nil {
		t.Error("SetDefault accepted an unknown name")
	}
	if err := ps.SetDefault("a"); err != nil || ps.Limiter("") != lim {
		t.Errorf("SetDefault: %v", err)
	}
	if p, ok := ps.Get(""); !ok || p != (limited{lim}) {
		t.Errorf("Get(\"\") = %v, %v", p, ok)
	}
}

type stub struct{}

func (stub) Complete(context.Context, *ai.Request) (*ai.Response, error) { return &ai.Response{}, nil }

type limited struct{ l *ai.Limiter }

func (limited) Complete(context.Context, *ai.Request) (*ai.Response, error) {
	return &ai.Response{}, nil
}
func (p limited) Limiter() *ai.Limiter { return p.l }
