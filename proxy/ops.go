package proxy

import (
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
)

// Operations endpoints.
//
//	GET /healthz      200 {"status": "ok"} while the process runs; no auth, no
//	                  Host check.
//	GET /readyz       200 {"ready": true} when every enabled server the proxy
//	                  exposes is running, else 503 {"ready": false, "notReady":
//	                  [{"name": "fetch", "state": "restarting"}], "notReadyTotal": 1}.
//	                  No auth needed; without a valid token (when auth is on)
//	                  "notReady" is only the count, and a token limited to
//	                  some servers gets only those by name (and the count of
//	                  all), so that server names do not leak.
//	GET /api/servers  {"servers": [{"name", "id", "state", "transport", "url",
//	                  "pid", "restarts", "since", "error", "serverInfo",
//	                  "protocolVersion", "endpoints"}]}: the servers the proxy
//	                  exposes and the caller's token may use; transport is
//	                  "stdio", "http" or "sse", url a remote server's endpoint
//	                  (credentials redacted).

// healthz is GET /healthz.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}

// notReady is one server in /readyz's answer.
type notReady struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// readyz is GET /readyz.
func (s *Server) readyz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	var down []notReady
	for _, st := range s.r.Statuses() {
		if !slices.Contains(s.servers().allowed, st.Name) || st.State == engine.StateDisabled || st.State == engine.StateRunning {
			continue
		}
		down = append(down, notReady{Name: st.Name, State: string(st.State)})
	}
	if len(down) == 0 {
		return c.JSON(fiber.Map{"ready": true})
	}
	c.Status(fiber.StatusServiceUnavailable)
	var id engine.Identity
	if s.auth != nil {
		var ok bool
		if id, ok = s.callerIdentity(c); !ok {
			return c.JSON(fiber.Map{"ready": false, "notReady": len(down)})
		}
	}
	// A limited token hears by name only of its own servers.
	mine := slices.DeleteFunc(down, func(n notReady) bool { return id.Servers != nil && !slices.Contains(id.Servers, n.Name) })
	return c.JSON(fiber.Map{"ready": false, "notReady": mine, "notReadyTotal": len(down)})
}

// callerIdentity returns the identity of the request's valid bearer token,
// if it carries one (for the routes that do not require one).
func (s *Server) callerIdentity(c *fiber.Ctx) (engine.Identity, bool) {
	tok, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return engine.Identity{}, false
	}
	return s.auth.check(tok)
}

// apiServer is one server in /api/servers.
type apiServer struct {
	Name            string         `json:"name"`
	ID              string         `json:"id"`
	State           string         `json:"state"`
	Transport       string         `json:"transport,omitempty"`
	URL             string         `json:"url,omitempty"`
	PID             int            `json:"pid,omitempty"`
	Restarts        int            `json:"restarts"`
	Since           *time.Time     `json:"since,omitempty"`
	Error           string         `json:"error,omitempty"`
	ServerInfo      *apiServerInfo `json:"serverInfo,omitempty"`
	ProtocolVersion string         `json:"protocolVersion,omitempty"`
	Endpoints       apiEndpoints   `json:"endpoints"`
}

// serverInfo is the name and version a server gave at its handshake.
type apiServerInfo struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Version string `json:"version"`
}

// apiEndpoints are a server's routes.
type apiEndpoints struct {
	MCP string `json:"mcp"`
	SSE string `json:"sse"`
}

// apiServers is GET /api/servers.
func (s *Server) apiServers(c *fiber.Ctx) error {
	id := identityOf(c)
	out := []apiServer{}
	for _, st := range s.r.Statuses() {
		if !slices.Contains(s.servers().allowed, st.Name) || id.Servers != nil && !slices.Contains(id.Servers, st.Name) {
			continue
		}
		v := apiServer{
			Name: st.Name, ID: string(st.ID), State: string(st.State), Transport: st.Transport, URL: st.URL,
			PID: st.PID, Restarts: st.Restarts,
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
		out = append(out, v)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"servers": out})
}
