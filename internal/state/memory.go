package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mcpscript/mcpscript/internal/ttlmap"
)

// Default bounds of the memory store.
const (
	DefaultMaxKeys      = 100_000
	DefaultMaxValueSize = 64 << 10
)

// MemoryOptions bound a memory store.
type MemoryOptions struct {
	// MaxKeys is the most keys held at once (default DefaultMaxKeys). When
	// full, writes of new keys fail with ErrFull rather than evict: evicting
	// a counter would silently reset a quota. Expired keys free their place.
	MaxKeys int
	// MaxValueSize is the largest value accepted, in bytes (default
	// DefaultMaxValueSize). Larger values fail with ErrTooLarge.
	MaxValueSize int
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Memory is a Store in this process's memory. Its worst-case footprint is
// about MaxKeys × (MaxValueSize + MaxKeyLen).
type Memory struct {
	m        *ttlmap.Map[[]byte]
	maxValue int
	now      func() time.Time
}

// NewMemory returns an empty memory store.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.MaxValueSize <= 0 {
		opts.MaxValueSize = DefaultMaxValueSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{m: ttlmap.New[[]byte](opts.MaxKeys), maxValue: opts.MaxValueSize, now: opts.Now}
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// Get implements Store.
func (s *Memory) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	v, ok := s.m.Get(key, s.now())
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), v...), true, nil
}

// Set implements Store.
func (s *Memory) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if len(value) > s.maxValue {
		return fmt.Errorf("%w: %d bytes for %q, the limit is %d", ErrTooLarge, len(value), key, s.maxValue)
	}
	now := s.now()
	v := append([]byte(nil), value...)
	err := s.m.Update(key, now, func([]byte, time.Time, bool) ([]byte, time.Time, bool) {
		return v, expiry(now, ttl), true
	})
	return s.full(err, key)
}

// Incr implements Store.
func (s *Memory) Incr(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	now := s.now()
	var result int64
	var incrErr error
	err := s.m.Update(key, now, func(cur []byte, exp time.Time, ok bool) ([]byte, time.Time, bool) {
		if !ok {
			result = n
			return strconv.AppendInt(nil, n, 10), expiry(now, ttl), true
		}
		v, err := strconv.ParseInt(string(cur), 10, 64)
		if err != nil {
			incrErr = fmt.Errorf("%w: %q holds %d bytes that are not a decimal integer", ErrNotInteger, key, len(cur))
			return cur, exp, true
		}
		if (n > 0 && v > (1<<63-1)-n) || (n < 0 && v < (-1<<63)-n) {
			incrErr = fmt.Errorf("%w: adding %d to %q would overflow", ErrNotInteger, n, key)
			return cur, exp, true
		}
		result = v + n
		return strconv.AppendInt(nil, result, 10), exp, true
	})
	if err != nil {
		return 0, s.full(err, key)
	}
	return result, incrErr
}

// Delete implements Store.
func (s *Memory) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.m.Delete(key)
	return nil
}

// Close implements Store; a memory store has nothing to release.
func (s *Memory) Close() error { return nil }

func (s *Memory) full(err error, key string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: cannot add %q, the store holds its maximum of keys", ErrFull, key)
}
