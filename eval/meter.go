package eval

import "fmt"

// The meter: the budget units one evaluation spends (see guard.go), and the
// error of an evaluation that goes over its budget.

// meter counts the budget units an evaluation spends.
type meter struct {
	used, limit uint
}

// budgetError reports an evaluation that went over its budget.
type budgetError struct{ limit uint }

func (e *budgetError) Error() string {
	return fmt.Sprintf("memory budget exceeded (the budget is %d)", e.limit)
}

// charge spends n units, failing when that goes over the limit.
func (m *meter) charge(n uint) error {
	if m.used > m.limit || n > m.limit-m.used {
		m.used = m.limit + 1
		return &budgetError{m.limit}
	}
	m.used += n
	return nil
}

// left is how many units remain.
func (m *meter) left() uint {
	if m.used >= m.limit {
		return 0
	}
	return m.limit - m.used
}
