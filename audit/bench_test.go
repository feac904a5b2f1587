package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// What the audit trail costs a request. Run:
//
//	go test -run '^$' -bench . -benchtime 2s -count 3 ./audit/
//
// BenchmarkObserver is the observer alone around a handler that answers
// at once: the cost per call on the request's goroutine (the writer
// goroutine encodes and writes on another core). BenchmarkCallTool is a
// tools/call of the test server's echo through a Runner, without and with
// a trail writing to a file, interleaved so that both see the same machine.

var benchParams = json.RawMessage(`{"name":"echo","arguments":{"text":"a short argument, as most tool calls have","n":42},"_meta":{"progressToken":1}}`)

func BenchmarkObserver(b *testing.B) {
	// The writer is starved of CPU by this loop on a small machine: its
	// drops are reported as a metric, not logged.
	trail := audit.New(io.Discard, audit.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer trail.Close()
	h := trail.Observer()(func(context.Context, *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{"content":[{"type":"text","text":"ok"}]}`), nil
	})
	req := &engine.Request{Server: "demo", Method: "tools/call", Params: benchParams,
		Caller: engine.Identity{Transport: "streamable-http", Token: "ci", Session: "0123456789abcdef0123456789abcdef"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if trail.Dropped() > 0 {
		b.ReportMetric(float64(trail.Dropped())/float64(b.N), "dropped/op")
	}
}

func BenchmarkCallTool(b *testing.B) {
	plain := testenv.NewRunner(b, map[string]string{"ts": testenv.ServerJSON(b, "normal", "")}, nil)
	trail, err := audit.Open(filepath.Join(b.TempDir(), "audit.jsonl"), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer trail.Close()
	audited := testenv.NewRunner(b, map[string]string{"ts": testenv.ServerJSON(b, "normal", "")},
		&engine.Options{Observers: []engine.Middleware{trail.Observer()}})
	for _, r := range []*engine.Runner{plain, audited} {
		if err := r.StartAll(testenv.Ctx(b)); err != nil {
			b.Fatal(err)
		}
	}
	pc, _ := plain.Client("ts")
	ac, _ := audited.Client("ts")
	ctx := context.Background()
	args := map[string]any{"text": "a short argument, as most tool calls have", "n": 42}
	call := func(c *engine.Client) time.Duration {
		start := time.Now()
		if _, err := c.CallTool(ctx, "echo", args); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 200 { // warm both up
		call(pc)
		call(ac)
	}
	var off, on []time.Duration
	b.ResetTimer()
	for b.Loop() {
		off = append(off, call(pc))
		on = append(on, call(ac))
	}
	b.StopTimer()
	slices.Sort(off)
	slices.Sort(on)
	p50off, p50on := off[len(off)/2], on[len(on)/2]
	b.ReportMetric(float64(p50off.Nanoseconds()), "p50-off-ns")
	b.ReportMetric(float64(p50on.Nanoseconds()), "p50-audited-ns")
	b.ReportMetric(100*float64(p50on-p50off)/float64(p50off), "%added")
}
