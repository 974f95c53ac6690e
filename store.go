package weft

import (
	"context"
	"encoding/json"
	"time"
)

// Store holds runs and drives their steps through a claim/lease queue. The
// engine talks to every store (in-memory, SQLite, PostgreSQL) through this
// interface only, and every store passes the same conformance suite
// (package storetest), so runs behave the same whatever holds them.
//
// The contract:
//   - CreateRun stores a run and its steps; steps without dependencies are
//     ready at once.
//   - Claim leases ready steps to a worker, highest priority first, never
//     more of one run at once than its MaxParallel; each claim starts a new
//     attempt, whose number fences every later call about it.
//   - Finish records the end of a claimed attempt in one atomic change: the
//     step's status and output or error, the dependents that become ready
//     or skipped (by their Trigger, see Trigger.Decide), the run's end when
//     every step is done, and the events of all of it. A success is durable
//     before any dependent can be claimed.
//   - Heartbeat extends leases; ReclaimExpired makes steps whose lease ran
//     out claimable again (the next claim is a new attempt).
//   - CancelRun ends a run and every step not yet done.
//
// A run's recorded times never go backwards. Callers pass the time of each
// call (NewRun.Now, ClaimRequest.Now, StepFinish.Now and its Next's,
// RunCancel.Now, RunRetry.Now, ReclaimExpired's now), computed before the
// call reaches the store, so with several slots or processes a call
// computed earlier may be applied after one computed later. Every write
// that touches a run (CreateRun, a claim of its steps, Finish and the
// claims of its Next, ReclaimExpired, CancelRun, RetryRun, a retry delay's
// end, admission under MaxParallel; not Heartbeat) records its times at
// the later of the call's time and the latest time already recorded for
// that run. So a step never starts before it became ready, never becomes
// ready before a dependency that settled it finished, never finishes
// before it started; QueueWait is never negative, a first attempt's
// Claim.FirstStartedAt is its StartedAt and its step_started event's Time,
// and a run's events are in non-decreasing Time order by Seq. Each run has
// its own clock: a claim that serves several runs may record different
// times in each. (What is compared with the call's time as given: whether
// a retry delay or a lease has ended.)
//
// Every method that returns a *Run (CreateRun, CancelRun, RetryRun, Run,
// ListRuns) returns it with its progress counters (StepCount, StepsDone,
// StepsRunning, StepsFailed) and LastEvent as of the same moment as its
// other fields: the record reflects exactly the events up to LastEvent.
//
// Methods return ErrNotFound for an unknown run, ErrLeaseLost when a claim
// is no longer current (fencing), and wrap other failures with context.
// A store may keep the slices it is given (plans, params, outputs) and may
// return slices it holds: neither side modifies them afterwards.
type Store interface {
	// CreateRun stores a new run. When r.IdempotencyKey is set and a run
	// with that key exists, it returns that run and created=false. The run
	// returned carries its progress counters and LastEvent (see Run).
	CreateRun(ctx context.Context, r *NewRun) (run *Run, created bool, err error)
	// Claim leases up to req.Max ready steps whose time has come.
	Claim(ctx context.Context, req *ClaimRequest) (*ClaimResult, error)
	// Finish records the outcome of a claimed attempt. It returns
	// ErrLeaseLost when the step is no longer claimed by that worker and
	// attempt (it was reclaimed, or its run canceled).
	Finish(ctx context.Context, f *StepFinish) (*FinishResult, error)
	// Heartbeat extends the leases of running attempts to until and returns
	// those that are no longer held (reclaimed or canceled): their work
	// should stop.
	Heartbeat(ctx context.Context, leases []Lease, until time.Time) (lost []Lease, err error)
	// ReclaimExpired makes the steps whose lease ended at or before now
	// claimable again and returns how many there were.
	ReclaimExpired(ctx context.Context, now time.Time) (int, error)
	// CancelRun ends an unfinished run with the given status (canceled, or
	// failed for a timeout or fail_fast) and error, marking every step not
	// yet done canceled with reason. Cancelling a finished run is a no-op
	// that returns the run as it is. The run returned carries its progress
	// counters and LastEvent after the change.
	CancelRun(ctx context.Context, c *RunCancel) (*Run, error)
	// RetryRun runs a failed or canceled run again: its failed, skipped
	// and canceled steps go back to pending (keeping their attempt counts,
	// so that attempt numbers keep fencing), those whose dependencies
	// allow it become ready (see Trigger.Decide), succeeded steps keep
	// their outputs, and the run is pending again. Any other run is
	// refused with CodeInvalid. The run returned carries its progress
	// counters and LastEvent after the change: the steps reset are no
	// longer done (nor failed).
	RetryRun(ctx context.Context, r *RunRetry) (*Run, error)
	// Run returns a run's record (without its steps), with its progress
	// (StepCount, StepsDone, StepsRunning, StepsFailed) and the Seq of its
	// last event (LastEvent), all as of one moment: every event up to
	// LastEvent is reflected in the record and in the steps a later call to
	// Steps returns.
	Run(ctx context.Context, runID string) (*Run, error)
	// Steps returns the state of every step of a run, in node order.
	Steps(ctx context.Context, runID string) ([]*StepRun, error)
	// ListRuns returns runs, newest first, and a cursor for the next page
	// ("" when there is none). Each run carries its progress counters and
	// LastEvent as Run's does, at no cost per step.
	ListRuns(ctx context.Context, f *RunFilter) (runs []*Run, next string, err error)
	// UnfinishedRuns returns the ids of every run not yet over.
	UnfinishedRuns(ctx context.Context) ([]string, error)
	// Events returns up to limit events of a run with Seq > after, in
	// order; every one of them when limit ≤ 0.
	Events(ctx context.Context, runID string, after int64, limit int) ([]Event, error)
	// Outputs returns the results of some steps of a run, for templates:
	// their status, attempts, output and error, keyed by step id. Unknown
	// ids are left out.
	Outputs(ctx context.Context, runID string, stepIDs []string) (map[string]StepResult, error)
}

