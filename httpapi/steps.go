package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
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

// maxAttempts caps the attempts of a StepDetail; eventPage is the number
// of events read at a time to build them.
const (
	maxAttempts = 1000
	eventPage   = 2000
)

// leaseLost is the error of an attempt that never finished because its
// step was claimed again.
var leaseLost = &weft.ErrorInfo{Code: "lease_lost", Message: "the attempt's lease expired before it finished (its worker stopped or lost the store); the step was claimed again"}

// getRunStep returns a step of a run in detail: GET
// /api/v1/runs/{id}/steps/{step}.
func (s *Server) getRunStep(w http.ResponseWriter, r *http.Request) error {
	id, stepID := r.PathValue("id"), r.PathValue("step")
	ctx := r.Context()
	run, err := s.cfg.Store.Run(ctx, id)
	if err != nil {
		return notFound(err, "run", id)
	}
	def, _, err := s.compiled("", run.Workflow)
	if err != nil {
		return err
	}
	node, ok := def.Node(stepID)
	if !ok {
		g := def.Graph
		ids := make([]string, g.Len())
		for i := range ids {
			ids[i] = g.ID(int32(i))
		}
		msg := fmt.Sprintf("no step %q in run %s", stepID, id)
		if hint := weft.DidYouMean(stepID, ids); hint != "" {
			msg += "; " + hint
		}
		return errorf(http.StatusNotFound, CodeNotFound, "%s", msg)
	}
	steps, err := s.cfg.Store.Steps(ctx, id)
	if err != nil {
		return notFound(err, "run", id)
	}
	var sr *weft.StepRun
	if int(node) < len(steps) && steps[node].StepID == stepID {
		sr = steps[node]
	}
	for i := 0; sr == nil && i < len(steps); i++ {
		if steps[i].StepID == stepID {
			sr = steps[i]
		}
	}
	if sr == nil {
		return fmt.Errorf("run %s: step %s is in the workflow but not in the store", id, stepID)
	}
	step := def.Workflow.Steps[stepID]
	d := &StepDetail{
		ID: stepID,
		StepDocument: *newStepDocument(engine.StepState{
			Type: sr.Type, Status: sr.Status, Reason: sr.Reason, Attempts: sr.Attempts, Output: sr.Output, Error: sr.Error,
			QueueWait: sr.QueueWait, RunTime: sr.RunTime, StartedAt: sr.StartedAt, FinishedAt: sr.FinishedAt, Usage: sr.Usage,
		}),
		AttemptCount: sr.Attempts,
		DependsOn:    nonNil(step.DependsOn),
		Input:        rawOrNull(step.Input),
	}
	if d.History, d.AttemptsTruncated, err = s.attempts(ctx, id, stepID); err != nil {
		return notFound(err, "run", id)
	}
	if in, ok, err := s.cfg.Engine.StepInput(ctx, id, stepID, sr.Attempts); err == nil && ok {
		d.ResolvedInput = rawOrNull(in)
	} else if err != nil && ctx.Err() != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// attempts returns the attempts of a step of a run, oldest first, built
// from the run's events: the newest maxAttempts, and whether older ones
// were left out.
func (s *Server) attempts(ctx context.Context, runID, stepID string) ([]Attempt, bool, error) {
	list := []Attempt{}
	truncated := false
	var after int64
	for {
		evs, err := s.cfg.Store.Events(ctx, runID, after, eventPage)
		if err != nil {
			return nil, false, err
		}
		for i := range evs {
			ev := &evs[i]
			if ev.StepID != stepID || ev.Attempt <= 0 {
				continue
			}
			if ev.Type == weft.EventStepStarted {
				if n := len(list); n > 0 && list[n-1].Status == weft.StepRunning {
					list[n-1].Status, list[n-1].Error = weft.StepFailed, leaseLost
				}
				list = append(list, Attempt{Attempt: ev.Attempt, Worker: ev.Worker, StartedAt: ev.Time, Status: weft.StepRunning})
				if len(list) == 2*maxAttempts {
					list = append(list[:0], list[maxAttempts:]...)
					truncated = true
				}
				continue
			}
			for k := len(list) - 1; k >= 0; k-- {
				if list[k].Attempt == ev.Attempt {
					list[k].end(ev)
					break
				}
			}
		}
		if len(evs) < eventPage {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	if len(list) > maxAttempts {
		list = list[len(list)-maxAttempts:]
		truncated = true
	}
	now := s.cfg.Now()
	for k := range list {
		a := &list[k]
		switch {
		case a.FinishedAt != nil:
			a.DurationMS = Millis(a.FinishedAt.Sub(a.StartedAt))
		case a.Status == weft.StepRunning:
			a.DurationMS = Millis(max(now.Sub(a.StartedAt), 0))
		}
	}
	return list, truncated, nil
}

// end records an event that ends attempt a (or, for a cancellation, the
// wait after it).
func (a *Attempt) end(ev *weft.Event) {
	at := ev.Time
	switch ev.Type {
	case weft.EventStepSucceeded:
		a.Status, a.Error, a.FinishedAt = weft.StepSucceeded, nil, &at
	case weft.EventStepFailed:
		a.Status, a.Error, a.FinishedAt = weft.StepFailed, ev.Error, &at
	case weft.EventStepRetrying:
		a.Status, a.Error, a.FinishedAt, a.DelayMS = weft.StepRetrying, ev.Error, &at, Millis(ev.Delay)
	case weft.EventStepSkipped:
		a.Status, a.Reason, a.FinishedAt = weft.StepSkipped, ev.Reason, &at
	case weft.EventStepCanceled:
		switch a.Status {
		case weft.StepRunning:
			a.Status, a.Reason, a.FinishedAt = weft.StepCanceled, ev.Reason, &at
		case weft.StepRetrying:
			// The attempt had ended; the retry it waited for will not come.
			a.Status, a.Reason, a.DelayMS = weft.StepCanceled, ev.Reason, 0
		}
	}
}
