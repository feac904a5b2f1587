package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// The console's API (docs/api.md), behind the same authentication as every
// other route, each answer limited to the servers the caller may use:
//
//	GET  /api/events                    server states as an event stream:
//	                                    "servers" (all of them) first, then
//	                                    "status" at each change
//	POST /api/servers/NAME/start|stop|restart
//	                                    control a server; answers its status
//	GET  /api/audit/stream              audit records as an event stream:
//	                                    the recent ones, then each new one;
//	                                    filters: ?server=&tool=&caller=&decision=&outcome=
//	GET  /api/hooks                     hooks and filters with their counts
//
// The streams are text/event-stream with heartbeats (": ping"), readable
// with fetch, which can send the Authorization header (EventSource
// cannot).

// apiControlTimeout bounds a start, stop or restart.
const apiControlTimeout = 2 * time.Minute

// apiHeartbeat is the interval of the API streams' heartbeats.
const apiHeartbeat = 15 * time.Second

// mayUse reports whether the caller may see and control server: one the
// proxy exposes and the caller's token allows.
func (s *Server) mayUse(id engine.Identity, server string) bool {
	return slices.Contains(s.servers().allowed, server) && (id.Servers == nil || slices.Contains(id.Servers, server))
}

// apiStatus is GET /api/servers's entry for st.
func apiStatus(st engine.Status) apiServer {
	v := apiServer{
		Name: st.Name, ID: string(st.ID), State: string(st.State), PID: st.PID, Restarts: st.Restarts,
		ProtocolVersion: st.ProtocolVersion,
		Endpoints:       apiEndpoints{MCP: "/servers/" + st.Name + "/mcp", SSE: "/servers/" + st.Name + "/sse"},
	}
	if !st.Since.IsZero() {
		since := st.Since.UTC()
		v.Since = &since
	}
	if st.Err != nil {
		v.Error = st.Err.Error()
	}
	if si := st.ServerInfo; si != nil {
		v.ServerInfo = &apiServerInfo{Name: si.Name, Title: si.Title, Version: si.Version}
	}
	return v
}

// apiControl is POST /api/servers/NAME/ACTION.
func (s *Server) apiControl(c *fiber.Ctx) error {
	id := identityOf(c)
	name, action := c.Params("name"), c.Params("action")
	configured := s.servers().configured
	if _, ok := configured[name]; !ok || !s.mayUse(id, name) {
		// The same answer for a server that is not there and one the
		// caller may not see.
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "unknown server %q", name)
	}
	name = configured[name] // the canonical string: c.Params is fasthttp's buffer
	if sc := s.r.Config().Servers[name]; sc != nil && sc.PerSession() {
		return refuse(fiber.StatusConflict, wire.CodeInvalidRequest,
			"server %q has a child per session (childModel per-session): sessions start and stop their own", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiControlTimeout)
	defer cancel()
	var err error
	switch action {
	case "start":
		err = s.r.StartServer(ctx, name)
	case "stop":
		err = s.r.StopServer(ctx, name)
	case "restart":
		if err = s.r.StopServer(ctx, name); err == nil || errors.Is(err, engine.ErrNotRunning) {
			err = s.r.StartServer(ctx, name)
		}
	default:
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "unknown action %q: use start, stop or restart", action)
	}
	st, serr := s.r.Status(name)
	if serr != nil {
		return serr
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	switch {
	case err == nil:
		s.logger.Info("proxy: server controlled through the API", "server", name, "action", action, "token", id.Token)
		return c.JSON(fiber.Map{"server": apiStatus(st)})
	case errors.Is(err, engine.ErrAlreadyRunning), errors.Is(err, engine.ErrNotRunning):
		c.Status(fiber.StatusConflict)
	default:
		c.Status(fiber.StatusBadGateway) // the server could not start or stop
	}
	return c.JSON(fiber.Map{"server": apiStatus(st), "error": err.Error()})
}

