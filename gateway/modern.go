package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// MCP 2026-07-28 ("modern") requests.
//
// A modern request is stateless: it carries its protocol version, the
// client's capabilities and info in params._meta, and is served on its own.
// The gateway serves it with a session of its own that lives as long as
// the request (or, for a request waiting for the client's input, until its
// retry or a deadline), so every rule of the package applies to it as to a
// legacy session's request: the caller's servers, hooks, progress,
// namespacing in the aggregate.
//
//   - A server's view, for a dual-era server (it answered server/discover):
//     the request goes as it is to the server's modern process (the
//     Runner's twin, see engine.Runner.ModernClient), and its answer comes
//     back as it is.
//   - A server's view, for a legacy-only server, and the aggregate: the
//     gateway bridges over the server's legacy process. server/discover is
//     answered from its handshake; the request goes with the era's _meta
//     members removed; results get resultType, _meta serverInfo and, for
//     lists and reads, ttlMs and cacheScope; -32002 becomes -32602. A
//     server's sampling, elicitation or roots request during the call
//     becomes an input_required result whose requestState the gateway
//     signs (mrtr.go); the server's request waits for the client's retry.
//   - Log messages go only to a request that asked with logLevel (and only
//     when it is the one modern request in flight to the server: a log
//     message names no request), progress only to one with a progressToken.
//   - subscriptions/listen is built from the servers' list_changed and
//     resource subscriptions (listen.go).
//   - initialize, ping, logging/setLevel and resources/(un)subscribe do not
//     exist in 2026-07-28: -32601.

// ModernRequest is one MCP 2026-07-28 request.
type ModernRequest struct {
	View    string          // a server's name, or "" for the aggregate
	Caller  engine.Identity // who asks (Protocol is set by the gateway)
	Message *wire.Message   // a request
	// Send delivers the messages related to the request before its answer
	// (progress, log messages, a listen's notifications), in order. It
	// must not block for long.
	Send func(msg json.RawMessage)
	// ParamHeaders are the request's Mcp-Param-* headers, by the name
	// after "Mcp-Param-" lowercased (HTTP only), checked against a
	// tools/call's arguments.
	ParamHeaders map[string]string
}

// removedMethods do not exist in the modern era.
var removedMethods = []string{"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"}

