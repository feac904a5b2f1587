package ttlmap

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func set[V any](m *Map[V], key string, v V, now, exp time.Time) error {
	return m.Update(key, now, func(V, time.Time, bool) (V, time.Time, bool) { return v, exp, true })
}

func TestCapacityAndExpiry(t *testing.T) {
	m := New[int](2)
	if err := set(m, "a", 1, t0, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := set(m, "b", 2, t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := set(m, "c", 3, t0, time.Time{}); !errors.Is(err, ErrFull) {
		t.Fatalf("third key in a map of 2: got %v, want ErrFull", err)
	}
	if err := set(m, "a", 10, t0, t0.Add(time.Second)); err != nil {
		t.Fatalf("an existing key must be writable when full: %v", err)
	}
	if _, ok := m.Get("a", t0.Add(time.Second)); ok {
		t.Fatal("a is expired at its expiry time but Get found it")
	}
	if err := set(m, "c", 3, t0.Add(time.Second), time.Time{}); err != nil {
		t.Fatalf("a's expiry should have made room: %v", err)
	}
	if v, ok := m.Get("b", t0.Add(time.Hour)); !ok || v != 2 {
		t.Fatalf("b (no expiry) = %v, %v; want 2, true", v, ok)
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
	if err := m.Update("b", t0, func(int, time.Time, bool) (int, time.Time, bool) { return 0, time.Time{}, false }); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get("b", t0); ok {
		t.Fatal("keep=false did not remove b")
	}
}

// TestAgainstModel runs random operations against a plain map and checks the
// heap-backed map agrees, so expiry bookkeeping cannot drift.
func TestAgainstModel(t *testing.T) {
	type mv struct {
		v   int
		exp time.Time
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const max = 16
	m := New[int](max)
	model := map[string]mv{}
	now := t0
	for i := range 20000 {
		now = now.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
		key := fmt.Sprintf("k%d", rng.IntN(40))
		for k, e := range model {
			if !e.exp.IsZero() && !now.Before(e.exp) {
				delete(model, k)
			}
		}
		switch rng.IntN(4) {
		case 0:
			m.Delete(key)
			delete(model, key)
		case 1:
			got, ok := m.Get(key, now)
			want, wok := model[key]
			if ok != wok || (ok && got != want.v) {
				t.Fatalf("op %d: Get(%s) = %v,%v; model %v,%v", i, key, got, ok, want.v, wok)
			}
		default:
			var exp time.Time
			if rng.IntN(3) > 0 {
				exp = now.Add(time.Duration(1+rng.IntN(5000)) * time.Millisecond)
			}
			v := rng.Int()
			err := set(m, key, v, now, exp)
			_, exists := model[key]
			switch {
			case !exists && len(model) >= max:
				if !errors.Is(err, ErrFull) {
					t.Fatalf("op %d: want ErrFull with %d live keys, got %v", i, len(model), err)
				}
			case err != nil:
				t.Fatalf("op %d: %v", i, err)
			default:
				model[key] = mv{v, exp}
			}
		}
	}
}
