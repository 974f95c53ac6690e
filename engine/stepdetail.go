package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weft-dev/weft"
)

// StepDetail is one step of a run in detail: its state, its dependencies,
// its input as written and as its attempt got it, and its attempts as the
// run's events tell them.
type StepDetail struct {
	StepID string
	StepState
	// DependsOn lists the ids of the steps it depends on.
	DependsOn []string
	// Input is its input as the run's recorded workflow writes it (nil
	// when it has none).
	Input json.RawMessage
	// ResolvedInput is the input its last attempt got, or its first will
	// get (see StepInput); nil while a step it reads is not done or when
	// its templates do not evaluate.
	ResolvedInput json.RawMessage
	// History lists its attempts, oldest first: the newest
	// StepDetailOptions.MaxAttempts. (StepState.Attempts counts them.)
	History []Attempt
	// HistoryTruncated reports that older attempts were left out.
	HistoryTruncated bool
}

// Attempt is one attempt of a step, as the run's events tell it.
type Attempt struct {
	// Attempt numbers the step's attempts from 1.
	Attempt int
	// Worker is the process that ran it.
	Worker    string
	StartedAt time.Time
	// FinishedAt is when it ended; zero while it runs (or when its end is
	// not known: its lease expired).
	FinishedAt time.Time
	// Status is running, succeeded, failed, retrying (it failed and a next
	// attempt comes after Delay), skipped (its when expression was false)
	// or canceled (its run was canceled while it ran or waited to be
	// retried). An attempt whose lease expired before it finished (its
	// worker stopped) and whose step was claimed again failed, with the
	// error code lease_lost (CodeLeaseLost).
	Status weft.StepStatus
	// Reason says why an attempt was skipped or canceled.
	Reason string
	Error  *weft.ErrorInfo
	// Delay is the wait before the next attempt, for a retrying attempt.
	Delay time.Duration
	// Duration is from its start to its end, or to now while it runs; 0
	// when its end is not known.
	Duration time.Duration
}

// CodeLeaseLost is the error code of an attempt that never finished
// because its lease expired and its step was claimed again.
const CodeLeaseLost weft.Code = "lease_lost"

// leaseLost is the error of such an attempt.
var leaseLost = &weft.ErrorInfo{Code: CodeLeaseLost, Message: "the attempt's lease expired before it finished (its worker stopped or lost the store); the step was claimed again"}

// StepDetailOptions tunes StepDetail.
type StepDetailOptions struct {
	// MaxAttempts caps the attempts listed (the newest are kept). Defaults
	// to 1000.
	MaxAttempts int
}

// eventPage is the number of events read at a time to build attempts.
const eventPage = 2000

// StepDetail returns one step of a run in detail. It returns an error
// matching weft.ErrNotFound for an unknown run, a *weft.StepNotFoundError
// (which matches it too) for an unknown step, or the store's error.
func (e *Engine) StepDetail(ctx context.Context, runID, stepID string, opts *StepDetailOptions) (*StepDetail, error) {
	maxAttempts := 1000
	if opts != nil && opts.MaxAttempts > 0 {
		maxAttempts = opts.MaxAttempts
	}
	ri, err := e.info(ctx, runID)
	if err != nil {
		return nil, err
	}
	node, ok := ri.def.Node(stepID)
	if !ok {
		g := ri.def.Graph
		ids := make([]string, g.Len())
		for i := range ids {
			ids[i] = g.ID(int32(i))
		}
		return nil, &weft.StepNotFoundError{RunID: runID, StepID: stepID, Suggestion: weft.DidYouMean(stepID, ids)}
	}
	steps, err := e.store.Steps(ctx, runID)
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("run %s: step %s is in the workflow but not in the store", runID, stepID)
	}
	step := ri.steps[node].step
	d := &StepDetail{
		StepID: stepID,
		StepState: StepState{
			Type: sr.Type, Status: sr.Status, Reason: sr.Reason, Attempts: sr.Attempts, Output: sr.Output, Error: sr.Error,
			QueueWait: sr.QueueWait, RunTime: sr.RunTime, StartedAt: sr.StartedAt, FinishedAt: sr.FinishedAt, Usage: sr.Usage,
		},
		DependsOn: step.DependsOn,
		Input:     step.Input,
	}
	if d.History, d.HistoryTruncated, err = e.stepAttempts(ctx, runID, stepID, maxAttempts); err != nil {
		return nil, err
	}
	if in, ok, err := e.StepInput(ctx, runID, stepID, sr.Attempts); err == nil && ok {
		d.ResolvedInput = in
	} else if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return d, nil
}

// stepAttempts returns the attempts of a step of a run, oldest first, built
// from the run's events: the newest max, and whether older ones were left
// out.
func (e *Engine) stepAttempts(ctx context.Context, runID, stepID string, maxAttempts int) ([]Attempt, bool, error) {
	list := []Attempt{}
	truncated := false
	var after int64
	for {
		evs, err := e.store.Events(ctx, runID, after, eventPage)
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
	now := e.cfg.Now()
	for k := range list {
		a := &list[k]
		switch {
		case !a.FinishedAt.IsZero():
			a.Duration = a.FinishedAt.Sub(a.StartedAt)
		case a.Status == weft.StepRunning:
			a.Duration = max(now.Sub(a.StartedAt), 0)
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
		a.Status, a.Error, a.FinishedAt = weft.StepSucceeded, nil, at
	case weft.EventStepFailed:
		a.Status, a.Error, a.FinishedAt = weft.StepFailed, ev.Error, at
	case weft.EventStepRetrying:
		a.Status, a.Error, a.FinishedAt, a.Delay = weft.StepRetrying, ev.Error, at, ev.Delay
	case weft.EventStepSkipped:
		a.Status, a.Reason, a.FinishedAt = weft.StepSkipped, ev.Reason, at
	case weft.EventStepCanceled:
		switch a.Status {
		case weft.StepRunning:
			a.Status, a.Reason, a.FinishedAt = weft.StepCanceled, ev.Reason, at
		case weft.StepRetrying:
			// The attempt had ended; the retry it waited for will not come.
			a.Status, a.Reason, a.Delay = weft.StepCanceled, ev.Reason, 0
		}
	}
}
