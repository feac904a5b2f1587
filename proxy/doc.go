// Package proxy serves the MCP servers of an engine.Runner over HTTP, on
// fiber: the reference's GET /sse + POST /sse/messages, MCP Streamable HTTP
// and legacy HTTP+SSE, for the aggregate of all servers (/mcp, /sse) and for
// each server on its own path (/servers/NAME/...), with bearer tokens,
// an allow-list of servers, CORS, Origin/Host checks, a body limit, health
// endpoints and Prometheus metrics. See [New], [StartAllWithProxy] and the
// route list in server.go.
package proxy
