package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/weft-dev/weft"
)

// quantiles summarize durations: nearest-rank p50, p90, p99 and the
// maximum.
type quantiles struct {
	p50, p90, p99, max time.Duration
}

// quantile returns the q-quantile of sorted by the nearest-rank method, or
// 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// summarize returns the quantiles of ds (which it sorts).
func summarize(ds []time.Duration) quantiles {
	slices.Sort(ds)
	if len(ds) == 0 {
		return quantiles{}
	}
	return quantiles{quantile(ds, 0.5), quantile(ds, 0.9), quantile(ds, 0.99), ds[len(ds)-1]}
}

// latencies are what a run's step records say of the time between a step
// becoming ready and its attempt starting.
type latencies struct {
	// queue is the store's own measure (weft.StepRun.QueueWait): from ready
	// to the claim request that took the step. A worker that finishes a
	// step claims the next in the same store call, with the same time, so
	// for those steps it is 0 even though the claim still costs a
	// transaction; and when every slot is busy it is mostly waiting for a
	// free slot (queueing, not dispatch).
	queue quantiles
	// dispatch is from ready (ReadyAt: when the last dependency's executor
	// returned, or the run was created) to the attempt starting on a
	// worker once its claim came back (FinishedAt − RunTime: the engine
	// measures RunTime from there). It includes the dependency's Finish
	// transaction, the wake-up of a worker, the claim's transaction, and
	// any wait for a free slot.
	dispatch quantiles
}

// dispatchTolerance is how far before its ready time an attempt may seem
// to start: the stores keep times to the microsecond.
const dispatchTolerance = 10 * time.Microsecond

// checkSteps checks a finished run's step records: want steps, every one
// succeeded, after at least one attempt, with the times a finished step
// has, no attempt starting before its step was ready. It returns their
// latencies and the attempts beyond each step's first (re-runs: a run that
// went well has none; see measurement.reruns).
func checkSteps(steps []*weft.StepRun, want int) (latencies, int, error) {
	if len(steps) != want {
		return latencies{}, 0, fmt.Errorf("%d step records, want %d", len(steps), want)
	}
	queue := make([]time.Duration, 0, len(steps))
	dispatch := make([]time.Duration, 0, len(steps))
	seen := make(map[string]bool, len(steps))
	reruns := 0
	for _, st := range steps {
		switch {
		case seen[st.StepID]:
			return latencies{}, 0, fmt.Errorf("step %s has two records", st.StepID)
		case st.Status != weft.StepSucceeded:
			return latencies{}, 0, fmt.Errorf("step %s is %s, want succeeded", st.StepID, st.Status)
		case st.Attempts < 1:
			return latencies{}, 0, fmt.Errorf("step %s succeeded after %d attempts", st.StepID, st.Attempts)
		case st.ReadyAt.IsZero() || st.StartedAt.IsZero() || st.FinishedAt.IsZero():
			return latencies{}, 0, fmt.Errorf("step %s lacks a time: ready %v, started %v, finished %v", st.StepID, st.ReadyAt, st.StartedAt, st.FinishedAt)
		case st.QueueWait < 0 || st.RunTime < 0:
			return latencies{}, 0, fmt.Errorf("step %s: queue wait %v, run time %v", st.StepID, st.QueueWait, st.RunTime)
		}
		seen[st.StepID] = true
		reruns += st.Attempts - 1
		d := st.FinishedAt.Sub(st.ReadyAt) - st.RunTime
		if d < -dispatchTolerance && st.Attempts == 1 {
			return latencies{}, 0, fmt.Errorf("step %s started %v before it was ready (ready %s, finished %s, ran %v)",
				st.StepID, -d, st.ReadyAt.Format(time.RFC3339Nano), st.FinishedAt.Format(time.RFC3339Nano), st.RunTime)
		}
		queue = append(queue, st.QueueWait)
		dispatch = append(dispatch, max(d, 0))
	}
	return latencies{queue: summarize(queue), dispatch: summarize(dispatch)}, reruns, nil
}

