package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// cancelLinger is how long a cancelled request still counts as possibly
// running on its server, for the attribution of the server's requests.
const cancelLinger = 30 * time.Second

// request is one client request being served: what the attribution of a
// server's own requests needs to know of it, and the private children of
// per-session servers acquired for it. It is the request's Router.
type request struct {
	s      *Session
	sc     *scope          // what the session could use when the request came
	id     json.RawMessage // the client's id, as sent
	method string
	server string // the server it was forwarded to, once it was (under s.mu)
	seq    uint64 // order of arrival
	cancel context.CancelCauseFunc

	// Private children acquired for the request, and why those that could
	// not start did not; touched only by the request's own goroutine
	// (list fetches read priv concurrently once it is filled).
	priv    map[string]*privChild
	privErr map[string]error
}

// upstream returns the server as this request sees it: the session's
// private child of a per-session server, when one was acquired, else the
// shared server.
func (rq *request) upstream(name string) *upstream {
	if pc := rq.priv[name]; pc != nil {
		return pc.u
	}
	if u := rq.s.ups[name]; u != nil {
		return u
	}
	return rq.sc.tab.servers[name]
}

// privateErr returns why the session's child of a per-session server could
// not start for this request, or nil.
func (rq *request) privateErr(server string) error { return rq.privErr[server] }

// Route finds the client for a request that middleware sent to server:
// only a server the session may use, and for a per-session server the
// session's own child.
func (rq *request) Route(ctx context.Context, server string) (*engine.Client, func(), error) {
	s := rq.s
	if !slices.Contains(rq.sc.reach, server) {
		return nil, nil, wrapNotFound(unavailable(server, rq.sc.reach))
	}
	u := rq.upstream(server)
	if !u.perSession {
		return u.client, noRelease, nil
	}
	if err := rq.privateErr(server); err != nil {
		return nil, nil, err
	}
	// A server not acquired for this request (a server view routing
	// elsewhere): take the session's child now, until the request ends.
	pc, err := s.acquirePrivate(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	return pc.u.client, func() { s.releasePrivate(server, pc) }, nil
}

func noRelease() {}

// Handle processes one JSON-RPC message from the client (request,
// notification or response to a server→client request). For a request it
// returns the response message (bytes with the client's own id: a result or
// a JSON-RPC error — protocol problems are error responses, never Go
// errors); for notifications and responses it returns nil. Malformed JSON
// → a -32700 error response with id null; not JSON-RPC 2.0 → -32600.
// ctx ending cancels the request upstream.
//
// A request cancelled by the client's notifications/cancelled still gets a
// response (error -32800, "request cancelled"), which the transport may
// drop: MCP tells clients to ignore it. Batches (JSON arrays) are refused
// with -32600; a transport that accepts them should split them.
func (s *Session) Handle(ctx context.Context, msg []byte) json.RawMessage {
	m, perr := wire.Parse(msg)
	if perr != nil {
		var id json.RawMessage
		if m != nil {
			id = m.ID
		}
		return wire.ErrorResponse(id, perr)
	}
	return s.HandleMessage(ctx, m)
}

// HandleMessage is Handle for a message the transport already parsed: the
// gateway reads it as it is, without parsing it again.
func (s *Session) HandleMessage(ctx context.Context, m *wire.Message) json.RawMessage {
	switch m.Kind {
	case wire.KindResponse:
		if m.ID != nil {
			s.deliverResponse(m.ID, m.Result, m.Error)
		}
		return nil
	case wire.KindNotification:
		s.notification(m.Method, m.Params)
		return nil
	}
	result, err := s.serve(ctx, m.ID, m.Method, m.Params)
	if err != nil {
		return wire.ErrorResponse(m.ID, errorFor(err))
	}
	return wire.Result(m.ID, result)
}

// serve serves one client request, registered as in flight while it runs.
func (s *Session) serve(ctx context.Context, id json.RawMessage, method string, params json.RawMessage) (json.RawMessage, error) {
	key := wire.IDKey(id)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rq := &request{s: s, sc: s.scope(), id: id, method: method, cancel: cancel}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errSessionClosed
	}
	if _, dup := s.inflight[key]; dup {
		s.mu.Unlock()
		return nil, wire.Errorf(wire.CodeInvalidRequest, "invalid request: id %s is already in use by a request in flight", id)
	}
	s.seq++
	rq.seq = s.seq
	s.inflight[key] = rq
	s.mu.Unlock()
	// Close cancels the requests in flight (errSessionClosed).
	defer func() {
		s.mu.Lock()
		if s.inflight[key] == rq {
			delete(s.inflight, key)
		}
		if rq.server != "" && ctx.Err() != nil {
			if s.lingering == nil {
				s.lingering = map[string]time.Time{}
			}
			s.lingering[rq.server] = time.Now().Add(cancelLinger)
		}
		s.mu.Unlock()
	}()
	return s.dispatch(ctx, rq, method, params)
}

func (s *Session) dispatch(ctx context.Context, rq *request, method string, params json.RawMessage) (json.RawMessage, error) {
	if s.modern == nil && (method == "server/discover" || method == "subscriptions/listen") {
		return nil, wire.Errorf(wire.CodeMethodNotFound,
			"method not found: %s is an MCP 2026-07-28 method, and this session speaks an earlier version (send it on its own, without a session)", method)
	}
	switch method {
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		s.mu.Lock()
		s.listed = true
		s.mu.Unlock()
	}
	if method != "ping" {
		release, err := s.acquireFor(ctx, rq, rq.sc.servers, s.view == "")
		if err != nil {
			return nil, err
		}
		defer release()
	}
	switch method {
	case "initialize":
		return s.initialize(ctx, rq, params)
	case "ping":
		return json.RawMessage("{}"), nil
	case "logging/setLevel":
		return s.setLevel(ctx, rq, params)
	case "resources/subscribe", "resources/unsubscribe":
		return s.subscription(ctx, rq, method, params)
	}
	if s.view != "" {
		return s.forward(ctx, rq, s.view, method, params)
	}
	switch method {
	case "tools/list":
		return s.aggregateList(ctx, rq, kindTools, params)
	case "prompts/list":
		return s.aggregateList(ctx, rq, kindPrompts, params)
	case "resources/list":
		return s.aggregateList(ctx, rq, kindResources, params)
	case "resources/templates/list":
		return s.aggregateList(ctx, rq, kindTemplates, params)
	case "tools/call":
		return s.callTool(ctx, rq, params)
	case "prompts/get":
		return s.getPrompt(ctx, rq, params)
	case "resources/read":
		return s.readResource(ctx, rq, params)
	case "completion/complete":
		return s.complete(ctx, rq, params)
	}
	return nil, wire.Errorf(wire.CodeMethodNotFound, "method not found: %s (the aggregate view serves the standard MCP methods; use a server's own view for others)", method)
}

// notification handles a client notification.
func (s *Session) notification(method string, params json.RawMessage) {
	switch method {
	case "notifications/initialized":
		s.mu.Lock()
		s.initialized = true
		s.mu.Unlock()
	case "notifications/cancelled":
		rid, ok := rawjson.GetValid(params, "requestId")
		if !ok || !wire.ValidID(rid) {
			return
		}
		s.mu.Lock()
		rq := s.inflight[wire.IDKey(rid)]
		s.mu.Unlock()
		if rq != nil && rq.method != "initialize" {
			rq.cancel(errClientCancelled)
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
