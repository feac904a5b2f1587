package limits

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mcpscript/mcpscript/internal/state"
	"github.com/redis/go-redis/v9"
)

// RedisOptions configure NewRedis.
type RedisOptions struct {
	// Client is the connection pool (see state.NewRedisClient). Required.
	Client redis.UniversalClient
	// Prefix is put before every key (for example "mcpscript:limits:").
	Prefix string
	// Now is the clock that places quota windows (default time.Now).
	// Buckets use the Redis server's clock, so processes with skewed clocks
	// still agree on them.
	Now func() time.Time
}

// Redis is a Limiter whose counters live in Redis, so that every process
// using the same server and prefix shares each limit exactly: each Take is
// one Lua script, atomic on the server (EVALSHA, loaded on first use).
type Redis struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedis returns a limiter over opts.Client. It does not contact Redis; an
// unreachable server shows as ErrUnavailable on each Take.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.Client == nil {
		return nil, errors.New("limits: RedisOptions.Client is nil (make one with state.NewRedisClient)")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Redis{c: opts.Client, prefix: opts.Prefix, now: opts.Now}, nil
}

// bucketScript is gcra (memory.go) in Lua, in microseconds on the server's
// clock. ARGV: interval in µs (may be fractional), burst. Returns {ok,
// remaining, retry after in µs}. The key expires when the bucket is full
// again, since a full bucket needs no state.
var bucketScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = now
local v = redis.call('GET', KEYS[1])
if v then
  tat = math.max(tonumber(v), now)
end
local nxt = tat + interval
local allowAt = nxt - burst * interval
if now < allowAt then
  return {0, 0, math.ceil(allowAt - now)}
end
redis.call('SET', KEYS[1], string.format('%.17g', nxt), 'PX', math.max(1, math.ceil((nxt - now) / 1000)))
return {1, math.floor((now - allowAt) / interval), 0}
`)

// windowScript counts one event in a window's key unless the window is used
// up. ARGV: limit, TTL in ms. Returns {ok, remaining}. The TTL is relative
// so that only the window's length, not this process's clock, meets the
// server's.
var windowScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
local n = 0
local v = redis.call('GET', KEYS[1])
if v then
  n = tonumber(v)
end
if n + 1 > limit then
  return {0, limit - n}
end
n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, limit - n}
`)

// windowGrace keeps a window's key a while after the window ends, so that a
// process whose clock lags still finds the count rather than a fresh key.
const windowGrace = time.Minute

// Take implements Limiter.
func (r *Redis) Take(ctx context.Context, key string, l Limit) (Decision, error) {
	if err := l.Validate(); err != nil {
		return Decision{}, err
	}
	if l.Kind == Bucket {
		us := float64(l.Period) / float64(l.Count) / float64(time.Microsecond)
		res, err := bucketScript.Run(ctx, r.c, []string{r.prefix + "b:" + key},
			strconv.FormatFloat(us, 'g', 17, 64), l.burst()).Int64Slice()
		if err != nil {
			return Decision{}, state.RedisError("rate limit script", err)
		}
		if len(res) != 3 {
			return Decision{}, fmt.Errorf("limits: the bucket script answered %d values, want 3", len(res))
		}
		return Decision{OK: res[0] == 1, Remaining: res[1], RetryAfter: time.Duration(res[2]) * time.Microsecond}, nil
	}
	now := r.now()
	start, end := l.window(now)
	k := r.prefix + "w:" + key + ":" + strconv.FormatInt(start.Unix(), 10)
	res, err := windowScript.Run(ctx, r.c, []string{k}, l.Count, (end.Sub(now) + windowGrace).Milliseconds()).Int64Slice()
	if err != nil {
		return Decision{}, state.RedisError("quota script", err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("limits: the quota script answered %d values, want 2", len(res))
	}
	d := Decision{OK: res[0] == 1, Remaining: max(res[1], 0)}
	if !d.OK {
		d.RetryAfter = end.Sub(now)
	}
	return d, nil
}
