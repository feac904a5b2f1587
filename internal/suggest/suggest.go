// Package suggest finds the closest match to a mistyped word, for the
// "did you mean" hints in error messages.
package suggest

import "strings"

// Closest returns the candidate nearest to word: a case-insensitive match, or
// else the one at the smallest edit distance, if that distance is at most 2
// and shorter than word. Ties go to the earlier candidate. It returns "" when
// nothing is close.
func Closest(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if c == word {
			continue
		}
		if strings.EqualFold(c, word) {
			return c
		}
		d := Distance(strings.ToLower(word), strings.ToLower(c))
		if d < bestDist && d < len([]rune(word)) {
			best, bestDist = c, d
		}
	}
	return best
}

// Distance is the optimal-string-alignment edit distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
