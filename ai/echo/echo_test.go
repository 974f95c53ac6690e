package echo_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/echo"
)

func TestEcho(t *testing.T) {
	p := echo.New()
	msgs := []ai.Message{
		{Role: ai.RoleSystem, Content: "be brief"},
		{Role: ai.RoleUser, Content: "Analyze data\n\nContext (JSON):\n{\"a\":1}"},
	}
	resp, err := p.Complete(context.Background(), &ai.Request{Model: "gpt-4o", Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "Analyze data\n\nContext (JSON):\n{\"a\":1}" || resp.Model != "echo" || resp.FinishReason != "stop" || !resp.Usage.IsZero() {
		t.Errorf("response %+v", resp)
	}

	// Asked for JSON, it answers JSON.
	for _, f := range []ai.FormatType{ai.FormatJSON, ai.FormatJSONSchema} {
		resp, err = p.Complete(context.Background(), &ai.Request{Messages: msgs, ResponseFormat: ai.ResponseFormat{Type: f}})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]map[string]string
		if err := json.Unmarshal([]byte(resp.Text), &got); err != nil || got["echo"]["system"] != "be brief" || got["echo"]["prompt"] != msgs[1].Content {
			t.Errorf("%s: text %s (%v)", f, resp.Text, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Complete(ctx, &ai.Request{Messages: msgs}); weft.ErrorCode(err) != weft.CodeCanceled {
		t.Errorf("canceled: %v", err)
	}
}
