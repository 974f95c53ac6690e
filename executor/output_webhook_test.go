package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// Output to webhooks: retries, answers, failures, the allow-list,
// redirects, secrets, and Retry-After.

// outputWebhookServer answers with the given handlers in turn (the last one
// repeats) and records every request.
type outputWebhookServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newOutputWebhookServer(t *testing.T, handlers ...http.HandlerFunc) *outputWebhookServer {
	s := &outputWebhookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, r)
		s.bodies = append(s.bodies, string(body))
		s.mu.Unlock()
		handlers[min(n, len(handlers)-1)](w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *outputWebhookServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func outputStatus(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func outputWebhookInput(url string, extra string) string {
	return fmt.Sprintf(`{"destination": "webhook", "url": %q%s}`, url, extra)
}

var outputAllowLoopback = Config{AllowHosts: []string{"127.0.0.1"}}

// TestOutputWebhookRetries plays the engine: it calls Execute once per
// attempt and checks the codes and the idempotency key.
func TestOutputWebhookRetries(t *testing.T) {
	srv := newOutputWebhookServer(t, outputStatus(503), outputStatus(503), outputStatus(200))
	o := newTestOutput(t, outputAllowLoopback)
	step := outputStep(outputWebhookInput(srv.URL+"/hook", ""))
	for attempt, want := range []weft.Code{weft.CodeUnavailable, weft.CodeUnavailable, ""} {
		step.Attempt = attempt + 1
		out, err := o.Execute(context.Background(), step)
		if want == "" {
			if err != nil || string(out) != `{"a":1}` {
				t.Fatalf("attempt %d: output %s, err %v; want the value", attempt+1, out, err)
			}
			continue
		}
		outputWantCode(t, err, want, true)
		if !strings.Contains(err.Error(), "503 Service Unavailable") {
			t.Errorf("attempt %d: error %q does not name the status", attempt+1, err)
		}
	}
	if srv.count() != 3 {
		t.Fatalf("server got %d requests, want 3 (one per Execute)", srv.count())
	}
	for i, r := range srv.requests {
		if got := r.Header.Get("Idempotency-Key"); got != "run-1/deliver" {
			t.Errorf("request %d: Idempotency-Key %q, want run-1/deliver", i, got)
		}
		if r.Method != http.MethodPost || r.URL.Path != "/hook" || srv.bodies[i] != `{"a":1}` {
			t.Errorf("request %d: %s %s %q, want POST /hook {\"a\":1}", i, r.Method, r.URL.Path, srv.bodies[i])
		}
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "weft" {
			t.Errorf("request %d: headers %v", i, r.Header)
		}
	}
}

func TestOutputWebhookAnswers(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		extra      string
		code       weft.Code // "" for success
		retryable  bool
		retryAfter time.Duration
		msg        string
	}{
		{name: "201", handler: outputStatus(201)},
		{name: "204 to PUT", handler: outputStatus(204), extra: `, "method": "put"`},
		{name: "429 with seconds", handler: outputStatus(429, "Retry-After", "1"),
			code: weft.CodeRateLimited, retryable: true, retryAfter: time.Second, msg: "429 Too Many Requests, retry after 1s"},
		{name: "429 with a date", handler: outputStatus(429, "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)),
			code: weft.CodeRateLimited, retryable: true, retryAfter: 90 * time.Second},
		{name: "429 without Retry-After", handler: outputStatus(429),
			code: weft.CodeRateLimited, retryable: true},
		{name: "429 with a past date", handler: outputStatus(429, "Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)),
			code: weft.CodeRateLimited, retryable: true},
		{name: "500", handler: outputStatus(500), code: weft.CodeUnavailable, retryable: true},
		{name: "400", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, "bad\x00 payload:\n"+strings.Repeat("x", 500))
		}, code: weft.CodeInvalid, msg: "refused the delivery with 400 Bad Request: bad payload: xxx"},
		{name: "404", handler: outputStatus(404), code: weft.CodeInvalid, msg: "404 Not Found"},
		{name: "304", handler: outputStatus(304), code: weft.CodeInvalid, msg: "unexpected answer 304"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newOutputWebhookServer(t, tt.handler)
			cfg := outputAllowLoopback
			cfg.Now = func() time.Time { return now }
			_, err := newTestOutput(t, cfg).Execute(context.Background(), outputStep(outputWebhookInput(srv.URL, tt.extra)))
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			outputWantCode(t, err, tt.code, tt.retryable)
			if got := weft.RetryAfterOf(err); got != tt.retryAfter {
				t.Errorf("RetryAfterOf = %v, want %v", got, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if _, body, _ := strings.Cut(err.Error(), "Bad Request: "); len(body) > outputExcerptBytes+len("…") {
				t.Errorf("error quotes %d bytes of the answer, want at most %d", len(body), outputExcerptBytes)
			}
		})
	}
}

func TestOutputWebhookFailures(t *testing.T) {
	release := make(chan struct{})
	slow := newOutputWebhookServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()

	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err := newTestOutput(t, outputAllowLoopback).Execute(context.Background(),
			outputStep(outputWebhookInput(slow.URL, `, "timeout": "100ms"`)))
		outputWantCode(t, err, weft.CodeTimeout, true)
		if !strings.Contains(err.Error(), "no answer within 100ms") || time.Since(start) > 5*time.Second {
			t.Errorf("error %q after %v", err, time.Since(start))
		}
	})
	t.Run("step deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := newTestOutput(t, outputAllowLoopback).Execute(ctx, outputStep(outputWebhookInput(slow.URL, "")))
		outputWantCode(t, err, weft.CodeTimeout, true)
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newTestOutput(t, outputAllowLoopback).Execute(ctx, outputStep(outputWebhookInput(slow.URL, "")))
		outputWantCode(t, err, weft.CodeCanceled, false)
	})
	t.Run("connection refused", func(t *testing.T) {
		_, err := newTestOutput(t, outputAllowLoopback).Execute(context.Background(), outputStep(outputWebhookInput(closedURL, "")))
		outputWantCode(t, err, weft.CodeUnavailable, true)
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("error %q does not say connection refused", err)
		}
	})
}

