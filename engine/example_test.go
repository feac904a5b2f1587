package engine_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

// Connect runs a client over any pair of pipes. Here the other end is a
// go-sdk server in the same process; usually it is a server's stdio.
func ExampleConnect() {
	ctx := context.Background()
	server := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "1.0.0"}, nil)
	type args struct {
		Name string `json:"name"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Says hello"},
		func(ctx context.Context, req *mcp.CallToolRequest, a args) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Hello, " + a.Name + "!"}}}, nil, nil
		})
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	go server.Run(ctx, &mcp.IOTransport{Reader: toServer, Writer: fromServer})

	client, err := engine.Connect(ctx, toClient, fromClient, &engine.ClientOptions{Name: "greeter"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	tools, err := client.ListTools(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.CallTool(ctx, "greet", map[string]any{"name": "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tools[0].Name, "->", res.Content[0].(*mcp.TextContent).Text)
	fmt.Println("protocol", client.InitializeResult().ProtocolVersion)
	// Output:
	// greet -> Hello, Ada!
	// protocol 2025-11-25
}
