package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MiddlewareStats is what a Meter counted of one middleware (a hook, a
// filter) since it was installed.
type MiddlewareStats struct {
	Name   string `json:"name"`   // e.g. "policy.js"
	Kind   string `json:"kind"`   // e.g. "hook", "filter"
	Calls  uint64 `json:"calls"`  // requests it handled
	Denied uint64 `json:"denied"` // requests it refused (a DeniedError of its own)
	Failed uint64 `json:"failed"` // requests it failed (a HookError of its own)
	// P50 and P99 are percentiles of its own time per request (the time
	// of the rest of the chain and the server not counted) over its last
	// meterWindow requests; zero before its first.
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
}

// meterWindow is how many recent durations a Meter keeps for percentiles.
const meterWindow = 1024

// Meter counts the calls, refusals and failures of one middleware and the
// time it spends itself. Wrap the middleware with it before Runner.Use.
// It is safe for concurrent use.
type Meter struct {
	name, kind           string
	calls, denied, fails atomic.Uint64

	mu   sync.Mutex
	ring [meterWindow]time.Duration
	n    int // durations recorded, capped only by overflow of int
}

// NewMeter returns a Meter for the middleware named name, of kind kind
// ("hook", "filter", ...).
func NewMeter(name, kind string) *Meter { return &Meter{name: name, kind: kind} }

// meterFrame is one request's time inside the rest of the chain, kept in
// its context by Wrap.
type meterFrame struct {
	inner   time.Duration
	nextErr error
}

// Wrap returns mw measured by m. A refusal or failure is the
// middleware's own when it is not the error the rest of the chain
// returned.
func (m *Meter) Wrap(mw Middleware) Middleware {
	return func(next Handler) Handler {
		inner := mw(func(ctx context.Context, req *Request) (json.RawMessage, error) {
			f, _ := ctx.Value(m).(*meterFrame)
			start := time.Now()
			res, err := next(ctx, req)
			if f != nil {
				f.inner += time.Since(start)
				f.nextErr = err
			}
			return res, err
		})
		return func(ctx context.Context, req *Request) (json.RawMessage, error) {
			f := &meterFrame{}
			start := time.Now()
			res, err := inner(context.WithValue(ctx, m, f), req)
			m.observe(time.Since(start)-f.inner, err, f.nextErr)
			return res, err
		}
	}
}

func (m *Meter) observe(d time.Duration, err, nextErr error) {
	m.calls.Add(1)
	if err != nil && err != nextErr {
		switch {
		case errors.Is(err, ErrDenied):
			m.denied.Add(1)
		case errors.Is(err, ErrHook):
			m.fails.Add(1)
		}
	}
	m.mu.Lock()
	m.ring[m.n%meterWindow] = max(d, 0)
	m.n++
	m.mu.Unlock()
}

// Stats returns what m counted so far.
func (m *Meter) Stats() MiddlewareStats {
	st := MiddlewareStats{Name: m.name, Kind: m.kind, Calls: m.calls.Load(), Denied: m.denied.Load(), Failed: m.fails.Load()}
	m.mu.Lock()
	window := slices.Clone(m.ring[:min(m.n, meterWindow)])
	m.mu.Unlock()
	if len(window) > 0 {
		slices.Sort(window)
		st.P50 = window[(len(window)-1)*50/100]
		st.P99 = window[(len(window)-1)*99/100]
	}
	return st
}
