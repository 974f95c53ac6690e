// Package wfstore holds what every store's workflow registry
// (weft.WorkflowStore) shares, so that the stores check registrations,
// size pages and read cursors the same way.
package wfstore

import (
	"encoding/base64"
	"time"

	"github.com/weft-dev/weft"
)

// Page sizes of ListWorkflows (weft.WorkflowFilter.Limit).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Prepare checks a registration and returns the record a store keeps for
// it: a copy of v with Version 0 (the store numbers it) and CreatedAt set
// to now when v has none. It returns an error with code invalid when v has
// no ID, no Digest or no Definition.
func Prepare(v *weft.WorkflowVersion, now time.Time) (weft.WorkflowVersion, error) {
	switch {
	case v == nil:
		return weft.WorkflowVersion{}, weft.Errorf(weft.CodeInvalid, "no workflow to register")
	case v.ID == "":
		return weft.WorkflowVersion{}, weft.Errorf(weft.CodeInvalid, "a workflow needs an id")
	case v.Digest == "":
		return weft.WorkflowVersion{}, weft.Errorf(weft.CodeInvalid, "workflow %s: a version needs a digest", v.ID)
	case len(v.Definition) == 0:
		return weft.WorkflowVersion{}, weft.Errorf(weft.CodeInvalid, "workflow %s: a version needs a definition", v.ID)
	}
	rec := *v
	rec.Version = 0
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	return rec, nil
}

// Limit is the page size f asks for: DefaultLimit when it asks for none,
// at most MaxLimit.
func Limit(f *weft.WorkflowFilter) int {
	if f == nil || f.Limit <= 0 {
		return DefaultLimit
	}
	return min(f.Limit, MaxLimit)
}

// Cursor is the cursor of the page that follows one ending with the
// workflow id: the id in unpadded base64url, so that any id makes a
// cursor and not every string is one.
func Cursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// After returns the id after which the page of f starts ("" for the first
// page), or an error with code invalid for a cursor that Cursor did not
// make.
func After(f *weft.WorkflowFilter) (string, error) {
	if f == nil || f.Cursor == "" {
		return "", nil
	}
	id, err := base64.RawURLEncoding.DecodeString(f.Cursor)
	if err != nil || len(id) == 0 {
		return "", weft.Errorf(weft.CodeInvalid, "bad cursor %q", f.Cursor)
	}
	return string(id), nil
}
