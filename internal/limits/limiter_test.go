package limits

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/state"
	"github.com/redis/go-redis/v9"
)

type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var ctx = context.Background()

func redisClient(t testing.TB, srv *redistest.Server) *redis.Client {
	c, err := state.NewRedisClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newRedis(t testing.TB, c redis.UniversalClient, now func() time.Time) *Redis {
	r, err := NewRedis(RedisOptions{Client: c, Prefix: "lim:", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func take(t *testing.T, l Limiter, key string, lim Limit) Decision {
	t.Helper()
	d, err := l.Take(ctx, key, lim)
	if err != nil {
		t.Fatalf("Take(%s, %v): %v", key, lim, err)
	}
	return d
}

// TestBackendsAgree runs the same sequences on both backends. Quota windows
// follow the injected clock in both; buckets use the memory limiter's clock
// or Redis's own, so the bucket sequences avoid refills (a rate of one per
// hour) except where a test waits for one.
func TestBackendsAgree(t *testing.T) {
	srv := redistest.Start(t)
	start := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock(start)
			var l Limiter = NewMemory(MemoryOptions{Now: clock.now})
			if name == "redis" {
				l = newRedis(t, redisClient(t, srv), clock.now)
			}
			t.Run("bucket burst then refuse", func(t *testing.T) {
				lim := TokenBucket(1, time.Hour, 3)
				for i, want := range []int64{2, 1, 0} {
					d := take(t, l, "b1", lim)
					if !d.OK || d.Remaining != want {
						t.Fatalf("take %d: %+v, want OK with %d remaining", i+1, d, want)
					}
				}
				d := take(t, l, "b1", lim)
				if d.OK || d.RetryAfter <= 59*time.Minute || d.RetryAfter > time.Hour {
					t.Fatalf("take 4: %+v, want refused with RetryAfter about 1h", d)
				}
				if d := take(t, l, "b2", lim); !d.OK {
					t.Fatal("another key shares b1's bucket")
				}
			})
			t.Run("quota window and rollover", func(t *testing.T) {
				lim := Quota(2, time.Hour)
				for i, want := range []int64{1, 0} {
					if d := take(t, l, "q", lim); !d.OK || d.Remaining != want {
						t.Fatalf("take %d: %+v", i+1, d)
					}
				}
				d := take(t, l, "q", lim)
				if d.OK || d.RetryAfter != time.Hour {
					t.Fatalf("take 3 at the window's start: %+v, want refused, retry after 1h", d)
				}
				clock.advance(59 * time.Minute)
				if d := take(t, l, "q", lim); d.OK || d.RetryAfter != time.Minute {
					t.Fatalf("take at 59m: %+v, want refused, retry after 1m", d)
				}
				clock.advance(time.Minute)
				if d := take(t, l, "q", lim); !d.OK || d.Remaining != 1 {
					t.Fatalf("take in the next window: %+v, want OK with 1 remaining", d)
				}
			})
			t.Run("monthly quota", func(t *testing.T) {
				clock.ns.Store(time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC).UnixNano())
				lim := MonthlyQuota(1)
				if d := take(t, l, "m", lim); !d.OK {
					t.Fatalf("first take: %+v", d)
				}
				if d := take(t, l, "m", lim); d.OK || d.RetryAfter != time.Minute {
					t.Fatalf("second take a minute before March: %+v, want retry after 1m", d)
				}
				clock.advance(time.Minute)
				if d := take(t, l, "m", lim); !d.OK {
					t.Fatalf("take on March 1st: %+v", d)
				}
			})
			t.Run("invalid limit", func(t *testing.T) {
				if _, err := l.Take(ctx, "x", Limit{Kind: Bucket, Count: 0, Period: time.Second}); err == nil {
					t.Fatal("a zero count was accepted")
				}
			})
		})
	}
}