func TestOutputWebhookAllowList(t *testing.T) {
	srv := newOutputWebhookServer(t, outputStatus(200))
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	byName := "http://localhost:" + port
	tests := []struct {
		name  string
		allow []string
		url   string
		ok    bool
	}{
		{"refused by default", nil, srv.URL, false},
		{"allowed by IP", []string{"127.0.0.1"}, srv.URL, true},
		{"allowed by CIDR", []string{"127.0.0.0/8"}, srv.URL, true},
		{"allowed by hostname", []string{"localhost"}, byName, true},
		{"hostname not allowed", []string{"example.com"}, byName, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.count()
			_, err := newTestOutput(t, Config{AllowHosts: tt.allow}).Execute(context.Background(), outputStep(outputWebhookInput(tt.url, "")))
			if tt.ok {
				if err != nil || srv.count() != before+1 {
					t.Fatalf("err %v, requests %d; want one delivery", err, srv.count()-before)
				}
				return
			}
			outputWantCode(t, err, weft.CodeInvalid, false)
			if !strings.Contains(err.Error(), "is not allowed: loopback (allow it with --allow-hosts") {
				t.Errorf("error %q does not explain the refusal", err)
			}
			if srv.count() != before {
				t.Error("a refused address was reached")
			}
		})
	}
	if _, err := NewOutput(&Config{AllowHosts: []string{"http://x"}}); err == nil {
		t.Error("NewOutput accepted a malformed allow-list entry")
	}
}

