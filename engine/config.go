package engine

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/weft-dev/weft"
)

// Config configures an Engine. The zero value of every field means its
// default.
type Config struct {
	// Registry maps step types to executors. Required: New returns an error
	// without one (executor.NewRegistry builds the built-in types).
	Registry *weft.Registry
	// MaxParallelSteps caps the steps this engine runs at once, over all
	// runs: the process's capacity. Defaults to 10.
	MaxParallelSteps int
	// Pools caps named pools of steps (a step joins one with its "pool"
	// field) in this process, such as {"ai": 4}. A pool not listed has no
	// cap of its own. Defaults to none.
	Pools map[string]int
	// Retry is the engine's retry policy, which a workflow's
	// defaults.retry and then each step override field by field. Defaults
	// to weft.DefaultRetryPolicy(): 3 retries, 1s initial interval,
	// backoff 2, 1m max interval, full jitter, 10m max Retry-After.
	Retry *weft.RetryPolicy
	// StepTimeout bounds each attempt of steps that set no timeout (and
	// whose workflow sets no defaults.timeout). Defaults to 10 minutes.
	StepTimeout time.Duration
	// Limits bound workflows and step outputs. Zero fields default as
	// documented on weft.Limits (step output: 1 MiB).
	Limits weft.Limits
	// LeaseDuration is how long a claimed step stays leased to this engine
	// without a heartbeat; heartbeats come every third of it. Defaults to
	// 30s.
	LeaseDuration time.Duration
	// PollInterval is how often the engine looks for work it was not told
	// about (runs submitted by other processes, expired leases). Defaults
	// to 1s.
	PollInterval time.Duration
	// SubscribePollInterval is how often a subscription (Subscribe) reads
	// the events of steps that other processes run, such as workers
	// sharing a PostgreSQL store with an API server: the most a live view
	// through a server that runs no steps lags. Steps this engine runs
	// wake their subscriptions at once. Defaults to 250ms, or
	// PollInterval when that is shorter.
	SubscribePollInterval time.Duration
	// MaxUnfinishedRuns is how many unfinished runs (pending or running)
	// the engine takes: Submit refuses to create more with an error
	// matching weft.ErrQueueFull. The count is this process's (see
	// Engine.UnfinishedRuns): exact for the runs it creates and sees end,
	// and read again from the store at most once per PollInterval for the
	// runs of other processes. Retry is not limited. Defaults to 0: no
	// limit (as is any negative value).
	MaxUnfinishedRuns int
	// NoWorker makes the engine run no steps: it submits, reads, waits for
	// and cancels runs that other processes execute (weft runs show, a
	// server that only serves). Defaults to false.
	NoWorker bool
	// WorkerID names this engine in leases and events. Defaults to
	// "HOST-PID-RANDOM".
	WorkerID string
	// Logger receives the engine's logs. Defaults to discarding them.
	Logger *slog.Logger
	// Observer is told of the attempts this engine runs and the runs its
	// store calls end, for metrics (see weft.Observer; package prom
	// implements it). Defaults to none.
	Observer weft.Observer
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
	// NewID returns a new run id. Defaults to 16 random hex digits.
	NewID func() string
	// Rand returns a uniform number in [0, 1) for retry jitter. Defaults to
	// math/rand/v2's Float64.
	Rand func() float64
}

func (c Config) withDefaults() (Config, error) {
	if c.Registry == nil {
		return c, fmt.Errorf("engine: %w", weft.Errorf(weft.CodeInvalid, "Config.Registry is required (executor.NewRegistry gives the built-in step types)"))
	}
	if c.MaxParallelSteps <= 0 {
		c.MaxParallelSteps = 10
	}
	for name, n := range c.Pools {
		if n <= 0 {
			return c, fmt.Errorf("engine: %w", weft.Errorf(weft.CodeInvalid, "pool %q has capacity %d: expected 1 or more", name, n))
		}
	}
	policy := weft.DefaultRetryPolicy()
	if c.Retry != nil {
		policy = policy.Merge(c.Retry)
	}
	c.Retry = &policy
	if c.StepTimeout <= 0 {
		c.StepTimeout = 10 * time.Minute
	}
	c.Limits = c.Limits.WithDefaults()
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.SubscribePollInterval <= 0 {
		c.SubscribePollInterval = min(250*time.Millisecond, c.PollInterval)
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = func() string { return randomHex(8) }
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
