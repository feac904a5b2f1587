package guest

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// The SDK's own work per call, natively or in wasm:
//
//	go test -run '^$' -bench . ./scripting/wasm/guest/
func BenchmarkDecodeInput(b *testing.B) {
	for _, n := range []int{100, 64 << 10} {
		text := strings.Repeat("the quick brown fox jumps over the lazy dog ", n/44+1)[:n]
		args, _ := json.Marshal(map[string]any{"text": text})
		res, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}})
		in, _ := json.Marshal(map[string]any{"hook": "toolResult", "server": "demo", "method": "tools/call", "tool": "echo",
			"caller":    map[string]any{"token": "", "session": "0123456789abcdef", "transport": "streamable-http"},
			"arguments": json.RawMessage(args), "result": json.RawMessage(res)})
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var x Input
				if err := decodeInput(in, &x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
