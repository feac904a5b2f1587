package limits

import (
	"context"
	"fmt"
	"time"

	"github.com/mcpscript/mcpscript/internal/ttlmap"
)

// DefaultMaxKeys bounds the memory limiter when MemoryOptions leaves it 0.
const DefaultMaxKeys = 100_000

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// MaxKeys is the most counters held at once (default DefaultMaxKeys).
	// A counter is dropped as soon as it holds no information (a bucket
	// refilled, a window ended), so this bounds concurrent callers, not
	// callers ever seen. When it is reached, Take of a new key fails with
	// ErrFull instead of evicting a live counter (which would reset some
	// caller's limit); a Policy then fails closed or open as configured.
	MaxKeys int
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Memory is a Limiter in this process's memory.
type Memory struct {
	m   *ttlmap.Map[counter]
	now func() time.Time
}

// counter is a bucket's theoretical arrival time, or a window's start and
// count.
type counter struct {
	tat   int64 // ns since the epoch
	start int64 // ns since the epoch
	count int64
}

// NewMemory returns a memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{m: ttlmap.New[counter](opts.MaxKeys), now: opts.Now}
}

// Take implements Limiter.
func (m *Memory) Take(ctx context.Context, key string, l Limit) (Decision, error) {
	if err := l.Validate(); err != nil {
		return Decision{}, err
	}
	now := m.now()
	var d Decision
	var err error
	if l.Kind == Bucket {
		err = m.m.Update("b:"+key, now, func(c counter, _ time.Time, _ bool) (counter, time.Time, bool) {
			var tat int64
			d, tat = gcra(c.tat, now.UnixNano(), int64(l.interval()), l.burst())
			if !d.OK {
				return c, time.Unix(0, c.tat), c.tat > now.UnixNano()
			}
			return counter{tat: tat}, time.Unix(0, tat), true
		})
	} else {
		start, end := l.window(now)
		err = m.m.Update("w:"+key, now, func(c counter, _ time.Time, ok bool) (counter, time.Time, bool) {
			if !ok || c.start != start.UnixNano() {
				c = counter{start: start.UnixNano()}
			}
			if c.count+1 > l.Count {
				d = Decision{Remaining: max(l.Count-c.count, 0), RetryAfter: end.Sub(now)}
				return c, end, true
			}
			c.count++
			d = Decision{OK: true, Remaining: l.Count - c.count}
			return c, end, true
		})
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: cannot track key %q, the limiter holds its maximum of keys", ErrFull, key)
	}
	return d, nil
}

// gcra is the generic cell rate algorithm, a token bucket kept as one
// number: tat, the time at which the bucket would be full again. An event
// costs one interval; it is allowed while tat stays within burst intervals
// of now. Returns the decision and the new tat.
func gcra(tat, now, interval, burst int64) (Decision, int64) {
	if tat < now {
		tat = now
	}
	next := tat + interval
	allowAt := next - burst*interval
	if now < allowAt {
		return Decision{RetryAfter: time.Duration(allowAt - now)}, tat
	}
	return Decision{OK: true, Remaining: (now - allowAt) / interval}, next
}
