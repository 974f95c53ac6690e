package runstate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// TestEnd: a run ends succeeded with its sinks' result, or failed with
// its first failed step's error, or a count when no failed step has one.
func TestEnd(t *testing.T) {
	now := time.Unix(5, 0)
	sink := &weft.StepRun{StepID: "s", Status: weft.StepSucceeded, Output: json.RawMessage(`1`)}
	tests := []struct {
		name   string
		failed int
		first  *FirstFailed
		status weft.RunStatus
		code   weft.Code
		msg    string
		event  weft.EventType
	}{
		{"succeeded", 0, nil, weft.RunSucceeded, "", "", weft.EventRunSucceeded},
		{"failed", 2, &FirstFailed{"a", &weft.ErrorInfo{Code: "boom", Message: "it broke"}},
			weft.RunFailed, "boom", "step a failed: it broke", weft.EventRunFailed},
		{"failed without errors", 2, nil, weft.RunFailed, weft.CodeInternal, "2 step(s) failed", weft.EventRunFailed},
	}
	for _, tt := range tests {
		end := End(now, []*weft.StepRun{sink}, tt.failed, tt.first)
		if end.Status != tt.status || end.Event.Type != tt.event || !end.Event.Time.Equal(now) || string(end.Result) != "1" {
			t.Errorf("%s: End = %+v", tt.name, end)
		}
		switch {
		case tt.code == "" && end.Error != nil:
			t.Errorf("%s: error %+v, want none", tt.name, *end.Error)
		case tt.code != "" && (end.Error == nil || end.Error.Code != tt.code || end.Error.Message != tt.msg || end.Event.Error != end.Error):
			t.Errorf("%s: error %+v (event's %+v), want %s %q", tt.name, end.Error, end.Event.Error, tt.code, tt.msg)
		}
	}
}

// TestFindFirstFailed: the first failed step that has an error.
func TestFindFirstFailed(t *testing.T) {
	boom := &weft.ErrorInfo{Code: "boom"}
	steps := []struct {
		status weft.StepStatus
		err    *weft.ErrorInfo
	}{{weft.StepSucceeded, boom}, {weft.StepFailed, nil}, {weft.StepFailed, boom}, {weft.StepFailed, boom}}
	at := func(i int) (string, weft.StepStatus, *weft.ErrorInfo) {
		return string(rune('a' + i)), steps[i].status, steps[i].err
	}
	if f := FindFirstFailed(len(steps), at); f == nil || f.StepID != "c" || f.Error != boom {
		t.Errorf("FindFirstFailed = %+v, want c", f)
	}
	if f := FindFirstFailed(2, at); f != nil {
		t.Errorf("FindFirstFailed of a, b = %+v, want nil", f)
	}
}
