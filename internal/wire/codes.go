// Package wire is mcpscript's one JSON-RPC 2.0 layer: the error codes, the
// parsing of a message (once: later stages reuse the parsed Message), the
// encoders and the comparable form of ids. Messages stay bytes: parsing
// validates the whole message but decodes only the envelope.
package wire

// JSON-RPC and MCP error codes. Each code has one meaning in mcpscript.
const (
	// JSON-RPC 2.0.
	CodeParseError     = -32700 // the message is not JSON
	CodeInvalidRequest = -32600 // JSON, but not a valid JSON-RPC message
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603

	// -32000 to -32019 are left to implementations by MCP 2026-07-28;
	// receivers must not assume their meaning except -32002.

	// CodeSessionNotFound answers a request for a session that does not
	// exist (any more), as the TypeScript SDK's servers answer it.
	CodeSessionNotFound = -32001
	// CodeResourceNotFound is MCP's resource-not-found (up to 2025-11-25;
	// 2026-07-28 uses CodeInvalidParams instead).
	CodeResourceNotFound = -32002
	// CodeDenied answers a request a hook or policy refused; data is
	// {"by": ..., "reason": ...}.
	CodeDenied = -32003
	// CodeTimeout answers a request the server did not answer in time.
	CodeTimeout = -32004
	// CodeRateLimited answers a request over a rate limit or quota; data
	// holds retryAfter (seconds).
	CodeRateLimited = -32005

	// MCP 2026-07-28 reserves -32020 to -32099.
	CodeHeaderMismatch             = -32020 // an Mcp-* header disagrees with the body
	CodeMissingRequiredCapability  = -32021 // data: {"requiredCapabilities": {...}}
	CodeUnsupportedProtocolVersion = -32022 // data: {"supported": [...], "requested": "..."}

	// CodeRequestCancelled answers a request the client cancelled (as in
	// LSP); MCP tells clients to ignore such answers.
	CodeRequestCancelled = -32800
)