func TestBucketRefills(t *testing.T) {
	// Memory: exact, with the fake clock.
	clock := newFakeClock(time.Unix(1e9, 0))
	m := NewMemory(MemoryOptions{Now: clock.now})
	lim := TokenBucket(10, time.Second, 2) // a token every 100ms
	take(t, m, "k", lim)
	take(t, m, "k", lim)
	d := take(t, m, "k", lim)
	if d.OK || d.RetryAfter != 100*time.Millisecond {
		t.Fatalf("third take: %+v, want refused, retry after 100ms", d)
	}
	clock.advance(100 * time.Millisecond)
	if d := take(t, m, "k", lim); !d.OK || d.Remaining != 0 {
		t.Fatalf("after 100ms: %+v, want one token", d)
	}
	clock.advance(time.Hour)
	if d := take(t, m, "k", lim); !d.OK || d.Remaining != 1 {
		t.Fatalf("after an hour: %+v, want a full bucket (burst 2, 1 left)", d)
	}

	// Redis: on the server's clock, so wait for the token by polling.
	r := newRedis(t, redisClient(t, redistest.Start(t)), nil)
	take(t, r, "k", lim)
	take(t, r, "k", lim)
	d = take(t, r, "k", lim)
	if d.OK || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("redis third take: %+v, want refused, retry after <= 100ms", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !take(t, r, "k", lim).OK {
		if time.Now().After(deadline) {
			t.Fatal("redis bucket did not refill within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisSharedExactly is two limiters with their own connection pools, as
// two processes would have, racing on one limit: exactly the burst passes.
func TestRedisSharedExactly(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedis(t, redisClient(t, srv), nil)
	b := newRedis(t, redisClient(t, srv), nil)
	for _, lim := range []Limit{TokenBucket(1, time.Hour, 10), Quota(10, time.Hour)} {
		t.Run(lim.Kind.String(), func(t *testing.T) {
			var ok, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range 20 {
				l := a
				if i%2 == 1 {
					l = b
				}
				wg.Go(func() {
					d, err := l.Take(ctx, "shared-"+lim.Kind.String(), lim)
					switch {
					case err != nil:
						t.Error(err)
					case d.OK:
						ok.Add(1)
					default:
						refused.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 10 || refused.Load() != 10 {
				t.Fatalf("20 concurrent takes from two limiters: %d ok, %d refused; want exactly 10 and 10", ok.Load(), refused.Load())
			}
		})
	}
}

func TestMemoryConcurrentExactly(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if d, err := m.Take(ctx, "k", TokenBucket(1, time.Hour, 10)); err == nil && d.OK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 {
		t.Fatalf("50 concurrent takes with burst 10: %d ok", ok.Load())
	}
}

func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, redisClient(t, srv), nil)
	lim := TokenBucket(1, time.Hour, 5)
	take(t, r, "k", lim)
	srv.Stop()
	for _, l := range []Limit{lim, Quota(5, time.Hour)} {
		if _, err := r.Take(ctx, "k", l); !errors.Is(err, ErrUnavailable) || !errors.Is(err, state.ErrUnavailable) {
			t.Fatalf("%v with Redis down: %v, want ErrUnavailable", l.Kind, err)
		}
	}
	if _, err := NewRedis(RedisOptions{}); err == nil {
		t.Fatal("NewRedis without a client succeeded")
	}
}

func TestMemoryBounded(t *testing.T) {
	clock := newFakeClock(time.Unix(1e9, 0))
	m := NewMemory(MemoryOptions{MaxKeys: 2, Now: clock.now})
	lim := TokenBucket(1, time.Second, 1)
	take(t, m, "a", lim)
	take(t, m, "b", lim)
	if _, err := m.Take(ctx, "c", lim); !errors.Is(err, ErrFull) {
		t.Fatalf("third key: %v, want ErrFull", err)
	}
	if d := take(t, m, "a", lim); d.OK {
		t.Fatal("a's bucket should still be empty")
	}
	clock.advance(time.Second) // a and b refilled: they hold no state any more
	if _, err := m.Take(ctx, "c", lim); err != nil {
		t.Fatalf("after refill the idle keys should be gone: %v", err)
	}
	if n := m.m.Len(); n != 1 {
		t.Fatalf("%d keys held, want 1 (only c)", n)
	}
}

func BenchmarkTakeMemory(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	lim := TokenBucket(1_000_000, time.Second, 1_000_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Take(ctx, "subject|alice", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTakeRedis(b *testing.B) {
	srv := redistest.Start(b)
	r := newRedis(b, redisClient(b, srv), nil)
	for _, lim := range []Limit{TokenBucket(1_000_000, time.Second, 1_000_000), Quota(1_000_000_000, time.Hour)} {
		b.Run(lim.Kind.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Take(ctx, "subject|alice", lim); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
