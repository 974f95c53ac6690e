// Package aitest is a fake OpenAI-compatible Chat Completions server for
// tests: a real HTTP server on 127.0.0.1 (net/http/httptest) that answers
// queued replies and records what it received.
package aitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// Reply is one answer of the Server.
type Reply struct {
	// Status is the HTTP status. Defaults to 200.
	Status int
	// Header holds headers to send, such as Retry-After.
	Header http.Header
	// Body, when set, is sent as is (with Content-Type application/json
	// unless Header says otherwise), instead of the body made from the
	// fields below.
	Body string
	// Text is the answer's text (status 2xx).
	Text string
	// Model is the answer's model. Defaults to the requested one.
	Model string
	// FinishReason defaults to "stop".
	FinishReason string
	// Usage is the answer's token counts.
	Usage weft.Usage
	// Error is the message of an error answer (status ≥ 400), sent as
	// {"error": {"message", "type", "code"}}, and Code its code.
	Error, Code string
	// EchoAuth appends the request's Authorization header to Error, as a
	// careless server could: the client must not let it reach its errors.
	EchoAuth bool
	// Delay holds the answer back that long, or until the client gives up.
	Delay time.Duration
}

// Message is a chat message as the server received it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is the body of a Chat Completions request, as far as weft
// sends it.
type ChatRequest struct {
	Model          string          `json:"model"`
	Messages       []Message       `json:"messages"`
	Temperature    *float64        `json:"temperature"`
	MaxTokens      *int64          `json:"max_tokens"`
	ResponseFormat json.RawMessage `json:"response_format"`
}

// Received is one request the server received.
type Received struct {
	// At is when the request arrived.
	At     time.Time
	Method string
	Path   string
	Header http.Header
	// Body is the raw body; Chat is it decoded.
	Body []byte
	Chat ChatRequest
}

// Server is the fake server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure providers with:
	// http://127.0.0.1:PORT/v1.
	URL string

	srv      *httptest.Server
	t        testing.TB
	mu       sync.Mutex
	replies  []Reply
	received []Received
}

// NewServer starts a server that answers replies in order, then, when none
// is left, 200 with text "ok". It is closed when the test ends.
func NewServer(t testing.TB, replies ...Reply) *Server {
	t.Helper()
	s := &Server{t: t, replies: replies}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/v1"
	t.Cleanup(s.srv.Close)
	return s
}

// Push queues more replies.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

// Received returns the requests received so far, oldest first.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Count returns the number of requests received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

// Close stops the server: later requests are refused.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Received{At: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	if err := json.Unmarshal(body, &rec.Chat); err != nil {
		s.t.Errorf("aitest: the request body is not a Chat Completions request: %v\n%s", err, body)
	}
	s.mu.Lock()
	s.received = append(s.received, rec)
	reply := Reply{Text: "ok"}
	if len(s.replies) > 0 {
		reply = s.replies[0]
		s.replies = s.replies[1:]
	}
	s.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		s.t.Errorf("aitest: unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if reply.Delay > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(reply.Delay):
		}
	}
	for k, vs := range reply.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	out := []byte(reply.Body)
	switch {
	case reply.Body != "":
	case status >= 400:
		msg := reply.Error
		if reply.EchoAuth {
			msg += " (you sent: " + r.Header.Get("Authorization") + ")"
		}
		out, _ = json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": reply.Code}})
	default:
		model := reply.Model
		if model == "" {
			model = rec.Chat.Model
		}
		finish := reply.FinishReason
		if finish == "" {
			finish = "stop"
		}
		out, _ = json.Marshal(map[string]any{
			"id": fmt.Sprintf("chatcmpl-%d", len(s.Received())), "object": "chat.completion", "created": 1700000000, "model": model,
			"choices": []any{map[string]any{
				"index": 0, "finish_reason": finish,
				"message": map[string]any{"role": "assistant", "content": reply.Text},
			}},
			"usage": map[string]any{
				"prompt_tokens": reply.Usage.PromptTokens, "completion_tokens": reply.Usage.CompletionTokens,
				"total_tokens": reply.Usage.TotalTokens,
			},
		})
	}
	w.WriteHeader(status)
	w.Write(out)
}

// Clock is a fake ai.Clock: time moves only when Sleep or Advance moves
// it. The zero value starts at the zero time; it is safe for concurrent
// use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// NewClock returns a clock set at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock d ahead at once and records d; it returns
// ctx.Err() without moving when ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

// Advance moves the clock d ahead.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Slept returns the waits Sleep was asked for, oldest first.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
