package weft

import (
	"strconv"
	"strings"
)

// DidYouMean returns `did you mean "X"?` for the candidate closest to
// name (see Closest), or "" when none is close.
func DidYouMean(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return "did you mean " + strconv.Quote(c) + "?"
	}
	return ""
}

// Closest returns the candidate closest to name (the first one on ties), or
// "" when none is close. Close means: equal ignoring case, or within an
// edit distance (with transpositions) of 1 for names up to 4 bytes, 2 up to
// 8, and 3 beyond. Names over 256 bytes are never close.
func Closest(name string, candidates []string) string {
	maxDist := 3
	switch {
	case len(name) <= 4:
		maxDist = 1
	case len(name) <= 8:
		maxDist = 2
	}
	best, bestDist := "", maxDist+1
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		if d := len(c) - len(name); d > maxDist || -d > maxDist {
			continue
		}
		if d := editDistance(name, c, bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance returns the Damerau–Levenshtein (optimal string alignment)
// distance between a and b, or any value ≥ limit once it is sure the
// distance reaches limit.
func editDistance(a, b string, limit int) int {
	if len(a) > 256 || len(b) > 256 {
		return limit
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
