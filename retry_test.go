package weft

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func dur(d time.Duration) *Duration { v := Duration(d); return &v }
func intp(n int) *int               { return &n }
func f64(f float64) *float64        { return &f }

func TestRetryPolicyNext(t *testing.T) {
	base := DefaultRetryPolicy() // 3 retries, 1s, ×2, max 1m, full jitter, max_retry_after 10m
	none := base.Merge(&RetryPolicy{Jitter: JitterNone})
	equal := base.Merge(&RetryPolicy{Jitter: JitterEqual})
	capped := none.Merge(&RetryPolicy{MaxRetries: intp(10), MaxInterval: dur(5 * time.Second)})
	elapsed := none.Merge(&RetryPolicy{MaxElapsed: dur(10 * time.Second)})
	onlyTimeout := none.Merge(&RetryPolicy{RetryOn: []Code{CodeTimeout}})
	notUnavailable := none.Merge(&RetryPolicy{NoRetryOn: []Code{CodeUnavailable}})
	shortAfter := none.Merge(&RetryPolicy{MaxRetryAfter: dur(2 * time.Second)})
	slow := none.Merge(&RetryPolicy{InitialInterval: dur(500 * time.Millisecond), Backoff: f64(3)})

	unavailable := Errorf(CodeUnavailable, "503")
	tests := []struct {
		name    string
		p       RetryPolicy
		attempt int
		err     error
		elapsed time.Duration
		rnd     float64
		delay   time.Duration
		retry   bool
	}{
		{"first retry, no jitter", none, 1, unavailable, 0, 0.5, time.Second, true},
		{"second retry doubles", none, 2, unavailable, 0, 0.5, 2 * time.Second, true},
		{"third retry", none, 3, unavailable, 0, 0.5, 4 * time.Second, true},
		{"attempts exhausted", none, 4, unavailable, 0, 0.5, 0, false},
		{"backoff 3 from 500ms", slow, 3, unavailable, 0, 0, 4500 * time.Millisecond, true},
		{"max interval caps", capped, 6, unavailable, 0, 0, 5 * time.Second, true},
		{"full jitter scales", base, 2, unavailable, 0, 0.25, 500 * time.Millisecond, true},
		{"full jitter zero", base, 2, unavailable, 0, 0, 0, true},
		{"equal jitter low end", equal, 2, unavailable, 0, 0, time.Second, true},
		{"equal jitter high end", equal, 2, unavailable, 0, 0.999, 1999 * time.Millisecond, true},
		{"invalid never retried", none, 1, Errorf(CodeInvalid, "bad"), 0, 0, 0, false},
		{"canceled never retried", none, 1, Errorf(CodeCanceled, "stop"), 0, 0, 0, false},
		{"permanent never retried", none, 1, Permanent(errors.New("x")), 0, 0, 0, false},
		{"permanent keeps its code but is not retried", none, 1, Permanent(unavailable), 0, 0, 0, false},
		{"plain error is internal and retried", none, 1, errors.New("boom"), 0, 0, time.Second, true},
		{"retry_on excludes others", onlyTimeout, 1, unavailable, 0, 0, 0, false},
		{"retry_on includes its code", onlyTimeout, 1, Errorf(CodeTimeout, "slow"), 0, 0, time.Second, true},
		{"retry_on cannot revive invalid", none.Merge(&RetryPolicy{RetryOn: []Code{CodeInvalid}}), 1, Errorf(CodeInvalid, "x"), 0, 0, 0, false},
		{"no_retry_on", notUnavailable, 1, unavailable, 0, 0, 0, false},
		{"custom code retried by default", none, 1, Errorf("quota", "x"), 0, 0, time.Second, true},
		{"retry-after exact, not jittered", base, 1, RetryAfter(Errorf(CodeRateLimited, "429"), 7*time.Second), 0, 0, 7 * time.Second, true},
		{"retry-after capped", shortAfter, 1, RetryAfter(Errorf(CodeRateLimited, "429"), time.Minute), 0, 0, 2 * time.Second, true},
		{"max_elapsed allows", elapsed, 2, unavailable, 7 * time.Second, 0, 2 * time.Second, true},
		{"max_elapsed refuses", elapsed, 2, unavailable, 9 * time.Second, 0, 0, false},
		{"nil error", none, 1, nil, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delay, retry := tt.p.Next(tt.attempt, tt.err, tt.elapsed, tt.rnd)
			if delay != tt.delay || retry != tt.retry {
				t.Errorf("Next = %v, %v; want %v, %v", delay, retry, tt.delay, tt.retry)
			}
		})
	}
}

func TestBaseDelayNeverOverflows(t *testing.T) {
	p := RetryPolicy{InitialInterval: dur(time.Hour), Backoff: f64(100)}
	for _, n := range []int{1, 10, 100, 1000} {
		if d := p.BaseDelay(n); d < 0 {
			t.Fatalf("BaseDelay(%d) = %v", n, d)
		}
	}
	if d := p.Merge(&RetryPolicy{MaxInterval: dur(time.Minute)}).BaseDelay(50); d != time.Minute {
		t.Fatalf("capped delay = %v", d)
	}
}

