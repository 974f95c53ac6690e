package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// outputStep is one attempt of an output step whose flowing value is
// {"a":1}.
func outputStep(input string) *weft.StepContext {
	step := &weft.StepContext{
		RunID: "run-1", StepID: "deliver", Type: "output", Attempt: 1,
		IdempotencyKey: "run-1/deliver", Data: json.RawMessage(`{"a": 1}`),
	}
	if input != "" {
		step.Input = json.RawMessage(input)
	}
	return step
}

func newTestOutput(t *testing.T, cfg Config) *Output {
	t.Helper()
	o, err := NewOutput(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// outputWantCode fails the test unless err has the code and retry decision.
func outputWantCode(t *testing.T, err error, code weft.Code, retryable bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want code %s", code)
	}
	if got := weft.ErrorCode(err); got != code || weft.IsRetryable(err) != retryable {
		t.Fatalf("error %q: code %s retryable %v, want %s retryable %v", err, got, weft.IsRetryable(err), code, retryable)
	}
}

func TestOutputResultAndStdout(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		wantOut    string
		wantStdout string
	}{
		{name: "no input: result is the flowing value", wantOut: `{"a":1}`},
		{name: "result with json format", input: `{"destination": "result", "format": "json"}`, wantOut: `{"a":1}`},
		{name: "data replaces the flowing value", input: `{"data": {"b": [1, 2]}}`, wantOut: `{"b":[1,2]}`},
		{name: "stdout json", input: `{"destination": "stdout"}`, wantOut: `{"a":1}`, wantStdout: "{\"a\":1}\n"},
		{name: "stdout text of a string", input: `{"destination": "stdout", "format": "text", "data": "hello\nworld"}`,
			wantOut: `"hello\nworld"`, wantStdout: "hello\nworld\n"},
		{name: "stdout text of an object is JSON", input: `{"destination": "stdout", "format": "text"}`,
			wantOut: `{"a":1}`, wantStdout: "{\"a\":1}\n"},
		{name: "stdout template", input: `{"destination": "stdout", "template": "total: 3\n"}`,
			wantOut: `{"a":1}`, wantStdout: "total: 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			o := newTestOutput(t, Config{Stdout: &stdout})
			out, err := o.Execute(context.Background(), outputStep(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.wantOut {
				t.Errorf("output = %s, want %s", out, tt.wantOut)
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.wantStdout)
			}
		})
	}

	// A root step without data delivers null.
	var stdout bytes.Buffer
	out, err := newTestOutput(t, Config{Stdout: &stdout}).Execute(context.Background(),
		&weft.StepContext{Input: json.RawMessage(`{"destination": "stdout"}`)})
	if err != nil || string(out) != "null" || stdout.String() != "null\n" {
		t.Errorf("root step: output %s, stdout %q, err %v; want null", out, stdout.String(), err)
	}
}

