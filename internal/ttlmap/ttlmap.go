// Package ttlmap holds a bounded in-memory map whose entries expire.
//
// It is the memory behind the in-memory state store and rate limiter: every
// operation is a read-modify-write under one lock, so callers get atomic
// counters and buckets without a lock of their own. Expired entries are
// dropped as writes happen (a min-heap ordered by expiry finds them without a
// scan), so memory stays bounded by MaxKeys without a background goroutine.
package ttlmap

import (
	"container/heap"
	"errors"
	"sync"
	"time"
)

// ErrFull is returned by Update when a new key would exceed the map's
// capacity and no entry has expired to make room.
var ErrFull = errors.New("ttlmap: full")

// Map is a bounded map from string keys to values of type V, each with an
// optional expiry. The zero value is not usable; call New. A Map is safe for
// concurrent use.
type Map[V any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*entry[V]
	byExp expiryHeap[V]
}

type entry[V any] struct {
	key     string
	value   V
	expires time.Time // zero: never
	index   int       // position in the heap, -1 when not in it
}

// New returns an empty map holding at most max keys (max <= 0 means 1).
func New[V any](max int) *Map[V] {
	if max <= 0 {
		max = 1
	}
	return &Map[V]{max: max, items: make(map[string]*entry[V])}
}

// Get returns the value of key unless it is absent or expired at now.
func (m *Map[V]) Get(key string, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok || expired(e, now) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Update calls fn with the current value of key and its expiry (ok is false
// when the key is absent or expired at now) while holding the map's lock, and
// stores what fn returns: the new value and its expiry (the zero time for
// none). When keep
// is false the key is removed instead. Update returns ErrFull, without
// calling fn, when key is new and the map is full of unexpired entries.
func (m *Map[V]) Update(key string, now time.Time, fn func(v V, expires time.Time, ok bool) (nv V, nexp time.Time, keep bool)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purge(now)
	e, ok := m.items[key]
	if !ok && len(m.items) >= m.max {
		return ErrFull
	}
	var cur V
	var curExp time.Time
	if ok {
		cur, curExp = e.value, e.expires
	}
	nv, exp, keep := fn(cur, curExp, ok)
	if !keep {
		if ok {
			m.remove(e)
		}
		return nil
	}
	if !ok {
		e = &entry[V]{key: key, index: -1}
		m.items[key] = e
	}
	e.value = nv
	m.setExpiry(e, exp)
	return nil
}

// Delete removes key.
func (m *Map[V]) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		m.remove(e)
	}
}

// Len returns the number of entries, expired ones not yet dropped included.
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

func expired[V any](e *entry[V], now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// purge drops every entry expired at now. Each entry is popped once, so the
// cost is amortised over the writes that created them.
func (m *Map[V]) purge(now time.Time) {
	for len(m.byExp) > 0 && expired(m.byExp[0], now) {
		m.remove(m.byExp[0])
	}
}

func (m *Map[V]) remove(e *entry[V]) {
	if e.index >= 0 {
		heap.Remove(&m.byExp, e.index)
	}
	delete(m.items, e.key)
}

func (m *Map[V]) setExpiry(e *entry[V], exp time.Time) {
	e.expires = exp
	switch {
	case exp.IsZero() && e.index >= 0:
		heap.Remove(&m.byExp, e.index)
	case exp.IsZero():
	case e.index >= 0:
		heap.Fix(&m.byExp, e.index)
	default:
		heap.Push(&m.byExp, e)
	}
}

// expiryHeap orders entries by expiry, soonest first; it implements
// heap.Interface and keeps each entry's index current.
type expiryHeap[V any] []*entry[V]

func (h expiryHeap[V]) Len() int           { return len(h) }
func (h expiryHeap[V]) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap[V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap[V]) Push(x any) {
	e := x.(*entry[V])
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap[V]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
