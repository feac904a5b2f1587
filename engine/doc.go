// Package engine runs MCP servers and talks to them as an MCP client.
//
// A [Runner] starts the stdio servers of a config (see package config), keeps
// them alive under their restart policies and stops them; each server has one
// [Client], valid for the Runner's life:
//
//	runner, err := engine.FromConfigFile("mcpscript.json")
//	if err != nil { ... }
//	defer runner.StopAll(context.Background())
//	if err := runner.StartServer(ctx, "fs"); err != nil { ... }
//	client, _ := runner.Client("fs")
//	tools, err := client.ListTools(ctx)
//	res, err := client.CallTool(ctx, "read_file", map[string]any{"path": "/tmp/x"})
//
// The Client speaks MCP 2025-11-25 and accepts servers that negotiate down to
// 2024-11-05. Requests are multiplexed on one connection, each bounded by the
// server's requestTimeout (a timed-out request is cancelled on the server).
// Errors wrap the sentinels of this package ([ErrServerNotFound],
// [ErrTimeout], [ErrCommunication], ...) or are an [*RPCError] carrying the
// server's JSON-RPC error; test them with errors.Is and errors.As.
package engine
