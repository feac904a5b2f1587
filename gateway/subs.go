package gateway

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

type subState int

const (
	subPending subState = iota + 1
	subActive
)

// subKey names a subscription: a URI at a server.
type subKey struct{ server, uri string }

// subEntry counts the sessions subscribed to one URI of one server. sem
// serializes the upstream (un)subscriptions; the counters are under g.mu.
type subEntry struct {
	sem      ctxMutex
	count    int  // sessions subscribed
	holders  int  // goroutines working on the entry
	upstream bool // the server has the subscription
}

func (s *Session) subscription(ctx context.Context, rq *request, method string, params json.RawMessage) (json.RawMessage, error) {
	uri, err := resourceURI(method, params)
	if err != nil {
		return nil, err
	}
	server := s.view
	if server == "" {
		if server, err = s.resourceOwner(ctx, rq, uri); err != nil {
			return nil, err
		}
	}
	if method == "resources/subscribe" && s.g.r.HasMiddleware() {
		// The upstream subscription is shared by every session, so hooks
		// decide (they may refuse) but do not shape it.
		req := &engine.Request{Server: server, Method: method, Params: params, Caller: s.Identity()}
		ok := func(context.Context, *engine.Request) (json.RawMessage, error) { return json.RawMessage("{}"), nil }
		if _, err := s.g.r.Through(ctx, req, ok); err != nil {
			return nil, err
		}
	}
	k := subKey{server: server, uri: uri}
	if u := rq.upstream(server); u.private {
		return s.privateSubscription(ctx, u, k, method)
	}
	if method == "resources/unsubscribe" {
		s.mu.Lock()
		st := s.subs[k]
		delete(s.subs, k)
		s.mu.Unlock()
		if st == subActive {
			s.g.subDown(ctx, k)
		}
		return json.RawMessage("{}"), nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errSessionClosed
	}
	if s.subs[k] != 0 {
		s.mu.Unlock()
		return json.RawMessage("{}"), nil
	}
	s.subs[k] = subPending
	s.mu.Unlock()
	err = s.g.subUp(ctx, k)
	s.mu.Lock()
	if err != nil {
		if s.subs[k] == subPending {
			delete(s.subs, k)
		}
		s.mu.Unlock()
		return nil, err
	}
	if s.closed || s.subs[k] != subPending { // unsubscribed or closed meanwhile
		s.mu.Unlock()
		s.g.subDown(ctx, k)
		return json.RawMessage("{}"), nil
	}
	s.subs[k] = subActive
	s.mu.Unlock()
	return json.RawMessage("{}"), nil
}

func (g *Gateway) acquireSub(k subKey) *subEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.subs[k]
	if e == nil {
		e = &subEntry{sem: newCtxMutex()}
		g.subs[k] = e
	}
	e.holders++
	return e
}

func (g *Gateway) releaseSub(k subKey, e *subEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e.holders--
	if e.holders == 0 && e.count == 0 && !e.upstream && g.subs[k] == e {
		delete(g.subs, k)
	}
}

// subUp adds a session to a subscription, subscribing upstream first when
// it is the first.
func (g *Gateway) subUp(ctx context.Context, k subKey) error {
	e := g.acquireSub(k)
	defer g.releaseSub(k, e)
	if err := e.sem.lock(ctx); err != nil {
		return err
	}
	defer e.sem.unlock()
	g.mu.Lock()
	need := !e.upstream
	g.mu.Unlock()
	if need {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		u := g.upstream(k.server)
		if u == nil {
			return wrapNotFound(unavailable(k.server, g.table().names))
		}
		if _, err := u.client.CallDirect(ctx, "resources/subscribe", &mcp.SubscribeParams{URI: k.uri}); err != nil {
			return err
		}
	}
	g.mu.Lock()
	e.upstream = true
	e.count++
	g.mu.Unlock()
	return nil
}

// subDown removes a session from a subscription, unsubscribing upstream
// when it was the last. It is not cut short by ctx's cancellation.
func (g *Gateway) subDown(ctx context.Context, k subKey) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upkeepTimeout)
	defer cancel()
	g.mu.Lock()
	e := g.subs[k]
	if e == nil {
		g.mu.Unlock()
		return
	}
	e.count--
	e.holders++
	g.mu.Unlock()
	defer g.releaseSub(k, e)
	if err := e.sem.lock(ctx); err != nil {
		return
	}
	defer e.sem.unlock()
	g.mu.Lock()
	need := e.count == 0 && e.upstream
	g.mu.Unlock()
	if !need {
		return
	}
	u := g.upstream(k.server)
	if u == nil {
		return // gone with a reload: nothing to unsubscribe from
	}
	if _, err := u.client.CallDirect(ctx, "resources/unsubscribe", &mcp.UnsubscribeParams{URI: k.uri}); err != nil {
		g.logger.Debug("gateway: upstream unsubscribe failed", "server", k.server, "uri", k.uri, "err", err)
	}
	g.mu.Lock()
	e.upstream = false
	g.mu.Unlock()
}

// resubscribe restores a restarted server's subscriptions.
func (g *Gateway) resubscribe(ctx context.Context, server string) {
	type held struct {
		k subKey
		e *subEntry
	}
	var hs []held
	g.mu.Lock()
	for k, e := range g.subs {
		if k.server == server {
			e.holders++
			hs = append(hs, held{k, e})
		}
	}
	g.mu.Unlock()
	for _, h := range hs {
		func() {
			defer g.releaseSub(h.k, h.e)
			if h.e.sem.lock(ctx) != nil {
				return
			}
			defer h.e.sem.unlock()
			g.mu.Lock()
			need := h.e.upstream && h.e.count > 0
			g.mu.Unlock()
			if !need {
				return
			}
			u := g.upstream(server)
			if u == nil {
				return
			}
			if _, err := u.client.CallDirect(ctx, "resources/subscribe", &mcp.SubscribeParams{URI: h.k.uri}); err != nil {
				g.logger.Warn("gateway: could not restore a subscription on a restarted server", "server", server, "uri", h.k.uri, "err", err)
			}
		}()
	}
}
