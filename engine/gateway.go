// Logging and sampling are deprecated only from MCP 2026-07-28 on; in
// 2025-11-25, the version the gateway speaks, they are current.
//lint:file-ignore SA1019 see above

package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/suggest"
)

// Identity says who calls: the gateway's sessions carry the proxy's, and
// middleware and hooks read it from Request.Caller.
type Identity struct {
	Token     string   // name of the bearer token used ("" when auth is off)
	Session   string   // the transport's session id
	Transport string   // "streamable-http", "sse", "reference-sse", "go", "cli", "workflow"
	Servers   []string // if non-nil, the only servers this caller may use (the token's limit)
}

// Outbound delivers to the downstream client a message it did not get as the
// direct response of Handle: notifications and server→client requests. related
// is the JSON id (raw JSON, e.g. `1` or `"abc"`) of the client request the
// message belongs to, or nil for session-level messages. It must not block for long.
type Outbound func(msg json.RawMessage, related json.RawMessage)

// GatewayOptions configures a Gateway. The zero value exposes every server.
type GatewayOptions struct {
	AllowedServers []string     // sseProxy.allowedServers; nil means every configured server
	Logger         *slog.Logger // default: the Runner's logger
}

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

// JSON-RPC codes the gateway answers with, besides the standard ones.
const (
	codeParseError       = -32700
	codeInvalidRequest   = -32600
	codeRequestTimeout   = -32001 // an implementation-defined code
	codeResourceNotFound = -32002 // MCP's resource not found
	codeRequestCancelled = -32800 // as in LSP: the client cancelled the request
)

var (
	errClientCancelled = errors.New("cancelled by the client (notifications/cancelled)")
	errSessionClosed   = errors.New("gateway session closed")
)

// Gateway is the one logical MCP server that front-ends (the HTTP proxy, Go
// programs) talk to: every allowed server of a Runner, seen through
// downstream sessions that never see each other's traffic. Each server has
// one child process and one [Client], shared by all sessions (except servers
// with "childModel": "per-session", which have a private child per session:
// see "Per-session servers" below and gateway_persession.go); the gateway
// keeps per-session state (initialize, log level, subscriptions, progress
// tokens, in-flight requests) so that nothing reaches a session that did not
// ask for it.
//
// # Views
//
// A session opens either the aggregate view (all allowed servers at once,
// tool and prompt names namespaced) or the view of one server, which passes
// every request through as it is (cursors, names and unknown methods
// included) except those the gateway must answer per session: initialize,
// ping, logging/setLevel and resources/(un)subscribe.
//
// # Namespacing
//
// In the aggregate view a tool or prompt is called <prefix>__<name>, within
// 64 characters of [A-Za-z0-9_-]:
//
//   - prefix is the server's name when that is at most 24 characters of
//     [A-Za-z0-9_-], holds no "__" and does not end in '_'. Otherwise it is
//     the name with other characters turned into '_', runs of '_' collapsed,
//     cut to 17 characters, then "_" and the first 6 hex digits of the
//     SHA-256 of the server's name ("my.server" → "my_server_1a2b3c"). In the
//     rare case two servers still get the same prefix, the later in sorted
//     order gets a 12-digit hash.
//   - name is the item's own name when it is valid and fits in what is left
//     (64 - len(prefix) - 2); otherwise it is sanitized the same way, cut, and
//     followed by "_" and 6 hex digits of the SHA-256 of the original name.
//     Names are assigned in sorted order of the originals; a name already
//     taken within the server gets a 12-digit hash instead.
//
// Because a prefix never contains "__" nor ends in '_', the first "__" of a
// namespaced name separates server and item, so names of different servers
// never collide, and a name depends only on its server's name and its own
// (plus, for the hashed collision case, the server's other names).
// Everything else about a listed tool or prompt is kept byte for byte; only
// "name" is rewritten. Resources and templates keep their URIs: the gateway
// routes resources/read, resources/(un)subscribe and completion/complete by
// the URI's owner (a listed resource, else the first server, in sorted order,
// with a matching template; a URI offered by two servers goes to the first).
// tools/call also takes the reference's params {server, tool or name,
// arguments}, which call the server's tool under its own name.
//
// Aggregate lists come in one page (no nextCursor): they are merged from
// every server's complete, cached list. Caches follow the servers'
// notifications/*/list_changed (which the gateway forwards to the sessions
// whose view includes the server); a server that does not announce
// list_changed is re-listed after 30 s, and an unknown name causes one
// re-listing before it is refused.
//
// # Per-session behaviour
//
//   - initialize is answered by the gateway: the version is the client's if
//     mcpscript supports it, else [LatestProtocolVersion]; the rest is the
//     server's cached handshake (single view) or the union of the servers'
//     capabilities (aggregate). Requests before initialize are served anyway.
//   - Progress: the client's progress token goes upstream as a token of the
//     shared connection's own; notifications come back with the client's
//     token, to the requesting session only, related to its request.
//   - notifications/cancelled from the client cancels its request upstream.
//   - Log messages are opt-in: a session gets a server's notifications/message
//     only after logging/setLevel, and only at or above its level. Upstream,
//     the gateway lowers each server's level to the lowest any session asked
//     for (it never raises it again).
//   - Subscriptions are reference counted upstream; notifications/resources/updated
//     goes only to the sessions subscribed to that URI.
//   - A server's own requests (sampling, elicitation, roots) go to the one
//     session that has requests in flight to that server, related to its
//     oldest tools/call (else its oldest request). When no session or several
//     sessions do, the request cannot be attributed and the server gets a
//     JSON-RPC error (-32603) saying so.
//   - Other notifications from servers are dropped: they cannot be
//     attributed to a session.
//
// # Per-session servers
//
// A server with "childModel": "per-session" is not started by the Runner.
// Each session that uses it gets a private child, started on the session's
// first request that reaches the server (a single-server view: its first
// request other than ping, initialize included; the aggregate view: its
// first request other than ping starts one for every per-session server it
// may use, leaving out, with a warning, those at their cap). Its progress,
// requests (sampling, elicitation, roots: always to the owning session, never
// ambiguous), list_changed, resources/updated and log messages go to that
// session only, and its lists are cached for that session only. The child is
// stopped when the session closes, or when the session has not used it for
// sessionIdleTimeout (default 10m) and holds no subscription on it; the next
// request starts a new one. At most maxSessions (default 16) private
// children of a server run at once: a request that needs one more gets
// JSON-RPC error -32603 "server "x" has reached its cap of N per-session
// children (maxSessions)…".
type Gateway struct {
	r       *Runner
	logger  *slog.Logger
	names   []string             // the servers the gateway exposes, sorted
	servers map[string]*gwServer // by name, for each of names
	prefix  map[string]string    // namespace prefix of every configured server

	stopEvents func()
	removes    []func()
	stopsMu    sync.Mutex
	stopsDone  *sync.Cond // signalled when stopsN drops to 0
	stopsN     int        // private children being stopped; Close waits for 0

	mu       sync.Mutex
	sessions map[*GatewaySession]struct{}
	subs     map[subKey]*subEntry
	closed   bool
}

