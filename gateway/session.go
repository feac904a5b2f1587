package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/suggest"
)

var (
	errClientCancelled = errors.New("cancelled by the client (notifications/cancelled)")
	errSessionClosed   = errors.New("gateway session closed")
)

// Session is one downstream session: a client of the gateway with its own
// view, identity and state. All methods are safe for concurrent use;
// Handle is meant to be called concurrently for concurrent requests.
type Session struct {
	g      *Gateway
	view   string          // "" for the aggregate
	id     engine.Identity // as given to Open
	out    Outbound        // may be nil
	sc     atomic.Pointer[scope]
	ctx    context.Context // ends when the session closes
	cancel context.CancelFunc
	privMu ctxMutex      // serializes starting private children
	done   chan struct{} // closed when Close has finished

	outMu     sync.Mutex // held while a message goes to out
	outClosed bool       // under outMu: Close has run, out gets nothing more

	// A modern (2026-07-28) request is served by a session of its own:
	// modern is its call (modern.go), and ups holds the upstreams it sees
	// in place of the shared ones (a dual-era server's modern twin).
	modern *modernCall
	ups    map[string]*upstream

	mu          sync.Mutex
	closed      bool
	initialized bool
	handshaken  bool                       // initialize was answered: a second one is refused
	listed      bool                       // the session asked for a list; it hears of restarts
	clientCaps  map[string]json.RawMessage // from the client's initialize; nil before it
	logLevel    int                        // -1: no logging/setLevel yet
	inflight    map[string]*request        // client requests being served, by id key
	seq         uint64
	subs        map[subKey]subState
	nextOut     int64
	pendingOut  map[string]chan answer // server→client requests awaiting the client, by our id key
	// priv holds the session's private children of per-session servers,
	// by server; see private.go.
	priv map[string]*privChild
	// lingering remembers, for a while, servers that requests cancelled by
	// this session went to: the server may still be working on them and ask
	// something on their behalf.
	lingering map[string]time.Time // server → until
}

// Open starts a downstream session. view "" is the aggregate of all allowed servers
// (names namespaced); a server name exposes that one server as it is (names unchanged).
// Unknown or disallowed view → error wrapping engine.ErrServerNotFound.
func (g *Gateway) Open(view string, id engine.Identity, out Outbound) (*Session, error) {
	return g.open(view, id, out, nil)
}

// open is Open, for a modern request's session too (modern is its call).
func (g *Gateway) open(view string, id engine.Identity, out Outbound, modern *modernCall) (*Session, error) {
	sc, err := g.table().scopeFor(view, id)
	if err != nil {
		return nil, err
	}
	s := &Session{
		g: g, view: view, id: id, out: out,
		logLevel: -1, inflight: map[string]*request{}, subs: map[subKey]subState{},
		pendingOut: map[string]chan answer{}, privMu: newCtxMutex(), done: make(chan struct{}), modern: modern,
	}
	s.sc.Store(sc)
	s.id.Servers = slices.Clone(id.Servers)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		s.cancel()
		return nil, notRunningf("the gateway is closed")
	}
	g.sessions[s] = struct{}{}
	return s, nil
}

// scope returns what the session may use now.
func (s *Session) scope() *scope { return s.sc.Load() }

// Identity returns the identity the session was opened with.
func (s *Session) Identity() engine.Identity {
	s.mu.Lock()
	id := s.id
	s.mu.Unlock()
	id.Servers = slices.Clone(id.Servers)
	return id
}

// SetClientInfo records the name and version the session's client gave in
// its initialize (clientInfo); the identity its requests carry then has
// them (ClientName, ClientVersion).
func (s *Session) SetClientInfo(name, version string) {
	s.mu.Lock()
	s.id.ClientName, s.id.ClientVersion = name, version
	s.mu.Unlock()
}

// View returns the session's view: a server's name, or "" for the aggregate.
func (s *Session) View() string { return s.view }

// Close ends the session: its in-flight requests are cancelled (upstream
// too), its subscriptions released, and nothing more goes to its Outbound.
// It does not wait for upstream unsubscriptions. A second Close waits for
// the first to finish.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	defer close(s.done)
	s.closed = true
	var subs []subKey
	for k, st := range s.subs {
		if u := s.g.upstream(k.server); st == subActive && u != nil && !u.perSession {
			subs = append(subs, k)
		}
	}
	s.subs = map[subKey]subState{}
	for _, rq := range s.inflight {
		rq.cancel(errSessionClosed)
	}
	s.mu.Unlock()
	s.outMu.Lock() // waits for a delivery under way
	s.outClosed = true
	s.outMu.Unlock()
	s.cancel()
	// A private child being started now sees the session closed and stops
	// it; wait for that, so that Gateway.Close can wait for every stop.
	if s.privMu.lock(context.Background()) == nil {
		s.privMu.unlock()
	}
	s.closePrivate()
	s.g.mu.Lock()
	delete(s.g.sessions, s)
	s.g.mu.Unlock()
	if len(subs) > 0 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), upkeepTimeout)
			defer cancel()
			for _, k := range subs {
				s.g.subDown(ctx, k)
			}
		}()
	}
}

// send delivers a message to the session's client unless it is closed.
// outMu makes Close wait for a delivery under way, so nothing reaches the
// Outbound after Close returns (an Outbound must not call Close itself).
func (s *Session) send(msg, related json.RawMessage) {
	if s.out == nil {
		return
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if !s.outClosed {
		s.out(msg, related)
	}
}

// checkServer says whether the session may use server.
func (s *Session) checkServer(server string) error {
	sc := s.scope()
	if sc.may[server] {
		return nil
	}
	return invalidParamsf("%s", unavailable(server, sc.servers))
}

// unavailable says a server cannot be used, the same way whether it does not
// exist or the caller may not use it, so that a limited token learns nothing
// of the servers it may not see. Suggestions come from the usable ones only.
func unavailable(server string, usable []string) string {
	msg := fmt.Sprintf("server %q is not available", server)
	if near := suggest.Closest(server, usable); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return msg
}
