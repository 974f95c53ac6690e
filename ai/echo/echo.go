// Package echo is the offline AI provider, for dry runs and demos: it
// calls no model and answers every request with what it was sent, the
// rendered prompt and the attached context, so that a workflow with ai
// steps runs end to end without a server, a key or a cost.
package echo

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/weft-dev/weft/ai"
)

// Name is the provider's usual name (weft run --ai-provider echo).
const Name = "echo"

// Model is the model name echo answers with.
const Model = "echo"

// Provider is the echo provider. The zero value is ready to use and safe
// for concurrent use.
type Provider struct{}

// New returns the echo provider.
func New() *Provider { return &Provider{} }

// Complete answers with the request's user messages (the prompt and the
// attached context), joined by blank lines. When JSON is asked for
// (FormatJSON or FormatJSONSchema), the answer is a JSON object
// {"echo": {"system": ..., "prompt": ...}} instead, the same text split by
// role; it may not match a schema. It reports model "echo", finish reason
// "stop" and zero tokens, and fails only when ctx is done.
func (*Provider) Complete(ctx context.Context, req *ai.Request) (*ai.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, ai.TransportError(ctx, Name, 0, err)
	}
	var system, user []string
	for _, m := range req.Messages {
		switch m.Role {
		case ai.RoleSystem:
			system = append(system, m.Content)
		case ai.RoleUser:
			user = append(user, m.Content)
		}
	}
	text := strings.Join(user, "\n\n")
	if t := req.ResponseFormat.Type; t == ai.FormatJSON || t == ai.FormatJSONSchema {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(map[string]map[string]string{"echo": { // strings always encode
			"system": strings.Join(system, "\n\n"),
			"prompt": text,
		}})
		text = strings.TrimSuffix(buf.String(), "\n")
	}
	return &ai.Response{Text: text, Model: Model, FinishReason: "stop"}, nil
}
