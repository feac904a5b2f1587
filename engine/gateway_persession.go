// Logging is deprecated only from MCP 2026-07-28 on; in 2025-11-25, the
// version the gateway speaks, it is current.
//lint:file-ignore SA1019 see above

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Per-session servers ("childModel": "per-session") have no shared child:
// each gateway session that uses one gets a private child of its own,
// started on the session's first request that reaches the server (in the
// aggregate view: its first request other than ping, for every per-session
// server of the view). Everything the child sends (progress, list_changed,
// resources/updated, log messages, its own sampling, elicitation and roots
// requests) goes to that session only, and its lists are cached for that
// session only. The child is stopped when the session closes, and when the
// session has not used it for sessionIdleTimeout (the next request starts a
// new one) unless the session holds resource subscriptions on it. At most maxSessions private children of a server run at once;
// a session that would start one more gets JSON-RPC error -32603 naming the
// server and the cap.

// privChild is a session's private child of a per-session server.
type privChild struct {
	srv   *gwServer // the child's own gateway state (client, list caches)
	stop  func(context.Context) error
	users int       // requests using it now
	last  time.Time // when it was last released
	timer *time.Timer
}

type privKey struct{}

// privCtx is what a request's context holds about the session's private
// children: those acquired for it, and why others could not start.
type privCtx struct {
	srv  map[string]*gwServer
	errs map[string]error
}

// privateErr returns why the session's child of a per-session server could
// not start for this request, or nil.
func privateErr(ctx context.Context, server string) error {
	if p, ok := ctx.Value(privKey{}).(*privCtx); ok {
		return p.errs[server]
	}
	return nil
}

// srv returns the gateway state of server for a request: the session's
// private child for a per-session server (from ctx), else the shared one.
func (g *Gateway) srv(ctx context.Context, server string) *gwServer {
	if m, ok := ctx.Value(privKey{}).(*privCtx); ok {
		if p := m.srv[server]; p != nil {
			return p
		}
	}
	return g.servers[server]
}

// withPrivate acquires the session's private children of the per-session
// servers among names, starting those not running. The returned release
// must be called when the request is done. In the aggregate view (lenient)
// a server whose child cannot start is left out; its requests then fail.
func (s *GatewaySession) withPrivate(ctx context.Context, names []string, lenient bool) (context.Context, func(), *wireError) {
	var got []*privChild
	var gotNames []string
	m := &privCtx{srv: map[string]*gwServer{}, errs: map[string]error{}}
	release := func() {
		for i, pc := range got {
			s.releasePrivate(gotNames[i], pc)
		}
	}
	for _, name := range names {
		srv := s.g.servers[name]
		if srv == nil || !srv.perSession {
			continue
		}
		pc, err := s.acquirePrivate(ctx, srv)
		if err != nil {
			if lenient {
				s.g.logger.Warn("gateway: could not start a per-session child", "server", name, "err", err)
				m.errs[name] = err
				continue
			}
			release()
			return ctx, nil, toWireError(err)
		}
		got = append(got, pc)
		gotNames = append(gotNames, name)
		m.srv[name] = pc.srv
	}
	if len(m.srv) == 0 && len(m.errs) == 0 {
		return ctx, release, nil
	}
	return context.WithValue(ctx, privKey{}, m), release, nil
}

func (s *GatewaySession) acquirePrivate(ctx context.Context, shared *gwServer) (*privChild, error) {
	name := shared.name
	if err := s.privMu.lock(ctx); err != nil {
		return nil, err
	}
	defer s.privMu.unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errSessionClosed
	}
	if pc := s.priv[name]; pc != nil {
		pc.users++
		if pc.timer != nil {
			pc.timer.Stop()
			pc.timer = nil
		}
		s.mu.Unlock()
		return pc, nil
	}
	s.mu.Unlock()

	g := s.g
	g.mu.Lock()
	if shared.privCount >= shared.maxSessions {
		g.mu.Unlock()
		// Not wrapped in a sentinel: toWireError turns it into -32603 with
		// this message as it is.
		return nil, fmt.Errorf("server %q has reached its cap of %d per-session children (maxSessions); try again when a session ends", name, shared.maxSessions)
	}
	shared.privCount++
	g.mu.Unlock()
	uncount := func() {
		g.mu.Lock()
		shared.privCount--
		g.mu.Unlock()
	}

	srv := &gwServer{name: name, private: true, logMu: newCtxMutex(), logWant: -1, logApplied: -1}
	for i := range srv.lists {
		srv.lists[i].sem = newCtxMutex()
	}
	onRequest := func(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
		related, _, _ := s.inflightTo(server)
		return s.ask(ctx, server, method, params, related)
	}
	c, stop, err := g.r.spawnPrivate(ctx, name, onRequest)
	if err != nil {
		uncount()
		return nil, err
	}
	srv.client = c
	s.mu.Lock()
	lvl := s.logLevel
	s.mu.Unlock()
	if ir := c.InitializeResult(); lvl >= 0 && ir != nil && ir.Capabilities != nil && ir.Capabilities.Logging != nil {
		if err := srv.applyLogLevel(ctx, lvl); err != nil {
			g.logger.Warn("gateway: could not set a per-session child's log level", "server", name, "err", err)
		}
	}
	rm := c.OnNotification("", func(server, method string, params json.RawMessage) {
		s.onPrivateNotification(srv, method, params)
	})
	pc := &privChild{srv: srv, users: 1}
	pc.stop = func(ctx context.Context) error {
		rm()
		defer uncount()
		return stop(ctx)
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		if s.priv == nil {
			s.priv = map[string]*privChild{}
		}
		s.priv[name] = pc
	}
	s.mu.Unlock()
	if closed {
		stopPrivate(pc)
		return nil, errSessionClosed
	}
	return pc, nil
}

