package scripting

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/state"
)

// backendsBenchJS does, per tools/call, what the tool's name says: nothing,
// one limits.take keyed by the caller, or a store.get and a store.set.
const backendsBenchJS = `
export function toolCall({ tool, caller }) {
  switch (tool) {
    case "take": limits.take("user:" + caller.subject, { rate: "1000000/min", burst: 1000000 }); return
    case "getset": {
      const k = "seen:" + caller.subject
      const v = store.get(k) ?? { n: 0 }
      v.n++
      store.set(k, v, { ttl: "10m" })
      return
    }
  }
}
`

// BenchmarkHookBackends is the cost of a hook call that rate-limits
// (limits.take) or keeps state (store.get + store.set), against one that
// does nothing: through Middleware with the server replaced by a stub, for
// the memory and the Redis backends, isolated and in-process. The
// -added-p50-µs metrics are the difference to the noop hook of the same
// setting, measured in turn within each iteration (each first in turn).
func BenchmarkHookBackends(b *testing.B) {
	rs := redistest.Start(b)
	ctx := context.Background()
	for _, backend := range []string{"memory", "redis"} {
		for _, iso := range []Isolation{IsolationProcess, IsolationNone} {
			b.Run(backend+"/"+string(iso), func(b *testing.B) {
				var bk Backends
				if backend == "redis" {
					c, err := state.NewRedisClient(rs.URL)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { c.Close() })
					prefix := fmt.Sprintf("bench%d:", time.Now().UnixNano())
					st, _ := state.NewRedis(state.RedisOptions{Client: c, Prefix: prefix + "state:"})
					lim, _ := limits.NewRedis(limits.RedisOptions{Client: c, Prefix: prefix + "limits:"})
					bk = Backends{Store: st, Limiter: lim}
				}
				s := loadJS(b, "bench.js", backendsBenchJS, ScriptOptions{Logger: warnLogger(b), Isolation: iso, Pool: 1, Backends: bk})
				h := Middleware(s, Options{})(func(context.Context, *engine.Request) (json.RawMessage, error) {
					return json.RawMessage(`{"content":[]}`), nil
				})
				tools := []string{"noop", "take", "getset"}
				reqs := make([][]*engine.Request, len(tools))
				for i, tool := range tools {
					for u := range 100 {
						reqs[i] = append(reqs[i], &engine.Request{Server: "a", Method: "tools/call",
							Params: json.RawMessage(`{"name":"` + tool + `","arguments":{}}`),
							Caller: engine.Identity{Auth: engine.AuthJWT, Subject: fmt.Sprintf("user%d", u), Transport: "streamable-http"}})
					}
				}
				ps := make([]percentiles, len(tools))
				n := 0
				call := func(i int) time.Duration {
					t0 := time.Now()
					_, err := h(ctx, reqs[i][n%100])
					d := time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
					return d
				}
				for range 200 { // warm up: the runtime, connections
					for i := range tools {
						call(i)
					}
					n++
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					// Each first in turn: the first call of a round pays
					// for waking things up.
					for j := range tools {
						i := (j + n) % len(tools)
						ps[i].add(call(i))
					}
					n++
				}
				b.StopTimer()
				for i, tool := range tools {
					b.ReportMetric(ps[i].at(0.50), tool+"-p50-µs")
					b.ReportMetric(ps[i].at(0.99), tool+"-p99-µs")
				}
				b.ReportMetric(ps[1].at(0.50)-ps[0].at(0.50), "take-added-p50-µs")
				b.ReportMetric(ps[2].at(0.50)-ps[0].at(0.50), "getset-added-p50-µs")
			})
		}
	}
}
