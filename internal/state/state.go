// Package state holds small pieces of state that expire: counters, flags and
// JSON values that policies keep between requests (per user, per tenant, per
// session).
//
// Store is the interface; NewMemory keeps state in this process, bounded in
// keys and value size, and NewRedis shares it between processes through
// Redis. Both have the same semantics: values are bytes, a TTL of zero means
// no expiry, Incr is atomic and sets its TTL only when it creates the key.
//
// Errors are typed so that a policy can fail closed without parsing
// messages: ErrUnavailable when the backend cannot be reached (Redis down or
// timing out), ErrFull and ErrTooLarge when the memory store's bounds refuse
// a write, ErrNotInteger when Incr meets a value that is not a counter.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnavailable means the backend could not be reached or did not
	// answer in time; the operation may or may not have happened. Policies
	// fail closed on it unless configured otherwise.
	ErrUnavailable = errors.New("state store unavailable")
	// ErrFull means the memory store holds its maximum number of keys and
	// none has expired to make room. Existing keys can still be written.
	ErrFull = errors.New("state store full")
	// ErrTooLarge means a value exceeds the store's maximum value size.
	ErrTooLarge = errors.New("state value too large")
	// ErrNotInteger means Incr found a value that is not a decimal integer.
	ErrNotInteger = errors.New("state value is not an integer")
	// ErrBadKey means a key is empty or too long.
	ErrBadKey = errors.New("bad state key")
)

// MaxKeyLen is the longest key a store accepts, in bytes.
const MaxKeyLen = 1024

// Store holds values with optional expiry. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the value of key; ok is false when it is absent or expired.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key for ttl (0: no expiry), replacing any
	// value and expiry it had.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Incr adds n to the integer under key and returns the new value. A
	// missing key counts as 0 and is created with ttl (0: no expiry); an
	// existing key keeps its expiry.
	Incr(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Close releases the store's resources.
	Close() error
}

// GetJSON decodes the JSON value of key into v; ok is false when the key is
// absent.
func GetJSON(ctx context.Context, s Store, key string, v any) (ok bool, err error) {
	b, ok, err := s.Get(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("state: value of %q is not the JSON expected: %w", key, err)
	}
	return true, nil
}

// SetJSON stores v, encoded as JSON, under key for ttl.
func SetJSON(ctx context.Context, s Store, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state: value for %q cannot be encoded as JSON: %w", key, err)
	}
	return s.Set(ctx, key, b, ttl)
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: the key is empty", ErrBadKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: the key is %d bytes, more than %d", ErrBadKey, len(key), MaxKeyLen)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("state: negative ttl %v (use 0 for no expiry)", ttl)
	}
	return nil
}
