package weft

import (
	"errors"
	"math"
	"slices"
	"time"
)

// RetryPolicy says how often and how soon a failed step is tried again. Every
// field is optional: a nil or empty field inherits from the next level
// (engine defaults, then the workflow's defaults.retry, then the step).
//
// Attempts = 1 + MaxRetries. The delay before retry n (n ≥ 1) is
// min(MaxInterval, InitialInterval × Backoff^(n-1)), then jittered.
type RetryPolicy struct {
	// MaxRetries is how many times a failed attempt is retried.
	MaxRetries *int `json:"max_retries,omitempty"`
	// InitialInterval is the delay before the first retry.
	InitialInterval *Duration `json:"initial_interval,omitempty"`
	// Backoff multiplies the delay after each retry; at least 1.
	Backoff *float64 `json:"backoff,omitempty"`
	// MaxInterval caps a single delay.
	MaxInterval *Duration `json:"max_interval,omitempty"`
	// Jitter randomizes delays: full, equal or none.
	Jitter Jitter `json:"jitter,omitempty"`
	// RetryOn, when set, retries only errors with these codes.
	RetryOn []Code `json:"retry_on,omitempty"`
	// NoRetryOn never retries errors with these codes.
	NoRetryOn []Code `json:"no_retry_on,omitempty"`
	// MaxElapsed bounds the time from a step's first attempt to its last
	// retry. Zero means no bound.
	MaxElapsed *Duration `json:"max_elapsed,omitempty"`
	// MaxRetryAfter caps how long a server's Retry-After may make us wait.
	MaxRetryAfter *Duration `json:"max_retry_after,omitempty"`
}

// Jitter is the randomization applied to retry delays.
type Jitter string

// The jitter modes.
const (
	// JitterFull picks the delay uniformly in [0, d].
	JitterFull Jitter = "full"
	// JitterEqual picks the delay uniformly in [d/2, d].
	JitterEqual Jitter = "equal"
	// JitterNone uses d as it is.
	JitterNone Jitter = "none"
)

// Jitters lists the valid jitter modes.
var Jitters = []Jitter{JitterFull, JitterEqual, JitterNone}

// Valid reports whether j is empty or one of Jitters.
func (j Jitter) Valid() bool { return j == "" || slices.Contains(Jitters, j) }

// Upper bounds checked by validation.
const (
	// MaxRetriesLimit is the largest allowed max_retries.
	MaxRetriesLimit = 1000
	// MaxBackoff is the largest allowed backoff factor.
	MaxBackoff = 100.0
)

// DefaultRetryPolicy returns the engine defaults of DESIGN.md section 3:
// max_retries 3, initial_interval 1s, backoff 2, max_interval 1m, jitter
// full, max_retry_after 10m, no max_elapsed.
func DefaultRetryPolicy() RetryPolicy {
	retries, backoff := 3, 2.0
	initial, maxInterval, maxAfter, elapsed := Duration(time.Second), Duration(time.Minute), Duration(10*time.Minute), Duration(0)
	return RetryPolicy{
		MaxRetries:      &retries,
		InitialInterval: &initial,
		Backoff:         &backoff,
		MaxInterval:     &maxInterval,
		Jitter:          JitterFull,
		MaxElapsed:      &elapsed,
		MaxRetryAfter:   &maxAfter,
	}
}

// Merge returns p with every field that over sets replaced by over's value.
// A nil over returns p unchanged.
func (p RetryPolicy) Merge(over *RetryPolicy) RetryPolicy {
	if over == nil {
		return p
	}
	if over.MaxRetries != nil {
		p.MaxRetries = over.MaxRetries
	}
	if over.InitialInterval != nil {
		p.InitialInterval = over.InitialInterval
	}
	if over.Backoff != nil {
		p.Backoff = over.Backoff
	}
	if over.MaxInterval != nil {
		p.MaxInterval = over.MaxInterval
	}
	if over.Jitter != "" {
		p.Jitter = over.Jitter
	}
	if over.RetryOn != nil {
		p.RetryOn = over.RetryOn
	}
	if over.NoRetryOn != nil {
		p.NoRetryOn = over.NoRetryOn
	}
	if over.MaxElapsed != nil {
		p.MaxElapsed = over.MaxElapsed
	}
	if over.MaxRetryAfter != nil {
		p.MaxRetryAfter = over.MaxRetryAfter
	}
	return p
}

// BaseDelay returns the un-jittered delay before retry n (n ≥ 1):
// min(MaxInterval, InitialInterval × Backoff^(n-1)). Unset fields count as
// zero, except Backoff, which counts as 1. It never overflows.
func (p RetryPolicy) BaseDelay(n int) time.Duration {
	if n < 1 {
		return 0
	}
	initial := durOr(p.InitialInterval, 0)
	backoff := 1.0
	if p.Backoff != nil {
		backoff = *p.Backoff
	}
	limit := time.Duration(math.MaxInt64)
	if p.MaxInterval != nil {
		limit = time.Duration(*p.MaxInterval)
	}
	d := float64(initial) * math.Pow(backoff, float64(n-1))
	if d >= float64(limit) || math.IsInf(d, 0) || math.IsNaN(d) {
		return limit
	}
	return time.Duration(d)
}

func durOr(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// Next decides whether a step that failed its attempt-th attempt (from 1)
// with err is tried again, and after what delay. elapsed is the time since
// the step's first attempt started; rnd is a uniform random number in
// [0, 1) for jitter. The rules (DESIGN.md section 3):
//   - invalid and canceled errors, and errors marked Permanent, are never
//     retried; no_retry_on codes are not, and when retry_on is set only its
//     codes are;
//   - at most MaxRetries retries (attempts = 1 + MaxRetries);
//   - the delay is BaseDelay(attempt) jittered, or exactly the error's
//     Retry-After when it carries one (capped by MaxRetryAfter);
//   - no retry whose delay would end past MaxElapsed.
func (p RetryPolicy) Next(attempt int, err error, elapsed time.Duration, rnd float64) (time.Duration, bool) {
	if err == nil || !p.allows(err) {
		return 0, false
	}
	if p.MaxRetries == nil || attempt > *p.MaxRetries {
		return 0, false
	}
	var delay time.Duration
	if after := RetryAfterOf(err); after > 0 {
		delay = after
		if p.MaxRetryAfter != nil && after > time.Duration(*p.MaxRetryAfter) {
			delay = time.Duration(*p.MaxRetryAfter)
		}
	} else {
		delay = p.Jitter.apply(p.BaseDelay(attempt), rnd)
	}
	if p.MaxElapsed != nil && *p.MaxElapsed > 0 && elapsed+delay > time.Duration(*p.MaxElapsed) {
		return 0, false
	}
	return delay, true
}

// allows reports whether the policy lets err be retried at all.
func (p RetryPolicy) allows(err error) bool {
	code := ErrorCode(err)
	if code == CodeInvalid || code == CodeCanceled || slices.Contains(p.NoRetryOn, code) {
		return false
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if we, ok := e.(*Error); ok && we.Retry != nil && !*we.Retry {
			return false
		}
	}
	if p.RetryOn != nil {
		return slices.Contains(p.RetryOn, code)
	}
	return IsRetryable(err)
}

// apply jitters d with rnd in [0, 1).
func (j Jitter) apply(d time.Duration, rnd float64) time.Duration {
	switch j {
	case JitterNone:
		return d
	case JitterEqual:
		return d/2 + time.Duration(float64(d-d/2)*rnd)
	default:
		return time.Duration(float64(d) * rnd)
	}
}
