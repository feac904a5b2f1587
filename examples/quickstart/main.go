// Command quickstart is the Go program of the README's quick start: it starts
// the reference server-everything from npm, lists its tools, calls echo,
// reads a resource and gets a prompt.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

const config = `{
  "mcpServers": {
    "everything": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31"]
    }
  }
}`

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	runner, err := engine.FromConfigString(config)
	if err != nil {
		return err
	}
	defer runner.StopAll(context.Background())
	if err := runner.StartAll(ctx); err != nil {
		return err
	}
	client, err := runner.Client("everything")
	if err != nil {
		return err
	}

	tools, err := client.ListTools(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%d tools\n", len(tools))

	res, err := client.CallTool(ctx, "echo", map[string]any{"message": "hello"})
	if err != nil {
		return err
	}
	fmt.Println("echo:", res.Content[0].(*mcp.TextContent).Text)

	resources, err := client.ListResources(ctx)
	if err != nil {
		return err
	}
	read, err := client.ReadResource(ctx, resources[0].URI)
	if err != nil {
		return err
	}
	fmt.Printf("read %s: %d content item(s)\n", resources[0].URI, len(read.Contents))

	prompt, err := client.GetPrompt(ctx, "simple-prompt", nil)
	if err != nil {
		return err
	}
	fmt.Printf("prompt: %d message(s)\n", len(prompt.Messages))
	return nil
}
