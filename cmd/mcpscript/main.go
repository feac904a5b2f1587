// Command mcpscript runs MCP servers from a config and lets you call them.
//
//	mcpscript tools --config examples/demo.json
//	mcpscript call demo echo '{"text":"hi"}'
//
// See the README for every command.
package main

import (
	"os"

	"github.com/mcpscript/mcpscript/procman"
	"github.com/mcpscript/mcpscript/scripting"
)

func main() {
	procman.RunShimIfRequested()
	scripting.RunHostIfRequested()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
