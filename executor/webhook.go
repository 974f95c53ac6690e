package executor

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/weft-dev/weft"
)

// deliver makes one webhook request and classifies its outcome.
func (o *Output) deliver(ctx context.Context, step *weft.StepContext, spec *outputSpec, body []byte) error {
	where := spec.method + " " + spec.url.Scheme + "://" + spec.url.Host
	reqCtx, cancel := context.WithTimeout(ctx, spec.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, spec.method, spec.url.String(), bytes.NewReader(body))
	if err != nil {
		return weft.Errorf(weft.CodeInvalid, "output step: webhook %s: the request cannot be built", where)
	}
	if spec.format == "json" {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	req.Header.Set("User-Agent", "weft")
	secrets := make([]string, 0, len(spec.headers)+4)
	for _, h := range spec.headers {
		req.Header.Set(h[0], h[1])
		secrets = append(secrets, h[1])
	}
	if pw, ok := spec.url.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	secrets = append(secrets, spec.url.RawQuery, spec.url.EscapedPath(), spec.url.Path)
	key := step.IdempotencyKey
	if key == "" && (step.RunID != "" || step.StepID != "") {
		key = step.RunID + "/" + step.StepID
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}

	client := o.client
	if client == nil {
		client = outputDefaultClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return outputTransportError(ctx, where, spec.timeout, err)
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		io.CopyN(io.Discard, resp.Body, outputDrainBytes)
		return nil
	}
	status := strconv.Itoa(code) + " " + http.StatusText(code)
	answer := outputExcerpt(resp.Body, secrets)
	switch {
	case code == http.StatusTooManyRequests:
		now := time.Now
		if o.now != nil {
			now = o.now
		}
		d := outputRetryAfter(resp.Header.Get("Retry-After"), now())
		if d > 0 {
			return weft.RetryAfter(weft.Errorf(weft.CodeRateLimited,
				"output step: webhook %s: server answered %s, retry after %s%s", where, status, d, answer), d)
		}
		return weft.Errorf(weft.CodeRateLimited, "output step: webhook %s: server answered %s%s", where, status, answer)
	case code >= 500:
		return weft.Errorf(weft.CodeUnavailable, "output step: webhook %s: server answered %s%s", where, status, answer)
	case code >= 400:
		return weft.Errorf(weft.CodeInvalid, "output step: webhook %s: server refused the delivery with %s%s", where, status, answer)
	}
	return weft.Errorf(weft.CodeInvalid, "output step: webhook %s: unexpected answer %s (expected 2xx)%s", where, status, answer)
}

// outputTransportError classifies a failed request. ctx is the step's
// context (not the delivery's own timeout).
func outputTransportError(ctx context.Context, where string, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return weft.Errorf(weft.CodeCanceled, "output step: webhook %s: canceled", where)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text holds the full URL
	}
	var (
		we *weft.Error
		cv *tls.CertificateVerificationError
		ne net.Error
	)
	switch {
	case errors.As(err, &we):
		return weft.Errorf(we.Code, "output step: webhook %s: %s", where, we.Error())
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		if ctx.Err() != nil {
			return weft.Errorf(weft.CodeTimeout, "output step: webhook %s: the step ran out of time", where)
		}
		return weft.Errorf(weft.CodeTimeout, "output step: webhook %s: no answer within %s", where, timeout)
	case errors.As(err, &cv):
		return weft.Errorf(weft.CodeInvalid, "output step: webhook %s: the server's TLS certificate is not trusted: %v", where, cv.Err)
	}
	return weft.Errorf(weft.CodeUnavailable, "output step: webhook %s: %v", where, err)
}

// outputRetryAfter parses a Retry-After value, seconds or an HTTP date,
// into a delay; 0 when absent, malformed or not in the future.
func outputRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// outputExcerpt reads at most 200 bytes of an answer and returns them as
// ": TEXT", printable, one line, with the request's secrets masked; "" for
// an empty answer.
func outputExcerpt(body io.Reader, secrets []string) string {
	buf := make([]byte, outputExcerptBytes+1)
	n, _ := io.ReadFull(body, buf)
	more := n > outputExcerptBytes
	s := strings.ToValidUTF8(string(buf[:min(n, outputExcerptBytes)]), "")
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsPrint(r):
			return r
		}
		return -1
	}, s)), " ")
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	if s == "" {
		return ""
	}
	if more {
		s += "…"
	}
	return ": " + s
}
