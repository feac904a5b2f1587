// Package proxy will serve the configured MCP servers over HTTP (the
// reference's /sse endpoints and the standard MCP transports) on fiber. It is
// empty until that work lands; see the project's issues.
package proxy
