// Package openai is the AI provider of OpenAI-compatible Chat Completions
// endpoints: OpenAI itself, and the servers that speak its API (Ollama,
// vLLM, llama.cpp server, LM Studio, ...), built on
// github.com/openai/openai-go/v3.
//
// A Provider makes exactly one HTTP request per Complete (the SDK's own
// retries are off: the engine owns retries), within its request timeout,
// after waiting for its rate limit when it has one. It reads no
// environment variable: everything comes from its Config. Base URLs are
// trusted, like the rest of the operator's configuration: requests are not
// checked against the outbound allow-list of webhooks.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
)

// Defaults of Config.
const (
	DefaultName    = "openai"
	DefaultBaseURL = "https://api.openai.com/v1"
	DefaultTimeout = 60 * time.Second
)

// Config configures a Provider.
type Config struct {
	// Name names the provider in error messages. Defaults to "openai".
	Name string
	// BaseURL is the endpoint's base URL, the part before
	// "/chat/completions", such as "http://localhost:11434/v1" (Ollama).
	// Defaults to DefaultBaseURL, OpenAI's.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY". Defaults to none (no
	// Authorization header: local servers need none). It never appears in
	// errors.
	APIKey string
	// Model is the model of requests that name none. Defaults to none:
	// such requests then fail with code invalid.
	Model string
	// Timeout bounds one request, from sending it to reading the whole
	// answer (not the wait for the rate limit). Defaults to 60s.
	Timeout time.Duration
	// RequestsPerMinute limits the provider's request rate (see
	// ai.Limiter): up to that many at once, then one every
	// minute/RequestsPerMinute. Defaults to 0: no limit.
	RequestsPerMinute int
	// Limiter, when set, is the provider's limiter instead of one made from
	// RequestsPerMinute: for providers that share one account's limit, or
	// a limiter with a fake clock.
	Limiter *ai.Limiter
	// HTTPClient makes the requests. Defaults to a client of its own with
	// the settings of http.DefaultTransport (proxies from the environment).
	HTTPClient *http.Client
	// Now tells the time, to turn a Retry-After date into a wait. Defaults
	// to time.Now.
	Now func() time.Time
}

// Provider is an OpenAI-compatible Chat Completions provider, an
// ai.Provider and ai.RateLimited. Create one with New. It is safe for
// concurrent use.
type Provider struct {
	name    string
	model   string
	key     string
	timeout time.Duration
	limiter *ai.Limiter
	now     func() time.Time
	hc      *http.Client
	svc     sdk.ChatCompletionService
}

// New returns a provider configured by cfg. It returns an error when the
// base URL is not an http or https URL, or a number is negative.
func New(cfg Config) (*Provider, error) {
	p := &Provider{name: cfg.Name, model: cfg.Model, key: cfg.APIKey, timeout: cfg.Timeout, limiter: cfg.Limiter, now: cfg.Now}
	if p.name == "" {
		p.name = DefaultName
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ai provider %s: base URL %q: expected an http or https URL, such as %s or http://localhost:11434/v1",
			p.name, ai.Redact(base, cfg.APIKey), DefaultBaseURL)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("ai provider %s: negative timeout %s", p.name, cfg.Timeout)
	case cfg.Timeout == 0:
		p.timeout = DefaultTimeout
	}
	if cfg.RequestsPerMinute < 0 {
		return nil, fmt.Errorf("ai provider %s: negative requests per minute %d", p.name, cfg.RequestsPerMinute)
	}
	if p.limiter == nil {
		p.limiter = ai.NewLimiter(cfg.RequestsPerMinute, nil)
	}
	if p.now == nil {
		p.now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		var rt http.RoundTripper = http.DefaultTransport
		if t, ok := rt.(*http.Transport); ok {
			rt = t.Clone()
		}
		hc = &http.Client{Transport: rt}
	}
	p.hc = hc
	// The service, not sdk.NewClient: the client would read OPENAI_*
	// environment variables (key, base URL, organization, headers), and
	// could send an OpenAI key to another server.
	p.svc = sdk.NewChatCompletionService(
		option.WithBaseURL(strings.TrimSuffix(u.String(), "/")+"/"),
		option.WithAPIKey(cfg.APIKey),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0), // the engine owns retries
	)
	return p, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Model returns the provider's default model ("" when none).
func (p *Provider) Model() string { return p.model }

// Limiter returns the provider's rate limiter, nil when it has none.
func (p *Provider) Limiter() *ai.Limiter { return p.limiter }

// CloseIdleConnections closes the connections kept alive between
// requests, for a program that is done with the provider.
func (p *Provider) CloseIdleConnections() { p.hc.CloseIdleConnections() }

