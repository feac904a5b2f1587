// Package remote connects to MCP servers over HTTP and presents each as the
// newline-delimited JSON-RPC message streams of MCP's stdio transport, so
// the engine that speaks MCP to stdio servers speaks to remote ones
// unchanged: handshake, multiplexing, progress, cancellation, the server's
// requests and notifications.
//
// [Dial] returns a [Link] whose Reader yields the remote's messages and
// whose Writer takes ours. Both of MCP's HTTP transports are spoken:
// Streamable HTTP (sessions, the standalone GET stream, resumption with
// Last-Event-ID, JSON or event-stream answers, DELETE on close, the
// 2026-07-28 per-request headers) and the legacy HTTP+SSE transport of
// 2024-11-05, chosen by configuration or detected from the first message.
//
// A link never reconnects by itself beyond reopening a dropped event
// stream: when the remote forgets the session, refuses the credentials or
// cannot be reached, the link ends with a typed error (see [Error]) and its
// owner dials again, as it would restart a stdio server that exited.
package remote
