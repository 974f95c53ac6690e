package engine

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/weft-dev/weft"
)

// Status is the state of a run as the engine reports it (DESIGN.md
// section 7).
type Status struct {
	RunID      string `json:"run_id"`
	WorkflowID string `json:"workflow_id"`
	// WorkflowVersion is the registered version the run started from, or
	// 0 for an inline workflow.
	WorkflowVersion int             `json:"workflow_version,omitempty"`
	State           weft.RunStatus  `json:"status"`
	Result          json.RawMessage `json:"result"`
	Error           *weft.ErrorInfo `json:"error"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       time.Time       `json:"started_at,omitzero"`
	FinishedAt      time.Time       `json:"finished_at,omitzero"`
	// Completed lists the steps that are done, in the order they finished.
	Completed []string `json:"completed"`
	// Active lists the attempts in flight.
	Active []Active `json:"active"`
	// Steps holds every step's state, keyed by step id; Order lists the
	// step ids in topological order (dag.Graph.Order).
	Steps   map[string]StepState `json:"steps"`
	Order   []string             `json:"-"`
	Metrics Metrics              `json:"metrics"`
	// Usage adds up the AI tokens the run's steps used.
	Usage weft.Usage `json:"usage"`
	// LastEvent is the Seq of the run's last event when its record was
	// read (weft.Run.LastEvent). The record is read before the steps, so
	// the snapshot reflects at least every event up to LastEvent (later
	// ones too, perhaps): Subscribe(ctx, RunID, LastEvent) continues it
	// without missing a change.
	LastEvent int64 `json:"last_event"`
}

// Active is an attempt in flight.
type Active struct {
	StepID  string    `json:"step_id"`
	Attempt int       `json:"attempt"`
	Since   time.Time `json:"since"`
	Worker  string    `json:"worker,omitempty"`
}

// StepState is one step's state in a Status.
type StepState struct {
	Type       string          `json:"type"`
	Status     weft.StepStatus `json:"status"`
	Reason     string          `json:"reason,omitempty"`
	Attempts   int             `json:"attempts"`
	Output     json.RawMessage `json:"output"`
	Error      *weft.ErrorInfo `json:"error"`
	Usage      weft.Usage      `json:"usage,omitzero"`
	QueueWait  time.Duration   `json:"-"`
	RunTime    time.Duration   `json:"-"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
}

// Metrics sums up a run.
type Metrics struct {
	// Duration is from the run's start to its end (or now).
	Duration   time.Duration `json:"-"`
	StepsTotal int           `json:"steps_total"`
	Succeeded  int           `json:"succeeded"`
	Failed     int           `json:"failed"`
	Skipped    int           `json:"skipped"`
	Canceled   int           `json:"canceled"`
	// Retries counts attempts beyond each step's first.
	Retries int `json:"retries"`
	// PeakParallel is the most attempts of the run in flight at once.
	PeakParallel int `json:"peak_parallel"`
	// Utilization is busy slot-seconds over available slot-seconds: the
	// steps' run time over the run's duration times its slots (the
	// engine cap, or the run's max_parallel when lower).
	Utilization float64 `json:"utilization"`
}

// Status returns the state of a run. It returns weft.ErrNotFound for an
// unknown run. It reads the store twice: the run's record (of which it
// also builds the engine's picture of a run it has not seen), then its
// steps, in that order, so that the steps reflect every event up to the
// record's LastEvent.
func (e *Engine) Status(ctx context.Context, runID string) (*Status, error) {
	run, err := e.store.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	// The record first: Status.LastEvent promises that the steps are at
	// least as new as it.
	steps, err := e.store.Steps(ctx, runID)
	if err != nil {
		return nil, err
	}
	st := &Status{
		RunID: run.ID, WorkflowID: run.WorkflowID, WorkflowVersion: run.WorkflowVersion, State: run.Status, Result: run.Result, Error: run.Error,
		CreatedAt: run.CreatedAt, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt, LastEvent: run.LastEvent,
		Completed: []string{}, Active: []Active{},
		Steps: make(map[string]StepState, len(steps)),
		Order: make([]string, 0, len(steps)),
	}
	var busy time.Duration
	var done []*weft.StepRun
	m := &st.Metrics
	m.StepsTotal = len(steps)
	m.PeakParallel = run.PeakParallel
	st.Usage = run.Usage
	for _, s := range steps {
		st.Steps[s.StepID] = StepState{
			Type: s.Type, Status: s.Status, Reason: s.Reason, Attempts: s.Attempts, Output: s.Output, Error: s.Error,
			QueueWait: s.QueueWait, RunTime: s.RunTime, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt,
			Usage: s.Usage,
		}
		busy += s.RunTime
		m.Retries += max(s.Attempts-1, 0)
		switch s.Status {
		case weft.StepSucceeded:
			m.Succeeded++
		case weft.StepFailed:
			m.Failed++
		case weft.StepSkipped:
			m.Skipped++
		case weft.StepCanceled:
			m.Canceled++
		case weft.StepRunning:
			st.Active = append(st.Active, Active{StepID: s.StepID, Attempt: s.Attempts, Since: s.StartedAt, Worker: s.Worker})
		}
		if s.Status.Terminal() {
			done = append(done, s)
		}
	}
	slices.SortStableFunc(done, func(a, b *weft.StepRun) int { return a.FinishedAt.Compare(b.FinishedAt) })
	for _, s := range done {
		st.Completed = append(st.Completed, s.StepID)
	}
	if ri, err := e.infoOf(ctx, runID, run); err == nil {
		g := ri.def.Graph
		for _, n := range g.Order() {
			st.Order = append(st.Order, g.ID(n))
		}
	} else {
		for _, s := range steps {
			st.Order = append(st.Order, s.StepID)
		}
	}
	slices.SortStableFunc(st.Active, func(a, b Active) int { return a.Since.Compare(b.Since) })
	if !run.StartedAt.IsZero() {
		end := run.FinishedAt
		if end.IsZero() {
			end = e.cfg.Now()
		}
		m.Duration = end.Sub(run.StartedAt)
		slots := e.cfg.MaxParallelSteps
		if run.MaxParallel > 0 {
			slots = min(slots, run.MaxParallel)
		}
		if m.Duration > 0 {
			m.Utilization = float64(busy) / (float64(m.Duration) * float64(slots))
		}
	}
	return st, nil
}
