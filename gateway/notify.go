package gateway

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// onNotification routes a server's notification (on the server's reader
// goroutine: it must not block). owner is the session whose private child
// u is, nil for a shared server: a private child's notifications go to its
// session only, a shared server's to every session that may hear them.
func (g *Gateway) onNotification(u *upstream, owner *Session, method string, params json.RawMessage) {
	recipients := func() []*Session {
		if owner != nil {
			return []*Session{owner}
		}
		return g.snapshot()
	}
	if kinds := kindsChangedBy(method); kinds != nil {
		for _, k := range kinds {
			u.lists[k].invalidate()
		}
		// A server's view gets the server's own notification; the
		// aggregate a plain one (params may speak of unprefixed names).
		own := wire.Notification(method, params)
		plain := wire.Notification(method, nil)
		if owner == nil {
			g.notifyListeners(u.name, false, method, params)
		}
		for _, s := range recipients() {
			switch {
			case s.modern != nil: // a modern request hears of changes only through a listen
			case s.view == u.name:
				s.send(own, nil)
			case s.view == "" && s.scope().may[u.name]:
				s.send(plain, nil)
			}
		}
		return
	}
	switch method {
	case "notifications/resources/updated":
		uri, ok := rawjson.GetString(params, "uri")
		if !ok {
			return
		}
		k := subKey{server: u.name, uri: uri}
		msg := wire.Notification(method, params)
		if owner == nil {
			g.notifyListeners(u.name, false, method, params)
		}
		for _, s := range recipients() {
			s.mu.Lock()
			ok := s.subs[k] == subActive
			s.mu.Unlock()
			if ok {
				s.send(msg, nil)
			}
		}
	case "notifications/message":
		level, ok := rawjson.GetString(params, "level")
		if !ok {
			return
		}
		lvl := logLevelIndex(level)
		if lvl < 0 {
			lvl = len(logLevels) - 1 // unknown levels are treated as the most severe
		}
		msg := wire.Notification(method, params)
		if owner == nil {
			g.logToModern(u, params)
		}
		for _, s := range recipients() {
			if !s.scope().may[u.name] || s.modern != nil {
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
		g.logger.Debug("gateway: dropping a server notification that belongs to no session", "server", u.name, "method", method)
	}
}

// kindsChangedBy returns the lists a notifications/*/list_changed is about,
// or nil for any other method.
func kindsChangedBy(method string) []listKind {
	var out []listKind
	for k, info := range kindInfo {
		if info.changed == method {
			out = append(out, listKind(k))
		}
	}
	return out
}

// serverUp runs when a shared server (re)connects: caches are dropped, the
// upstream log level and subscriptions are restored, and the sessions that
// have listed something are told the lists may have changed.
func (g *Gateway) serverUp(name string) {
	u := g.upstream(name)
	if u == nil || u.perSession {
		return
	}
	for i := range u.lists {
		u.lists[i].invalidate()
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), upkeepTimeout)
		defer cancel()
		if err := u.applyLogLevel(ctx, -1); err != nil {
			g.logger.Warn("gateway: could not restore the log level of a restarted server", "server", name, "err", err)
		}
		g.resubscribe(ctx, name)
	}()
	ir := u.client.InitializeResult()
	if ir == nil || ir.Capabilities == nil {
		return
	}
	var sent []string
	for k := range listKind(numKinds) {
		has, listChanged := k.capability(ir)
		method := kindInfo[k].changed
		if !has || slices.Contains(sent, method) {
			continue
		}
		sent = append(sent, method)
		msg := wire.Notification(method, nil)
		for _, s := range g.snapshot() {
			s.mu.Lock()
			listed := s.listed
			s.mu.Unlock()
			if listed && s.modern == nil && (s.view == "" && s.scope().may[name] || s.view == name && listChanged) {
				s.send(msg, nil)
			}
		}
	}
}
