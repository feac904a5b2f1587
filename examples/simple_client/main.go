// Command simple_client is the quick start of the README: it starts the
// servers of a config, lists one server's tools and calls one.
//
//	go run ./examples/simple_client                       # the demo server (needs mcpscript on PATH)
//	go run ./examples/simple_client -config examples/config.json -server everything -tool echo -args '{"message":"hi"}'
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

func main() {
	configPath := flag.String("config", "examples/demo.json", "config file")
	server := flag.String("server", "demo", "server to use")
	tool := flag.String("tool", "echo", "tool to call")
	args := flag.String("args", `{"text": "hello from simple_client"}`, "tool arguments (JSON object)")
	flag.Parse()
	if err := run(*configPath, *server, *tool, *args); err != nil {
		log.Fatal(err)
	}
}

func run(configPath, server, tool, args string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Create a runner from a config file and start one of its servers.
	runner, err := engine.FromConfigFile(configPath)
	if err != nil {
		return err
	}
	defer runner.StopAll(context.Background())
	if err := runner.StartServer(ctx, server); err != nil {
		return err
	}

	// The client of that server; the MCP handshake is already done.
	client, err := runner.Client(server)
	if err != nil {
		return err
	}
	tools, err := client.ListTools(ctx)
	if err != nil {
		return err
	}
	fmt.Println("Available tools:")
	for _, t := range tools {
		fmt.Printf(" - %s: %s\n", t.Name, t.Description)
	}

	var arguments map[string]any
	if err := json.Unmarshal([]byte(args), &arguments); err != nil {
		return fmt.Errorf("-args: %w", err)
	}
	result, err := client.CallTool(ctx, tool, arguments)
	if err != nil {
		return err
	}
	for _, c := range result.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			fmt.Printf("%s result: %s\n", tool, t.Text)
		}
	}
	return nil
}
