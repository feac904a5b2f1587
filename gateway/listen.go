package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// subscriptions/listen (MCP 2026-07-28): a modern client's stream of
// list_changed and resources/updated notifications, built from the
// servers' own: a legacy server's list_changed (which it sends to its one
// client, the gateway) and its resource subscriptions (reference counted
// with the legacy sessions'), and a dual-era server's modern process's
// list_changed, which the gateway hears through one listen of its own per
// process. The stream starts with notifications/subscriptions/acknowledged
// naming what is honoured; every message carries the listen request's id
// as its subscriptionId; it ends when the client closes it (ctx).

// listener is one client's listen stream.
type listener struct {
	id      json.RawMessage // the listen request's id
	view    string
	s       *Session // the listen request's session: what it may hear is its scope
	twin    bool     // the view is a dual-era server: its modern process's list_changed
	tools   bool
	prompts bool
	res     bool
	uris    map[string]string // subscribed URIs → their server

	mu   sync.Mutex // one message at a time
	send func(json.RawMessage)
}

func (g *Gateway) listen(ctx context.Context, r *ModernRequest, caller engine.Identity) (json.RawMessage, error) {
	m := r.Message
	filter, ok := rawjson.GetValid(m.Params, "notifications")
	if !ok || len(filter) == 0 || filter[0] != '{' {
		return nil, invalidParamsf("missing required 'notifications' field: say which notifications to listen to, e.g. {\"toolsListChanged\": true}")
	}
	want := func(key string) bool { v, _ := rawjson.GetValid(filter, key); return string(v) == "true" }
	var uris []string
	if v, ok := rawjson.GetValid(filter, "resourceSubscriptions"); ok && rawjson.Present(v) {
		if err := json.Unmarshal(v, &uris); err != nil {
			return nil, invalidParamsf("notifications.resourceSubscriptions must be an array of URIs")
		}
	}
	s, err := g.Open(r.View, caller, nil)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	l := &listener{id: m.ID, view: r.View, s: s, send: r.Send, uris: map[string]string{}}
	rq := &request{s: s, sc: s.scope()}
	var caps []*engine.Client
	if r.View != "" {
		if u := g.twin(ctx, r.View); u != nil {
			l.twin = true
			caps = append(caps, u.client)
		} else {
			caps = append(caps, rq.sc.tab.servers[r.View].client)
		}
	} else {
		for _, name := range rq.sc.servers {
			caps = append(caps, rq.sc.tab.servers[name].client)
		}
	}
	subscribe := false
	for _, c := range caps {
		ir := c.InitializeResult()
		if ir == nil || ir.Capabilities == nil {
			continue
		}
		cp := ir.Capabilities
		l.tools = l.tools || want("toolsListChanged") && cp.Tools != nil && (cp.Tools.ListChanged || r.View == "")
		l.prompts = l.prompts || want("promptsListChanged") && cp.Prompts != nil && (cp.Prompts.ListChanged || r.View == "")
		l.res = l.res || want("resourcesListChanged") && cp.Resources != nil && (cp.Resources.ListChanged || r.View == "")
		subscribe = subscribe || cp.Resources != nil && cp.Resources.Subscribe
	}
	var honoured []rawjson.Field
	for _, f := range []struct {
		key string
		on  bool
	}{{"toolsListChanged", l.tools}, {"promptsListChanged", l.prompts}, {"resourcesListChanged", l.res}} {
		if f.on {
			honoured = append(honoured, rawjson.Field{Key: f.key, Value: []byte("true")})
		}
	}
	if subscribe && len(uris) > 0 {
		var got []string
		for _, uri := range uris {
			server := r.View
			if server == "" {
				if server, err = s.resourceOwner(ctx, rq, uri); err != nil {
					continue
				}
			}
			if g.subUp(ctx, subKey{server: server, uri: uri}) == nil {
				l.uris[uri] = server
				got = append(got, uri)
			}
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), upkeepTimeout)
			defer cancel()
			for uri, server := range l.uris {
				g.subDown(dctx, subKey{server: server, uri: uri})
			}
		}()
		if len(got) > 0 {
			b, _ := json.Marshal(got)
			honoured = append(honoured, rawjson.Field{Key: "resourceSubscriptions", Value: b})
		}
	}
	ack := rawjson.ApplyValid(nil, rawjson.Edit{Set: []rawjson.Field{{Key: "notifications", Value: rawjson.ApplyValid(nil, rawjson.Edit{Set: honoured})}}})
	l.deliver("notifications/subscriptions/acknowledged", ack)
	if len(honoured) > 0 {
		g.mu.Lock()
		g.listeners[l] = struct{}{}
		g.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-g.stopCtx.Done():
		case <-s.ctx.Done(): // a reload took its server away
		}
		g.mu.Lock()
		delete(g.listeners, l)
		g.mu.Unlock()
	}
	meta := rawjson.ApplyValid(nil, rawjson.Edit{Set: []rawjson.Field{{Key: engine.MetaSubscriptionID, Value: l.id}}})
	return rawjson.ApplyValid(nil, rawjson.Edit{Set: []rawjson.Field{{Key: "resultType", Value: []byte(`"complete"`)}, {Key: "_meta", Value: meta}}}), nil
}

