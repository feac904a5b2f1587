package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// BenchmarkForward measures a forwarded tools/call through a gateway
// session (no HTTP): parse, dispatch, the engine, the child's echo and
// back. allocs/op is the gateway's and the engine's own share.
//
//	go test -run '^$' -bench Forward -benchmem ./gateway/
func BenchmarkForward(b *testing.B) {
	for _, size := range []int{100, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			r := testenv.NewRunner(b, map[string]string{"ts": testenv.ServerJSON(b, "normal", "")}, nil)
			g := gateway.New(r, nil)
			b.Cleanup(g.Close)
			if err := r.StartAll(testenv.Ctx(b)); err != nil {
				b.Fatal(err)
			}
			s, err := g.Open("ts", engine.Identity{Transport: "bench"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("x", size) + `"}}}`)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m, perr := wire.Parse(body)
				if perr != nil {
					b.Fatal(perr)
				}
				if resp := s.HandleMessage(context.Background(), m); !strings.Contains(string(resp[:min(len(resp), 64)]), `"result"`) {
					b.Fatalf("answer %.200s", resp)
				}
			}
		})
	}
}
