// Command mcpload measures what it costs to reach an MCP server's tools
// through a proxy, next to calling the server directly over stdio, with
// go-sdk clients. It has three modes:
//
//	mcpload [flags] TARGET...   ad-hoc targets (stdio:CMD, http:URL, sse:URL), one load each
//	mcpload bench [flags]       the benchmark matrix: direct stdio, mcpscript's endpoints,
//	                            its hooks and filters, and the peer proxies, each started
//	                            afresh per cell, at several concurrencies and payload sizes
//	mcpload idle [flags]        the memory a proxy holds for N idle Streamable HTTP sessions
//
// scripts/bench.sh builds what the bench needs and runs it; docs/benchmarks.md
// explains the method. Run a mode with -h for its flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "bench":
			return benchMain(ctx, args[1:], os.Stdout, os.Stderr)
		case "idle":
			return idleMain(ctx, args[1:], os.Stdout, os.Stderr)
		}
	}
	return adhocMain(ctx, args, os.Stdout, os.Stderr)
}