// releasePrivate ends one request's use of a private child; the last
// release arms the idle timer.
func (s *GatewaySession) releasePrivate(name string, pc *privChild) {
	idle := s.g.servers[name].idle
	s.mu.Lock()
	defer s.mu.Unlock()
	pc.users--
	pc.last = time.Now()
	if pc.users > 0 || s.priv[name] != pc {
		return
	}
	pc.timer = time.AfterFunc(idle, func() {
		s.mu.Lock()
		if s.priv[name] != pc || pc.users > 0 || time.Since(pc.last) < idle || s.subscribedTo(name) {
			s.mu.Unlock()
			return
		}
		delete(s.priv, name)
		s.g.beginStop() // under s.mu: a closing session's Close sees it
		s.mu.Unlock()
		stopPrivate(pc)
		s.g.endStop()
	})
}

// subscribedTo reports whether the session holds subscriptions on server;
// the caller holds s.mu.
func (s *GatewaySession) subscribedTo(server string) bool {
	for k := range s.subs {
		if k.server == server {
			return true
		}
	}
	return false
}

// closePrivate stops all of the session's private children; the caller
// has marked the session closed.
func (s *GatewaySession) closePrivate() {
	s.mu.Lock()
	priv := s.priv
	s.priv = nil
	s.mu.Unlock()
	for _, pc := range priv {
		if pc.timer != nil {
			pc.timer.Stop()
		}
		s.g.beginStop()
		go func() {
			stopPrivate(pc)
			s.g.endStop()
		}()
	}
}

// beginStop and endStop bracket the stop of a private child, so that
// Gateway.Close can wait for all of them (waitStops).
func (g *Gateway) beginStop() {
	g.stopsMu.Lock()
	g.stopsN++
	g.stopsMu.Unlock()
}

func (g *Gateway) endStop() {
	g.stopsMu.Lock()
	g.stopsN--
	if g.stopsN == 0 {
		g.stopsDone.Broadcast()
	}
	g.stopsMu.Unlock()
}

func (g *Gateway) waitStops() {
	g.stopsMu.Lock()
	for g.stopsN > 0 {
		g.stopsDone.Wait()
	}
	g.stopsMu.Unlock()
}

func stopPrivate(pc *privChild) {
	ctx, cancel := context.WithTimeout(context.Background(), upkeepTimeout)
	defer cancel()
	_ = pc.stop(ctx)
}

// onPrivateNotification routes a private child's notification to its session.
func (s *GatewaySession) onPrivateNotification(srv *gwServer, method string, params json.RawMessage) {
	server := srv.name
	switch method {
	case "notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed":
		switch method {
		case "notifications/tools/list_changed":
			srv.lists[kindTools].invalidate()
		case "notifications/prompts/list_changed":
			srv.lists[kindPrompts].invalidate()
		default:
			srv.lists[kindResources].invalidate()
			srv.lists[kindTemplates].invalidate()
		}
		if s.view == server {
			s.send(encodeNotification(method, params), nil)
		} else {
			s.send(encodeNotification(method, nil), nil)
		}
	case "notifications/resources/updated":
		var p struct {
			URI string `json:"uri"`
		}
		if json.Unmarshal(params, &p) != nil {
			return
		}
		s.mu.Lock()
		ok := s.subs[subKey{server: server, uri: p.URI}] == subActive
		s.mu.Unlock()
		if ok {
			s.send(encodeNotification(method, params), nil)
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
			lvl = len(logLevels) - 1
		}
		s.mu.Lock()
		ok := s.logLevel >= 0 && lvl >= s.logLevel
		s.mu.Unlock()
		if ok {
			s.send(encodeNotification(method, params), nil)
		}
	}
}

// privateSubscription (un)subscribes on the session's private child
// directly: nobody else shares it, so nothing is counted.
func (s *GatewaySession) privateSubscription(ctx context.Context, srv *gwServer, k subKey, method string) (json.RawMessage, *wireError) {
	if method == "resources/unsubscribe" {
		s.mu.Lock()
		delete(s.subs, k)
		s.mu.Unlock()
		if err := srv.client.callRawInto(ctx, "resources/unsubscribe", &mcp.UnsubscribeParams{URI: k.uri}); err != nil {
			return nil, toWireError(err)
		}
		return json.RawMessage("{}"), nil
	}
	if err := srv.client.callRawInto(ctx, "resources/subscribe", &mcp.SubscribeParams{URI: k.uri}); err != nil {
		return nil, toWireError(err)
	}
	s.mu.Lock()
	s.subs[k] = subActive
	s.mu.Unlock()
	return json.RawMessage("{}"), nil
}
