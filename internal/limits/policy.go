package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// OnError says what Check does when the limiter fails (Redis unreachable,
// memory full).
type OnError string

const (
	// FailClosed refuses the request: Check returns the limiter's error.
	// It is the default, since a limit that stops counting is no limit.
	FailClosed OnError = "closed"
	// FailOpen lets the request through and logs the error.
	FailOpen OnError = "open"
)

// PolicyOptions configure NewPolicy.
type PolicyOptions struct {
	// Rules are the configured rules, in config order.
	Rules []Rule
	// Limiter counts; required (NewMemory or NewRedis).
	Limiter Limiter
	// OnError is FailClosed (default) or FailOpen.
	OnError OnError
	// Logger receives limiter failures let through by FailOpen (default
	// slog.Default()).
	Logger *slog.Logger
}

// Policy applies configured rules to requests.
type Policy struct {
	rules   []compiled
	limiter Limiter
	onError OnError
	log     *slog.Logger
}

// NewPolicy validates the rules and returns a policy; a bad rule is an error
// naming the rule and what to change.
func NewPolicy(opts PolicyOptions) (*Policy, error) {
	if opts.Limiter == nil {
		return nil, errors.New("limits: PolicyOptions.Limiter is nil")
	}
	switch opts.OnError {
	case "":
		opts.OnError = FailClosed
	case FailClosed, FailOpen:
	default:
		return nil, fmt.Errorf("limits: onError %q is neither %q nor %q", opts.OnError, FailClosed, FailOpen)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Policy{limiter: opts.Limiter, onError: opts.OnError, log: opts.Logger}
	seen := map[string]int{}
	for i, r := range opts.Rules {
		c, err := compile(i, r)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[c.name]; dup {
			return nil, fmt.Errorf("limits.rules[%d]: name %q is already used by limits.rules[%d]; names must be unique, they key the counters", i, c.name, j)
		}
		seen[c.name] = i
		p.rules = append(p.rules, c)
	}
	return p, nil
}

// Match returns the limits that apply to r: every token bucket first, then
// every quota, each in rule order. Check takes them in this order, so a
// request refused by a rate does not use up a quota.
func (p *Policy) Match(r Request) []Match {
	var buckets, windows []Match
	for i := range p.rules {
		c := &p.rules[i]
		if !c.applies(r) {
			continue
		}
		key := c.key(r)
		for _, l := range c.limits {
			m := Match{Rule: c.name, Key: key, Limit: l}
			if l.Kind == Bucket {
				buckets = append(buckets, m)
			} else {
				windows = append(windows, m)
			}
		}
	}
	return append(buckets, windows...)
}

// Check takes one event from every limit that applies to r and returns nil
// when all allow it, a *LimitedError for the first that refuses (those
// before it have counted the request), or, with FailClosed, the limiter's
// error (errors.Is ErrUnavailable or ErrFull).
func (p *Policy) Check(ctx context.Context, r Request) error {
	for _, m := range p.Match(r) {
		d, err := p.limiter.Take(ctx, m.Key, m.Limit)
		if err != nil {
			if p.onError == FailOpen {
				p.log.WarnContext(ctx, "rate limit not enforced: the limiter failed and onError is open",
					"rule", m.Rule, "error", err)
				continue
			}
			return fmt.Errorf("limits: rule %q: %w", m.Rule, err)
		}
		if !d.OK {
			return &LimitedError{Rule: m.Rule, Key: m.Key, RetryAfter: d.RetryAfter, Limit: m.Limit}
		}
	}
	return nil
}