func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	o := newTestOutput(t, Config{OutputDir: dir})
	tests := []struct {
		input, file, want string
	}{
		{`{"destination": "file", "path": "out.json"}`, "out.json", "{\"a\":1}\n"},
		{`{"destination": "file", "path": "reports/2025/day.json", "data": [1, 2]}`, "reports/2025/day.json", "[1,2]\n"},
		{`{"destination": "file", "path": "./notes.txt", "format": "text", "data": "plain"}`, "notes.txt", "plain"},
		{`{"destination": "file", "path": "r.md", "template": "# Report\n"}`, "r.md", "# Report\n"},
	}
	for _, tt := range tests {
		out, err := o.Execute(context.Background(), outputStep(tt.input))
		if err != nil {
			t.Fatalf("%s: %v", tt.input, err)
		}
		if len(out) == 0 {
			t.Errorf("%s: empty output", tt.input)
		}
		got, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: file %s = %q (%v), want %q", tt.input, tt.file, got, err, tt.want)
		}
	}

	// Replacement is atomic: a reader holding the old file keeps reading
	// the old content in full, and no temporary file is left behind.
	old, err := os.Open(filepath.Join(dir, "out.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := o.Execute(context.Background(), outputStep(`{"destination": "file", "path": "out.json", "data": {"b": 2}}`)); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(old); string(b) != "{\"a\":1}\n" {
		t.Errorf("the old file was changed in place: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.json")); string(b) != "{\"b\":2}\n" {
		t.Errorf("new content = %q", b)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestOutputFileRefused(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, input, want string
	}{
		{"absolute path", dir, `{"destination": "file", "path": "/etc/passwd"}`, "is absolute"},
		{"parent element", dir, `{"destination": "file", "path": "../x.json"}`, `has a ".." element`},
		{"inner parent element", dir, `{"destination": "file", "path": "a/../../x.json"}`, `has a ".." element`},
		{"directory", dir, `{"destination": "file", "path": "a/"}`, "names a directory"},
		{"no path", dir, `{"destination": "file"}`, `destination "file" needs a path`},
		{"no output directory", "", `{"destination": "file", "path": "x.json"}`, "no output directory configured (--output-dir)"},
		{"symlink out of the directory", dir, `{"destination": "file", "path": "escape/x.json"}`, "escape/x.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOutput(t, Config{OutputDir: tt.dir})
			_, err := o.Execute(context.Background(), outputStep(tt.input))
			outputWantCode(t, err, weft.CodeInvalid, false)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a file was written outside the output directory: %v", entries)
	}
}

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

func TestOutputValidateInput(t *testing.T) {
	type problem struct{ path, code, msg string }
	tests := []struct {
		name  string
		input string
		want  []problem
	}{
		{name: "no input"},
		{name: "result", input: `{"destination": "result", "format": "json"}`},
		{name: "stdout template", input: `{"destination": "stdout", "template": "{{ data.total }} EUR"}`},
		{name: "webhook", input: `{"destination": "webhook", "url": "https://hooks.example.com/x", "method": "PATCH",
			"headers": {"Authorization": "Bearer {{ params.token }}"}, "timeout": "5s", "format": "text"}`},
		{name: "templated headers", input: `{"destination": "webhook", "url": "https://x.example", "headers": "{{ params.headers }}"}`},
		{name: "templated destination", input: `{"destination": "{{ params.dest }}", "path": "x.json", "url": "{{ params.url }}"}`},
		{name: "not an object", input: `[]`, want: []problem{{"$", weft.VType, "expected an object"}}},
		{name: "unknown field", input: `{"destnation": "stdout"}`,
			want: []problem{{"$.destnation", weft.VUnknownField, `unknown field "destnation"`}}},
		{name: "unknown destination", input: `{"destination": "webhok"}`,
			want: []problem{{"$.destination", weft.VInvalidValue, `"webhok" is not a destination`}}},
		{name: "webhook without url", input: `{"destination": "webhook"}`,
			want: []problem{{"$", weft.VRequired, `destination "webhook" needs a url`}}},
		{name: "url without webhook", input: `{"url": "https://x.example"}`,
			want: []problem{{"$.url", weft.VInvalidValue, `"url" applies to destination "webhook" only`}}},
		{name: "bad url", input: `{"destination": "webhook", "url": "ftp://x.example"}`,
			want: []problem{{"$.url", weft.VInvalidValue, `expected an http or https URL`}}},
		{name: "url without host", input: `{"destination": "webhook", "url": "http:///x"}`,
			want: []problem{{"$.url", weft.VInvalidValue, "no host"}}},
		{name: "bad method", input: `{"destination": "webhook", "url": "https://x.example", "method": "GET"}`,
			want: []problem{{"$.method", weft.VInvalidValue, `"GET" is not a webhook method`}}},
		{name: "bad headers", input: `{"destination": "webhook", "url": "https://x.example",
			"headers": {"Bad Name": "v", "X-N": 1, "idempotency-key": "k", "X-Line": "a\r\nInjected: SECRET"}}`,
			want: []problem{
				{`$.headers["Bad Name"]`, weft.VInvalidValue, "not a valid header name"},
				{"$.headers.X-N", weft.VType, "expected a string header value"},
				{"$.headers.idempotency-key", weft.VInvalidValue, "set by weft"},
				{"$.headers.X-Line", weft.VInvalidValue, "control characters"},
			}},
		{name: "headers not an object", input: `{"destination": "webhook", "url": "https://x.example", "headers": ["a"]}`,
			want: []problem{{"$.headers", weft.VType, "expected an object"}}},
		{name: "file without path", input: `{"destination": "file"}`,
			want: []problem{{"$", weft.VRequired, `destination "file" needs a path`}}},
		{name: "absolute path", input: `{"destination": "file", "path": "/tmp/x"}`,
			want: []problem{{"$.path", weft.VInvalidValue, "is absolute"}}},
		{name: "dot-dot path", input: `{"destination": "file", "path": "a/../../x"}`,
			want: []problem{{"$.path", weft.VInvalidValue, `".." element`}}},
		{name: "path without file", input: `{"destination": "stdout", "path": "x"}`,
			want: []problem{{"$.path", weft.VInvalidValue, `applies to destination "file" only`}}},
		{name: "bad timeout", input: `{"destination": "webhook", "url": "https://x.example", "timeout": "soon"}`,
			want: []problem{{"$.timeout", weft.VInvalidDuration, "not a duration"}}},
		{name: "zero timeout", input: `{"destination": "webhook", "url": "https://x.example", "timeout": "0s"}`,
			want: []problem{{"$.timeout", weft.VInvalidDuration, "more than 0"}}},
		{name: "template format without template", input: `{"destination": "stdout", "format": "template"}`,
			want: []problem{{"$.format", weft.VRequired, "needs a template"}}},
		{name: "template with another format", input: `{"destination": "stdout", "format": "json", "template": "x"}`,
			want: []problem{{"$.template", weft.VInvalidValue, `used only with format "template"`}}},
		{name: "text to the result", input: `{"format": "text"}`,
			want: []problem{{"$.format", weft.VInvalidValue, `destination "result" keeps the JSON value`}}},
		{name: "wrong type", input: `{"destination": 3}`,
			want: []problem{{"$.destination", weft.VType, "expected a string"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if tt.input != "" {
				raw = json.RawMessage(tt.input)
			}
			got := (&Output{}).ValidateInput(raw)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Code != w.code || !strings.Contains(g.Message, w.msg) {
					t.Errorf("problem %d = %s [%s], want %s [%s] containing %q", i, g, g.Code, w.path, w.code, w.msg)
				}
				if strings.Contains(g.Error(), "SECRET") {
					t.Errorf("problem quotes a header value: %s", g)
				}
			}
		})
	}
	if got := (&Output{}).ValidateInput(json.RawMessage(`{"destination": "webhok"}`)); len(got) == 0 || got[0].Suggestion != `did you mean "webhook"?` {
		t.Errorf("suggestion: %v", got)
	}

	// At run time the same problems fail the step with code invalid.
	_, err := (&Output{}).Execute(context.Background(), outputStep(`{"destination": "webhok"}`))
	outputWantCode(t, err, weft.CodeInvalid, false)
	if !strings.Contains(err.Error(), `input.destination: "webhok" is not a destination`) {
		t.Errorf("error %q", err)
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
