package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// What claims carry, read at commit: their dependencies' results, and when
// to claim again.

// queueClaimReads queues, for the commit of the transaction that served
// qs, the reads of what its claims carry: their dependencies' results and
// when the next retry is due.
func (t *txn) queueClaimReads(qs []*claimReq) {
	if len(qs) == 0 {
		return
	}
	claims := make(map[int64]*weft.Claim)
	var keys []int64
	for _, q := range qs {
		for k, c := range q.claims {
			st := q.steps[k]
			if st.counts.Total == 0 {
				continue
			}
			c.Deps = make([]weft.StepResult, st.counts.Total)
			key := stepKey(q.runs[k].seq, st.idx)
			claims[key] = c
			keys = append(keys, key)
		}
	}
	if len(keys) > 0 {
		deps := make(map[int64][]int32, len(keys))
		results := make(map[int64]weft.StepResult)
		t.queue(claimDepsSQL, keys).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var key int64
				var d []int32
				if err := rows.Scan(&key, &d); err != nil {
					return err
				}
				deps[key] = d
			}
			return rows.Err()
		})
		t.queue(depResultsSQL, keys).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					key             int64
					res             weft.StepResult
					status          string
					attempts        int32
					out             []byte
					errCode, errMsg pgtype.Text
				)
				if err := rows.Scan(&key, &res.StepID, &status, &attempts, &out, &errCode, &errMsg); err != nil {
					return err
				}
				res.Status, res.Attempts, res.Output, res.Error = reported(weft.StepStatus(status)), int(attempts), rawJSON(out), errorInfo(errCode, errMsg)
				results[key] = res
			}
			if err := rows.Err(); err != nil {
				return err
			}
			// Both reads are done: fill in the claims.
			for key, c := range claims {
				d := deps[key]
				if len(d) != len(c.Deps) {
					return fmt.Errorf("step key %d has %d dependencies; want %d", key, len(d), len(c.Deps))
				}
				seq := key >> 32
				for j, i := range d {
					res, ok := results[stepKey(seq, i)]
					if !ok {
						return fmt.Errorf("step key %d: dependency %d not found", key, i)
					}
					c.Deps[j] = res
				}
			}
			return nil
		})
	}
	t.queue(nextAtSQL).QueryRow(func(row pgx.Row) error {
		var next pgtype.Timestamptz
		if err := row.Scan(&next); err != nil {
			return err
		}
		nextAt := timeOf(next)
		if t.skipped {
			// Runs with ready steps were skipped, busy: look again soon.
			soon := t.claimNow.Add(skippedRetry)
			if nextAt.IsZero() || soon.Before(nextAt) {
				nextAt = soon
			}
		}
		for _, q := range qs {
			q.nextAt = nextAt
		}
		return nil
	})
}

// skippedRetry is how soon a claim that skipped runs another transaction
// held (runs that may have ready steps) says to claim again
// (weft.ClaimResult.NextAt).
const skippedRetry = 5 * time.Millisecond
