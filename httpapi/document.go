package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
)

// RunDocument is the JSON form of a run's status (DESIGN.md section 7): what
// GET /api/v1/runs/{id} returns and `weft run --json` prints. Durations are
// in milliseconds.
type RunDocument struct {
	RunID           string          `json:"run_id"`
	WorkflowID      string          `json:"workflow_id"`
	WorkflowVersion int             `json:"workflow_version,omitempty"`
	Status          weft.RunStatus  `json:"status"`
	Result          json.RawMessage `json:"result"`
	Error           *weft.ErrorInfo `json:"error"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
	// LastEvent is the sequence number of the last event the document
	// reflects: follow the run's events after it (?after=) to miss none.
	LastEvent int64 `json:"last_event"`
	// Completed lists the steps that are done, in the order they finished.
	Completed []string `json:"completed"`
	// Active lists the attempts in flight.
	Active []engine.Active `json:"active"`
	// Order lists the step ids in topological order, the order of Steps.
	Order   []string        `json:"order"`
	Steps   StepDocuments   `json:"steps"`
	Metrics MetricsDocument `json:"metrics"`
}

// StepDocument is one step of a RunDocument.
type StepDocument struct {
	Type        string          `json:"type"`
	Status      weft.StepStatus `json:"status"`
	Reason      string          `json:"reason,omitempty"`
	Attempts    int             `json:"attempts"`
	Output      json.RawMessage `json:"output"`
	Error       *weft.ErrorInfo `json:"error"`
	QueueWaitMS float64         `json:"queue_wait_ms"`
	DurationMS  float64         `json:"duration_ms"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	AITokens    weft.Usage      `json:"ai_tokens,omitzero"`
}

// MetricsDocument sums up a run in a RunDocument.
type MetricsDocument struct {
	DurationMS   float64    `json:"duration_ms"`
	StepsTotal   int        `json:"steps_total"`
	Succeeded    int        `json:"succeeded"`
	Failed       int        `json:"failed"`
	Skipped      int        `json:"skipped"`
	Canceled     int        `json:"canceled"`
	Retries      int        `json:"retries"`
	PeakParallel int        `json:"peak_parallel"`
	Utilization  float64    `json:"utilization"`
	AITokens     weft.Usage `json:"ai_tokens"`
}

// StepDocuments is a JSON object of steps keyed by id, written in the
// order of IDs (topological) rather than sorted.
type StepDocuments struct {
	IDs   []string
	Steps map[string]*StepDocument
}

// MarshalJSON writes the steps in the order of s.IDs.
func (s StepDocuments) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, id := range s.IDs {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(id); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := enc.Encode(s.Steps[id]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of steps, keeping the order of its
// keys in IDs. It returns an error when data is not an object of steps.
func (s *StepDocuments) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return err
	}
	s.IDs, s.Steps = nil, map[string]*StepDocument{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		id, _ := tok.(string)
		var st StepDocument
		if err := dec.Decode(&st); err != nil {
			return err
		}
		s.IDs = append(s.IDs, id)
		s.Steps[id] = &st
	}
	_, err := dec.Token()
	return err
}

// NewRunDocument builds the document of a run's status.
func NewRunDocument(st *engine.Status) *RunDocument {
	doc := &RunDocument{
		RunID: st.RunID, WorkflowID: st.WorkflowID, WorkflowVersion: st.WorkflowVersion, Status: st.State,
		Result: rawOrNull(st.Result), Error: st.Error,
		CreatedAt: st.CreatedAt, StartedAt: timeOrNil(st.StartedAt), FinishedAt: timeOrNil(st.FinishedAt),
		LastEvent: st.LastEvent,
		Completed: nonNil(st.Completed), Active: nonNil(st.Active), Order: nonNil(st.Order),
		Steps: StepDocuments{IDs: st.Order, Steps: make(map[string]*StepDocument, len(st.Order))},
		Metrics: MetricsDocument{
			DurationMS:   Millis(st.Metrics.Duration),
			StepsTotal:   st.Metrics.StepsTotal,
			Succeeded:    st.Metrics.Succeeded,
			Failed:       st.Metrics.Failed,
			Skipped:      st.Metrics.Skipped,
			Canceled:     st.Metrics.Canceled,
			Retries:      st.Metrics.Retries,
			PeakParallel: st.Metrics.PeakParallel,
			Utilization:  math.Round(st.Metrics.Utilization*1e4) / 1e4,
			AITokens:     st.Usage,
		},
	}
	for _, id := range st.Order {
		if s, ok := st.Steps[id]; ok {
			doc.Steps.Steps[id] = newStepDocument(s)
		}
	}
	return doc
}

