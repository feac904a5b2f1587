package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Client is the connection pool, shared with other users of the same
	// Redis (the rate limiter, say). Required; see NewRedisClient.
	Client redis.UniversalClient
	// Prefix is put before every key, so that several deployments or uses
	// can share one database (for example "mcpscript:state:").
	Prefix string
	// MaxValueSize is the largest value accepted, in bytes (default
	// DefaultMaxValueSize), so that both stores refuse the same values.
	MaxValueSize int
	// CloseClient makes Close close Client too.
	CloseClient bool
}

// Redis is a Store in Redis, shared by every process that uses the same
// server and prefix.
type Redis struct {
	c        redis.UniversalClient
	prefix   string
	maxValue int
	close    bool
}

// NewRedis returns a store over opts.Client. It does not contact Redis: an
// unreachable server shows as ErrUnavailable on each operation.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.Client == nil {
		return nil, errors.New("state: RedisOptions.Client is nil (make one with NewRedisClient)")
	}
	if opts.MaxValueSize <= 0 {
		opts.MaxValueSize = DefaultMaxValueSize
	}
	return &Redis{c: opts.Client, prefix: opts.Prefix, maxValue: opts.MaxValueSize, close: opts.CloseClient}, nil
}

// NewRedisClient makes a client from a redis:// or rediss:// URL (the form
// go-redis's ParseURL reads, options such as ?dial_timeout=1s included).
// Timeouts the URL leaves unset are short, since a policy waiting on Redis
// holds up a request: dial 2s with one quick redial, read and write 1s, one
// retry. With Redis down an operation fails with ErrUnavailable in well under
// a second.
func NewRedisClient(url string) (*redis.Client, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("state: bad Redis URL: %w", err)
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1
		o.DialerRetryTimeout = 50 * time.Millisecond
	}
	return redis.NewClient(o), nil
}

// RedisError maps an error from go-redis to this package's errors: nil stays
// nil, a server's error reply is returned wrapped as it is (ErrNotInteger
// when it says so), the caller's own cancellation stays context.Canceled, and
// everything else (refused or broken connections, timeouts, a closed pool)
// becomes ErrUnavailable. op names the operation for the message. Packages
// that share a Redis client with the store use it so that one errors.Is
// check covers both.
func RedisError(op string, err error) error {
	if err == nil {
		return nil
	}
	var reply redis.Error
	switch {
	case errors.As(err, &reply) && !errors.Is(err, redis.ErrClosed):
		if strings.Contains(reply.Error(), "not an integer") {
			return fmt.Errorf("%w: redis %s: %w", ErrNotInteger, op, err)
		}
		return fmt.Errorf("redis %s: %w", op, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("redis %s: %w", op, err)
	default:
		return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
	}
}

// Get implements Store.
func (s *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, RedisError("GET", err)
	}
	return b, true, nil
}

// Set implements Store.
func (s *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if len(value) > s.maxValue {
		return fmt.Errorf("%w: %d bytes for %q, the limit is %d", ErrTooLarge, len(value), key, s.maxValue)
	}
	return RedisError("SET", s.c.Set(ctx, s.prefix+key, value, ttl).Err())
}

// incrScript creates the key with its TTL before incrementing, in one atomic
// step, so that the TTL is set exactly when the key is created and never
// extended by later increments (INCRBY keeps an existing TTL).
var incrScript = redis.NewScript(`
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], 0, 'NX', 'PX', ttl)
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
`)

// Incr implements Store.
func (s *Redis) Incr(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	ms := ttl.Milliseconds()
	if ttl > 0 && ms == 0 {
		ms = 1
	}
	v, err := incrScript.Run(ctx, s.c, []string{s.prefix + key}, n, ms).Int64()
	if err != nil {
		return 0, RedisError("INCRBY", err)
	}
	return v, nil
}

// Delete implements Store.
func (s *Redis) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return RedisError("DEL", s.c.Del(ctx, s.prefix+key).Err())
}

// Close implements Store; it closes the client only when CloseClient was set.
func (s *Redis) Close() error {
	if s.close {
		return s.c.Close()
	}
	return nil
}
