package config

import (
	"strconv"
	"strings"

	suggestpkg "github.com/mcpscript/mcpscript/internal/suggest"
)

// suggest returns the candidate closest to s, or "" (see suggest.Closest).
func suggest(s string, candidates []string) string {
	return suggestpkg.Closest(s, candidates)
}

// didYouMean returns a `did you mean "x"?` hint, or "" when nothing in
// candidates is close to s.
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return "did you mean " + strconv.Quote(m) + "?"
	}
	return ""
}

// quoteList formats values as `"a", "b" or "c"`.
func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