func TestOutputWebhookRedirects(t *testing.T) {
	target := newOutputWebhookServer(t, outputStatus(200))
	targetPort := strconv.Itoa(target.Listener.Addr().(*net.TCPAddr).Port)
	to := func(u string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, u, http.StatusTemporaryRedirect) }
	}

	t.Run("to a refused address", func(t *testing.T) {
		// localhost is allowed by name; 127.0.0.1 as such is not.
		src := newOutputWebhookServer(t, to(target.URL+"/in"))
		srcURL := "http://localhost:" + strconv.Itoa(src.Listener.Addr().(*net.TCPAddr).Port)
		_, err := newTestOutput(t, Config{AllowHosts: []string{"localhost"}}).Execute(context.Background(), outputStep(outputWebhookInput(srcURL, "")))
		outputWantCode(t, err, weft.CodeInvalid, false)
		if !strings.Contains(err.Error(), "outbound address 127.0.0.1 is not allowed: loopback") || src.count() != 1 || target.count() != 0 {
			t.Errorf("error %q, source hits %d, target hits %d; want refused before the target", err, src.count(), target.count())
		}
	})
	t.Run("allowed, credentials kept to the original host", func(t *testing.T) {
		src := newOutputWebhookServer(t, to("http://localhost:"+targetPort+"/in"))
		cfg := Config{AllowHosts: []string{"127.0.0.1", "localhost"}}
		_, err := newTestOutput(t, cfg).Execute(context.Background(),
			outputStep(outputWebhookInput(src.URL, `, "headers": {"X-Api-Key": "k-123456"}`)))
		if err != nil {
			t.Fatal(err)
		}
		r := target.requests[len(target.requests)-1]
		if r.Header.Get("X-Api-Key") != "" || r.Header.Get("Idempotency-Key") != "run-1/deliver" || target.bodies[len(target.bodies)-1] != `{"a":1}` {
			t.Errorf("redirected request: headers %v body %q", r.Header, target.bodies[len(target.bodies)-1])
		}
	})
	t.Run("capped", func(t *testing.T) {
		var loop *outputWebhookServer
		loop = newOutputWebhookServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, loop.URL+"/again", http.StatusTemporaryRedirect)
		})
		_, err := newTestOutput(t, outputAllowLoopback).Execute(context.Background(), outputStep(outputWebhookInput(loop.URL, "")))
		outputWantCode(t, err, weft.CodeInvalid, false)
		if !strings.Contains(err.Error(), "stopped after 5 redirects") || loop.count() != 6 {
			t.Errorf("error %q after %d requests, want stopped after 5 redirects (6 requests)", err, loop.count())
		}
	})
}

// TestOutputWebhookSecrets checks that header values, the URL's path and
// query never appear in errors, even when the server echoes them.
func TestOutputWebhookSecrets(t *testing.T) {
	const auth, key, query, path = "Bearer tok-SECRET-1", "key-SECRET-2", "SECRET-3", "/hooks/SECRET-4"
	echo := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			fmt.Fprintf(w, "got %s %s %s", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.URL)
		}
	}
	release := make(chan struct{})
	defer close(release)
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()

	headers := fmt.Sprintf(`, "headers": {"Authorization": %q, "X-Api-Key": %q}, "timeout": "200ms"`, auth, key)
	for _, tc := range []struct {
		name  string
		base  string
		allow []string
	}{
		{"400 echo", newOutputWebhookServer(t, echo(400)).URL, []string{"127.0.0.1"}},
		{"503 echo", newOutputWebhookServer(t, echo(503)).URL, []string{"127.0.0.1"}},
		{"429 echo", newOutputWebhookServer(t, echo(429)).URL, []string{"127.0.0.1"}},
		{"timeout", newOutputWebhookServer(t, hang).URL, []string{"127.0.0.1"}},
		{"refused address", newOutputWebhookServer(t, echo(200)).URL, nil},
		{"connection refused", closed, []string{"127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := strings.Replace(tc.base, "http://", "http://user:pw-SECRET-5@", 1) + path + "?token=" + query
			_, err := newTestOutput(t, Config{AllowHosts: tc.allow}).Execute(context.Background(), outputStep(outputWebhookInput(u, headers)))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks a secret: %q", err)
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "SECRET") {
					t.Errorf("wrapped error leaks a secret: %q", e)
				}
			}
		})
	}
}

func TestOutputRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"soon", 0}, {" 3 ", 3 * time.Second},
		{"120", 2 * time.Minute},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), 0},
		{"99999999999999", (1 << 31) * time.Second},
	}
	for _, tt := range tests {
		if got := outputRetryAfter(tt.v, now); got != tt.want {
			t.Errorf("outputRetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
