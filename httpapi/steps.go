package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
)

// StepDetail is one step of a run in detail: GET
// /api/v1/runs/{id}/steps/{step}. It has the fields of the step's
// StepDocument, but for its count of attempts, which is named
// attempt_count here: "attempts" lists the attempts.
type StepDetail struct {
	ID string `json:"id"`
	// StepDocument is the step as in the run's document. Its Attempts is
	// not encoded (History takes the name); AttemptCount carries it.
	StepDocument
	// AttemptCount is the number of attempts started.
	AttemptCount int `json:"attempt_count"`
	// DependsOn lists the ids of the steps the step depends on.
	DependsOn []string `json:"depends_on"`
	// Input is the step's input as written in the run's recorded workflow,
	// or null when it has none.
	Input json.RawMessage `json:"input"`
	// ResolvedInput is the input its last attempt got (or its first will
	// get), {{ }} templates evaluated (engine.Engine.StepInput); left out
	// while a step it reads is not done, or when its templates do not
	// evaluate.
	ResolvedInput json.RawMessage `json:"resolved_input,omitempty"`
	// History lists the step's attempts, oldest first, as the run's events
	// tell them: the newest maxAttempts at most.
	History []Attempt `json:"attempts"`
	// AttemptsTruncated reports that older attempts were left out of
	// History.
	AttemptsTruncated bool `json:"attempts_truncated"`
}

// Attempt is one attempt of a step.
type Attempt struct {
	// Attempt numbers the step's attempts from 1.
	Attempt int `json:"attempt"`
	// Worker is the process that ran it.
	Worker     string     `json:"worker"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Status is running, succeeded, failed, retrying (it failed and a next
	// attempt will come after DelayMS), skipped (its when expression was
	// false) or canceled (its run was canceled while it ran or waited to be
	// retried). An attempt whose lease expired before it finished (its
	// worker stopped) and whose step was claimed again failed, with the
	// error code lease_lost.
	Status weft.StepStatus `json:"status"`
	// Reason says why an attempt was skipped or canceled.
	Reason string          `json:"reason,omitempty"`
	Error  *weft.ErrorInfo `json:"error"`
	// DelayMS is the wait before the next attempt, for a retrying
	// attempt; 0 otherwise.
	DelayMS float64 `json:"delay_ms"`
	// DurationMS is from the attempt's start to its end, or to now while
	// it runs; 0 when its end is not known.
	DurationMS float64 `json:"duration_ms"`
}

// maxAttempts caps the attempts of a StepDetail.
const maxAttempts = 1000

// getRunStep returns a step of a run in detail: GET
// /api/v1/runs/{id}/steps/{step}.
func (s *Server) getRunStep(w http.ResponseWriter, r *http.Request) error {
	id, stepID := r.PathValue("id"), r.PathValue("step")
	sd, err := s.cfg.Engine.StepDetail(r.Context(), id, stepID, &engine.StepDetailOptions{MaxAttempts: maxAttempts})
	var snf *weft.StepNotFoundError
	switch {
	case errors.As(err, &snf):
		return errorf(http.StatusNotFound, CodeNotFound, "%s", snf.Error())
	case err != nil:
		return notFound(err, "run", id)
	}
	writeJSON(w, http.StatusOK, NewStepDetail(sd))
	return nil
}

// NewStepDetail returns the wire form of a step's detail.
func NewStepDetail(sd *engine.StepDetail) *StepDetail {
	d := &StepDetail{
		ID:                sd.StepID,
		StepDocument:      *newStepDocument(sd.StepState),
		AttemptCount:      sd.Attempts,
		DependsOn:         nonNil(sd.DependsOn),
		Input:             rawOrNull(sd.Input),
		ResolvedInput:     rawOrNull(sd.ResolvedInput),
		History:           make([]Attempt, len(sd.History)),
		AttemptsTruncated: sd.HistoryTruncated,
	}
	for k, a := range sd.History {
		d.History[k] = Attempt{
			Attempt: a.Attempt, Worker: a.Worker, StartedAt: a.StartedAt, FinishedAt: timeOrNil(a.FinishedAt),
			Status: a.Status, Reason: a.Reason, Error: a.Error, DelayMS: Millis(a.Delay), DurationMS: Millis(a.Duration),
		}
	}
	return d
}
