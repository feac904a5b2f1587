// Logging is deprecated only from MCP 2026-07-28 on; in 2025-11-25, the
// version the gateway speaks, it is current.
//lint:file-ignore SA1019 see above

package gateway

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
	u     *upstream // the child's own gateway state (client, list caches)
	idle  time.Duration
	stop  func(context.Context) error
	users int       // requests using it now
	last  time.Time // when it was last released
	timer *time.Timer
}

// acquireFor acquires, for one request, the session's private children of
// the per-session servers among names, starting those not running; they
// are what rq.upstream gives for those servers. The returned release must
// be called when the request is done. In the aggregate view (lenient) a
// server whose child cannot start is left out (rq.privateErr says why);
// its requests then fail.
func (s *Session) acquireFor(ctx context.Context, rq *request, names []string, lenient bool) (func(), error) {
	if !rq.sc.tab.perSession {
		return noRelease, nil
	}
	var got []*privChild
	var gotNames []string
	release := func() {
		for i, pc := range got {
			s.releasePrivate(gotNames[i], pc)
		}
	}
	for _, name := range names {
		u := rq.sc.tab.servers[name]
		if u == nil || !u.perSession {
			continue
		}
		pc, err := s.acquirePrivate(ctx, u)
		if err != nil {
			if lenient {
				s.g.logger.Warn("gateway: could not start a per-session child", "server", name, "err", err)
				if rq.privErr == nil {
					rq.privErr = map[string]error{}
				}
				rq.privErr[name] = err
				continue
			}
			release()
			return nil, err
		}
		got = append(got, pc)
		gotNames = append(gotNames, name)
		if rq.priv == nil {
			rq.priv = map[string]*privChild{}
		}
		rq.priv[name] = pc
	}
	return release, nil
}

func (s *Session) acquirePrivate(ctx context.Context, shared *upstream) (*privChild, error) {
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
		// Not wrapped in a sentinel: errorFor turns it into -32603 with
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

	onRequest := func(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
		related, _, _ := s.inflightTo(server)
		return s.ask(ctx, server, method, params, related)
	}
	c, stop, err := g.r.SpawnPrivate(ctx, name, onRequest)
	if err != nil {
		uncount()
		return nil, err
	}
	u := newUpstream(name, c)
	u.private = true
	s.mu.Lock()
	lvl := s.logLevel
	s.mu.Unlock()
	if ir := c.InitializeResult(); lvl >= 0 && ir != nil && ir.Capabilities != nil && ir.Capabilities.Logging != nil {
		if err := u.applyLogLevel(ctx, lvl); err != nil {
			g.logger.Warn("gateway: could not set a per-session child's log level", "server", name, "err", err)
		}
	}
	rm := c.OnNotification("", func(_, method string, params json.RawMessage) {
		g.onNotification(u, s, method, params)
	})
	pc := &privChild{u: u, idle: shared.idle, users: 1}
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
func (s *Session) releasePrivate(name string, pc *privChild) {
	idle := pc.idle
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
func (s *Session) subscribedTo(server string) bool {
	for k := range s.subs {
		if k.server == server {
			return true
		}
	}
	return false
}

// closePrivate stops all of the session's private children; the caller
// has marked the session closed.
func (s *Session) closePrivate() { s.closePrivateOf(func(string) bool { return true }) }

// closePrivateOf stops the session's private children of the servers that
// match: a reload changed or removed them. Requests using one fail.
func (s *Session) closePrivateOf(match func(server string) bool) {
	var priv []*privChild
	s.mu.Lock()
	for name, pc := range s.priv {
		if match(name) {
			priv = append(priv, pc)
			delete(s.priv, name)
		}
	}
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

// privateSubscription (un)subscribes on the session's private child
// directly: nobody else shares it, so nothing is counted.
func (s *Session) privateSubscription(ctx context.Context, u *upstream, k subKey, method string) (json.RawMessage, error) {
	if method == "resources/unsubscribe" {
		s.mu.Lock()
		delete(s.subs, k)
		s.mu.Unlock()
		if _, err := u.client.CallDirect(ctx, "resources/unsubscribe", &mcp.UnsubscribeParams{URI: k.uri}); err != nil {
			return nil, err
		}
		return json.RawMessage("{}"), nil
	}
	if _, err := u.client.CallDirect(ctx, "resources/subscribe", &mcp.SubscribeParams{URI: k.uri}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.subs[k] = subActive
	s.mu.Unlock()
	return json.RawMessage("{}"), nil
}
