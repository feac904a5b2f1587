// Package limits enforces rate limits and quotas.
//
// A Limit is either a token bucket (Count events per Period, Burst at once)
// or a fixed-window quota (Count events per window of Period, or per calendar
// month). A Limiter takes one event from the limit under a key and answers
// with a Decision; NewMemory keeps the counters in this process (bounded,
// idle keys dropped) and NewRedis shares them between processes with atomic
// Lua scripts, with the same semantics.
//
// A Policy sits on top: it compiles configured Rules (per token, subject,
// client or claim value, filtered by server, method and tool globs) and, for
// each request, takes from every limit that applies, returning a
// *LimitedError when one refuses. Configured limits need no JavaScript.
package limits

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is the algorithm of a Limit.
type Kind uint8

const (
	// Bucket is a token bucket: Burst events at once, refilled at Count per
	// Period. It smooths traffic and forgets idle callers.
	Bucket Kind = iota + 1
	// Window is a quota per fixed window: at most Count events from the
	// start of one window (aligned to the Unix epoch, so a 24h window starts
	// at midnight UTC) to the next, or per calendar month in UTC when
	// Monthly is set.
	Window
)

func (k Kind) String() string {
	switch k {
	case Bucket:
		return "bucket"
	case Window:
		return "window"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Limit is one rate limit or quota. Make one with TokenBucket, Quota or
// MonthlyQuota, or fill the fields and call Validate.
type Limit struct {
	Kind Kind
	// Count is the number of events per Period (refill rate for a bucket,
	// allowance per window for a quota).
	Count int64
	// Period is the refill period of a bucket or the length of a window.
	// It is ignored by a monthly quota.
	Period time.Duration
	// Burst is a bucket's capacity, the events allowed at once by a caller
	// that has been idle (default Count). Windows ignore it.
	Burst int64
	// Monthly makes a Window one calendar month in UTC.
	Monthly bool
}

// TokenBucket allows burst events at once and count more per period
// (burst <= 0 means count).
func TokenBucket(count int64, period time.Duration, burst int64) Limit {
	return Limit{Kind: Bucket, Count: count, Period: period, Burst: burst}
}

// Quota allows count events per fixed window of the given length.
func Quota(count int64, window time.Duration) Limit {
	return Limit{Kind: Window, Count: count, Period: window}
}

// MonthlyQuota allows count events per calendar month in UTC.
func MonthlyQuota(count int64) Limit {
	return Limit{Kind: Window, Count: count, Monthly: true}
}

// Bounds that keep the arithmetic of every backend exact.
const (
	maxCount  = 1_000_000_000
	minPeriod = time.Millisecond
	maxPeriod = 10 * 366 * 24 * time.Hour
)

// Validate reports a limit that cannot be enforced.
func (l Limit) Validate() error {
	switch l.Kind {
	case Bucket, Window:
	default:
		return fmt.Errorf("limits: unknown kind %d", l.Kind)
	}
	if l.Count < 1 || l.Count > maxCount {
		return fmt.Errorf("limits: count %d out of range 1..%d", l.Count, maxCount)
	}
	if l.Kind == Window && l.Monthly {
		return nil
	}
	if l.Period < minPeriod || l.Period > maxPeriod {
		return fmt.Errorf("limits: period %v out of range %v..%v", l.Period, minPeriod, maxPeriod)
	}
	if l.Kind == Bucket {
		if l.Burst < 0 || l.Burst > maxCount {
			return fmt.Errorf("limits: burst %d out of range 1..%d", l.Burst, maxCount)
		}
		if l.Period/time.Duration(l.Count) < time.Microsecond {
			return fmt.Errorf("limits: %d per %v is faster than one event per microsecond", l.Count, l.Period)
		}
	}
	return nil
}

func (l Limit) burst() int64 {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Count
}

// interval is a bucket's time per token.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Count) }

// window returns the window containing now: its start and end.
func (l Limit) window(now time.Time) (start, end time.Time) {
	if l.Monthly {
		u := now.UTC()
		start = time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	p := int64(l.Period)
	n := now.UnixNano()
	s := n - n%p
	if n < 0 && n%p != 0 {
		s -= p
	}
	return time.Unix(0, s), time.Unix(0, s+p)
}

func (l Limit) String() string {
	switch {
	case l.Kind == Bucket:
		return fmt.Sprintf("%d/%v burst %d", l.Count, l.Period, l.burst())
	case l.Monthly:
		return fmt.Sprintf("%d/month", l.Count)
	default:
		return fmt.Sprintf("%d/%v", l.Count, l.Period)
	}
}

// units are the words a rate or quota may use after the slash, besides Go
// durations such as 90s or 720h.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
	"week": 7 * 24 * time.Hour,
}

// errMonth tells a caller of parseCount that the unit was "month".
var errMonth = errors.New("month")

// ParseRate reads a bucket's rate, "COUNT/UNIT": "10/s", "600/min",
// "5/500ms", "1000/24h". UNIT is s, sec, second, m, min, minute, h, hour, d,
// day, week or a Go duration.
func ParseRate(s string) (count int64, per time.Duration, err error) {
	count, per, err = parseCount(s)
	if errors.Is(err, errMonth) {
		return 0, 0, fmt.Errorf("rate %q: a month is a quota window, not a rate; use a quota, or a rate per day", s)
	}
	return count, per, err
}

// ParseQuota reads a quota, "COUNT/UNIT" as for ParseRate or
// "COUNT/month" for a calendar month in UTC.
func ParseQuota(s string) (Limit, error) {
	count, per, err := parseCount(s)
	if errors.Is(err, errMonth) {
		l := MonthlyQuota(count)
		return l, l.Validate()
	}
	if err != nil {
		return Limit{}, err
	}
	l := Quota(count, per)
	if err := l.Validate(); err != nil {
		return Limit{}, fmt.Errorf("quota %q: %w", s, err)
	}
	return l, nil
}

func parseCount(s string) (int64, time.Duration, error) {
	n, u, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not COUNT/UNIT (like 10/s, 1000/720h or 1000/month)", s)
	}
	count, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if err != nil || count < 1 || count > maxCount {
		return 0, 0, fmt.Errorf("%q: the count must be a whole number from 1 to %d", s, maxCount)
	}
	u = strings.ToLower(strings.TrimSpace(u))
	if u == "month" || u == "mo" {
		return count, 0, errMonth
	}
	per, ok := units[u]
	if !ok {
		if per, err = time.ParseDuration(u); err != nil {
			return 0, 0, fmt.Errorf("%q: unit %q is not a duration (like 90s or 720h) nor one of s, min, h, day, week, month", s, u)
		}
	}
	if per < minPeriod || per > maxPeriod {
		return 0, 0, fmt.Errorf("%q: the period must be from %v to %v", s, minPeriod, maxPeriod)
	}
	return count, per, nil
}