// checkEvents checks a finished run's event history: each of the want
// steps started at attempts 1, 2, ... in order, each time by one of
// workers, and succeeded exactly once, after its last start; no step
// failed for good, was skipped or canceled; the last event is the run's
// success. It returns how many attempts each worker started, and the
// starts beyond each step's first (re-runs).
func checkEvents(events []weft.Event, want int, workers []string) (map[string]int, int, error) {
	started := make(map[string]int, want) // attempts started so far
	succeeded := make(map[string]int, want)
	byWorker := make(map[string]int, len(workers))
	reruns := 0
	for i := range events {
		ev := &events[i]
		if i > 0 && ev.Seq <= events[i-1].Seq {
			return nil, 0, fmt.Errorf("event %d comes after event %d", ev.Seq, events[i-1].Seq)
		}
		switch ev.Type {
		case weft.EventStepStarted:
			if succeeded[ev.StepID] > 0 {
				return nil, 0, fmt.Errorf("step %s started attempt %d after it succeeded", ev.StepID, ev.Attempt)
			}
			if ev.Attempt != started[ev.StepID]+1 {
				return nil, 0, fmt.Errorf("step %s started attempt %d after %d started", ev.StepID, ev.Attempt, started[ev.StepID])
			}
			if !slices.Contains(workers, ev.Worker) {
				return nil, 0, fmt.Errorf("step %s was started by %q, not by one of %q", ev.StepID, ev.Worker, workers)
			}
			if ev.Attempt > 1 {
				reruns++
			}
			started[ev.StepID]++
			byWorker[ev.Worker]++
		case weft.EventStepSucceeded:
			succeeded[ev.StepID]++
		case weft.EventStepFailed, weft.EventStepSkipped, weft.EventStepCanceled,
			weft.EventRunFailed, weft.EventRunCanceled, weft.EventRunRetried:
			return nil, 0, fmt.Errorf("event %d: %s %s", ev.Seq, ev.Type, ev.StepID)
		}
	}
	if len(events) == 0 || events[len(events)-1].Type != weft.EventRunSucceeded {
		return nil, 0, fmt.Errorf("the last event is not %s", weft.EventRunSucceeded)
	}
	if len(started) != want || len(succeeded) != want {
		return nil, 0, fmt.Errorf("%d steps started and %d succeeded, want %d", len(started), len(succeeded), want)
	}
	for id := range started {
		if succeeded[id] != 1 {
			return nil, 0, fmt.Errorf("step %s succeeded %d times, want once", id, succeeded[id])
		}
	}
	return byWorker, reruns, nil
}

// explainReruns describes the steps of a run that took more than one
// attempt, from its events: how many, and for a few, each attempt's
// worker and start time and why it ended (the error of a step_retrying
// event, or nothing: its lease was reclaimed after it expired).
func explainReruns(events []weft.Event) string {
	type attempt struct {
		worker  string
		at      time.Time
		outcome string
	}
	attempts := map[string][]attempt{}
	for i := range events {
		ev := &events[i]
		as := attempts[ev.StepID]
		switch ev.Type {
		case weft.EventStepStarted:
			attempts[ev.StepID] = append(as, attempt{worker: ev.Worker, at: ev.Time, outcome: "no outcome recorded (lease reclaimed)"})
		case weft.EventStepRetrying, weft.EventStepFailed, weft.EventStepSucceeded:
			if len(as) > 0 {
				what := string(ev.Type)
				if ev.Error != nil {
					what += ": " + string(ev.Error.Code) + ": " + ev.Error.Message
				}
				as[len(as)-1].outcome = what
			}
		}
	}
	var ids []string
	for id, as := range attempts {
		if len(as) > 1 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "no step started more than once"
	}
	slices.Sort(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "%d steps started more than once", len(ids))
	for _, id := range ids[:min(len(ids), 3)] {
		fmt.Fprintf(&b, "; step %s:", id)
		for k, a := range attempts[id] {
			fmt.Fprintf(&b, " attempt %d by %s at %s, %s.", k+1, a.worker, a.at.Format("15:04:05.000000"), a.outcome)
		}
	}
	return b.String()
}