// apiEvents is GET /api/events.
func (s *Server) apiEvents(c *fiber.Ctx) error {
	id := identityOf(c)
	events, stop := s.r.Subscribe(64)
	var snapshot []apiServer
	for _, st := range s.r.Statuses() {
		if s.mayUse(id, st.Name) {
			snapshot = append(snapshot, apiStatus(st))
		}
	}
	first, _ := json.Marshal(fiber.Map{"servers": snapshot})
	setSSEHeaders(c)
	done := c.Context().Done()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer stop()
		if !writeEvent(w, "servers", first) {
			return
		}
		hb := time.NewTicker(apiHeartbeat)
		defer hb.Stop()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				if !s.mayUse(id, ev.Server) {
					continue
				}
				st, err := s.r.Status(ev.Server)
				if err != nil {
					continue
				}
				// The event's own state: the server may have moved on,
				// and each step is for the page to show.
				st.State, st.PID, st.Restarts, st.Since = ev.State, ev.PID, ev.Restarts, ev.Time
				if ev.Err != nil {
					st.Err = ev.Err
				}
				data, _ := json.Marshal(apiStatus(st))
				if !writeEvent(w, "status", data) {
					return
				}
			case <-hb.C:
				if !writeComment(w, "ping") {
					return
				}
			case <-done:
				return
			}
		}
	})
	return nil
}

// auditFilter selects the records a stream shows.
type auditFilter struct {
	id                                      engine.Identity
	s                                       *Server
	server, tool, caller, decision, outcome string
}

func (f *auditFilter) match(r *audit.Record) bool {
	if !f.s.mayUse(f.id, r.Server) {
		return false
	}
	if f.server != "" && r.Server != f.server || f.outcome != "" && r.Outcome != f.outcome {
		return false
	}
	if f.tool != "" && !strings.Contains(r.Tool+" "+r.Prompt+" "+r.URI, f.tool) {
		return false
	}
	if f.caller != "" && !strings.Contains(strings.Join([]string{r.Caller.Transport, r.Caller.Token, r.Caller.Subject, r.Caller.Session, r.Caller.ClientName}, " "), f.caller) {
		return false
	}
	if f.decision != "" && !slices.ContainsFunc(r.Decisions, func(d engine.Decision) bool { return d.Kind == f.decision }) {
		return false
	}
	return true
}

// apiAuditStream is GET /api/audit/stream.
func (s *Server) apiAuditStream(c *fiber.Ctx) error {
	if s.trail == nil {
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "no audit trail: this proxy was started without one")
	}
	f := &auditFilter{id: identityOf(c), s: s,
		server: strings.Clone(c.Query("server")), tool: strings.Clone(c.Query("tool")),
		caller: strings.Clone(c.Query("caller")), decision: strings.Clone(c.Query("decision")),
		outcome: strings.Clone(c.Query("outcome"))}
	backlog, sub := s.trail.Subscribe(1024)
	setSSEHeaders(c)
	done := c.Context().Done()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sub.Close()
		var buf []byte
		send := func(r *audit.Record) bool {
			if !f.match(r) {
				return true
			}
			buf = r.AppendJSON(buf[:0])
			return writeEvent(w, "record", buf)
		}
		for _, r := range backlog {
			if !send(r) {
				return
			}
		}
		if !writeComment(w, "live") {
			return
		}
		hb := time.NewTicker(apiHeartbeat)
		defer hb.Stop()
		var missed uint64
		for {
			select {
			case r, ok := <-sub.C:
				if !ok {
					return
				}
				if d := sub.Dropped(); d != missed {
					missed = d
					if !writeEvent(w, "dropped", rawjson.Int(int64(d))) {
						return
					}
				}
				if !send(r) {
					return
				}
			case <-hb.C:
				if !writeComment(w, "ping") {
					return
				}
			case <-done:
				return
			}
		}
	})
	return nil
}

// apiHook is one entry of GET /api/hooks.
type apiHook struct {
	engine.MiddlewareStats
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

// apiHooks is GET /api/hooks: the hooks and filters in the order requests
// meet them, with what they did so far.
func (s *Server) apiHooks(c *fiber.Ctx) error {
	out := []apiHook{}
	if s.hookStats != nil {
		for _, st := range s.hookStats() {
			out = append(out, apiHook{MiddlewareStats: st,
				P50Ms: float64(st.P50.Microseconds()) / 1000, P99Ms: float64(st.P99.Microseconds()) / 1000})
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"hooks": out, "measured": s.hookStats != nil})
}

// writeEvent writes one SSE event and flushes; false when the client is gone.
func writeEvent(w *bufio.Writer, event string, data []byte) bool {
	w.WriteString("event: ")
	w.WriteString(event)
	w.WriteString("\ndata: ")
	w.Write(data) // JSON on one line: no newline to split
	w.WriteString("\n\n")
	return w.Flush() == nil
}

// writeComment writes an SSE comment line and flushes.
func writeComment(w *bufio.Writer, text string) bool {
	w.WriteString(": " + text + "\n\n")
	return w.Flush() == nil
}
