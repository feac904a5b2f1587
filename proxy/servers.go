package proxy

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// serverSet is the servers the proxy serves. It is never modified: a
// reload (Runner.Reconfigure) builds the next one and swaps it in.
type serverSet struct {
	configured map[string]string // every configured server name, to itself (canonical strings)
	allowed    []string          // the servers the proxy exposes, sorted
	transports map[string]*serverTransports
}

func (s *Server) servers() *serverSet { return s.set.Load() }

// buildServerSet makes the set for the runner's servers now, keeping the
// transports (and so the sessions) of the servers prev already serves.
func (s *Server) buildServerSet(prev *serverSet) *serverSet {
	set := &serverSet{configured: map[string]string{}, transports: map[string]*serverTransports{}}
	for _, name := range s.r.Servers() {
		set.configured[name] = name
		if s.cfg.AllowedServers != nil && !slices.Contains(s.cfg.AllowedServers, name) {
			continue
		}
		set.allowed = append(set.allowed, name)
		if prev != nil && prev.transports[name] != nil {
			set.transports[name] = prev.transports[name]
			continue
		}
		set.transports[name] = &serverTransports{
			mcp: newStreamable(s.gw, name, s.topts(transportStreamable, name)),
			sse: newLegacySSE(s.gw, name, "/servers/"+name+"/messages", s.topts(transportSSE, name)),
		}
	}
	return set
}

// reconfigured follows a Runner.Reconfigure: added servers get their
// routes, and removed ones lose them, their sessions closed. The sessions
// of the other servers, changed ones included, go on (the gateway tells
// them their lists changed).
func (s *Server) reconfigured(engine.Changes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return
	}
	prev := s.servers()
	next := s.buildServerSet(prev)
	s.set.Store(next)
	s.metrics.servers.Store(&next.configured)
	for name, t := range prev.transports {
		if next.transports[name] == nil {
			t.mcp.Close()
			t.sse.Close()
		}
	}
}

// reloadTimeout bounds a reload through the API: new servers must start
// within it.
const reloadTimeout = 2 * time.Minute

// apiReload is POST /api/reload: it runs Options.Reload for a caller whose
// token may use every server (a reload can add and remove any), and
// answers what changed; a refused config gets 422 with its errors, and
// the old config stays.
func (s *Server) apiReload(c *fiber.Ctx) error {
	id := identityOf(c)
	if id.Servers != nil {
		return refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
			"forbidden: reloading needs a token that may use every server (token %q is limited to %v)", id.Token, id.Servers)
	}
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	ch, err := s.reload(ctx)
	c.Set(fiber.HeaderCacheControl, "no-store")
	body := fiber.Map{"added": nonNil(ch.Added), "removed": nonNil(ch.Removed), "changed": nonNil(ch.Changed), "unchanged": nonNil(ch.Unchanged)}
	switch {
	case err == nil:
		return c.JSON(body)
	case errors.Is(err, engine.ErrConfigInvalid):
		return refuse(fiber.StatusUnprocessableEntity, wire.CodeInvalidParams, "the new config was refused; the old one stays: %v", err)
	default:
		// Applied, but some servers did not start: say which.
		body["error"] = err.Error()
		return c.Status(fiber.StatusBadGateway).JSON(body)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