// cacheable are the methods whose modern results carry ttlMs and cacheScope.
var cacheable = []string{"server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}

// supportedVersions is what the gateway's server/discover offers: every
// era, since it bridges them.
var supportedVersions = append([]string{engine.ModernProtocolVersion}, engine.SupportedProtocolVersions()...)

// modernMeta is what a modern request's _meta says.
type modernMeta struct {
	version  string
	client   struct{ Name, Version string } // clientInfo, when sent
	caps     map[string]json.RawMessage     // clientCapabilities
	logLevel int                            // -1: no logLevel
}

// readMeta checks a modern request's _meta: the protocol version (a
// version the gateway does not speak: -32022 with the supported ones) and
// the client's capabilities (-32602 when missing).
func readMeta(params json.RawMessage) (*modernMeta, error) {
	meta, ok := rawjson.GetValid(params, "_meta")
	if !ok || len(meta) == 0 || meta[0] != '{' {
		return nil, invalidParamsf("missing or invalid _meta field %q", engine.MetaProtocolVersion)
	}
	mm := &modernMeta{logLevel: -1}
	var (
		haveVersion bool
		caps        json.RawMessage
	)
	rawjson.EachValid(meta, func(m rawjson.Member) {
		switch {
		case m.Is(engine.MetaProtocolVersion):
			mm.version, haveVersion = rawjson.Unquote(m.Value)
		case m.Is(engine.MetaClientCapabilities):
			caps = m.Value
		case m.Is(engine.MetaClientInfo):
			_ = json.Unmarshal(m.Value, &mm.client) // optional: a bad one is no name
		case m.Is(engine.MetaLogLevel):
			if l, ok := rawjson.Unquote(m.Value); ok {
				mm.logLevel = logLevelIndex(l)
			}
		}
	})
	if !haveVersion {
		return nil, invalidParamsf("missing or invalid _meta field %q", engine.MetaProtocolVersion)
	}
	if mm.version != engine.ModernProtocolVersion {
		return nil, wire.Errorf(wire.CodeUnsupportedProtocolVersion, "unsupported protocol version %q", mm.version).
			WithData(map[string]any{"supported": supportedVersions, "requested": mm.version})
	}
	if len(caps) == 0 || caps[0] != '{' || json.Unmarshal(caps, &mm.caps) != nil {
		return nil, invalidParamsf("missing or invalid _meta field %q", engine.MetaClientCapabilities)
	}
	return mm, nil
}

// ServeModern serves one modern request and returns its answer: a result,
// or a JSON-RPC error whose code says what went wrong (the HTTP transport
// maps -32601 to 404 and -32602, -32020, -32021, -32022 to 400).
// subscriptions/listen lasts until ctx ends.
func (g *Gateway) ServeModern(ctx context.Context, r *ModernRequest) json.RawMessage {
	m := r.Message
	res, err := g.serveModern(ctx, r)
	if err != nil {
		return wire.ErrorResponse(m.ID, modernError(errorFor(err)))
	}
	return wire.Result(m.ID, res)
}

// modernError is a JSON-RPC error as the modern era has it: resource not
// found is invalid params (its data, the uri, kept).
func modernError(e *wire.Error) *wire.Error {
	if e.Code == wire.CodeResourceNotFound {
		c := *e
		c.Code = wire.CodeInvalidParams
		return &c
	}
	return e
}

func (g *Gateway) serveModern(ctx context.Context, r *ModernRequest) (json.RawMessage, error) {
	m := r.Message
	meta, err := readMeta(m.Params)
	if err != nil {
		return nil, err
	}
	if slices.Contains(removedMethods, m.Method) {
		return nil, wire.Errorf(wire.CodeMethodNotFound, "method not found: %q (MCP 2026-07-28 has no %s)", m.Method, m.Method)
	}
	caller := r.Caller
	caller.Protocol = meta.version
	caller.ClientName, caller.ClientVersion = meta.client.Name, meta.client.Version
	switch m.Method {
	case "server/discover":
		return g.discover(ctx, r.View, caller)
	case "subscriptions/listen":
		return g.listen(ctx, r, caller)
	}
	if st, ok := requestState(m.Params); ok && isOurState(st) {
		return g.resume(ctx, r, caller, meta, st)
	}
	s, err := g.openModern(ctx, r, caller, meta)
	if err != nil {
		return nil, err
	}
	if m.Method == "tools/call" {
		rq := &request{s: s, sc: s.scope()}
		if err := s.checkParamHeaders(ctx, rq, m.Params, r.ParamHeaders); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s.modern.start(ctx, m)
}

// openModern opens the session that serves one modern request.
func (g *Gateway) openModern(ctx context.Context, r *ModernRequest, caller engine.Identity, meta *modernMeta) (*Session, error) {
	c := &modernCall{g: g, send: r.Send, asked: make(chan struct{}, 1), done: make(chan struct{})}
	s, err := g.open(r.View, caller, func(msg, _ json.RawMessage) { c.deliver(msg) }, c)
	if err != nil {
		return nil, err
	}
	c.s = s
	s.mu.Lock()
	s.initialized = true
	s.clientCaps = meta.caps
	s.logLevel = meta.logLevel
	s.mu.Unlock()
	if r.View != "" {
		if u := g.twin(ctx, r.View); u != nil {
			s.ups = map[string]*upstream{r.View: u}
		}
	}
	return s, nil
}

// modernView reports whether requests of a view go to a modern process as
// they are (a dual-era server's view), as opposed to the bridge.
func (s *Session) modernView() bool { return s.ups[s.view] != nil }

// twin returns the upstream of a server's modern process, starting it if
// need be, or nil when the server is legacy-only (or not running: the
// bridge then says why).
func (g *Gateway) twin(ctx context.Context, name string) *upstream {
	g.twinsMu.Lock()
	u := g.twins[name]
	g.twinsMu.Unlock()
	if u != nil && u.client.InitializeResult() != nil {
		return u
	}
	if shared := g.upstream(name); shared == nil || shared.perSession {
		return nil
	}
	c, err := g.r.ModernClient(ctx, name)
	if err != nil {
		if !errors.Is(err, engine.ErrLegacyOnly) {
			g.logger.Debug("gateway: no modern process for a modern request; bridging", "server", name, "err", err)
		}
		return nil
	}
	g.twinsMu.Lock()
	defer g.twinsMu.Unlock()
	if u := g.twins[name]; u != nil && u.client == c {
		return u
	}
	u = newUpstream(name, c)
	if g.twins == nil {
		g.twins = map[string]*upstream{}
	}
	g.twins[name] = u
	g.twinHandlers = append(g.twinHandlers, c.OnNotification("", func(_, method string, params json.RawMessage) {
		g.onTwinNotification(u, method, params)
	}))
	g.follow(u)
	return u
}

// stripEraMeta removes the modern era's members from a request's _meta,
// for a server that speaks a legacy version: a legacy process must never
// see a request that could switch its era.
func stripEraMeta(params json.RawMessage) json.RawMessage {
	if !bytes.Contains(params, []byte("io.modelcontextprotocol/")) {
		return params
	}
	meta, ok := rawjson.GetValid(params, "_meta")
	if !ok || len(meta) == 0 || meta[0] != '{' {
		return params
	}
	var del []string
	rawjson.EachValid(meta, func(m rawjson.Member) {
		if name := m.Name(); len(name) > 24 && name[:24] == "io.modelcontextprotocol/" {
			del = append(del, name)
		}
	})
	if len(del) == 0 {
		return params
	}
	meta = rawjson.ApplyValid(meta, rawjson.Edit{Delete: del})
	return rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "_meta", Value: meta}}})
}