// NewRun is a run to create.
type NewRun struct {
	// Run holds the run's fields; Status, StartedAt, FinishedAt, Result and
	// Error are set by the store.
	Run Run
	// Steps are the run's steps, in graph node order: Deps hold indices
	// into Steps.
	Steps []PlanStep
	// Now is the creation time (also Run.CreatedAt when that is zero).
	Now time.Time
}

// PlanStep is what a store needs to know of a step to schedule it.
type PlanStep struct {
	// ID identifies the step.
	ID string
	// Type is the step's type.
	Type string
	// Deps are the indices (into NewRun.Steps) of the step's dependencies.
	Deps []int32
	// Trigger decides readiness from the dependencies' outcomes.
	Trigger Trigger
	// Pool names the concurrency pool the step runs in, if any.
	Pool string
	// Priority orders ready steps: higher first (the engine uses the
	// longest remaining path to a sink).
	Priority int32
	// Sink is true for a step nothing depends on: its output is part of the
	// run's result.
	Sink bool
}

// ClaimRequest asks for ready steps.
type ClaimRequest struct {
	// Worker names the claiming process; it holds the leases.
	Worker string
	// Max is the most steps to claim.
	Max int
	// Now is the current time: steps whose retry delay ends after it are
	// not ready yet. A claim starts a step of a run at Now, or at the
	// run's latest recorded time when later (see Store).
	Now time.Time
	// LeaseUntil is when the leases granted expire unless heartbeated.
	LeaseUntil time.Time
	// Admit, when not nil, is asked about each candidate in priority order
	// and must reserve capacity (such as a pool slot) for it when it returns
	// true; a refused candidate stays ready. It is called with the store's
	// locks held: it must be quick and must not call the store.
	Admit func(c *Claim) bool
}

// Claim is one leased attempt of a step.
type Claim struct {
	// RunID and StepID identify the step.
	RunID  string
	StepID string
	// Index is the step's node index in its run.
	Index int32
	// Type and Pool are the step's.
	Type string
	Pool string
	// Attempt is the attempt number, from 1: it fences later calls.
	Attempt int
	// Worker holds the lease until LeaseUntil.
	Worker     string
	LeaseUntil time.Time
	// ReadyAt is when the step became eligible for this attempt.
	ReadyAt time.Time
	// FirstStartedAt is when the step's first attempt started (now for a
	// first attempt): the start of its retry budget (max_elapsed).
	FirstStartedAt time.Time
	// Deps are the results of the step's dependencies, in PlanStep.Deps
	// order: what the step's data is made of.
	Deps []StepResult
}

