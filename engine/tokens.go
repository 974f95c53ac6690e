package engine

import (
	"sync"

	"github.com/weft-dev/weft"
)

// tokenAccount is a run's AI token account in this process: the tokens used
// (as recorded in the store when the run was loaded, plus what attempts
// here spent since) and the tokens reserved by attempts in flight.
type tokenAccount struct {
	limit int64 // 0: no budget

	mu       sync.Mutex
	used     int64
	reserved int64
}

// attemptTokens is an attempt's view of its run's account: the
// weft.TokenBudget of StepContext.Tokens. It remembers what the attempt
// reserved and spent. Each slot reuses one.
type attemptTokens struct {
	acct *tokenAccount

	mu       sync.Mutex
	reserved int64
	usage    weft.Usage
}

func (t *attemptTokens) reset(acct *tokenAccount) {
	t.mu.Lock()
	t.acct, t.reserved, t.usage = acct, 0, weft.Usage{}
	t.mu.Unlock()
}

// Reserve implements weft.TokenBudget: it refuses once the run's tokens
// reached the budget, or when n more (on top of what attempts in flight
// reserved) would pass it.
func (t *attemptTokens) Reserve(n int64) error {
	a := t.acct
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.limit > 0 {
		if a.used >= a.limit {
			return weft.Permanent(weft.Errorf(weft.CodeBudgetExceeded,
				"the run has used %d of its %d AI tokens (ai_token_budget)", a.used, a.limit))
		}
		if n > 0 && a.used+a.reserved+n > a.limit {
			return weft.Permanent(weft.Errorf(weft.CodeBudgetExceeded,
				"max_tokens %d would pass the run's AI token budget: %d used, %d reserved by running steps, %d budget", n, a.used, a.reserved, a.limit))
		}
	}
	if n > 0 {
		a.reserved += n
		t.mu.Lock()
		t.reserved += n
		t.mu.Unlock()
	}
	return nil
}

// Spend implements weft.TokenBudget.
func (t *attemptTokens) Spend(u weft.Usage) {
	a := t.acct
	a.mu.Lock()
	a.used += u.TotalTokens
	a.mu.Unlock()
	t.mu.Lock()
	t.usage.Add(u)
	t.mu.Unlock()
}

// done releases what the attempt reserved and returns what it spent.
func (t *attemptTokens) done() weft.Usage {
	t.mu.Lock()
	reserved, usage := t.reserved, t.usage
	t.reserved = 0
	t.mu.Unlock()
	if reserved > 0 {
		t.acct.mu.Lock()
		t.acct.reserved -= reserved
		t.acct.mu.Unlock()
	}
	return usage
}
