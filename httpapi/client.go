package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weft-dev/weft"
)

// Client is a Go client of the API. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// ClientOptions configures a Client. A nil *ClientOptions means the
// defaults of every field.
type ClientOptions struct {
	// Token is the bearer token sent with every request. Defaults to none.
	Token string
	// HTTPClient makes the requests. Defaults to a client with no overall
	// timeout (event streams are long), whose requests are bounded by their
	// contexts.
	HTTPClient *http.Client
}

// APIError is an error answer of the server.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code, Message and Details are the answer's error.
	Code    string
	Message string
	Details json.RawMessage
	// RetryAfter is the Retry-After of a 429 or 503 answer.
	RetryAfter time.Duration
}

// Error returns the message with its code.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// Is makes errors.Is(err, weft.ErrNotFound) hold for a 404 answer and
// errors.Is(err, weft.ErrQueueFull) for a full queue.
func (e *APIError) Is(target error) bool {
	switch target {
	case weft.ErrNotFound:
		return e.Status == http.StatusNotFound
	case weft.ErrQueueFull:
		return e.Code == CodeQueueFull
	case weft.ErrInvalidWorkflow:
		return e.Code == CodeInvalidWorkflow
	}
	return false
}

// Problems returns the validation problems of an invalid_workflow answer.
func (e *APIError) Problems() weft.ValidationErrors {
	var ve weft.ValidationErrors
	if e.Code == CodeInvalidWorkflow {
		json.Unmarshal(e.Details, &ve)
	}
	return ve
}

// NewClient returns a client of the server at baseURL (such as
// http://127.0.0.1:8080). It returns an error when baseURL is not an http or
// https URL.
func NewClient(baseURL string, opts *ClientOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server address %q: expected an http:// or https:// URL such as http://127.0.0.1:8080", baseURL)
	}
	c := &Client{base: strings.TrimRight(u.String(), "/"), http: &http.Client{}}
	if opts != nil {
		c.token = opts.Token
		if opts.HTTPClient != nil {
			c.http = opts.HTTPClient
		}
	}
	return c, nil
}

// RegisterWorkflow registers a workflow document (JSON, or YAML when yaml
// is true) and returns the version it is now; Created says whether it is
// new. Validation problems come as an *APIError with Problems.
func (c *Client) RegisterWorkflow(ctx context.Context, doc []byte, yaml bool) (*WorkflowDocument, error) {
	var out WorkflowDocument
	_, err := c.do(ctx, http.MethodPost, "/api/v1/workflows", documentType(yaml), doc, &out)
	return &out, err
}

// documentType is the Content-Type of a workflow document.
func documentType(yaml bool) string {
	if yaml {
		return "application/yaml"
	}
	return "application/json"
}

// Workflow returns a registered workflow at a version (0: the latest).
func (c *Client) Workflow(ctx context.Context, id string, version int) (*WorkflowDocument, error) {
	p := "/api/v1/workflows/" + url.PathEscape(id)
	if version > 0 {
		p += "?version=" + strconv.Itoa(version)
	}
	var out WorkflowDocument
	_, err := c.do(ctx, http.MethodGet, p, "", nil, &out)
	return &out, err
}

// StartRun starts a run. created is false when the idempotency key was
// used before and the existing run is returned.
func (c *Client) StartRun(ctx context.Context, req *RunRequest) (run *RunSummary, created bool, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	run = &RunSummary{}
	status, err := c.do(ctx, http.MethodPost, "/api/v1/runs", "application/json", body, run)
	return run, status == http.StatusCreated, err
}

// Run returns a run's status.
func (c *Client) Run(ctx context.Context, id string) (*RunDocument, error) {
	var out RunDocument
	_, err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id), "", nil, &out)
	return &out, err
}

// RunWithoutOutputs returns a run's status with every step's output null
// (the run's result is kept): the small first view of a large run.
func (c *Client) RunWithoutOutputs(ctx context.Context, id string) (*RunDocument, error) {
	var out RunDocument
	_, err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"?outputs=false", "", nil, &out)
	return &out, err
}

// RunStep returns one step of a run in detail, with its attempts.
func (c *Client) RunStep(ctx context.Context, runID, stepID string) (*StepDetail, error) {
	var out StepDetail
	_, err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(runID)+"/steps/"+url.PathEscape(stepID), "", nil, &out)
	out.Attempts = out.AttemptCount
	return &out, err
}

// RunGraph returns the dependency graph of the workflow a run runs.
func (c *Client) RunGraph(ctx context.Context, id string) (*GraphDocument, error) {
	var out GraphDocument
	_, err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/graph", "", nil, &out)
	return &out, err
}

// WorkflowGraph returns the dependency graph of a registered workflow at a
// version (0: the latest).
func (c *Client) WorkflowGraph(ctx context.Context, id string, version int) (*GraphDocument, error) {
	p := "/api/v1/workflows/" + url.PathEscape(id) + "/graph"
	if version > 0 {
		p += "?version=" + strconv.Itoa(version)
	}
	var out GraphDocument
	_, err := c.do(ctx, http.MethodGet, p, "", nil, &out)
	return &out, err
}