// Lease identifies a claimed attempt.
func (c *Claim) Lease() Lease {
	return Lease{RunID: c.RunID, StepID: c.StepID, Index: c.Index, Attempt: c.Attempt, Worker: c.Worker}
}

// Lease identifies a claimed attempt, for heartbeats and fencing.
type Lease struct {
	RunID  string
	StepID string
	// Index is the step's node index: a hint stores may use to find the
	// step, after checking that StepID matches.
	Index   int32
	Attempt int
	Worker  string
}

// StepResult is a step's outcome as its dependents and templates read it.
type StepResult struct {
	StepID   string
	Status   StepStatus
	Attempts int
	Output   json.RawMessage
	Error    *ErrorInfo
}

// ClaimResult is what Claim returns.
type ClaimResult struct {
	// Claims are the claimed attempts, highest priority first.
	Claims []*Claim
	// NextAt, when not zero, is the earliest time a step waiting out a retry
	// delay becomes ready: when to claim again if nothing else happens.
	NextAt time.Time
}

// StepFinish is the outcome of a claimed attempt.
type StepFinish struct {
	// Lease identifies the attempt.
	Lease Lease
	// Now is when it finished (recorded no earlier than the run's latest
	// recorded time: see Store).
	Now time.Time
	// Status is StepSucceeded, StepFailed, StepSkipped, or StepRetrying
	// (with RetryAt).
	Status StepStatus
	// Output is the step's output, for StepSucceeded.
	Output json.RawMessage
	// Error is the attempt's error, for StepFailed and StepRetrying.
	Error *ErrorInfo
	// Reason says why a step was skipped.
	Reason string
	// RetryAt is when the next attempt may start, for StepRetrying.
	RetryAt time.Time
	// StartedAt is when the attempt started executing (after its claim),
	// for the step's run time.
	StartedAt time.Time
	// Data, when set, is attached to the step's event.
	Data json.RawMessage
	// Usage is the AI tokens the attempt used, added to the step's and the
	// run's (whatever the outcome: tokens spent are spent).
	Usage Usage
	// Next, when not nil, claims more steps in the same call once the
	// outcome is recorded (the worker that finished a step takes the next
	// one without a second round trip). Its result is FinishResult.Next.
	Next *ClaimRequest
}

// FinishResult is what Finish returns.
type FinishResult struct {
	// RunStatus is the run's status after the change; a terminal status
	// means the run ended. (The events the change appended are read with
	// Events.)
	RunStatus RunStatus
	// Ready counts the steps that became ready.
	Ready int
	// Next is the result of StepFinish.Next, or nil.
	Next *ClaimResult
}

// RunCancel asks to end a run.
type RunCancel struct {
	RunID string
	// Status is RunCanceled, or RunFailed for a timeout or fail_fast.
	Status RunStatus
	// Error says why; Reason is given to the steps canceled.
	Error  *ErrorInfo
	Reason string
	Now    time.Time
}

// RunRetry asks to run a failed or canceled run again.
type RunRetry struct {
	RunID string
	Now   time.Time
	// Workflow, when not nil, replaces the run's recorded workflow (the
	// same steps with edited inputs).
	Workflow json.RawMessage
}

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	// WorkflowID and Status, when set, must match.
	WorkflowID string
	Status     RunStatus
	// Since and Until, when not zero, bound CreatedAt: Since ≤ CreatedAt <
	// Until.
	Since, Until time.Time
	// Limit is the page size. Defaults to 50; at most 1000.
	Limit int
	// Cursor continues a previous listing.
	Cursor string
}

// Waker is implemented by stores that several processes share and that can
// tell when another process made steps ready (PostgreSQL: LISTEN/NOTIFY).
// An engine over such a store claims as soon as the channel Wake returns
// receives, instead of at its next poll; it polls all the same, so a
// missed wake-up only delays work until then.
type Waker interface {
	// Wake returns a channel that receives after steps became ready in
	// another process. The same channel is returned at every call.
	Wake() <-chan struct{}
}
