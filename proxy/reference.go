package proxy

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// The reference extras: what the reference mcp-runner's web clients expect
// of GET /sse and POST /sse/messages, on top of the legacy SSE transport.
//
//   - A POST to the message path without ?sessionId= is accepted when
//     exactly one open stream could be the caller's: the message goes to
//     that session. The reference's endpoint event carried no session id,
//     so its clients POST to the bare path. With no such stream or several,
//     the POST gets 400 and a message saying to use the URL of the endpoint
//     event. The streams that could be the caller's are those its token
//     opened (every stream when auth is off) and, with tokenless streams
//     (below), the unbound ones of the caller's Origin and IP address.
//   - Tokenless streams (sseProxy.authenticate.tokenlessStreams, off by
//     default): the reference's pages open GET /sse with EventSource,
//     which cannot send a token, and send it only with their POSTs. With
//     the setting, GET /sse without a token opens a stream that belongs to
//     no one: it gets its endpoint event and nothing else, and has no
//     gateway session. The first authenticated POST that names it
//     (?sessionId=) binds it to that POST's caller for good (knowing the id
//     means reading the stream); a POST that names no session binds it
//     only when it is the one stream that could be the caller's (see
//     above). A bound stream is like any other: another caller's POSTs do
//     not find it. The residual risk, stated in the warning logged at
//     start: a local process that opens a stream with a forged Origin
//     while a caller's page has none receives that caller's answers to
//     POSTs that name no session.
//   - "server-status" events when a server changes state: data
//     {"type":"server-status","server_name":…,"server_id":…,"status":…},
//     status being the engine's state name ("starting", "running",
//     "restarting", "stopping", "stopped", "failed"). A token limited to
//     some servers hears only of those. They go to the sessions whose client
//     has not sent an MCP initialize (the reference's clients do not), or
//     that asked for them with GET /sse?serverStatus=1: standard MCP
//     clients expect only message events, and the go-sdk's SSE client takes
//     any event for a JSON-RPC message, so a status event would break it.
//   - The reference's tools/call params {server, tool or name, arguments}
//     are understood by the gateway itself, on every transport.
//
// Everything else (every MCP method, endpoint and message events) is the
// plain legacy transport.

// withReference turns the reference extras on and returns l. statusEvents,
// if not nil, are the server state changes to announce (e.g. from
// Runner.Subscribe, filtered to the servers the proxy exposes); l reads
// them until it is closed or the channel is.
func (l *legacySSE) withReference(statusEvents <-chan engine.Event) *legacySSE {
	l.reference = true
	l.transport = transportReferenceSSE
	if statusEvents != nil {
		go l.forwardStatus(statusEvents)
	}
	return l
}

// serverStatus is the data of a server-status event.
type serverStatus struct {
	Type       string `json:"type"`
	ServerName string `json:"server_name"`
	ServerID   string `json:"server_id"`
	Status     string `json:"status"`
}

// forwardStatus announces state changes until Close or the channel closes.
func (l *legacySSE) forwardStatus(events <-chan engine.Event) {
	for {
		select {
		case <-l.sessions.done:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			l.announce(ev)
		}
	}
}

// announce sends a server-status event to every session allowed to see the
// server (never to an unbound tokenless stream).
func (l *legacySSE) announce(ev engine.Event) {
	data, _ := json.Marshal(serverStatus{Type: "server-status", ServerName: ev.Server, ServerID: string(ev.ID), Status: string(ev.State)})
	sessions := l.sessions.all(func(s *sseSession) bool {
		gs, ident := s.session()
		return gs != nil && (s.statusAlways || !s.initialized.Load()) && (ident.Servers == nil || slices.Contains(ident.Servers, ev.Server))
	})
	for _, s := range sessions {
		s.st.push("server-status", data, false)
	}
}

// maxTokenlessStreams bounds the tokenless streams waiting to be bound, per
// transport.
const maxTokenlessStreams = 64

// tokenlessKey is the fiber Locals key the auth middleware sets (to true)
// on a GET /sse it let through without a token.
const tokenlessKey = "mcpscript.tokenless"

// isTokenless reports whether the request is a GET /sse let through without
// a token.
func isTokenless(c *fiber.Ctx) bool {
	v, _ := c.Locals(tokenlessKey).(bool)
	return v
}

// admitTokenless refuses a tokenless stream when maxTokenlessStreams wait.
func (l *legacySSE) admitTokenless() error {
	waiting := l.sessions.all(func(s *sseSession) bool { return s.tokenName() == unboundToken })
	if len(waiting) >= maxTokenlessStreams {
		return refuse(fiber.StatusServiceUnavailable, wire.CodeInternalError,
			"too many streams opened without a token are waiting for their first POST (%d); authenticate the stream instead: GET /sse?access_token=… (POST /auth/token)", len(waiting))
	}
	return nil
}

// callerOrigin is the request's Origin as compared between a tokenless
// stream and a POST: lower case, and "" for a same-origin request (whose
// Origin browsers send on POST but not on GET) or none.
func callerOrigin(c *fiber.Ctx) string {
	o := strings.ToLower(c.Get(fiber.HeaderOrigin))
	if o == "" {
		return ""
	}
	if u, err := url.Parse(o); err == nil && u.Host != "" && strings.EqualFold(u.Host, string(c.Request().Host())) {
		return ""
	}
	return o
}

// soleSession returns the one open session that could be the caller's, for
// a POST without a session id: the caller's own (by token) and the unbound
// tokenless streams of the caller's origin and address. A tokenless one is
// bound to the caller.
func (l *legacySSE) soleSession(ident engine.Identity, origin, addr string) (*sseSession, error) {
	var unbound int
	mine := l.sessions.all(func(s *sseSession) bool {
		switch tok := s.tokenName(); {
		case tok == unboundToken:
			if s.origin == origin && s.addr == addr {
				unbound++
				return true
			}
			return false
		default:
			return sameToken(tok, sessionOwner(ident))
		}
	})
	switch {
	case len(mine) == 1 && mine[0].tokenName() == unboundToken:
		if err := mine[0].bind(ident); err != nil {
			return nil, err
		}
		return mine[0], nil
	case len(mine) == 1:
		return mine[0], nil
	case len(mine) == 0:
		return nil, refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
			"missing sessionId, and this caller has no open SSE stream: open one with GET, then POST to the URL its endpoint event gives (%s?sessionId=…)", l.postPath)
	case unbound > 0:
		return nil, refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
			"missing sessionId, and %d open SSE streams could be this caller's (%d opened without a token from this origin): the proxy cannot tell which one is yours, so POST to the URL the endpoint event of your stream gives (%s?sessionId=…)", len(mine), unbound, l.postPath)
	}
	return nil, refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
		"missing sessionId, and this caller has %d open SSE streams: POST to the URL the endpoint event of your stream gives (%s?sessionId=…)", len(mine), l.postPath)
}

// bindNamed binds the tokenless stream id to the caller of a POST that
// names it. Any other session (unknown, closed, bound to another caller)
// is not found.
func (l *legacySSE) bindNamed(id string, ident engine.Identity) (*sseSession, error) {
	found := l.sessions.all(func(s *sseSession) bool { return s.id == id && s.tokenName() == unboundToken })
	if len(found) != 1 {
		return nil, errUnknownStream
	}
	if err := found[0].bind(ident); err != nil {
		return nil, err
	}
	return found[0], nil
}