// gwServer is the gateway's state about one upstream server.
type gwServer struct {
	name   string
	client *Client
	lists  [numKinds]listCache

	logMu      ctxMutex              // serializes upstream logging/setLevel
	logWant    int                   // lowest level asked by a session; -1 none (under logMu)
	logApplied int                   // level set upstream (under logMu)
	logInit    *mcp.InitializeResult // the connection logApplied was set on

	perSession  bool          // "childModel": "per-session": client is unused, children are private
	private     bool          // this is a session's private child
	idle        time.Duration // sessionIdleTimeout (per-session)
	maxSessions int64         // maxSessions (per-session)
	privCount   int64         // private children running (under Gateway.mu)
}

// NewGateway returns a gateway over r's servers and installs itself with
// r.SetRequestHandler, so create it before starting the servers (whether
// a server may send sampling and elicitation requests is settled at its
// handshake). opts may be nil.
func NewGateway(r *Runner, opts *GatewayOptions) *Gateway {
	var o GatewayOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = r.logger
	}
	all := r.Servers()
	g := &Gateway{
		r:        r,
		logger:   o.Logger,
		servers:  map[string]*gwServer{},
		prefix:   serverPrefixes(all),
		sessions: map[*GatewaySession]struct{}{},
		subs:     map[subKey]*subEntry{},
	}
	g.stopsDone = sync.NewCond(&g.stopsMu)
	for _, name := range all {
		if o.AllowedServers != nil && !slices.Contains(o.AllowedServers, name) {
			continue
		}
		c, err := r.Client(name)
		if err != nil {
			continue
		}
		srv := &gwServer{name: name, client: c, logMu: newCtxMutex(), logWant: -1, logApplied: -1}
		for i := range srv.lists {
			srv.lists[i].sem = newCtxMutex()
		}
		g.names = append(g.names, name)
		g.servers[name] = srv
		if sc := r.cfg.Servers[name]; sc.PerSession() {
			srv.perSession, srv.idle, srv.maxSessions = true, sc.SessionIdleTimeout.Duration, sc.MaxSessions
			continue
		}
		g.removes = append(g.removes, c.OnNotification("", g.onNotification))
	}
	events, stop := r.Subscribe(64)
	g.stopEvents = stop
	go func() {
		for ev := range events {
			if ev.State == StateRunning {
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
	for _, s := range sessions {
		s.Close()
	}
	g.waitStops()
	g.stopEvents()
	for _, rm := range g.removes {
		rm()
	}
	g.r.SetRequestHandler(nil)
}

// sessionList returns the sessions; the caller holds g.mu.
func (g *Gateway) sessionList() []*GatewaySession {
	out := make([]*GatewaySession, 0, len(g.sessions))
	for s := range g.sessions {
		out = append(out, s)
	}
	return out
}

func (g *Gateway) snapshot() []*GatewaySession {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessionList()
}

// GatewaySession is one downstream session: a client of the gateway with
// its own view, identity and state. All methods are safe for concurrent use;
// Handle is meant to be called concurrently for concurrent requests.
type GatewaySession struct {
	g       *Gateway
	view    string          // "" for the aggregate
	id      Identity        // as given to Open
	out     Outbound        // may be nil
	servers []string        // the servers the session may use, sorted
	may     map[string]bool // the same as a set
	reach   []string        // what the caller may use at all (hooks may route there): the allowed servers within the token's limit
	ctx     context.Context // ends when the session closes
	cancel  context.CancelFunc
	privMu  ctxMutex      // serializes starting private children
	done    chan struct{} // closed when Close has finished

	// priv holds the session's private children of per-session servers,
	// by server (under mu); see gateway_persession.go.
	priv map[string]*privChild

	outMu     sync.Mutex // held while a message goes to out
	outClosed bool       // under outMu: Close has run, out gets nothing more

	mu          sync.Mutex
	closed      bool
	initialized bool
	listed      bool                       // the session asked for a list; it hears of restarts
	clientCaps  map[string]json.RawMessage // from the client's initialize; nil before it
	logLevel    int                        // -1: no logging/setLevel yet
	inflight    map[string]*inflight       // client requests being served, by id key
	seq         uint64
	subs        map[subKey]subState
	nextOut     int64
	pendingOut  map[string]chan json.RawMessage // server→client requests awaiting the client, by our id key
	// lingering remembers, for a while, servers that requests cancelled by
	// this session went to: the server may still be working on them and ask
	// something on their behalf.
	lingering map[string]time.Time // server → until
}

// cancelLinger is how long a cancelled request still counts as possibly
// running on its server, for the attribution of the server's requests.
const cancelLinger = 30 * time.Second

type inflight struct {
	id     json.RawMessage // the client's id, as sent
	method string
	server string // the server it was forwarded to, once it was
	seq    uint64 // order of arrival
	cancel context.CancelCauseFunc
}

type subState int

const (
	subPending subState = iota + 1
	subActive
)

// Open starts a downstream session. view "" is the aggregate of all allowed servers
// (names namespaced); a server name exposes that one server as it is (names unchanged).
// Unknown or disallowed view → error wrapping ErrServerNotFound.
func (g *Gateway) Open(view string, id Identity, out Outbound) (*GatewaySession, error) {
	var servers []string
	for _, name := range g.names {
		if id.Servers == nil || slices.Contains(id.Servers, name) {
			servers = append(servers, name)
		}
	}
	reach := servers
	if view != "" {
		if !slices.Contains(servers, view) {
			return nil, fmt.Errorf("%w: %s", ErrServerNotFound, unavailable(view, servers))
		}
		servers = []string{view}
	}
	s := &GatewaySession{
		g: g, view: view, id: id, out: out, servers: servers, may: map[string]bool{}, reach: reach,
		logLevel: -1, inflight: map[string]*inflight{}, subs: map[subKey]subState{},
		pendingOut: map[string]chan json.RawMessage{}, privMu: newCtxMutex(), done: make(chan struct{}),
	}
	s.id.Servers = slices.Clone(id.Servers)
	for _, name := range servers {
		s.may[name] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		s.cancel()
		return nil, fmt.Errorf("%w: the gateway is closed", ErrNotRunning)
	}
	g.sessions[s] = struct{}{}
	return s, nil
}

// Identity returns the identity the session was opened with.
func (s *GatewaySession) Identity() Identity {
	id := s.id
	id.Servers = slices.Clone(s.id.Servers)
	return id
}

// Close ends the session: its in-flight requests are cancelled (upstream
// too), its subscriptions released, and nothing more goes to its Outbound.
// It does not wait for upstream unsubscriptions. A second Close waits for
// the first to finish.
func (s *GatewaySession) Close() {
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
		if st == subActive && !s.g.servers[k.server].perSession {
			subs = append(subs, k)
		}
	}
	s.subs = map[subKey]subState{}
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
func (s *GatewaySession) send(msg, related json.RawMessage) {
	if s.out == nil {
		return
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if !s.outClosed {
		s.out(msg, related)
	}
}

// wireError is a JSON-RPC error object.
type wireError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func newWireError(code int64, format string, args ...any) *wireError {
	return &wireError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// toWireError maps an engine error to a JSON-RPC error.
func toWireError(err error) *wireError {
	var re *RPCError
	var de *DeniedError
	switch {
	case errors.As(err, &de):
		data, _ := json.Marshal(map[string]string{"by": de.By, "reason": de.Reason})
		return &wireError{Code: CodeDenied, Message: de.Error(), Data: data}
	case errors.As(err, &re):
		return &wireError{Code: re.Code, Message: re.Message, Data: re.Data}
	case errors.Is(err, ErrHook):
		// The first line only: a remote caller learns which hook failed and
		// why, not the script's stack (which the log has).
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return &wireError{Code: codeInternalError, Message: msg}
	case errors.Is(err, errClientCancelled):
		return &wireError{Code: codeRequestCancelled, Message: "request cancelled"}
	case errors.Is(err, errSessionClosed):
		return &wireError{Code: codeInternalError, Message: "session closed"}
	case errors.Is(err, ErrTimeout):
		return &wireError{Code: codeRequestTimeout, Message: "request timed out", Data: jsonString(err.Error())}
	case errors.Is(err, context.Canceled):
		return &wireError{Code: codeRequestCancelled, Message: "request cancelled"}
	default:
		return &wireError{Code: codeInternalError, Message: err.Error()}
	}
}

var nullID = json.RawMessage("null")

func encodeResult(id, result json.RawMessage) json.RawMessage {
	if len(result) == 0 {
		result = json.RawMessage("{}")
	}
	b := make([]byte, 0, len(id)+len(result)+32)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

func encodeError(id json.RawMessage, e *wireError) json.RawMessage {
	if len(id) == 0 {
		id = nullID
	}
	eb, _ := json.Marshal(e)
	b := make([]byte, 0, len(id)+len(eb)+32)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":`...)
	b = append(b, eb...)
	return append(b, '}')
}

func encodeNotification(method string, params json.RawMessage) json.RawMessage {
	b := []byte(`{"jsonrpc":"2.0","method":`)
	b = append(b, jsonString(method)...)
	if len(params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

func encodeRequest(id int64, method string, params json.RawMessage) json.RawMessage {
	b := []byte(`{"jsonrpc":"2.0","id":`)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"method":`...)
	b = append(b, jsonString(method)...)
	if len(params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

// idKey makes a JSON id comparable: strings by value, numbers by text.
func idKey(id json.RawMessage) string {
	if len(id) > 0 && id[0] == '"' {
		var s string
		if json.Unmarshal(id, &s) == nil {
			return "s:" + s
		}
	}
	return "n:" + string(id)
}

// validID reports whether raw is a JSON string or number.
func validID(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		return json.Unmarshal(raw, &s) == nil
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		return json.Unmarshal(raw, &n) == nil
	}
	return false
}

type envelope struct {
	JSONRPC json.RawMessage `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  json.RawMessage `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

// Handle processes one JSON-RPC message from the client (request, notification or
// response to a server→client request). For a request it returns the response
// message (bytes with the client's own id: a result or a JSON-RPC error — protocol
// problems are error responses, never Go errors); for notifications and responses it
// returns nil. Malformed JSON → a -32700 error response with id null; not JSON-RPC 2.0 → -32600.
// ctx ending cancels the request upstream.
//
// A request cancelled by the client's notifications/cancelled still gets a
// response (error -32800, "request cancelled"), which the transport may
// drop: MCP tells clients to ignore it. Batches (JSON arrays) are refused
// with -32600; a transport that accepts them should split them.
func (s *GatewaySession) Handle(ctx context.Context, msg json.RawMessage) json.RawMessage {
	msg = bytes.TrimSpace(msg)
	if !json.Valid(msg) {
		return encodeError(nil, newWireError(codeParseError, "parse error: the message is not valid JSON"))
	}
	if msg[0] == '[' {
		return encodeError(nil, newWireError(codeInvalidRequest, "invalid request: JSON-RPC batches are not supported; send one message at a time"))
	}
	var env envelope
	if msg[0] != '{' || json.Unmarshal(msg, &env) != nil {
		return encodeError(nil, newWireError(codeInvalidRequest, "invalid request: a JSON-RPC message must be a JSON object"))
	}
	id := env.ID
	hasID := len(id) > 0 && string(id) != "null"
	if hasID && !validID(id) {
		return encodeError(nil, newWireError(codeInvalidRequest, "invalid request: id must be a string or a number"))
	}
	var replyID json.RawMessage
	if hasID {
		replyID = id
	}
	var version string
	if json.Unmarshal(env.JSONRPC, &version) != nil || version != "2.0" {
		return encodeError(replyID, newWireError(codeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`))
	}
	if len(env.Method) == 0 { // a response to one of our requests
		switch {
		case !hasID:
			return nil // an error about a message it could not read: nothing to answer
		case len(env.Result) > 0 && len(env.Error) > 0, len(env.Result) == 0 && len(env.Error) == 0:
			return encodeError(nil, newWireError(codeInvalidRequest, "invalid request: a message needs a method, a result or an error"))
		}
		s.deliverResponse(id, env.Result, env.Error)
		return nil
	}
	var method string
	if json.Unmarshal(env.Method, &method) != nil {
		return encodeError(replyID, newWireError(codeInvalidRequest, "invalid request: method must be a string"))
	}
	switch {
	case len(id) == 0:
		s.notification(ctx, method, env.Params)
		return nil
	case !hasID:
		return encodeError(nil, newWireError(codeInvalidRequest, "invalid request: id must not be null"))
	}
	result, werr := s.request(ctx, id, method, env.Params)
	if werr != nil {
		return encodeError(id, werr)
	}
	return encodeResult(id, result)
}

// request serves one client request, registered as in flight while it runs.
func (s *GatewaySession) request(ctx context.Context, id json.RawMessage, method string, params json.RawMessage) (json.RawMessage, *wireError) {
	key := idKey(id)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, toWireError(errSessionClosed)
	}
	if _, dup := s.inflight[key]; dup {
		s.mu.Unlock()
		return nil, newWireError(codeInvalidRequest, "invalid request: id %s is already in use by a request in flight", id)
	}
	s.seq++
	fl := &inflight{id: id, method: method, seq: s.seq, cancel: cancel}
	s.inflight[key] = fl
	s.mu.Unlock()
	stop := context.AfterFunc(s.ctx, func() { cancel(errSessionClosed) })
	defer func() {
		stop()
		s.mu.Lock()
		if s.inflight[key] == fl {
			delete(s.inflight, key)
		}
		if fl.server != "" && ctx.Err() != nil {
			if s.lingering == nil {
				s.lingering = map[string]time.Time{}
			}
			s.lingering[fl.server] = time.Now().Add(cancelLinger)
		}
		s.mu.Unlock()
	}()
	return s.dispatch(WithIdentity(ctx, s.id), fl, method, params)
}

func (s *GatewaySession) dispatch(ctx context.Context, fl *inflight, method string, params json.RawMessage) (json.RawMessage, *wireError) {
	switch method {
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		s.mu.Lock()
		s.listed = true
		s.mu.Unlock()
	}
	if method != "ping" {
		pctx, release, werr := s.withPrivate(ctx, s.servers, s.view == "")
		if werr != nil {
			return nil, werr
		}
		defer release()
		ctx = pctx
	}
	ctx = context.WithValue(ctx, routerKey{}, router(s.route))
	switch method {
	case "initialize":
		return s.initialize(ctx, params)
	case "ping":
		return json.RawMessage("{}"), nil
	case "logging/setLevel":
		return s.setLevel(ctx, fl, params)
	case "resources/subscribe", "resources/unsubscribe":
		return s.subscription(ctx, fl, method, params)
	}
	if s.view != "" {
		return s.forward(ctx, fl, s.view, method, params)
	}
	switch method {
	case "tools/list":
		return s.aggregateList(ctx, kindTools, params)
	case "prompts/list":
		return s.aggregateList(ctx, kindPrompts, params)
	case "resources/list":
		return s.aggregateList(ctx, kindResources, params)
	case "resources/templates/list":
		return s.aggregateList(ctx, kindTemplates, params)
	case "tools/call":
		return s.callTool(ctx, fl, params)
	case "prompts/get":
		return s.getPrompt(ctx, fl, params)
	case "resources/read":
		return s.readResource(ctx, fl, params)
	case "completion/complete":
		return s.complete(ctx, fl, params)
	}
	return nil, newWireError(codeMethodNotFound, "method not found: %s (the aggregate view serves the standard MCP methods; use a server's own view for others)", method)
}

// route gives the client for a request a hook sent to server: only a server
// the session may use, and for a per-session server the session's own child.
func (s *GatewaySession) route(ctx context.Context, server string) (*Client, func(), error) {
	if !slices.Contains(s.reach, server) {
		return nil, nil, fmt.Errorf("%w: %s", ErrServerNotFound, unavailable(server, s.reach))
	}
	srv := s.g.srv(ctx, server)
	if !srv.perSession {
		return srv.client, func() {}, nil
	}
	if err := privateErr(ctx, server); err != nil {
		return nil, nil, err
	}
	// A server of the view's session not acquired for this request (a
	// server view routing elsewhere): take the session's child now.
	pctx, release, werr := s.withPrivate(ctx, []string{server}, false)
	if werr != nil {
		return nil, nil, fmt.Errorf("server %q: %s", server, werr.Message)
	}
	return s.g.srv(pctx, server).client, release, nil
}

// checkServer says whether the session may use server.
func (s *GatewaySession) checkServer(server string) *wireError {
	if s.may[server] {
		return nil
	}
	return newWireError(codeInvalidParams, "%s", unavailable(server, s.servers))
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

// progressToken returns params._meta.progressToken, or nil.
func progressToken(params json.RawMessage) json.RawMessage {
	var p struct {
		Meta *struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil || p.Meta == nil {
		return nil
	}
	if t := p.Meta.ProgressToken; len(t) > 0 && string(t) != "null" {
		return t
	}
	return nil
}

// forward sends a request to a server on the session's behalf: progress goes
// back to this session only, and the request counts as in flight to server
// for the attribution of the server's own requests.
func (s *GatewaySession) forward(ctx context.Context, fl *inflight, server, method string, params json.RawMessage) (json.RawMessage, *wireError) {
	if werr := s.checkServer(server); werr != nil {
		return nil, werr
	}
	srv := s.g.srv(ctx, server)
	if srv.perSession {
		if err := privateErr(ctx, server); err != nil {
			return nil, toWireError(err)
		}
	}
	s.mu.Lock()
	fl.server = server
	s.mu.Unlock()
	// Every forwarded request carries the engine's own progress token (so a
	// client's token, however spelt, never reaches the shared child, where it
	// could name another session's request); progress goes back under the
	// client's token, only if it asked.
	var done atomic.Bool
	token := progressToken(params)
	callCtx := WithRawProgress(ctx, func(raw json.RawMessage) {
		if token == nil || done.Load() {
			return
		}
		out, err := setJSONField(raw, "progressToken", token)
		if err != nil {
			return
		}
		s.send(encodeNotification("notifications/progress", out), fl.id)
	})
	var p any
	if len(params) > 0 {
		p = params
	}
	if err := context.Cause(ctx); ctx.Err() != nil {
		// Never start a request that is already cancelled: the engine's
		// connection may read a write abandoned by its context as broken.
		return nil, toWireError(err)
	}
	res, err := srv.client.Call(callCtx, method, p)
	done.Store(true)
	if err != nil {
		return nil, toWireError(err)
	}
	return res, nil
}

// notification handles a client notification.
func (s *GatewaySession) notification(ctx context.Context, method string, params json.RawMessage) {
	switch method {
	case "notifications/initialized":
		s.mu.Lock()
		s.initialized = true
		s.mu.Unlock()
	case "notifications/cancelled":
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(params, &p) != nil || !validID(p.RequestID) {
			return
		}
		s.mu.Lock()
		fl := s.inflight[idKey(p.RequestID)]
		s.mu.Unlock()
		if fl != nil && fl.method != "initialize" {
			fl.cancel(errClientCancelled)
		}
	case "notifications/progress":
		// Progress about a server→client request: servers do not ask for it.
	default:
		// The child is shared: a client's notification (roots changed, a
		// stray initialize) would speak for every session, so none is
		// forwarded.
		s.g.logger.Debug("gateway: dropping a client notification", "method", method, "view", s.view)
	}
}

// negotiate picks the protocol version for a client that asked for v.
func negotiate(v string) string {
	if slices.Contains(supportedProtocolVersions, v) {
		return v
	}
	return LatestProtocolVersion
}

// initResult returns a server's handshake result, waiting a little for a
// server that is (re)starting.
func (g *Gateway) initResult(ctx context.Context, name string) (*mcp.InitializeResult, error) {
	srv := g.srv(ctx, name)
	if ir := srv.client.InitializeResult(); ir != nil {
		return ir, nil
	}
	if srv.perSession {
		if err := privateErr(ctx, name); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: server %q has a child per session and this session's could not start", ErrNotRunning, name)
	}
	if srv.private {
		ctx, cancel := context.WithTimeout(ctx, startWait)
		defer cancel()
		return srv.client.Initialize(ctx)
	}
	st, err := g.r.Status(name)
	if err != nil {
		return nil, err
	}
	switch st.State {
	case StateStarting, StateRestarting, StateRunning:
		ctx, cancel := context.WithTimeout(ctx, startWait)
		defer cancel()
		return srv.client.Initialize(ctx)
	}
	return nil, fmt.Errorf("%w: server %q is %s", ErrNotRunning, name, st.State)
}

func (s *GatewaySession) initialize(ctx context.Context, params json.RawMessage) (json.RawMessage, *wireError) {
	var p struct {
		ProtocolVersion string                     `json:"protocolVersion"`
		Capabilities    map[string]json.RawMessage `json:"capabilities"`
	}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, newWireError(codeInvalidParams, "invalid initialize params: %v", err)
		}
	}
	version := negotiate(p.ProtocolVersion)
	s.mu.Lock()
	s.initialized = true
	s.clientCaps = p.Capabilities
	if s.clientCaps == nil {
		s.clientCaps = map[string]json.RawMessage{}
	}
	s.mu.Unlock()

	if s.view != "" {
		ir, err := s.g.initResult(ctx, s.view)
		if err != nil {
			return nil, toWireError(err)
		}
		res := *ir
		res.ProtocolVersion = version
		raw, err := json.Marshal(&res)
		if err != nil {
			return nil, toWireError(err)
		}
		return raw, nil
	}

	caps := map[string]any{"tools": map[string]any{"listChanged": true}}
	var prompts, resources, subscribe, logging, completions bool
	var instructions []string
	for _, name := range s.servers {
		ir, err := s.g.initResult(ctx, name)
		if err != nil {
			continue
		}
		if c := ir.Capabilities; c != nil {
			prompts = prompts || c.Prompts != nil
			resources = resources || c.Resources != nil
			subscribe = subscribe || c.Resources != nil && c.Resources.Subscribe
			logging = logging || c.Logging != nil
			completions = completions || c.Completions != nil
		}
		if ir.Instructions != "" {
			instructions = append(instructions, fmt.Sprintf("%s (tools and prompts prefixed %q): %s", name, s.g.prefix[name]+nsSeparator, ir.Instructions))
		}
	}
	if prompts {
		caps["prompts"] = map[string]any{"listChanged": true}
	}
	if resources {
		caps["resources"] = map[string]any{"listChanged": true, "subscribe": subscribe}
	}
	if logging {
		caps["logging"] = map[string]any{}
	}
	if completions {
		caps["completions"] = map[string]any{}
	}
	res := map[string]any{
		"protocolVersion": version,
		"capabilities":    caps,
		"serverInfo":      map[string]any{"name": "mcpscript", "version": Version},
	}
	if len(instructions) > 0 {
		res["instructions"] = joinLines(instructions)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, toWireError(err)
	}
	return raw, nil
}

func joinLines(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(p)
	}
	return b.String()
}

// deliverResponse hands the client's answer to a server→client request to
// the request waiting for it.
func (s *GatewaySession) deliverResponse(id, result, errObj json.RawMessage) {
	key := idKey(id)
	s.mu.Lock()
	ch := s.pendingOut[key]
	delete(s.pendingOut, key)
	s.mu.Unlock()
	if ch == nil {
		s.g.logger.Debug("gateway: dropping a client response to no pending request", "id", string(id))
		return
	}
	if len(errObj) > 0 {
		ch <- encodeError(id, decodeWireError(errObj))
		return
	}
	ch <- encodeResult(id, result)
}

func decodeWireError(raw json.RawMessage) *wireError {
	var e wireError
	if json.Unmarshal(raw, &e) != nil {
		return &wireError{Code: codeInternalError, Message: "the client sent a malformed error: " + excerpt(raw)}
	}
	return &e
}

// onServerRequest is the Runner's RequestHandler: it routes a server's own
// request to the one session that can have caused it.
func (g *Gateway) onServerRequest(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
	var (
		target  *GatewaySession
		related json.RawMessage
		n       int
	)
	for _, s := range g.snapshot() {
		rel, live, maybe := s.inflightTo(server)
		if !maybe {
			continue
		}
		n++
		target, related = s, rel
		if !live {
			target = nil // only a cancelled request could have caused it
		}
	}
	if n == 1 && target == nil {
		return nil, &RPCError{Server: server, Method: method, Code: codeInternalError,
			Message: fmt.Sprintf("mcpscript cannot pass on %s from server %q: the client request that caused it was cancelled", method, server)}
	}
	if n != 1 {
		why := "no client session has a request in flight to it"
		if n > 1 {
			why = fmt.Sprintf("%d client sessions have requests in flight to it", n)
		}
		return nil, &RPCError{Server: server, Method: method, Code: codeInternalError,
			Message: fmt.Sprintf("mcpscript cannot tell which client %s from server %q is for: %s", method, server, why)}
	}
	return target.ask(ctx, server, method, params, related)
}

// inflightTo reports whether the session has requests in flight to server
// (live) and returns the id of the one a server's request most likely
// belongs to: its oldest tools/call, else its oldest request. maybe is also
// true while a request it cancelled may still run there.
func (s *GatewaySession) inflightTo(server string) (related json.RawMessage, live, maybe bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, false
	}
	if until, ok := s.lingering[server]; ok {
		if time.Now().Before(until) {
			maybe = true
		} else {
			delete(s.lingering, server)
		}
	}
	var best *inflight
	for _, fl := range s.inflight {
		if fl.server != server {
			continue
		}
		switch {
		case best == nil:
			best = fl
		case (fl.method == "tools/call") != (best.method == "tools/call"):
			if fl.method == "tools/call" {
				best = fl
			}
		case fl.seq < best.seq:
			best = fl
		}
	}
	if best == nil {
		return nil, false, maybe
	}
	return best.id, true, true
}

// capabilityFor names the client capability a server→client request needs.
func capabilityFor(method string) string {
	switch method {
	case "sampling/createMessage":
		return "sampling"
	case "elicitation/create":
		return "elicitation"
	case "roots/list":
		return "roots"
	}
	return ""
}

// ask sends a server's request to the session's client under an id of the
// session's own and waits for the answer.
func (s *GatewaySession) ask(ctx context.Context, server, method string, params, related json.RawMessage) (any, error) {
	if s.out == nil {
		return nil, &RPCError{Server: server, Method: method, Code: codeMethodNotFound,
			Message: fmt.Sprintf("the client session cannot receive requests, so %s is not available", method)}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &RPCError{Server: server, Method: method, Code: codeInternalError, Message: "the client session closed"}
	}
	if c := capabilityFor(method); c != "" && s.clientCaps != nil {
		if _, ok := s.clientCaps[c]; !ok {
			s.mu.Unlock()
			return nil, &RPCError{Server: server, Method: method, Code: codeMethodNotFound,
				Message: fmt.Sprintf("the client did not declare the %s capability, so mcpscript cannot forward %s", c, method)}
		}
	}
	s.nextOut++
	id := s.nextOut
	key := idKey(json.RawMessage(strconv.FormatInt(id, 10)))
	ch := make(chan json.RawMessage, 1)
	s.pendingOut[key] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pendingOut, key)
		s.mu.Unlock()
	}()

	s.send(encodeRequest(id, method, params), related)
	cancelled := func(reason string) {
		p, _ := json.Marshal(map[string]any{"requestId": id, "reason": reason})
		s.send(encodeNotification("notifications/cancelled", p), related)
	}
	timer := time.NewTimer(serverRequestTimeout)
	defer timer.Stop()
	select {
	case resp := <-ch:
		var r struct {
			Result json.RawMessage `json:"result"`
			Error  *wireError      `json:"error"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, &RPCError{Server: server, Method: method, Code: r.Error.Code, Message: r.Error.Message, Data: r.Error.Data}
		}
		return r.Result, nil
	case <-ctx.Done():
		cancelled(fmt.Sprintf("server %q cancelled the request", server))
		return nil, ctx.Err()
	case <-s.ctx.Done():
		return nil, &RPCError{Server: server, Method: method, Code: codeInternalError, Message: "the client session closed"}
	case <-timer.C:
		cancelled("no answer in time")
		return nil, &RPCError{Server: server, Method: method, Code: codeInternalError,
			Message: fmt.Sprintf("the client did not answer %s within %s", method, serverRequestTimeout)}
	}
}

// onNotification receives every server's notifications (on the server's
// reader goroutine: it must not block).
func (g *Gateway) onNotification(server, method string, params json.RawMessage) {
	srv := g.servers[server]
	switch method {
	case "notifications/tools/list_changed":
		srv.lists[kindTools].invalidate()
		g.broadcastListChanged(server, method, params)
	case "notifications/prompts/list_changed":
		srv.lists[kindPrompts].invalidate()
		g.broadcastListChanged(server, method, params)
	case "notifications/resources/list_changed":
		srv.lists[kindResources].invalidate()
		srv.lists[kindTemplates].invalidate()
		g.broadcastListChanged(server, method, params)
	case "notifications/resources/updated":
		var p struct {
			URI string `json:"uri"`
		}
		if json.Unmarshal(params, &p) != nil {
			return
		}
		k := subKey{server: server, uri: p.URI}
		msg := encodeNotification(method, params)
		for _, s := range g.snapshot() {
			s.mu.Lock()
			ok := s.subs[k] == subActive
			s.mu.Unlock()
			if ok {
				s.send(msg, nil)
			}
		}
	case "notifications/message":
		var p struct {
			Level string `json:"level"`
		}
		if json.Unmarshal(params, &p) != nil {
			return
		}
		lvl := logLevelIndex(p.Level)
		if lvl < 0 {
			lvl = len(logLevels) - 1 // unknown levels are treated as the most severe
		}
		msg := encodeNotification(method, params)
		for _, s := range g.snapshot() {
			if !s.may[server] {
				continue
			}
			s.mu.Lock()
			ok := s.logLevel >= 0 && lvl >= s.logLevel
			s.mu.Unlock()
			if ok {
				s.send(msg, nil)
			}
		}
	default:
		g.logger.Debug("gateway: dropping a server notification that belongs to no session", "server", server, "method", method)
	}
}

// broadcastListChanged tells the sessions whose view includes server that a
// list changed: the server's own notification in its view, a plain one in
// the aggregate.
func (g *Gateway) broadcastListChanged(server, method string, params json.RawMessage) {
	own := encodeNotification(method, params)
	plain := encodeNotification(method, nil)
	for _, s := range g.snapshot() {
		switch {
		case s.view == server:
			s.send(own, nil)
		case s.view == "" && s.may[server]:
			s.send(plain, nil)
		}
	}
}

// serverUp runs when a server (re)connects: caches are dropped, the
// upstream log level and subscriptions are restored, and the sessions that
// have listed something are told the lists may have changed.
func (g *Gateway) serverUp(name string) {
	srv := g.servers[name]
	if srv == nil || srv.perSession {
		return
	}
	for i := range srv.lists {
		srv.lists[i].invalidate()
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), upkeepTimeout)
		defer cancel()
		if err := srv.applyLogLevel(ctx, -1); err != nil {
			g.logger.Warn("gateway: could not restore the log level of a restarted server", "server", name, "err", err)
		}
		g.resubscribe(ctx, name)
	}()
	ir := srv.client.InitializeResult()
	if ir == nil || ir.Capabilities == nil {
		return
	}
	c := ir.Capabilities
	for _, n := range []struct {
		has, listChanged bool
		method           string
	}{
		{c.Tools != nil, c.Tools != nil && c.Tools.ListChanged, "notifications/tools/list_changed"},
		{c.Prompts != nil, c.Prompts != nil && c.Prompts.ListChanged, "notifications/prompts/list_changed"},
		{c.Resources != nil, c.Resources != nil && c.Resources.ListChanged, "notifications/resources/list_changed"},
	} {
		if !n.has {
			continue
		}
		msg := encodeNotification(n.method, nil)
		for _, s := range g.snapshot() {
			s.mu.Lock()
			listed := s.listed
			s.mu.Unlock()
			if listed && (s.view == "" && s.may[name] || s.view == name && n.listChanged) {
				s.send(msg, nil)
			}
		}
	}
}

// Log levels, least severe first.
var logLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

func logLevelIndex(level string) int {
	return slices.Index(logLevels, level)
}

func (s *GatewaySession) setLevel(ctx context.Context, fl *inflight, params json.RawMessage) (json.RawMessage, *wireError) {
	var p struct {
		Level string `json:"level"`
	}
	_ = json.Unmarshal(params, &p)
	lvl := logLevelIndex(p.Level)
	if lvl < 0 {
		return nil, newWireError(codeInvalidParams, "invalid log level %q: use one of %v", p.Level, logLevels)
	}
	if s.view != "" {
		ir, err := s.g.initResult(ctx, s.view)
		if err != nil {
			return nil, toWireError(err)
		}
		if ir.Capabilities == nil || ir.Capabilities.Logging == nil {
			return s.forward(ctx, fl, s.view, "logging/setLevel", params) // let the server say it does not log
		}
	}
	s.mu.Lock()
	s.logLevel = lvl
	s.mu.Unlock()
	for _, name := range s.servers {
		ir, err := s.g.initResult(ctx, name)
		if err != nil || ir.Capabilities == nil || ir.Capabilities.Logging == nil {
			continue
		}
		if err := s.g.srv(ctx, name).applyLogLevel(ctx, lvl); err != nil {
			if s.view != "" {
				return nil, toWireError(err)
			}
			s.g.logger.Warn("gateway: could not set a server's log level", "server", name, "err", err)
		}
	}
	return json.RawMessage("{}"), nil
}

// applyLogLevel lowers the server's wanted level to lvl (-1: keep it) and
// makes sure the server's current connection has it.
func (srv *gwServer) applyLogLevel(ctx context.Context, lvl int) error {
	if err := srv.logMu.lock(ctx); err != nil {
		return err
	}
	defer srv.logMu.unlock()
	if lvl >= 0 && (srv.logWant < 0 || lvl < srv.logWant) {
		srv.logWant = lvl
	}
	if srv.logWant < 0 {
		return nil
	}
	ir := srv.client.InitializeResult()
	if ir != nil && srv.logInit == ir && srv.logApplied == srv.logWant {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err := srv.client.callRawInto(ctx, "logging/setLevel", &mcp.SetLoggingLevelParams{Level: mcp.LoggingLevel(logLevels[srv.logWant])}); err != nil {
		return err
	}
	srv.logApplied, srv.logInit = srv.logWant, ir
	return nil
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

// setJSONField sets one member of a JSON object, keeping the others as sent.
func setJSONField(obj json.RawMessage, key string, value json.RawMessage) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	m[key] = value
	return json.Marshal(m)
}
