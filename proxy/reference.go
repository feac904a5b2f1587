package proxy

import (
	"encoding/json"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// The reference extras: what the reference mcp-runner's web clients expect
// of GET /sse and POST /sse/messages, on top of the legacy SSE transport.
//
//   - A POST to the message path without ?sessionId= is accepted when the
//     caller (its token; everyone when auth is off) has exactly one open
//     stream on this transport: the message goes to that session. The
//     reference's endpoint event carried no session id, so its clients POST
//     to the bare path. With no stream or several, the POST gets 400 and a
//     message saying to use the URL of the endpoint event.
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

// announce sends a server-status event to every session allowed to see the server.
func (l *legacySSE) announce(ev engine.Event) {
	data, _ := json.Marshal(serverStatus{Type: "server-status", ServerName: ev.Server, ServerID: string(ev.ID), Status: string(ev.State)})
	sessions := l.sessions.all(func(s *sseSession) bool {
		return (s.statusAlways || !s.initialized.Load()) && (s.ident.Servers == nil || slices.Contains(s.ident.Servers, ev.Server))
	})
	for _, s := range sessions {
		s.st.push("server-status", data, false)
	}
}

// soleSession returns the one open session of token, for a POST without a
// session id.
func (l *legacySSE) soleSession(token string) (*sseSession, error) {
	mine := l.sessions.all(func(s *sseSession) bool { return sameToken(s.ident.Token, token) })
	switch len(mine) {
	case 1:
		return mine[0], nil
	case 0:
		return nil, refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
			"missing sessionId, and this caller has no open SSE stream: open one with GET, then POST to the URL its endpoint event gives (%s?sessionId=…)", l.postPath)
	}
	return nil, refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
		"missing sessionId, and this caller has %d open SSE streams: POST to the URL the endpoint event of your stream gives (%s?sessionId=…)", len(mine), l.postPath)
}
