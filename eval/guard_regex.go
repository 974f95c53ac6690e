package eval

import (
	"fmt"
	"regexp"
	"sync"
)

// The guarded matches operator: the regular expressions one expression has
// compiled, and what compiling and matching them costs.

// regexCache holds the regular expressions one expression has compiled.
type regexCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

// regexCacheMax bounds a regexCache.
const regexCacheMax = 64

// Costs of regular expressions, in budget units: compiling costs
// regexCompileCost units per byte of the pattern; matching a string of n
// bytes against a pattern of m bytes costs n×m/regexMatchDiv units (RE2
// matches in time proportional to n×m at worst).
const (
	regexCompileCost = 20
	regexMatchDiv    = 100
)

// matches implements the matches operator: `s matches pattern`.
func (c *regexCache) matches(m *meter, args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("internal error: matches with %d operands", len(args))
	}
	if args[0] == nil || args[1] == nil {
		return false, nil
	}
	pattern, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("matches: the pattern must be a string, got %s", typeName(args[1]))
	}
	var s string
	switch x := args[0].(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return nil, fmt.Errorf("matches: expected a string, got %s", typeName(args[0]))
	}
	c.mu.Lock()
	re := c.m[pattern]
	c.mu.Unlock()
	if re == nil {
		if uint(len(pattern)) > m.left()/regexCompileCost {
			return nil, &budgetError{m.limit}
		}
		if err := m.charge(uint(len(pattern)) * regexCompileCost); err != nil {
			return nil, err
		}
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, fmt.Errorf("matches: %v", err)
		}
		c.mu.Lock()
		if len(c.m) >= regexCacheMax {
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
		c.m[pattern] = re
		c.mu.Unlock()
	}
	n, p := uint(len(s)), uint(len(pattern))
	if p > 0 && n > (m.left()+1)*regexMatchDiv/p {
		return nil, &budgetError{m.limit}
	}
	if err := m.charge(n*p/regexMatchDiv + 1); err != nil {
		return nil, err
	}
	return re.MatchString(s), nil
}
