package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/scripting"
)

// go test -run '^$' -bench . -benchtime 20x ./scripting/wasm/   (see docs/wasm-abi.md, "Costs")

// Load (compile + the first instance) with the disk cache off: what the
// first start after an upgrade or a new filter costs.
func BenchmarkLoadCold(b *testing.B) {
	benchLoad(b, "off")
}

// Load with a warm disk cache: every later start.
func BenchmarkLoadWarm(b *testing.B) {
	dir := b.TempDir()
	f, err := Load(context.Background(), guestWasm, Options{CacheDir: dir, Logger: testLogger(b, nil)})
	if err != nil {
		b.Fatal(err)
	}
	f.Close(context.Background()) // the compiled code stays in dir only
	benchLoad(b, dir)
}

func benchLoad(b *testing.B, cache string) {
	ctx := context.Background()
	for b.Loop() {
		f, err := Load(ctx, guestWasm, Options{CacheDir: cache, Logger: testLogger(b, nil)})
		if err != nil {
			b.Fatal(err)
		}
		f.Close(ctx)
	}
}

// A new instance (what replaces a discarded one): instantiate, _initialize,
// mcpscript_init.
func BenchmarkInstance(b *testing.B) {
	f := load(b, guestWasm, Options{})
	ctx := context.Background()
	for b.Loop() {
		inst, err := f.newInstance(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		inst.close()
	}
}

// One toolCall through Filter.Call (pool, JSON in, guest, JSON out), with
// the deadline scripting.Middleware sets:
//
//	hand    the hand-written module that writes {}: the ABI's own cost
//	go-raw  the Go SDK test guest writing {} without decoding the Input
//	go      the Go SDK test guest continuing (decodes the Input, encodes {})
//	redact-toolCall  the example filter (Go SDK, guest.Handle) continuing a
//	        toolCall without path arguments
//	redact  the example filter checking a toolResult without secrets
func BenchmarkCall(b *testing.B) {
	in := toolCall("nil", map[string]any{"text": "hello"})
	result := &scripting.Input{Hook: scripting.PhaseToolResult, Server: "ts", Method: "tools/call", Tool: "read_file",
		Result: json.RawMessage(`{"content":[{"type":"text","text":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."}]}`)}
	for _, c := range []struct {
		name string
		path func(testing.TB) string
		in   *scripting.Input
	}{
		{"hand", func(t testing.TB) string { return writeModule(t, "hand.wasm", handModule(1, 0, "{}", nil)) }, in},
		{"go-raw", func(testing.TB) string { return guestWasm }, toolCall("fast", map[string]any{"text": "hello"})},
		{"go", func(testing.TB) string { return guestWasm }, in},
		{"redact-toolCall", func(testing.TB) string { return redactWasm }, in},
		{"redact", func(testing.TB) string { return redactWasm }, result},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := load(b, c.path(b), Options{})
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if _, err := f.Call(ctx, c.in); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			f := load(b, c.path(b), Options{})
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					if _, err := f.Call(ctx, c.in); err != nil {
						b.Error(err)
					}
					cancel()
				}
			})
		})
	}
}

// tools/call of the test server's echo through a Runner: without filters,
// with the example filter on toolCall and toolResult (two guest calls per
// request), and with the hand-written no-op module on both.
func BenchmarkRunnerToolsCall(b *testing.B) {
	both := []scripting.Phase{scripting.PhaseToolCall, scripting.PhaseToolResult}
	for _, c := range []struct {
		name string
		path func(testing.TB) string
	}{
		{"direct", nil},
		{"hand", func(t testing.TB) string { return writeModule(t, "hand.wasm", handModule(1, 0, "{}", nil)) }},
		{"redact", func(testing.TB) string { return redactWasm }},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, cl := startRunner(b)
			if c.path != nil {
				f := load(b, c.path(b), Options{Config: json.RawMessage(`{"folder": "/srv/data"}`), Phases: both})
				r.Use(scripting.Middleware(f, scripting.Options{}))
			}
			ctx := testCtx(b)
			args := map[string]any{"text": "hello"}
			if _, err := cl.CallTool(ctx, "echo", args); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for b.Loop() {
				if _, err := cl.CallTool(ctx, "echo", args); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
		})
	}
}

// benchPayload is plain text of n bytes without secrets, as mcpload's
// echo payloads are.
func benchPayload(n int) string {
	const phrase = "the quick brown fox jumps over the lazy dog "
	return strings.Repeat(phrase, n/len(phrase)+1)[:n]
}

// benchSizes are the payload sizes of the load harness (docs/benchmarks.md).
var benchSizes = []struct {
	name string
	n    int
}{{"100B", 100}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// The example filter, with the load harness's config
// (testdata/bench/mcpscript-wasm.json), on what an echo of n bytes gives
// it: a toolCall with {"text": payload}, then a toolResult with the same
// arguments and a text content holding the payload. "copy" is the
// yardstick the filter's cost is held against: a plain copy of the
// toolResult's input.
//
//	go test -run '^$' -bench 'RedactSizes' -benchtime 20x ./scripting/wasm/
func BenchmarkRedactSizes(b *testing.B) {
	cfg := json.RawMessage(`{"folder": "/srv/bench", "patterns": ["(?i)password\\s*[:=]\\s*\\S+"]}`)
	for _, size := range benchSizes {
		text := benchPayload(size.n)
		args, _ := json.Marshal(map[string]any{"text": text})
		res, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}})
		call := &scripting.Input{Hook: scripting.PhaseToolCall, Server: "demo", Method: "tools/call", Tool: "echo", Arguments: args,
			Caller: scripting.Caller{Transport: "streamable-http", Session: "0123456789abcdef", Auth: "none",
				Scopes: []string{}, Claims: json.RawMessage(`{}`), Client: scripting.ClientInfo{Name: "mcpload", Version: "1"}, Protocol: "2025-11-25"}}
		result := *call
		result.Hook, result.Result = scripting.PhaseToolResult, res
		b.Run("copy/"+size.name, func(b *testing.B) {
			in, _ := json.Marshal(&result)
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				_ = bytes.Clone(in)
			}
		})
		for _, c := range []struct {
			phase string
			in    *scripting.Input
		}{{"toolCall", call}, {"toolResult", &result}} {
			b.Run(c.phase+"/"+size.name, func(b *testing.B) {
				f := load(b, redactWasm, Options{Config: cfg, Pool: 1})
				for b.Loop() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					d, err := f.Call(ctx, c.in)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
					if d.Result != nil || d.Deny != nil {
						b.Fatalf("decision %+v, want continue", d)
					}
				}
			})
		}
	}
}
