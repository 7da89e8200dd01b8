package diag

import (
	"fmt"
	"strings"
)

// Suggest returns the candidate closest to name by edit distance, or ""
// when none is close enough to be a plausible misspelling. Ties go to the
// earlier candidate, so callers pass candidates in a stable order.
func Suggest(name string, candidates []string) string {
	if name == "" {
		return ""
	}
	limit := (len(name) + 2) / 3
	if limit < 1 {
		limit = 1
	}
	best, bestD := "", limit+1
	lname := strings.ToLower(name)
	for _, c := range candidates {
		if c == name || len(c)-len(name) > limit || len(name)-len(c) > limit {
			continue // cannot be within the limit
		}
		d := distance(lname, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// DidYouMean formats Suggest as a message suffix: ` (did you mean "x"?)`,
// or "" when there is no suggestion.
func DidYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// distance is the Levenshtein distance of a and b, counting an adjacent
// transposition as one edit (optimal string alignment). Inputs are short
// names; long ones are cut so that a hostile file cannot make this costly.
func distance(a, b string) int {
	const max = 64
	if len(a) > max {
		a = a[:max]
	}
	if len(b) > max {
		b = b[:max]
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
