package remote_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// BenchmarkCall measures one tools/call through the engine and a link to
// a go-sdk server on loopback, and the same call by the go-sdk's own
// client, for comparison.
func BenchmarkCall(b *testing.B) {
	for _, transport := range []string{"http", "sse"} {
		var url string
		if transport == "http" {
			url = serveStreamable(b, newServer(), nil).URL
		} else {
			url = serveSSE(b, newServer()).URL
		}
		b.Run("link/"+transport, func(b *testing.B) {
			ctx := context.Background()
			link, err := remote.Dial(ctx, remote.Options{URL: url, Transport: transport, Logger: quietLogger})
			if err != nil {
				b.Fatal(err)
			}
			defer link.Close()
			_, cl, err := tryConnectB(ctx, link)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			args := map[string]any{"text": "hello"}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cl.CallTool(ctx, "echo", args); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run("go-sdk/"+transport, func(b *testing.B) {
			ctx := context.Background()
			var tr mcp.Transport = &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{}}
			if transport == "sse" {
				tr = &mcp.SSEClientTransport{Endpoint: url}
			}
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, tr, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer cs.Close()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func tryConnectB(ctx context.Context, link *remote.Link) (*remote.Link, *engine.Client, error) {
	cl, err := engine.Connect(ctx, link.Reader(), link.Writer(), &engine.ClientOptions{Name: "bench", Logger: quietLogger})
	return link, cl, err
}