// ValidateWorkflow validates a workflow document (JSON, or YAML when yaml
// is true) without registering it. An invalid document is not an error:
// the result says it is not valid and lists its problems.
func (c *Client) ValidateWorkflow(ctx context.Context, doc []byte, yaml bool) (*ValidationResult, error) {
	var out ValidationResult
	_, err := c.do(ctx, http.MethodPost, "/api/v1/workflows/validate", documentType(yaml), doc, &out)
	return &out, err
}

// RunWorkflow returns the workflow document a run runs, as recorded.
func (c *Client) RunWorkflow(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/workflow", "", nil, &out)
	return out, err
}

// ListWorkflows lists registered workflows (their latest versions), by id.
func (c *Client) ListWorkflows(ctx context.Context, limit int, cursor string) (*WorkflowList, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	p := "/api/v1/workflows"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out WorkflowList
	_, err := c.do(ctx, http.MethodGet, p, "", nil, &out)
	return &out, err
}

// ListRuns lists runs, newest first, by f's filters (Limit, Cursor,
// WorkflowID, Status, Since, Until).
func (c *Client) ListRuns(ctx context.Context, f *weft.RunFilter) (*RunList, error) {
	q := url.Values{}
	if f != nil {
		set := func(k, v string) {
			if v != "" {
				q.Set(k, v)
			}
		}
		set("workflow", f.WorkflowID)
		set("status", string(f.Status))
		set("cursor", f.Cursor)
		if f.Limit > 0 {
			q.Set("limit", strconv.Itoa(f.Limit))
		}
		if !f.Since.IsZero() {
			q.Set("since", f.Since.Format(time.RFC3339Nano))
		}
		if !f.Until.IsZero() {
			q.Set("until", f.Until.Format(time.RFC3339Nano))
		}
	}
	p := "/api/v1/runs"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out RunList
	_, err := c.do(ctx, http.MethodGet, p, "", nil, &out)
	return &out, err
}

// CancelRun cancels a run.
func (c *Client) CancelRun(ctx context.Context, id string) (*RunSummary, error) {
	var out RunSummary
	_, err := c.do(ctx, http.MethodPost, "/api/v1/runs/"+url.PathEscape(id)+"/cancel", "", nil, &out)
	return &out, err
}

// RetryRun retries a failed or canceled run, with edited step inputs when
// req has them (req may be nil).
func (c *Client) RetryRun(ctx context.Context, id string, req *RetryRequest) (*RunSummary, error) {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return nil, err
		}
	}
	var out RunSummary
	_, err := c.do(ctx, http.MethodPost, "/api/v1/runs/"+url.PathEscape(id)+"/retry", "application/json", body, &out)
	return &out, err
}

// Events follows a run's events after sequence number after, calling fn
// for each in order, until the run ends (then it returns nil),
// fn's error, or ctx's end. A dropped connection is resumed from the last
// event received (Last-Event-ID), so no event is lost or repeated.
func (c *Client) Events(ctx context.Context, id string, after int64, fn func(weft.Event) error) error {
	backoff := 100 * time.Millisecond
	for {
		done, err := c.stream(ctx, id, &after, fn)
		if done || ctx.Err() != nil {
			return err
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status != http.StatusServiceUnavailable && ae.Status != http.StatusTooManyRequests {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// stream reads one connection of an event stream. done reports that the
// stream ended for good (terminal event, fn's error).
func (c *Client) stream(ctx context.Context, id string, after *int64, fn func(weft.Event) error) (done bool, err error) {
	req, err := c.request(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/events", "", nil)
	if err != nil {
		return true, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if *after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(*after, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var data []byte
	var name string
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if name == "end" {
				return true, nil
			}
			name = ""
			if len(data) == 0 {
				continue
			}
			var ev weft.Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return true, fmt.Errorf("event stream of run %s: bad event: %w", id, err)
			}
			data = data[:0]
			*after = ev.Seq
			if err := fn(ev); err != nil {
				return true, err
			}
		case bytes.HasPrefix(line, []byte("event:")):
			name = string(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("event:"))))
		case bytes.HasPrefix(line, []byte("data:")) && name != "end":
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	// The server ends a stream with an "end" event; an end without one is
	// a dropped connection.
	return false, io.ErrUnexpectedEOF
}

// request builds a request with the token.
func (c *Client) request(ctx context.Context, method, path, ct string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if ct != "" && body != nil {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do makes a request and decodes its JSON answer into out. It returns the
// HTTP status and an *APIError for error answers.
func (c *Client) do(ctx context.Context, method, path, ct string, body []byte, out any) (int, error) {
	req, err := c.request(ctx, method, path, ct, body)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: the server's answer is not the expected JSON: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// readError reads an error answer.
func readError(resp *http.Response) error {
	ae := &APIError{Status: resp.StatusCode}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			ae.RetryAfter = time.Duration(n) * time.Second
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		ae.Code, ae.Message, ae.Details = body.Error.Code, body.Error.Message, body.Error.Details
	} else {
		ae.Code = "http_" + strconv.Itoa(resp.StatusCode)
		ae.Message = strings.TrimSpace(string(b))
		if ae.Message == "" || len(ae.Message) > 200 {
			ae.Message = http.StatusText(resp.StatusCode)
		}
	}
	return ae
}
