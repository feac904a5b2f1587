package proxy

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Session limits
//
// One sessionLimits counts the proxy's open sessions over every transport
// and view (each transport's sessionTable holds a reference to it): at most
// maxPerCaller per caller, at most maxTotal in all. A session that would
// go over is refused before anything is done for it: HTTP 429 (per
// caller) or 503 (in all), with Retry-After and a JSON-RPC error
// (CodeRateLimited) naming the limit and its config key.
//
// The caller is the JWT subject when the identity has one, else the bearer
// token's name; with authentication off every caller is the same one
// (everyone on the machine shares the limit).

// sessionRetryAfter is the Retry-After of a refused session, in seconds:
// sessions end when clients close them or go idle, not on a schedule.
const sessionRetryAfter = 10

// sessionLimits counts open sessions per caller and in total.
type sessionLimits struct {
	maxPerCaller, maxTotal int

	mu       sync.Mutex
	total    int
	byCaller map[string]int
}

func newSessionLimits(maxPerCaller, maxTotal int) *sessionLimits {
	return &sessionLimits{maxPerCaller: maxPerCaller, maxTotal: maxTotal, byCaller: map[string]int{}}
}

// callerKey is the key sessions are counted under for id.
func callerKey(id engine.Identity) string {
	if id.Subject != "" {
		return "sub:" + id.Subject
	}
	return "token:" + id.Token
}

// acquire counts one more session of caller, or refuses it. A nil
// sessionLimits has no limit.
func (l *sessionLimits) acquire(caller string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.maxTotal:
		return refuse(fiber.StatusServiceUnavailable, wire.CodeRateLimited,
			"too many sessions: the proxy has %d open, its limit (sseProxy.sessions.maxTotal); close unused sessions or retry later", l.maxTotal).
			withData(map[string]any{"limit": "maxTotal", "configKey": "sseProxy.sessions.maxTotal", "max": l.maxTotal, "retryAfter": sessionRetryAfter}).
			withHeader(fiber.HeaderRetryAfter, strconv.Itoa(sessionRetryAfter))
	case l.byCaller[caller] >= l.maxPerCaller:
		return refuse(fiber.StatusTooManyRequests, wire.CodeRateLimited,
			"too many sessions: this caller has %d open, its limit (sseProxy.sessions.maxPerCaller); close unused sessions (DELETE, or end the SSE stream) or retry later", l.maxPerCaller).
			withData(map[string]any{"limit": "maxPerCaller", "configKey": "sseProxy.sessions.maxPerCaller", "max": l.maxPerCaller, "retryAfter": sessionRetryAfter}).
			withHeader(fiber.HeaderRetryAfter, strconv.Itoa(sessionRetryAfter))
	}
	l.total++
	l.byCaller[caller]++
	return nil
}

// release undoes one acquire of caller.
func (l *sessionLimits) release(caller string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byCaller[caller]--; l.byCaller[caller] <= 0 {
		delete(l.byCaller, caller)
	}
}

// open returns the sessions counted, in all and for caller.
func (l *sessionLimits) open(caller string) (total, mine int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.byCaller[caller]
}

// Graceful stop
//
// A callTracker follows the client requests being served, over every
// transport. When the proxy stops it drains: new sessions are refused
// (503) and new requests get a JSON-RPC error, while the requests in
// flight may finish within sseProxy.drainTimeout; those still running
// then are cancelled with errProxyStopping as the cause, which the gateway
// answers as that error, on the request's own stream or JSON answer.

// errProxyStopping is the error of a request the proxy stops serving.
var errProxyStopping = wire.Errorf(wire.CodeInternalError,
	"the proxy is shutting down: this request was still running when its drain time (sseProxy.drainTimeout) ran out; retry it once the proxy is back")

// errProxyDraining is the error of a request that arrives while the proxy drains.
var errProxyDraining = wire.Errorf(wire.CodeInternalError,
	"the proxy is shutting down and takes no new requests; retry once it is back")

// callTracker counts the requests in flight and cancels them on demand.
type callTracker struct {
	mu       sync.Mutex
	calls    map[*trackedCall]struct{}
	draining bool
	idle     chan struct{} // closed when calls empties while draining
}

type trackedCall struct{ cancel context.CancelCauseFunc }

func newCallTracker() *callTracker {
	return &callTracker{calls: map[*trackedCall]struct{}{}}
}

// begin registers a request; its context ends with errProxyStopping when
// the tracker cancels it. It fails with errProxyDraining while draining.
// A nil tracker tracks nothing.
func (t *callTracker) begin(ctx context.Context) (context.Context, func(), error) {
	if t == nil {
		return ctx, func() {}, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	c := &trackedCall{cancel: cancel}
	t.mu.Lock()
	if t.draining {
		t.mu.Unlock()
		cancel(nil)
		return nil, nil, errProxyDraining
	}
	t.calls[c] = struct{}{}
	t.mu.Unlock()
	return ctx, func() {
		t.mu.Lock()
		delete(t.calls, c)
		if t.draining && len(t.calls) == 0 && t.idle != nil {
			close(t.idle)
			t.idle = nil
		}
		t.mu.Unlock()
		cancel(nil)
	}, nil
}

// isDraining reports whether the proxy is stopping. A nil tracker never
// drains.
func (t *callTracker) isDraining() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.draining
}

// inFlight returns the number of requests being served.
func (t *callTracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

// drain refuses new requests from now on and waits until none is in
// flight or ctx ends; it reports whether none is.
func (t *callTracker) drain(ctx context.Context) bool {
	t.mu.Lock()
	t.draining = true
	if len(t.calls) == 0 {
		t.mu.Unlock()
		return true
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// cancelAll cancels every request in flight with errProxyStopping and
// waits, at most wait, for them to be answered.
func (t *callTracker) cancelAll(wait time.Duration) {
	t.mu.Lock()
	for c := range t.calls {
		c.cancel(errProxyStopping)
	}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	t.drain(ctx)
}