func TestMergeOrder(t *testing.T) {
	engine := DefaultRetryPolicy()
	workflow := &RetryPolicy{MaxRetries: intp(5), Jitter: JitterNone}
	step := &RetryPolicy{MaxRetries: intp(1)}
	got := engine.Merge(workflow).Merge(step)
	if *got.MaxRetries != 1 || got.Jitter != JitterNone || *got.Backoff != 2 {
		t.Fatalf("merged policy = %+v", got)
	}
}

func TestTriggerDecide(t *testing.T) {
	tests := []struct {
		trigger Trigger
		c       DepCounts
		want    string
	}{
		{"", DepCounts{}, "run"},
		{TriggerOneFailed, DepCounts{}, "run"},
		{TriggerAllDone, DepCounts{}, "run"},
		{TriggerAllSuccess, DepCounts{Total: 2, Succeeded: 1}, "wait"},
		{TriggerAllSuccess, DepCounts{Total: 2, Succeeded: 2}, "run"},
		{TriggerAllSuccess, DepCounts{Total: 3, Succeeded: 1, Failed: 1}, "skip upstream_failed"},
		{TriggerAllSuccess, DepCounts{Total: 3, Skipped: 1}, "skip upstream_skipped"},
		{TriggerAllSuccess, DepCounts{Total: 3, Skipped: 1, Canceled: 1}, "skip upstream_failed"},
		{TriggerAllSuccess, DepCounts{Total: 2, Skipped: 1, SkippedForFailure: 1}, "skip upstream_failed"},
		{TriggerOneFailed, DepCounts{Total: 1, Skipped: 1, SkippedForFailure: 1}, "skip no_upstream_failure"},
		{TriggerAllDone, DepCounts{Total: 3, Succeeded: 1, Failed: 1}, "wait"},
		{TriggerAllDone, DepCounts{Total: 3, Succeeded: 1, Failed: 1, Skipped: 1}, "run"},
		{TriggerOneFailed, DepCounts{Total: 3, Failed: 1}, "run"},
		{TriggerOneFailed, DepCounts{Total: 3, Succeeded: 2}, "wait"},
		{TriggerOneFailed, DepCounts{Total: 3, Succeeded: 2, Skipped: 1}, "skip no_upstream_failure"},
	}
	for _, tt := range tests {
		d, reason := tt.trigger.Decide(tt.c)
		got := [...]string{"wait", "run", "skip"}[d]
		if reason != "" {
			got += " " + reason
		}
		if got != tt.want {
			t.Errorf("%q.Decide(%+v) = %s, want %s", tt.trigger, tt.c, got, tt.want)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	base := fmt.Errorf("dial: %w", errors.New("refused"))
	tests := []struct {
		name      string
		err       error
		code      Code
		retryable bool
		after     time.Duration
		// cause reports whether base must still be in the chain.
		cause bool
	}{
		{"plain", base, CodeInternal, true, 0, true},
		{"errorf", Errorf(CodeUnavailable, "fetch: %w", base), CodeUnavailable, true, 0, true},
		{"permanent plain", Permanent(base), CodeInvalid, false, 0, true},
		{"permanent keeps code", Permanent(Errorf(CodeTimeout, "t")), CodeTimeout, false, 0, false},
		{"retryable invalid", Retryable(Errorf(CodeInvalid, "x")), CodeInvalid, true, 0, false},
		{"retry after", RetryAfter(base, 3*time.Second), CodeRateLimited, true, 3 * time.Second, true},
		{"wrapped", fmt.Errorf("step: %w", Errorf(CodeCanceled, "stop")), CodeCanceled, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := ErrorCode(tt.err); c != tt.code {
				t.Errorf("code %q, want %q", c, tt.code)
			}
			if r := IsRetryable(tt.err); r != tt.retryable {
				t.Errorf("retryable %v, want %v", r, tt.retryable)
			}
			if a := RetryAfterOf(tt.err); a != tt.after {
				t.Errorf("retry after %v, want %v", a, tt.after)
			}
			if tt.cause && !errors.Is(tt.err, base) {
				t.Errorf("cause lost: %v", tt.err)
			}
		})
	}
	if got := Errorf(CodeUnavailable, "fetch: %w", base).Error(); got != "fetch: dial: refused" {
		t.Errorf("Errorf message = %q", got)
	}
	if Permanent(nil) != nil || Retryable(nil) != nil || RetryAfter(nil, time.Second) != nil || ErrorCode(nil) != "" {
		t.Error("helpers must keep nil as nil")
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"250ms", 250 * time.Millisecond, true}, {"1.5s", 1500 * time.Millisecond, true}, {"2m", 2 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true}, {"0s", 0, true}, {"-1s", 0, false}, {"30", 0, false}, {"5 sec", 0, false}, {"", 0, false},
	} {
		d, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || time.Duration(d) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, d, err)
		}
	}
	var d Duration
	if err := d.UnmarshalJSON([]byte(`"90s"`)); err != nil || d.String() != "1m30s" {
		t.Errorf("UnmarshalJSON: %v %v", d, err)
	}
	if err := d.UnmarshalJSON([]byte(`90`)); err == nil {
		t.Error("a bare number must be refused")
	}
	if b, _ := Duration(1500 * time.Millisecond).MarshalJSON(); string(b) != `"1.5s"` {
		t.Errorf("MarshalJSON = %s", b)
	}
}
