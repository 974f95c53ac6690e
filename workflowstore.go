package weft

import (
	"context"
	"encoding/json"
	"time"
)

// WorkflowVersion is one registered version of a workflow definition. A
// workflow is registered under its id; every registration whose content
// differs from the latest version's gets the next version number (1, 2, …).
type WorkflowVersion struct {
	// ID is the workflow's id (Workflow.ID).
	ID string `json:"id"`
	// Version numbers the versions of one id from 1.
	Version int `json:"version"`
	// Digest identifies the content: the hex SHA-256 of Definition. The
	// caller computes it; stores only compare digests.
	Digest string `json:"digest"`
	// Name and Description are copied from the definition for listings.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Steps is the number of steps of the definition.
	Steps int `json:"steps"`
	// Definition is the workflow as JSON (the canonical form the engine
	// records for runs, whatever format it was registered in), kept byte
	// for byte.
	Definition json.RawMessage `json:"definition,omitempty"`
	// CreatedAt is when this version was registered.
	CreatedAt time.Time `json:"created_at"`
}

// WorkflowFilter selects registered workflows for ListWorkflows.
type WorkflowFilter struct {
	// Limit caps the workflows returned. Defaults to 100; at most 1000.
	Limit int
	// Cursor continues a listing from the next cursor a previous call
	// returned. Defaults to the start (ids in ascending order).
	Cursor string
}

// WorkflowStore registers workflow definitions and their versions. The
// stores that hold runs (sqlite, postgres, inmem) implement it too, and pass
// the same conformance suite (storetest.Run runs its workflow subtests for
// every Store that is a WorkflowStore; storetest.TestWorkflows runs them
// alone).
type WorkflowStore interface {
	// PutWorkflow registers v.Definition under v.ID. When the latest
	// version of v.ID has the same Digest, it returns that version and
	// created=false; otherwise it stores a new version numbered one past
	// the latest (v.Version is ignored) and returns it with created=true.
	// Concurrent registrations of one id get distinct versions. A zero
	// v.CreatedAt is set to the time of the call. It returns an error with
	// code invalid when v has no ID, Digest or Definition; v itself is not
	// changed.
	PutWorkflow(ctx context.Context, v *WorkflowVersion) (stored *WorkflowVersion, created bool, err error)
	// Workflow returns one version of a workflow, or its latest version
	// when version is 0. It returns ErrNotFound for an unknown id or
	// version.
	Workflow(ctx context.Context, id string, version int) (*WorkflowVersion, error)
	// WorkflowVersions returns every version of a workflow, newest first,
	// without their Definition. It returns ErrNotFound for an unknown id.
	WorkflowVersions(ctx context.Context, id string) ([]*WorkflowVersion, error)
	// ListWorkflows returns the latest version of each workflow, ordered by
	// id, without their Definition, and the cursor of the next page ("" at
	// the end). It returns an error with code invalid for a bad cursor.
	ListWorkflows(ctx context.Context, f *WorkflowFilter) (workflows []*WorkflowVersion, next string, err error)
}
