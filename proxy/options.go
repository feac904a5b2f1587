package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Transport names given to the gateway in Identity.Transport.
const (
	transportStreamable   = "streamable-http"
	transportSSE          = "sse"
	transportReferenceSSE = "reference-sse"
)

// Defaults of transportOptions.
const (
	defaultHeartbeat   = 15 * time.Second
	defaultIdleTimeout = 30 * time.Minute
	defaultQueueSize   = 1024
	defaultReplay      = 256
)

// transportOptions tunes the HTTP transports. The zero value is ready to use.
type transportOptions struct {
	// Logger receives the transports' logs; default slog.Default().
	Logger *slog.Logger
	// Heartbeat is the interval of the ": ping" comments on open SSE
	// streams; default 15s. Besides keeping proxies from timing out idle
	// streams, a heartbeat is how a vanished client is noticed when its
	// connection cannot be watched (connwatch.go): fasthttp reports a
	// disconnect only as a failed write.
	Heartbeat time.Duration
	// OnSession, if set, is called with +1 when a session opens and -1 when
	// it closes (the metrics hook).
	OnSession func(delta int)
	// OnCall, if set, is called after the gateway answered a client request,
	// with the request's method label (see messageLabel) and the time the
	// answer took.
	OnCall func(method string, d time.Duration)
	// IdleTimeout closes a Streamable HTTP session that has had no request
	// in flight and no open stream for that long; default 30 minutes.
	IdleTimeout time.Duration
	// QueueSize bounds the messages waiting to be written on one SSE stream;
	// a client that falls further behind has its session closed (the
	// gateway is never blocked and nothing is dropped silently). Default 1024.
	QueueSize int
	// Replay is how many already written events each Streamable HTTP stream
	// keeps for a client that resumes it with Last-Event-ID; default 256.
	Replay int
	// limits, shared by every transport of a proxy, bounds their sessions;
	// nil: no limit.
	limits *sessionLimits
	// calls, shared by every transport of a proxy, follows the requests in
	// flight for a graceful stop; nil: not followed.
	calls *callTracker
}

func (o transportOptions) withDefaults() transportOptions {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = defaultHeartbeat
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.Replay <= 0 {
		o.Replay = defaultReplay
	}
	return o
}

// sessionCount reports a session opening (+1) or closing (-1) to the hook.
func (o transportOptions) sessionCount(delta int) {
	if o.OnSession != nil {
		o.OnSession(delta)
	}
}

// newSessionID returns a session id: 128 random bits from crypto/rand as 32
// hex digits (visible ASCII, as MCP requires).
func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("proxy: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return hex.EncodeToString(b[:])
}

// handle passes one parsed client message to a gateway session and
// reports how long the gateway took to answer a request: the latency a
// client sees, whether the answer then goes out as JSON or on an event
// stream. A request is followed for a graceful stop: while the proxy
// drains it is answered with an error at once, and one that runs past
// the drain time is cancelled with errProxyStopping, which is its answer.
func (o *transportOptions) handle(ctx context.Context, gs *gateway.Session, m *wire.Message) json.RawMessage {
	var out json.RawMessage
	o.handleThen(ctx, gs, m, func(resp json.RawMessage) { out = resp })
	return out
}

// handleThen is handle, with then given the answer (nil for none) while
// the request still counts as in flight: a graceful stop then waits until
// an answer is queued on its stream before it closes the streams.
func (o *transportOptions) handleThen(ctx context.Context, gs *gateway.Session, m *wire.Message, then func(json.RawMessage)) {
	if m.IsRequest() {
		tctx, end, err := o.calls.begin(ctx)
		if err != nil {
			then(wire.ErrorResponse(m.ID, errProxyDraining))
			return
		}
		defer end()
		ctx = tctx
	}
	start := time.Now()
	resp := gs.HandleMessage(ctx, m)
	if resp != nil && o.OnCall != nil {
		o.OnCall(messageLabel(m), time.Since(start))
	}
	then(resp)
}
