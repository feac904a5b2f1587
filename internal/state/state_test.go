package state

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// fakeClock is a settable clock for the memory store.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// backend is one Store under test with a way to let time pass: the memory
// store's clock is moved; Redis expires keys in real time, so its tests use
// short TTLs and poll.
type backend struct {
	name  string
	store Store
	// expired reports whether key has disappeared once ttl has passed.
	expired func(t *testing.T, key string, ttl time.Duration) bool
	// ttlOf returns the remaining TTL of key (-1 for none).
	ttlOf func(t *testing.T, key string) time.Duration
}

func memoryBackend(t *testing.T) backend {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{MaxKeys: 1000, Now: clock.now})
	return backend{
		name:  "memory",
		store: m,
		expired: func(t *testing.T, key string, ttl time.Duration) bool {
			clock.advance(ttl)
			_, ok, err := m.Get(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			return !ok
		},
		ttlOf: func(t *testing.T, key string) time.Duration {
			var exp time.Time
			_ = m.m.Update(key, clock.now(), func(v []byte, e time.Time, ok bool) ([]byte, time.Time, bool) {
				exp = e
				return v, e, ok
			})
			if exp.IsZero() {
				return -1
			}
			return exp.Sub(clock.now())
		},
	}
}

func redisBackend(t *testing.T) (backend, *redistest.Server, *redis.Client) {
	srv := redistest.Start(t)
	c, err := NewRedisClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := NewRedis(RedisOptions{Client: c, Prefix: "test:"})
	if err != nil {
		t.Fatal(err)
	}
	return backend{
		name:  "redis",
		store: s,
		expired: func(t *testing.T, key string, ttl time.Duration) bool {
			deadline := time.Now().Add(ttl + 5*time.Second)
			for time.Now().Before(deadline) {
				_, ok, err := s.Get(context.Background(), key)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					return true
				}
				time.Sleep(10 * time.Millisecond)
			}
			return false
		},
		ttlOf: func(t *testing.T, key string) time.Duration {
			d, err := c.PTTL(context.Background(), "test:"+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if d < 0 {
				return -1
			}
			return d
		},
	}, srv, c
}

func backends(t *testing.T) []backend {
	b, _, _ := redisBackend(t)
	return []backend{memoryBackend(t), b}
}

