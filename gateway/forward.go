package gateway

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// forward sends a request to a server on the session's behalf, through the
// runner's middleware: progress goes back to this session only, and the
// request counts as in flight to server for the attribution of the
// server's own requests. params must be valid JSON (or empty).
func (s *Session) forward(ctx context.Context, rq *request, server, method string, params json.RawMessage) (json.RawMessage, error) {
	if err := s.checkServer(server); err != nil {
		return nil, err
	}
	u := rq.upstream(server)
	if u.perSession {
		if err := rq.privateErr(server); err != nil {
			return nil, err
		}
	}
	if s.modern == nil || !u.client.IsModern() {
		// A legacy process must never see a request that could switch
		// its era (a go-sdk server goes modern on one), nor a legacy
		// session's request look modern to a modern process.
		params = stripEraMeta(params)
	}
	s.mu.Lock()
	rq.server = server
	caller := s.id
	s.mu.Unlock()
	req := &engine.Request{Server: server, Method: method, Params: params, Caller: caller, Route: rq}
	// A request that names a progress token goes upstream with the engine's
	// own token in its place (a client's token never reaches a shared
	// child, where it could name another session's request), and progress
	// comes back under the client's token, related to its request. A
	// request that names none goes as it is: the server sends no progress.
	if token, named := progressToken(params); named {
		var done atomic.Bool
		defer done.Store(true)
		req.Progress = func(raw json.RawMessage) {
			if token == nil || done.Load() {
				return
			}
			out := rawjson.ApplyValid(raw, rawjson.Edit{Set: []rawjson.Field{{Key: "progressToken", Value: token}}})
			s.send(wire.Notification("notifications/progress", out), rq.id)
		}
	}
	if ctx.Err() != nil {
		// Never start a request that is already cancelled: the engine's
		// connection may read a write abandoned by its context as broken.
		return nil, context.Cause(ctx)
	}
	return s.g.r.Do(ctx, req)
}

// progressToken returns params._meta.progressToken as a client's parser
// reads it (the last one; nil when null), and whether any _meta member of
// params names one at all: a server that reads duplicates differently
// might see another, so every one is replaced. params must be valid JSON.
func progressToken(params json.RawMessage) (token json.RawMessage, named bool) {
	rawjson.EachValid(params, func(m rawjson.Member) {
		if !m.Is("_meta") {
			return
		}
		token = nil // a later _meta replaces an earlier one
		rawjson.EachValid(m.Value, func(t rawjson.Member) {
			if t.Is("progressToken") {
				named, token = true, t.Value
			}
		})
	})
	if !rawjson.Present(token) {
		token = nil
	}
	return token, named
}
