package limits

import (
	"context"
	"fmt"
	"time"

	"github.com/mcpscript/mcpscript/internal/state"
)

// Errors of the backends, the same values as the state package's so that one
// errors.Is check covers a policy's state and its limits.
var (
	// ErrUnavailable: the shared backend (Redis) could not be reached.
	ErrUnavailable = state.ErrUnavailable
	// ErrFull: the memory limiter holds its maximum of keys.
	ErrFull = state.ErrFull
)

// Decision is the outcome of one Take.
type Decision struct {
	// OK is true when the event was allowed (and counted).
	OK bool
	// Remaining is how many more events the limit allows right now.
	Remaining int64
	// RetryAfter, when OK is false, is how long until one event would be
	// allowed: a bucket's next token, or the end of a quota's window.
	RetryAfter time.Duration
}

// A Limiter counts events against limits. Implementations are safe for
// concurrent use; errors are ErrUnavailable, ErrFull or an invalid Limit.
type Limiter interface {
	// Take counts one event under key against l, unless that would exceed
	// it. A refused event is not counted.
	Take(ctx context.Context, key string, l Limit) (Decision, error)
}

// LimitedError is returned by Policy.Check when a limit refuses a request.
// The proxy maps it to JSON-RPC error data {"retryAfter": seconds} and to
// HTTP 429 with a Retry-After header.
type LimitedError struct {
	// Rule is the name of the rule that refused.
	Rule string
	// Key is the counter's key (it names the rule and the values of the
	// rule's "per" dimensions, such as a subject; it is not in Error()).
	Key string
	// RetryAfter is how long until the request could pass.
	RetryAfter time.Duration
	// Limit is the refusing limit.
	Limit Limit
}

func (e *LimitedError) Error() string {
	what := "rate limit"
	if e.Limit.Kind == Window {
		what = "quota"
	}
	return fmt.Sprintf("%s %q (%v) exceeded; retry after %ds", what, e.Rule, e.Limit, RetryAfterSeconds(e.RetryAfter))
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1, as the
// Retry-After header and the JSON-RPC error's data want it.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
