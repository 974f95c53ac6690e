package postgres

// Step keys: the key of a step is its run's seq and its node index in one
// int64.

// stepKey is the key of node idx of run seq.
func stepKey(seq int64, idx int32) int64 { return seq<<32 + int64(idx) }

// stepKeys are the keys of nodes idxs of run seq.
func stepKeys(seq int64, idxs []int32) []int64 {
	keys := make([]int64, len(idxs))
	for k, i := range idxs {
		keys[k] = stepKey(seq, i)
	}
	return keys
}

// runKeys is the range of the keys of run seq's steps: [lo, hi).
func runKeys(seq int64) (lo, hi int64) { return stepKey(seq, 0), stepKey(seq+1, 0) }
