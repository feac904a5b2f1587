// Package console holds mcpscript's web console: a page of plain ES
// modules and one style sheet, no build step, embedded in the binary and
// served by the proxy at /console/ (see proxy and docs/api.md).
//
// The page asks for the proxy's bearer token and keeps it in
// sessionStorage. It speaks MCP itself over the proxy's Streamable HTTP
// aggregate endpoint (/mcp) to list and call tools, read resources and
// get prompts, and uses /api for what MCP does not carry: server states
// and control, the audit trail, hook statistics.
package console

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the console's files: index.html, its modules and its
// style sheet, at the root.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: " + err.Error()) // the embedded folder is there by construction
	}
	return sub
}