// schemaName is what OpenAI accepts as a json_schema name.
var schemaName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Complete sends one Chat Completions request and returns the first
// choice's answer. Errors have weft codes (see ai.StatusError and
// ai.TransportError); a request without a model, and a refusal by the
// model, fail with code invalid and ai_invalid_output.
func (p *Provider) Complete(ctx context.Context, req *ai.Request) (*ai.Response, error) {
	model := req.Model
	if model == "" {
		model = p.model
	}
	if model == "" {
		return nil, weft.Permanent(ai.Errorf(weft.CodeInvalid, p.name, p.secrets(),
			"no model: set the step's model, or the provider's default model (weft run: WEFT_AI_MODEL)"))
	}
	params := sdk.ChatCompletionNewParams{Model: shared.ChatModel(model)}
	for _, m := range req.Messages {
		switch m.Role {
		case ai.RoleSystem:
			params.Messages = append(params.Messages, sdk.SystemMessage(m.Content))
		case ai.RoleUser:
			params.Messages = append(params.Messages, sdk.UserMessage(m.Content))
		case ai.RoleAssistant:
			params.Messages = append(params.Messages, sdk.AssistantMessage(m.Content))
		default:
			return nil, weft.Permanent(ai.Errorf(weft.CodeInvalid, p.name, p.secrets(), "message role %q: expected system, user or assistant", m.Role))
		}
	}
	if req.Temperature != nil {
		params.Temperature = sdk.Float(*req.Temperature)
	}
	if req.MaxTokens != nil {
		// max_tokens, not max_completion_tokens: every compatible server
		// knows it.
		params.MaxTokens = sdk.Int(*req.MaxTokens)
	}
	switch rf := req.ResponseFormat; rf.Type {
	case "", ai.FormatText:
		// No response_format: text is every server's default, and some
		// refuse the field.
	case ai.FormatJSON:
		params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
	case ai.FormatJSONSchema:
		name := rf.Name
		if name == "" {
			name = "response"
		}
		if !schemaName.MatchString(name) {
			return nil, weft.Permanent(ai.Errorf(weft.CodeInvalid, p.name, p.secrets(), "schema name %q: expected 1 to 64 letters, digits, '_' and '-'", name))
		}
		if !json.Valid(rf.Schema) {
			return nil, weft.Permanent(ai.Errorf(weft.CodeInvalid, p.name, p.secrets(), "the response format's schema is not valid JSON"))
		}
		params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: name, Schema: rf.Schema},
		}
	default:
		return nil, weft.Permanent(ai.Errorf(weft.CodeInvalid, p.name, p.secrets(), "response format %q: expected text, json or json_schema", rf.Type))
	}

	if err := p.limiter.Wait(ctx); err != nil {
		return nil, ai.TransportError(ctx, p.name, p.timeout, err, p.secrets()...)
	}
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var httpResp *http.Response
	resp, err := p.svc.New(rctx, params, option.WithResponseInto(&httpResp))
	if err != nil {
		return nil, p.classify(ctx, httpResp, err)
	}
	if len(resp.Choices) == 0 {
		return nil, ai.Errorf(weft.CodeUnavailable, p.name, p.secrets(), "the server answered with no choices")
	}
	c := resp.Choices[0]
	if c.Message.Content == "" && c.Message.Refusal != "" {
		return nil, ai.Errorf(weft.CodeAIInvalidOutput, p.name, p.secrets(), "the model refused: %s", ai.Sanitize(c.Message.Refusal, p.secrets()...))
	}
	u := weft.Usage{
		PromptTokens:     resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens,
		TotalTokens:      resp.Usage.TotalTokens,
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	// A server could echo the key (it has it); the answer must not.
	out := &ai.Response{Text: ai.Redact(c.Message.Content, p.key), Model: resp.Model, Usage: u, FinishReason: c.FinishReason}
	if out.Model == "" {
		out.Model = model
	}
	return out, nil
}

// secrets are the texts masked in errors.
func (p *Provider) secrets() []string { return []string{p.key} }

// classify turns a failed request into an error with a weft code. ctx is
// the caller's context; httpResp the answer, when there was one.
func (p *Provider) classify(ctx context.Context, httpResp *http.Response, err error) error {
	var (
		apiErr *sdk.Error
		status int
		header http.Header
	)
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.StatusCode
		if apiErr.Response != nil {
			header = apiErr.Response.Header
		}
	case httpResp != nil:
		status, header = httpResp.StatusCode, httpResp.Header
	}
	switch {
	case status >= 300:
		var detail string
		if apiErr != nil && (apiErr.Message != "" || apiErr.Code != "") {
			detail = apiErr.Message
			if apiErr.Code != "" && !strings.Contains(detail, apiErr.Code) {
				detail = apiErr.Code + ": " + detail
			}
		} else if httpResp != nil && httpResp.Body != nil {
			detail = bodyDetail(httpResp.Body)
		}
		return ai.StatusError(p.name, status, header, detail, p.now(), p.secrets()...)
	case ctx.Err() != nil || isTransport(err):
		return ai.TransportError(ctx, p.name, p.timeout, err, p.secrets()...)
	}
	// An answer that did not decode: a proxy's page, a truncated body.
	return ai.Errorf(weft.CodeUnavailable, p.name, p.secrets(), "unreadable answer: %s", ai.Sanitize(err.Error(), p.secrets()...))
}

// isTransport reports whether err is a failure to get an answer (as
// opposed to an answer that did not decode).
func isTransport(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// bodyDetail reads the start of an error answer that the SDK could not
// decode: the message of {"error": "..."} or {"error": {"message": ...}}
// (Ollama, llama.cpp), else the text.
func bodyDetail(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 4096))
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && len(e.Error) > 0 {
		var s string
		if json.Unmarshal(e.Error, &s) == nil {
			return s
		}
		var m struct {
			Message string `json:"message"`
			Code    any    `json:"code"`
		}
		if json.Unmarshal(e.Error, &m) == nil && m.Message != "" {
			return m.Message
		}
	}
	return string(b)
}
