package scripting

import "github.com/mcpscript/mcpscript/internal/jsrt"

// Grants are what scripts may reach beyond their own code: the environment
// variables process.env shows (Env) and a folder fs.readFile, fs.readdir and
// fs.exists may read (ReadDir; "" grants none). Nothing else outside the
// script is reachable: no network, no processes, no other files.
type Grants = jsrt.Grants