// newStepDocument returns the document of a step's state.
func newStepDocument(s engine.StepState) *StepDocument {
	return &StepDocument{
		Type: s.Type, Status: s.Status, Reason: s.Reason, Attempts: s.Attempts,
		Output: rawOrNull(s.Output), Error: s.Error,
		QueueWaitMS: Millis(s.QueueWait), DurationMS: Millis(s.RunTime),
		StartedAt: timeOrNil(s.StartedAt), FinishedAt: timeOrNil(s.FinishedAt),
		AITokens: s.Usage,
	}
}

// RunSummary is a run in a listing: GET /api/v1/runs and the answers of
// POST /api/v1/runs, cancel and retry.
type RunSummary struct {
	RunID           string          `json:"run_id"`
	WorkflowID      string          `json:"workflow_id"`
	WorkflowVersion int             `json:"workflow_version,omitempty"`
	Status          weft.RunStatus  `json:"status"`
	IdempotencyKey  string          `json:"idempotency_key,omitempty"`
	Error           *weft.ErrorInfo `json:"error,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
	DurationMS      float64         `json:"duration_ms"`
	// StepsTotal, StepsDone, StepsRunning and StepsFailed are the run's
	// progress: its steps, those in a terminal status, those running and
	// those failed.
	StepsTotal   int        `json:"steps_total"`
	StepsDone    int        `json:"steps_done"`
	StepsRunning int        `json:"steps_running"`
	StepsFailed  int        `json:"steps_failed"`
	AITokens     weft.Usage `json:"ai_tokens,omitzero"`
}

// NewRunSummary returns the summary of a run; now measures the duration
// of a run still going.
func NewRunSummary(r *weft.Run, now time.Time) *RunSummary {
	s := &RunSummary{
		RunID: r.ID, WorkflowID: r.WorkflowID, WorkflowVersion: r.WorkflowVersion, Status: r.Status,
		IdempotencyKey: r.IdempotencyKey, Error: r.Error, CreatedAt: r.CreatedAt,
		StartedAt: timeOrNil(r.StartedAt), FinishedAt: timeOrNil(r.FinishedAt), AITokens: r.Usage,
		StepsTotal: r.StepCount, StepsDone: r.StepsDone, StepsRunning: r.StepsRunning, StepsFailed: r.StepsFailed,
	}
	switch {
	case !r.StartedAt.IsZero() && !r.FinishedAt.IsZero():
		s.DurationMS = Millis(r.FinishedAt.Sub(r.StartedAt))
	case !r.StartedAt.IsZero():
		s.DurationMS = Millis(now.Sub(r.StartedAt))
	}
	return s
}

// RunList is the answer of GET /api/v1/runs.
type RunList struct {
	Runs []*RunSummary `json:"runs"`
	// NextCursor continues the listing (the cursor parameter); empty at
	// the end.
	NextCursor string `json:"next_cursor"`
}

// WorkflowList is the answer of GET /api/v1/workflows.
type WorkflowList struct {
	Workflows  []*weft.WorkflowVersion `json:"workflows"`
	NextCursor string                  `json:"next_cursor"`
}

// WorkflowDocument is the answer of GET /api/v1/workflows/{id} and POST
// /api/v1/workflows: a version of a workflow with its definition, and the
// list of its versions.
type WorkflowDocument struct {
	*weft.WorkflowVersion
	// Created reports whether a POST registered a new version.
	Created bool `json:"created"`
	// Versions lists every version, newest first, without definitions.
	Versions []*weft.WorkflowVersion `json:"versions,omitempty"`
}

// RunRequest is the body of POST /api/v1/runs: a registered workflow (by
// id, at its latest or a given version) or an inline one, with parameters.
type RunRequest struct {
	// WorkflowID names a registered workflow.
	WorkflowID string `json:"workflow_id,omitempty"`
	// Version picks a registered version; 0 means the latest.
	Version int `json:"version,omitempty"`
	// Workflow is an inline definition: a JSON object, or a string
	// holding a JSON or YAML document.
	Workflow json.RawMessage `json:"workflow,omitempty"`
	// Params are merged over the workflow's params.
	Params json.RawMessage `json:"params,omitempty"`
	// IdempotencyKey makes the submission idempotent: the same key
	// returns the same run (200 instead of 201).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// MaxParallel overrides the workflow's max_parallel when positive.
	MaxParallel int `json:"max_parallel,omitempty"`
}

// RetryRequest is the body of POST /api/v1/runs/{id}/retry (optional).
type RetryRequest struct {
	// Inputs replace the inputs of some steps (step id → input object)
	// before the run is retried.
	Inputs map[string]json.RawMessage `json:"inputs,omitempty"`
}

// Millis returns d in milliseconds, rounded to the microsecond.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1e3
}

// rawOrNull returns raw, or nil (written as null) when it is empty.
func rawOrNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return raw
}

// timeOrNil returns &t, or nil for the zero time (left out of documents).
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nonNil returns s, or an empty slice (written as []) when it is nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
