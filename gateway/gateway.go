package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

// Outbound delivers to the downstream client a message it did not get as the
// direct response of Handle: notifications and server→client requests. related
// is the JSON id (raw JSON, e.g. `1` or `"abc"`) of the client request the
// message belongs to, or nil for session-level messages. It must not block for long.
type Outbound func(msg json.RawMessage, related json.RawMessage)

// Options configures a Gateway. The zero value exposes every server.
type Options struct {
	AllowedServers []string     // sseProxy.allowedServers; nil means every configured server
	Logger         *slog.Logger // default: slog.Default()
	// ListWait bounds how long the aggregate view waits for one server's
	// list (DefaultListWait when zero): a slower server is left out of the
	// answer, which names it, and its list goes on being fetched for the
	// next request.
	ListWait time.Duration
	// StateKey signs the requestState of the input_required results the
	// gateway makes (at least 32 bytes); default a random key of the
	// process. Give several gateways behind one load balancer the same key.
	StateKey []byte
}

// DefaultListWait is Options.ListWait's default.
const DefaultListWait = 5 * time.Second

// Timeouts of the gateway's own waits.
const (
	// serverRequestTimeout bounds how long a server's sampling, elicitation
	// or roots request waits for the client's answer.
	serverRequestTimeout = 5 * time.Minute
	// startWait bounds how long initialize and list requests wait for a
	// server that is (re)starting.
	startWait = 10 * time.Second
	// listTTL bounds how long the list of a server that does not announce
	// list_changed is cached.
	listTTL = 30 * time.Second
	// upkeepTimeout bounds the gateway's own upstream requests (re-subscribing
	// after a restart, unsubscribing after a session closed).
	upkeepTimeout = 30 * time.Second
)

// Gateway serves the servers of a Runner to downstream sessions; see the
// package documentation.
type Gateway struct {
	r        *engine.Runner
	logger   *slog.Logger
	listWait time.Duration
	allowed  []string // Options.AllowedServers
	tab      atomic.Pointer[table]
	reloadMu sync.Mutex // one reconfigured at a time

	stopEvents   func()
	stopReloads  func()
	twinHandlers []func() // remove the twins' notification handlers (under twinsMu)
	stopsMu      sync.Mutex
	stopsDone    *sync.Cond // signalled when stopsN drops to 0
	stopsN       int        // private children being stopped; Close waits for 0

	mu        sync.Mutex
	sessions  map[*Session]struct{}
	subs      map[subKey]*subEntry
	listeners map[*listener]struct{} // modern subscriptions/listen streams (listen.go)
	closed    bool

	twinsMu sync.Mutex
	twins   map[string]*upstream // the servers' modern processes (modern.go)
	pending pendingCalls         // modern calls waiting for the client's input (mrtr.go)
	stopCtx context.Context      // ends when the gateway closes
	stop    context.CancelFunc
}

// upstream is the gateway's state about one upstream server: a shared one,
// or a session's private child of a per-session server.
type upstream struct {
	name   string
	client *engine.Client
	lists  [numKinds]listCache

	logMu      ctxMutex              // serializes upstream logging/setLevel
	logWant    int                   // lowest level asked by a session; -1 none (under logMu)
	logApplied int                   // level set upstream (under logMu)
	logInit    *mcp.InitializeResult // the connection logApplied was set on

	removeHandler func() // stops routing the server's notifications here; nil for none

	perSession  bool          // "childModel": "per-session": client is unused, children are private
	private     bool          // this is a session's private child
	idle        time.Duration // sessionIdleTimeout (per-session)
	maxSessions int64         // maxSessions (per-session)
	privCount   int64         // private children running (under Gateway.mu)
}

func newUpstream(name string, c *engine.Client) *upstream {
	return &upstream{name: name, client: c, logMu: newCtxMutex(), logWant: -1, logApplied: -1}
}

// New returns a gateway over r's servers and installs itself with
// r.SetRequestHandler, so create it before starting the servers (whether
// a server may send sampling and elicitation requests is settled at its
// handshake). opts may be nil.
func New(r *engine.Runner, opts *Options) *Gateway {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ListWait <= 0 {
		o.ListWait = DefaultListWait
	}
	g := &Gateway{
		r:         r,
		logger:    o.Logger,
		listWait:  o.ListWait,
		allowed:   o.AllowedServers,
		sessions:  map[*Session]struct{}{},
		subs:      map[subKey]*subEntry{},
		listeners: map[*listener]struct{}{},
	}
	g.stopCtx, g.stop = context.WithCancel(context.Background())
	g.pending.init(o.StateKey)
	g.stopsDone = sync.NewCond(&g.stopsMu)
	g.tab.Store(g.buildTable(nil, func(string) bool { return true }))
	g.stopReloads = r.OnReconfigure(g.reconfigured)
	events, stop := r.Subscribe(64)
	g.stopEvents = stop
	go func() {
		for ev := range events {
			if ev.State == engine.StateRunning {
				g.serverUp(ev.Server)
			}
		}
	}()
	r.SetRequestHandler(g.onServerRequest)
	return g
}

// Close closes every session and stops following the runner's servers. The
// shared servers keep running; the sessions' private children of
// per-session servers are stopped (Close waits for them); the runner's
// request handler is removed.
func (g *Gateway) Close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	sessions := g.sessionList()
	g.mu.Unlock()
	g.stop()
	g.pending.closeAll()
	for _, s := range sessions {
		s.Close()
	}
	g.waitStops()
	g.stopEvents()
	g.stopReloads()
	g.reloadMu.Lock() // a reload under way has installed its handlers
	for _, u := range g.table().servers {
		if u.removeHandler != nil {
			u.removeHandler()
		}
	}
	g.reloadMu.Unlock()
	g.twinsMu.Lock()
	for _, rm := range g.twinHandlers {
		rm()
	}
	g.twinsMu.Unlock()
	g.r.SetRequestHandler(nil)
}

// sessionList returns the sessions; the caller holds g.mu.
func (g *Gateway) sessionList() []*Session {
	out := make([]*Session, 0, len(g.sessions))
	for s := range g.sessions {
		out = append(out, s)
	}
	return out
}

func (g *Gateway) snapshot() []*Session {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessionList()
}

// initResult returns a server's handshake result, waiting a little for a
// server that is (re)starting; the server is as rq sees it (its private
// child, for a per-session server).
func (g *Gateway) initResult(ctx context.Context, rq *request, name string) (*mcp.InitializeResult, error) {
	u := rq.upstream(name)
	if ir := u.client.InitializeResult(); ir != nil {
		return ir, nil
	}
	if u.perSession {
		if err := rq.privateErr(name); err != nil {
			return nil, err
		}
		return nil, notRunningf("server %q has a child per session and this session's could not start", name)
	}
	if !u.private {
		st, err := g.r.Status(name)
		if err != nil {
			return nil, err
		}
		switch st.State {
		case engine.StateStarting, engine.StateRestarting, engine.StateRunning:
		default:
			return nil, notRunningf("server %q is %s", name, st.State)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	return u.client.Initialize(ctx)
}

// ctxMutex is a mutex whose Lock gives up when ctx ends.
type ctxMutex chan struct{}

func newCtxMutex() ctxMutex { return make(ctxMutex, 1) }

func (m ctxMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (m ctxMutex) unlock() { <-m }
