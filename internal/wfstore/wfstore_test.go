package wfstore

import (
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

func TestCursor(t *testing.T) {
	for _, id := range []string{"a", "orders.v2", "x_y-z", "é / ? & =", "\x00\xff"} {
		got, err := After(&weft.WorkflowFilter{Cursor: Cursor(id)})
		if err != nil || got != id {
			t.Errorf("After(Cursor(%q)) = %q, %v; want the id back", id, got, err)
		}
	}
	for _, f := range []*weft.WorkflowFilter{nil, {}} {
		if got, err := After(f); err != nil || got != "" {
			t.Errorf("After(%v) = %q, %v; want the start", f, got, err)
		}
	}
	for _, bad := range []string{"not a cursor!", "YQ==", "%%%", "a"} {
		if got, err := After(&weft.WorkflowFilter{Cursor: bad}); weft.ErrorCode(err) != weft.CodeInvalid {
			t.Errorf("After(%q) = %q, %v; want an error with code invalid", bad, got, err)
		}
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		f    *weft.WorkflowFilter
		want int
	}{
		{nil, 100}, {&weft.WorkflowFilter{}, 100}, {&weft.WorkflowFilter{Limit: -3}, 100},
		{&weft.WorkflowFilter{Limit: 1}, 1}, {&weft.WorkflowFilter{Limit: 1000}, 1000}, {&weft.WorkflowFilter{Limit: 1001}, 1000},
	} {
		if got := Limit(tc.f); got != tc.want {
			t.Errorf("Limit(%+v) = %d; want %d", tc.f, got, tc.want)
		}
	}
}

func TestPrepare(t *testing.T) {
	now := time.Date(2031, time.May, 6, 7, 0, 0, 0, time.UTC)
	v := &weft.WorkflowVersion{ID: "wf", Version: 9, Digest: "d", Definition: []byte(`{}`)}
	rec, err := Prepare(v, now)
	if err != nil || rec.Version != 0 || !rec.CreatedAt.Equal(now) || rec.ID != "wf" || string(rec.Definition) != `{}` {
		t.Errorf("Prepare = %+v, %v; want version 0, created now", rec, err)
	}
	if v.Version != 9 || !v.CreatedAt.IsZero() {
		t.Errorf("Prepare changed its argument: %+v", v)
	}
	given := now.Add(-time.Hour)
	v.CreatedAt = given
	if rec, _ := Prepare(v, now); !rec.CreatedAt.Equal(given) {
		t.Errorf("Prepare kept CreatedAt %s; want the one given, %s", rec.CreatedAt, given)
	}
	if _, err := Prepare(nil, now); weft.ErrorCode(err) != weft.CodeInvalid {
		t.Errorf("Prepare(nil) = %v; want code invalid", err)
	}
}
