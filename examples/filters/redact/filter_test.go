package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/scripting/wasm/guest"
)

// benchConfig is the load harness's (testdata/bench/mcpscript-wasm.json).
const benchConfig = `{"folder": "/srv/bench", "patterns": ["(?i)password\\s*[:=]\\s*\\S+"]}`

func mustSetup(t testing.TB, raw string) {
	t.Helper()
	if err := setup([]byte(raw)); err != nil {
		t.Fatal(err)
	}
}

// echoInputs are what an echo of text gives the filter: the toolCall and
// the toolResult.
func echoInputs(text string) (call, result *guest.Input) {
	args, _ := json.Marshal(map[string]any{"text": text})
	res, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}})
	call = &guest.Input{Hook: guest.ToolCall, Server: "demo", Method: "tools/call", Tool: "echo", Arguments: args}
	r := *call
	r.Hook, r.Result = guest.ToolResult, res
	return call, &r
}

// The filter's logic, natively: a profile of it shows where a call's time
// goes without wasm in the way (wasm multiplies it, see docs/wasm-abi.md).
//
//	go test -run '^$' -bench . -cpuprofile cpu.out ./examples/filters/redact/
func BenchmarkHandle(b *testing.B) {
	mustSetup(b, benchConfig)
	const phrase = "the quick brown fox jumps over the lazy dog "
	for _, n := range []int{100, 64 << 10, 1 << 20} {
		text := strings.Repeat(phrase, n/len(phrase)+1)[:n]
		call, result := echoInputs(text)
		for _, in := range []*guest.Input{call, result} {
			b.Run(fmt.Sprintf("%s/%d", in.Hook, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					d, err := handle(in)
					if err != nil || d.Result != nil || d.Deny != nil {
						b.Fatalf("%+v, %v", d, err)
					}
				}
			})
		}
	}
}