// decorate gives a bridged result what a modern result has: resultType,
// the server's info in _meta, and for cacheable methods ttlMs and
// cacheScope ("private" when the answer depends on the caller: hooks, or a
// token limited to some servers).
func (s *Session) decorate(ctx context.Context, method string, res json.RawMessage) json.RawMessage {
	fields := []rawjson.Field{}
	if _, ok := rawjson.GetValid(res, "resultType"); !ok {
		fields = append(fields, rawjson.Field{Key: "resultType", Value: []byte(`"complete"`)})
	}
	if slices.Contains(cacheable, method) {
		if _, ok := rawjson.GetValid(res, "ttlMs"); !ok {
			scope := `"public"`
			if s.g.r.HasMiddleware() || s.id.Servers != nil {
				scope = `"private"`
			}
			fields = append(fields, rawjson.Field{Key: "ttlMs", Value: []byte("0")}, rawjson.Field{Key: "cacheScope", Value: []byte(scope)})
		}
	}
	if info := s.serverInfo(ctx); info != nil {
		meta, _ := rawjson.GetValid(res, "_meta")
		if len(meta) == 0 || meta[0] != '{' {
			meta = nil
		}
		if _, has := rawjson.GetValid(meta, engine.MetaServerInfo); !has {
			fields = append(fields, rawjson.Field{Key: "_meta", Value: rawjson.ApplyValid(meta, rawjson.Edit{Set: []rawjson.Field{{Key: engine.MetaServerInfo, Value: info}}})})
		}
	}
	if len(fields) == 0 {
		return res
	}
	return rawjson.ApplyValid(res, rawjson.Edit{Set: fields})
}

// serverInfo is the server's info for a view, the gateway's for the aggregate.
func (s *Session) serverInfo(ctx context.Context) json.RawMessage {
	if s.view == "" {
		b, _ := json.Marshal(map[string]string{"name": "mcpscript", "version": engine.Version})
		return b
	}
	rq := &request{s: s, sc: s.scope()}
	ir, err := s.g.initResult(ctx, rq, s.view)
	if err != nil || ir.ServerInfo == nil {
		return nil
	}
	b, _ := json.Marshal(ir.ServerInfo)
	return b
}
