package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// BenchmarkForward measures a forwarded tools/call (the test server's
// echo) through the whole proxy: a go-sdk client per parallel caller, the
// HTTP transport, the gateway, the engine and the child. Client, proxy and
// child share the machine, so compare runs, not absolute figures; profile
// with -cpuprofile and look at the proxy's, gateway's and engine's frames.
//
//	go test -run '^$' -bench Forward -cpuprofile /tmp/cpu.out ./proxy/
func BenchmarkForward(b *testing.B) {
	for _, size := range []int{100, 64 << 10} {
		for _, route := range []string{"/servers/ts/mcp", "/mcp", "sse:/servers/ts/sse"} {
			b.Run(fmt.Sprintf("%s/%dB", strings.TrimPrefix(route, "sse:"), size), func(b *testing.B) {
				benchForward(b, route, size)
			})
		}
	}
}

func benchForward(b *testing.B, route string, size int) {
	cfg, err := config.Parse([]byte(`{"mcpServers": {"ts": {`+testserver.ConfigJSON(testserver.ModeNormal, nil)+`}}}`), "bench.json")
	if err != nil {
		b.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: testenv.Logger(b, 8)})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(r, &Options{Listen: "127.0.0.1:0", Logger: testenv.Logger(b, 8)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := r.StartAll(ctx); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		_ = r.StopAll(context.Background())
	})
	tool := "echo"
	if route == "/mcp" {
		tool = "ts__echo"
	}
	text := strings.Repeat("x", size)
	b.SetBytes(int64(size))
	b.RunParallel(func(pb *testing.PB) {
		var transport mcp.Transport = &mcp.StreamableClientTransport{Endpoint: srv.BaseURL() + route}
		if path, ok := strings.CutPrefix(route, "sse:"); ok {
			transport = &mcp.SSEClientTransport{Endpoint: srv.BaseURL() + path}
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, transport, nil)
		if err != nil {
			b.Error(err)
			return
		}
		defer cs.Close()
		for pb.Next() {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": text}})
			if err != nil || res.IsError {
				b.Errorf("call: %v %v", err, res)
				return
			}
		}
	})
}
