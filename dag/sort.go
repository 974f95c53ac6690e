package dag

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ranks returns the rank of each id in string order and its inverse. It
// returns an error if an id is repeated.
func ranks(ids []string) (rank, byRank []int32, err error) {
	n := len(ids)
	rank = make([]int32, n)
	byRank = make([]int32, n)
	sorted := true
	for i := 1; i < n; i++ {
		if ids[i-1] >= ids[i] {
			sorted = false
			break
		}
	}
	if sorted {
		for i := range n {
			rank[i], byRank[i] = int32(i), int32(i)
		}
		return rank, byRank, nil
	}
	ks := sortIDs(ids)
	for r, k := range ks {
		if r > 0 && ks[r-1].key == k.key && ids[ks[r-1].i] == ids[k.i] {
			return nil, nil, fmt.Errorf("dag: duplicate node id %q", ids[k.i])
		}
		byRank[r] = k.i
		rank[k.i] = int32(r)
	}
	return rank, byRank, nil
}

// keyed is a node index with a key: 8 bytes of its id, big-endian, so that
// keys compare as those bytes do.
type keyed struct {
	key uint64
	i   int32
}

// radixMin is the fewest ids that sortIDs radix sorts; fewer are sorted by
// comparison.
const radixMin = 1 << 12

// sortIDs returns the node indices sorted by id, with their keys. Every id
// is keyed by the 8 bytes that follow the prefix common to all ids, padded
// with zeros: the keys are in the same order as the ids, and equal keys are
// ordered by comparing the rest of the ids. Large inputs are sorted on the
// keys by an LSD radix sort, which makes the usual numbered ids (step_0001,
// ...) cost O(n); ids that share longer prefixes fall back to comparisons.
func sortIDs(ids []string) []keyed {
	n := len(ids)
	lcp := len(ids[0])
	for _, s := range ids[1:] {
		m := min(lcp, len(s))
		j := 0
		for j < m && s[j] == ids[0][j] {
			j++
		}
		lcp = j
	}
	ks := make([]keyed, n)
	for i, s := range ids {
		ks[i] = keyed{key8(s[lcp:]), int32(i)}
	}
	rest := func(a, b keyed) int { return strings.Compare(ids[a.i][lcp:], ids[b.i][lcp:]) }
	if n < radixMin {
		slices.SortFunc(ks, func(a, b keyed) int {
			if a.key != b.key {
				return cmp.Compare(a.key, b.key)
			}
			return rest(a, b)
		})
		return ks
	}

	// LSD radix sort on 16-bit digits, skipping the digits all keys share.
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range ks {
		or |= k.key
		and &= k.key
	}
	tmp := make([]keyed, n)
	count := make([]int32, 1<<16)
	for shift := 0; shift < 64; shift += 16 {
		if (or^and)>>shift&0xffff == 0 {
			continue
		}
		clear(count)
		for _, k := range ks {
			count[k.key>>shift&0xffff]++
		}
		var sum int32
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range ks {
			d := k.key >> shift & 0xffff
			tmp[count[d]] = k
			count[d]++
		}
		ks, tmp = tmp, ks
	}
	// Order the runs of equal keys by the rest of the ids.
	for a := 0; a < n; {
		b := a + 1
		for b < n && ks[b].key == ks[a].key {
			b++
		}
		if b-a > 1 {
			slices.SortFunc(ks[a:b], rest)
		}
		a = b
	}
	return ks
}

// key8 returns the first 8 bytes of s as a big-endian number, padded with
// zeros.
func key8(s string) uint64 {
	if len(s) >= 8 {
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var k uint64
	for j := range 8 {
		k <<= 8
		if j < len(s) {
			k |= uint64(s[j])
		}
	}
	return k
}