// deliver sends the listener a notification, tagged with its subscription id.
func (l *listener) deliver(method string, params json.RawMessage) {
	if !rawjson.Present(params) {
		params = json.RawMessage(`{}`)
	}
	params = rawjson.SetPathValid(params, []string{"_meta", engine.MetaSubscriptionID}, l.id)
	msg := wire.Notification(method, params)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.send(msg)
}

// notifyListeners passes a server's notification to the listen streams
// that asked for it: list_changed of server's legacy process (twin false)
// or modern process (twin true), resources/updated of a subscribed URI.
func (g *Gateway) notifyListeners(server string, twin bool, method string, params json.RawMessage) {
	g.mu.Lock()
	if len(g.listeners) == 0 {
		g.mu.Unlock()
		return
	}
	ls := make([]*listener, 0, len(g.listeners))
	for l := range g.listeners {
		ls = append(ls, l)
	}
	g.mu.Unlock()
	uri := ""
	if method == "notifications/resources/updated" {
		uri, _ = rawjson.GetString(params, "uri")
	}
	for _, l := range ls {
		switch {
		case uri != "":
			if l.uris[uri] == server {
				l.deliver(method, params)
			}
			continue
		case l.view == server && l.twin == twin:
		case l.view == "" && !twin && l.s.scope().may[server]:
		default:
			continue
		}
		var on bool
		switch method {
		case "notifications/tools/list_changed":
			on = l.tools
		case "notifications/prompts/list_changed":
			on = l.prompts
		case "notifications/resources/list_changed":
			on = l.res
		}
		if !on {
			continue
		}
		if l.view == "" {
			l.deliver(method, nil) // the server's params may name its own (unprefixed) items
		} else {
			l.deliver(method, params)
		}
	}
}

// onTwinNotification routes a notification of a server's modern process:
// list_changed to listen streams, log messages to the one modern request
// that can have caused them.
func (g *Gateway) onTwinNotification(u *upstream, method string, params json.RawMessage) {
	if kinds := kindsChangedBy(method); kinds != nil {
		for _, k := range kinds {
			u.lists[k].invalidate()
		}
		g.notifyListeners(u.name, true, method, params)
		return
	}
	if method == "notifications/message" {
		g.logToModern(u, params)
	}
}

// logToModern gives a server's log message to the modern request in flight
// to it that asked for logs at that level, when there is exactly one: a log
// message names no request, and another caller's must not be seen.
func (g *Gateway) logToModern(u *upstream, params json.RawMessage) {
	level, _ := rawjson.GetString(params, "level")
	lvl := logLevelIndex(level)
	if lvl < 0 {
		lvl = len(logLevels) - 1
	}
	var target *Session
	n := 0
	for _, s := range g.snapshot() {
		if s.modern == nil || s.upstreamOf(u.name) != u {
			continue
		}
		_, live, _ := s.inflightTo(u.name)
		if !live {
			continue
		}
		n++
		s.mu.Lock()
		if s.logLevel >= 0 && lvl >= s.logLevel {
			target = s
		}
		s.mu.Unlock()
	}
	if n == 1 && target != nil {
		target.send(wire.Notification("notifications/message", params), nil)
	}
}

// upstreamOf is the upstream the session's requests to server reach.
func (s *Session) upstreamOf(server string) *upstream {
	if u := s.ups[server]; u != nil {
		return u
	}
	return s.g.upstream(server)
}

// follow keeps one listen open on a server's modern process for the
// gateway: a go-sdk server sends list_changed only on a listen stream.
func (g *Gateway) follow(u *upstream) {
	params := json.RawMessage(`{"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true}}`)
	go func() {
		for g.stopCtx.Err() == nil {
			_, err := u.client.CallStream(g.stopCtx, "subscriptions/listen", params)
			g.twinsMu.Lock()
			current := g.twins[u.name] == u
			g.twinsMu.Unlock()
			if !current || errors.Is(err, engine.ErrNotRunning) && u.client.InitializeResult() == nil {
				return
			}
			select {
			case <-g.stopCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
}
