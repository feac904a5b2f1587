package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// A server's own requests (sampling, elicitation, roots) go to the one
// session that can have caused them; see the package documentation.

// deliverResponse hands the client's answer to a server→client request to
// the request waiting for it.
func (s *Session) deliverResponse(id, result, errObj json.RawMessage) {
	key := wire.IDKey(id)
	s.mu.Lock()
	ch := s.pendingOut[key]
	delete(s.pendingOut, key)
	s.mu.Unlock()
	if ch == nil {
		s.g.logger.Debug("gateway: dropping a client response to no pending request", "id", string(id))
		return
	}
	if errObj != nil {
		ch <- answer{err: wire.DecodeError(errObj)}
		return
	}
	ch <- answer{result: result}
}

// answer is a client's answer to a server→client request.
type answer struct {
	result json.RawMessage
	err    *wire.Error
}

// onServerRequest is the Runner's RequestHandler: it routes a server's own
// request to the one session that can have caused it.
func (g *Gateway) onServerRequest(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
	var (
		target  *Session
		related json.RawMessage
		n       int
	)
	for _, s := range g.snapshot() {
		rel, live, maybe := s.inflightTo(server)
		if !maybe {
			continue
		}
		n++
		target, related = s, rel
		if !live {
			target = nil // only a cancelled request could have caused it
		}
	}
	if n == 1 && target == nil {
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError,
			Message: fmt.Sprintf("mcpscript cannot pass on %s from server %q: the client request that caused it was cancelled", method, server)}
	}
	if n != 1 {
		why := "no client session has a request in flight to it"
		if n > 1 {
			why = fmt.Sprintf("%d client sessions have requests in flight to it", n)
		}
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError,
			Message: fmt.Sprintf("mcpscript cannot tell which client %s from server %q is for: %s", method, server, why)}
	}
	return target.ask(ctx, server, method, params, related)
}

// inflightTo reports whether the session has requests in flight to server
// (live) and returns the id of the one a server's request most likely
// belongs to: its oldest tools/call, else its oldest request. maybe is also
// true while a request it cancelled may still run there.
func (s *Session) inflightTo(server string) (related json.RawMessage, live, maybe bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, false
	}
	if until, ok := s.lingering[server]; ok {
		if time.Now().Before(until) {
			maybe = true
		} else {
			delete(s.lingering, server)
		}
	}
	var best *request
	for _, fl := range s.inflight {
		if fl.server != server {
			continue
		}
		switch {
		case best == nil:
			best = fl
		case (fl.method == "tools/call") != (best.method == "tools/call"):
			if fl.method == "tools/call" {
				best = fl
			}
		case fl.seq < best.seq:
			best = fl
		}
	}
	if best == nil {
		return nil, false, maybe
	}
	return best.id, true, true
}

// capabilityFor names the client capability a server→client request needs.
func capabilityFor(method string) string {
	switch method {
	case "sampling/createMessage":
		return "sampling"
	case "elicitation/create":
		return "elicitation"
	case "roots/list":
		return "roots"
	}
	return ""
}

// ask sends a server's request to the session's client under an id of the
// session's own and waits for the answer.
func (s *Session) ask(ctx context.Context, server, method string, params, related json.RawMessage) (any, error) {
	if s.modern != nil {
		return s.modern.ask(ctx, server, method, params)
	}
	if s.out == nil {
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeMethodNotFound,
			Message: fmt.Sprintf("the client session cannot receive requests, so %s is not available", method)}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError, Message: "the client session closed"}
	}
	if c := capabilityFor(method); c != "" && s.clientCaps != nil {
		if _, ok := s.clientCaps[c]; !ok {
			s.mu.Unlock()
			return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeMethodNotFound,
				Message: fmt.Sprintf("the client did not declare the %s capability, so mcpscript cannot forward %s", c, method)}
		}
	}
	s.nextOut++
	id := s.nextOut
	rawID := wire.IntID(id)
	key := wire.IDKey(rawID)
	ch := make(chan answer, 1)
	s.pendingOut[key] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pendingOut, key)
		s.mu.Unlock()
	}()

	s.send(wire.AppendRequest(nil, rawID, method, params), related)
	cancelled := func(reason string) {
		p := append([]byte(`{"requestId":`), rawID...)
		p = append(rawjson.AppendQuote(append(p, `,"reason":`...), reason), '}')
		s.send(wire.Notification("notifications/cancelled", p), related)
	}
	timer := time.NewTimer(serverRequestTimeout)
	defer timer.Stop()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, &engine.RPCError{Server: server, Method: method, Code: a.err.Code, Message: a.err.Message, Data: a.err.Data}
		}
		return a.result, nil
	case <-ctx.Done():
		cancelled(fmt.Sprintf("server %q cancelled the request", server))
		return nil, ctx.Err()
	case <-s.ctx.Done():
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError, Message: "the client session closed"}
	case <-timer.C:
		cancelled("no answer in time")
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError,
			Message: fmt.Sprintf("the client did not answer %s within %s", method, serverRequestTimeout)}
	}
}
