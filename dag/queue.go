package dag

import "math/bits"

// rankSet is a set of ranks in [0, n), with insertion and removal of the
// minimum in O(log64 n): a tree of bitmaps whose bottom level has a bit per
// rank and each level above a bit per non-zero word of the level below. It
// is Kahn's priority queue: small (n/8 bytes), and without the
// unpredictable branches of a binary heap.
type rankSet struct {
	levels [][]uint64 // levels[0] is the bottom; the top has one word
}

func newRankSet(n int) *rankSet {
	s := &rankSet{}
	for size := n; ; {
		words := max((size+63)/64, 1)
		s.levels = append(s.levels, make([]uint64, words))
		if words == 1 {
			return s
		}
		size = words
	}
}

// add inserts r, which must not be in the set.
func (s *rankSet) add(r int32) {
	x := uint(r)
	for _, l := range s.levels {
		w := x / 64
		old := l[w]
		l[w] = old | 1<<(x%64)
		if old != 0 {
			return // the levels above already have the word
		}
		x = w
	}
}

// popMin removes and returns the smallest rank, or -1 if the set is empty.
func (s *rankSet) popMin() int32 {
	top := len(s.levels) - 1
	if s.levels[top][0] == 0 {
		return -1
	}
	x := uint(0)
	for k := top; k >= 0; k-- {
		x = x*64 + uint(bits.TrailingZeros64(s.levels[k][x]))
	}
	r := int32(x)
	for _, l := range s.levels {
		w := x / 64
		l[w] &^= 1 << (x % 64)
		if l[w] != 0 {
			break
		}
		x = w
	}
	return r
}