func TestStoreSemantics(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.store
			t.Run("set get delete", func(t *testing.T) {
				if _, ok, err := s.Get(ctx, "missing"); ok || err != nil {
					t.Fatalf("Get(missing) = %v, %v; want absent", ok, err)
				}
				if err := s.Set(ctx, "a", []byte("hello"), 0); err != nil {
					t.Fatal(err)
				}
				v, ok, err := s.Get(ctx, "a")
				if err != nil || !ok || string(v) != "hello" {
					t.Fatalf("Get(a) = %q, %v, %v", v, ok, err)
				}
				if b.ttlOf(t, "a") != -1 {
					t.Fatal("Set with ttl 0 gave the key an expiry")
				}
				if err := s.Delete(ctx, "a"); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete(ctx, "a"); err != nil {
					t.Fatalf("deleting a missing key: %v", err)
				}
				if _, ok, _ := s.Get(ctx, "a"); ok {
					t.Fatal("a survived Delete")
				}
			})
			t.Run("set expires and replaces expiry", func(t *testing.T) {
				if err := s.Set(ctx, "e", []byte("1"), time.Hour); err != nil {
					t.Fatal(err)
				}
				if d := b.ttlOf(t, "e"); d <= 59*time.Minute || d > time.Hour {
					t.Fatalf("ttl after Set(1h) = %v", d)
				}
				if err := s.Set(ctx, "e", []byte("2"), 0); err != nil {
					t.Fatal(err)
				}
				if d := b.ttlOf(t, "e"); d != -1 {
					t.Fatalf("Set(ttl 0) over a key with expiry left ttl %v", d)
				}
				if err := s.Set(ctx, "short", []byte("x"), 150*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if !b.expired(t, "short", 150*time.Millisecond) {
					t.Fatal("short did not expire")
				}
			})
			t.Run("incr sets ttl only on create", func(t *testing.T) {
				v, err := s.Incr(ctx, "c", 5, time.Hour)
				if err != nil || v != 5 {
					t.Fatalf("Incr new = %d, %v; want 5", v, err)
				}
				v, err = s.Incr(ctx, "c", -2, 100*time.Hour)
				if err != nil || v != 3 {
					t.Fatalf("Incr existing = %d, %v; want 3", v, err)
				}
				if d := b.ttlOf(t, "c"); d <= 0 || d > time.Hour {
					t.Fatalf("ttl after second Incr = %v, want the first one's (<= 1h)", d)
				}
				if _, err := s.Incr(ctx, "nottl", 1, 0); err != nil {
					t.Fatal(err)
				}
				if d := b.ttlOf(t, "nottl"); d != -1 {
					t.Fatalf("Incr with ttl 0 set ttl %v", d)
				}
				if _, err := s.Incr(ctx, "ce", 1, 150*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if !b.expired(t, "ce", 150*time.Millisecond) {
					t.Fatal("counter did not expire")
				}
				if v, err := s.Incr(ctx, "ce", 1, time.Hour); err != nil || v != 1 {
					t.Fatalf("Incr after expiry = %d, %v; want a fresh 1", v, err)
				}
			})
			t.Run("incr on text", func(t *testing.T) {
				if err := s.Set(ctx, "txt", []byte("abc"), 0); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Incr(ctx, "txt", 1, 0); !errors.Is(err, ErrNotInteger) {
					t.Fatalf("Incr on text: %v, want ErrNotInteger", err)
				}
			})
			t.Run("concurrent incr", func(t *testing.T) {
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						for range 25 {
							if _, err := s.Incr(ctx, "n", 1, time.Hour); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				v, ok, err := s.Get(ctx, "n")
				if err != nil || !ok || string(v) != "500" {
					t.Fatalf("after 500 concurrent Incr: %q, %v, %v", v, ok, err)
				}
			})
			t.Run("json", func(t *testing.T) {
				type doc struct {
					N    int      `json:"n"`
					Tags []string `json:"tags"`
				}
				if err := SetJSON(ctx, s, "j", doc{3, []string{"x"}}, time.Hour); err != nil {
					t.Fatal(err)
				}
				var got doc
				ok, err := GetJSON(ctx, s, "j", &got)
				if err != nil || !ok || got.N != 3 || len(got.Tags) != 1 {
					t.Fatalf("GetJSON = %+v, %v, %v", got, ok, err)
				}
				if err := s.Set(ctx, "notjson", []byte("{"), 0); err != nil {
					t.Fatal(err)
				}
				if _, err := GetJSON(ctx, s, "notjson", &got); err == nil || !strings.Contains(err.Error(), `"notjson"`) {
					t.Fatalf("GetJSON on bad JSON: %v", err)
				}
			})
			t.Run("bad input", func(t *testing.T) {
				tests := []struct {
					name string
					err  error
					want error
				}{
					{"empty key", s.Set(ctx, "", nil, 0), ErrBadKey},
					{"long key", s.Set(ctx, strings.Repeat("k", MaxKeyLen+1), nil, 0), ErrBadKey},
					{"large value", s.Set(ctx, "big", make([]byte, DefaultMaxValueSize+1), 0), ErrTooLarge},
				}
				for _, tt := range tests {
					if !errors.Is(tt.err, tt.want) {
						t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
					}
				}
				if err := s.Set(ctx, "neg", nil, -time.Second); err == nil {
					t.Error("negative ttl accepted")
				}
			})
		})
	}
}

func TestMemoryFullRefusesNewKeys(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{MaxKeys: 2, Now: clock.now})
	if err := m.Set(ctx, "a", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Incr(ctx, "b", 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, "c", nil, 0); !errors.Is(err, ErrFull) {
		t.Fatalf("Set of a third key: %v, want ErrFull", err)
	}
	if _, err := m.Incr(ctx, "c", 1, 0); !errors.Is(err, ErrFull) {
		t.Fatalf("Incr of a third key: %v, want ErrFull", err)
	}
	if _, err := m.Incr(ctx, "b", 1, 0); err != nil {
		t.Fatalf("existing keys stay writable when full: %v", err)
	}
	clock.advance(time.Minute)
	if err := m.Set(ctx, "c", nil, 0); err != nil {
		t.Fatalf("a's expiry should have made room: %v", err)
	}
}

func TestRedisPrefixAndUnavailable(t *testing.T) {
	ctx := context.Background()
	b, srv, raw := redisBackend(t)
	if err := b.store.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, "test:k").Result(); err != nil || v != "v" {
		t.Fatalf("raw GET test:k = %q, %v; the prefix was not applied", v, err)
	}
	srv.Stop()
	ops := map[string]error{}
	_, _, ops["Get"] = b.store.Get(ctx, "k")
	ops["Set"] = b.store.Set(ctx, "k", []byte("v"), 0)
	_, ops["Incr"] = b.store.Incr(ctx, "k", 1, time.Second)
	ops["Delete"] = b.store.Delete(ctx, "k")
	for op, err := range ops {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", op, err)
		}
	}
	if _, err := NewRedis(RedisOptions{}); err == nil {
		t.Error("NewRedis without a client succeeded")
	}
	if _, err := NewRedisClient("http://nope"); err == nil {
		t.Error("NewRedisClient accepted an http URL")
	}
}
