package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/curation"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// The benchmarks compare our client with the go-sdk's own stdio client
// against the same server process type, so the ratio is what mcpscript's
// engine costs or saves. Run:
//
//	go test -run '^$' -bench . -benchtime 3s ./engine/
var benchPayloads = []int{16, 4 << 10, 64 << 10}

func BenchmarkCallTool(b *testing.B) {
	for _, size := range benchPayloads {
		payload := strings.Repeat("x", size)
		b.Run(fmt.Sprintf("engine/seq/%d", size), func(b *testing.B) {
			_, c := startOne(b, "normal", "", nil)
			benchEngine(b, c, payload, false)
		})
		b.Run(fmt.Sprintf("engine/par/%d", size), func(b *testing.B) {
			_, c := startOne(b, "normal", "", nil)
			benchEngine(b, c, payload, true)
		})
		b.Run(fmt.Sprintf("gosdk/seq/%d", size), func(b *testing.B) {
			benchGoSDK(b, payload, false)
		})
		b.Run(fmt.Sprintf("gosdk/par/%d", size), func(b *testing.B) {
			benchGoSDK(b, payload, true)
		})
	}
}

func benchEngine(b *testing.B, c interface {
	CallTool(context.Context, string, any) (*mcp.CallToolResult, error)
}, payload string, parallel bool) {
	ctx := context.Background()
	args := map[string]any{"text": payload}
	one := func() {
		res, err := c.CallTool(ctx, "echo", args)
		if err != nil || len(res.Content) != 1 {
			b.Fatalf("echo: %v", err)
		}
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
		return
	}
	for b.Loop() {
		one()
	}
}

func benchGoSDK(b *testing.B, payload string, parallel bool) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testserver.Env("normal")...)
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil)
	sess, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	benchEngine(b, sdkCaller{sess}, payload, parallel)
}

type sdkCaller struct{ s *mcp.ClientSession }

func (c sdkCaller) CallTool(ctx context.Context, name string, args any) (*mcp.CallToolResult, error) {
	return c.s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

// BenchmarkCuration measures what tool curation adds to a call: none, a
// renamed tool, a renamed and pinned one (its schema checked against a
// list fetched every 30 s). Run:
//
//	go test -run '^$' -bench Curation -benchtime 3s ./engine/
func BenchmarkCuration(b *testing.B) {
	pin := "sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct{ name, extra, tool string }{
		{"none", "", "echo"},
		{"rename", `"tools": {"override": {"echo": {"name": "say"}}}`, "say"},
		{"rename+pin", `"tools": {"override": {"echo": {"name": "say", "pin": "PIN"}}}`, "say"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			extra := strings.Replace(tc.extra, "PIN", pin, 1)
			if strings.Contains(extra, pin) {
				// Pin the real schema, so calls pass.
				_, plain := startOne(b, "normal", "", nil)
				page, err := plain.CallDirect(context.Background(), "tools/list", nil)
				if err != nil {
					b.Fatal(err)
				}
				hashes, _ := curation.Schemas(page)
				extra = strings.Replace(extra, pin, hashes["echo"], 1)
			}
			_, c := startOne(b, "normal", extra, nil)
			ctx := context.Background()
			args := map[string]any{"text": "x"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.CallTool(ctx, tc.tool, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
