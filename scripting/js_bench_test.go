package scripting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dop251/goja"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
)

// policyJS is a typical policy hook: a deny-list of tools and a folder the
// path argument must stay in.
const policyJS = `
const DENY = new Set(["delete_file", "move_file", "write_file", "rm"])
const ROOT = "/srv/data/"

export function toolCall(call) {
  if (DENY.has(call.tool)) return { deny: call.tool + " is not allowed" }
  const path = call.arguments.path
  if (path !== undefined && !String(path).startsWith(ROOT)) return { deny: path + " is outside " + ROOT }
}
`

// warnLogger is testLogger above the per-request debug logs, which would
// weigh on the measurements.
func warnLogger(b *testing.B) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// percentiles records one duration per iteration and reports p50 and p99.
type percentiles struct{ d []time.Duration }

func (p *percentiles) add(d time.Duration) { p.d = append(p.d, d) }

// at returns the q-quantile in µs (0 without samples).
func (p *percentiles) at(q float64) float64 {
	if len(p.d) == 0 {
		return 0
	}
	if !slices.IsSorted(p.d) {
		slices.Sort(p.d)
	}
	return float64(p.d[int(q*float64(len(p.d)-1))].Nanoseconds()) / 1e3
}

func (p *percentiles) report(b *testing.B) {
	b.ReportMetric(p.at(0.50), "p50-µs")
	b.ReportMetric(p.at(0.99), "p99-µs")
}

// variantKey picks, per call, the middleware BenchmarkToolCall's
// dispatcher runs.
type variantKey struct{}

// BenchmarkToolCall is a tools/call of the test server's echo tool through a
// Runner: without middleware (a runner of its own), and on a second runner
// whose one middleware runs, per call, either nothing (go-noop) or the
// JavaScript policy hook (js-policy). Each iteration makes one call of
// each, in turn, so that drift in the machine's load hits them alike; the
// last three share the server process and connection, so their
// differences (js-added-p50-µs, and inprocess-added-p50-µs for the same
// hook run inside this process) are what the hook adds to a call.
func BenchmarkToolCall(b *testing.B) {
	policy := loadJS(b, "policy.js", policyJS, ScriptOptions{Logger: warnLogger(b), Isolation: IsolationProcess})
	inproc := loadJS(b, "policy.js", policyJS, ScriptOptions{Logger: warnLogger(b), Isolation: IsolationNone})
	js, jsIn := Middleware(policy, Options{}), Middleware(inproc, Options{})
	dispatch := func(next engine.Handler) engine.Handler {
		hooked, hookedIn := js(next), jsIn(next)
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			switch ctx.Value(variantKey{}) {
			case "js-policy":
				return hooked(ctx, req)
			case "js-inprocess":
				return hookedIn(ctx, req)
			}
			return next(ctx, req)
		}
	}
	ctx := testCtx(b)
	start := func(mw ...engine.Middleware) *engine.Client {
		cfg, err := config.Parse([]byte(`{`+serversJSON("a")+`}`), "bench.json")
		if err != nil {
			b.Fatal(err)
		}
		r, err := engine.New(cfg, &engine.Options{Logger: warnLogger(b), Middleware: mw})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = r.StopAll(ctx)
		})
		if err := r.StartAll(ctx); err != nil {
			b.Fatal(err)
		}
		c, err := r.Client("a")
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	plain, hooked := start(), start(dispatch)
	variants := []struct {
		name string
		c    *engine.Client
		ctx  context.Context
		p    percentiles
	}{
		{name: "none", c: plain, ctx: ctx},
		{name: "go-noop", c: hooked, ctx: context.WithValue(ctx, variantKey{}, "go-noop")},
		{name: "js-policy", c: hooked, ctx: context.WithValue(ctx, variantKey{}, "js-policy")},
		{name: "js-inprocess", c: hooked, ctx: context.WithValue(ctx, variantKey{}, "js-inprocess")},
	}
	args := map[string]any{"text": "/srv/data/report.txt"}
	call := func(i int) time.Duration {
		v := &variants[i]
		t0 := time.Now()
		res, err := v.c.CallTool(v.ctx, "echo", args)
		d := time.Since(t0)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
		return d
	}
	for range 100 { // warm up: connections, pools, caches
		for i := range variants {
			call(i)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range variants {
			variants[i].p.add(call(i))
		}
	}
	b.StopTimer()
	p50 := map[string]float64{}
	for i := range variants {
		v := &variants[i]
		p50[v.name] = v.p.at(0.50)
		b.ReportMetric(v.p.at(0.50), v.name+"-p50-µs")
		b.ReportMetric(v.p.at(0.99), v.name+"-p99-µs")
	}
	b.ReportMetric(p50["js-policy"]-p50["go-noop"], "js-added-p50-µs")
	b.ReportMetric(p50["js-inprocess"]-p50["go-noop"], "inprocess-added-p50-µs")
}

// BenchmarkScriptCall is the policy hook alone: Script.Call with the input
// a tools/call gives it, allowed and denied.
func BenchmarkScriptCall(b *testing.B) {
	s := loadJS(b, "policy.js", policyJS, ScriptOptions{Pool: 1})
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		in   *Input
		deny bool
	}{
		{"allow", &Input{Hook: PhaseToolCall, Server: "fs", Method: "tools/call", Caller: Caller{Token: "ci", Transport: "streamable-http"},
			Tool: "read_text_file", Arguments: json.RawMessage(`{"path":"/srv/data/report.txt","head":10}`)}, false},
		{"deny-list", &Input{Hook: PhaseToolCall, Server: "fs", Method: "tools/call", Caller: Caller{Token: "ci", Transport: "streamable-http"},
			Tool: "write_file", Arguments: json.RawMessage(`{"path":"/srv/data/report.txt","content":"x"}`)}, true},
		{"deny-path", &Input{Hook: PhaseToolCall, Server: "fs", Method: "tools/call", Caller: Caller{Token: "ci", Transport: "streamable-http"},
			Tool: "read_text_file", Arguments: json.RawMessage(`{"path":"/etc/passwd"}`)}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p percentiles
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				d, err := s.Call(ctx, bc.in)
				p.add(time.Since(t0))
				if err != nil || (d != nil && len(d.Deny) > 0) != bc.deny {
					b.Fatal(d, err)
				}
			}
			b.StopTimer()
			p.report(b)
		})
	}
	// Through Middleware, as the runner calls it (timeout context, params
	// decoding, the decision applied), with the server replaced by a stub.
	b.Run("middleware", func(b *testing.B) {
		h := Middleware(s, Options{})(func(context.Context, *engine.Request) (json.RawMessage, error) {
			return json.RawMessage(`{"content":[]}`), nil
		})
		req := &engine.Request{Server: "fs", Method: "tools/call", Params: json.RawMessage(`{"name":"read_text_file","arguments":{"path":"/srv/data/report.txt","head":10}}`)}
		var p percentiles
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			_, err := h(ctx, req)
			p.add(time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		p.report(b)
	})
}

// BenchmarkConvert compares ways to hand a hook its input and read its
// decision, on one runtime, to back the choices in jsVM.input and
// jsVM.decision.
func BenchmarkConvert(b *testing.B) {
	s := loadJS(b, "policy.js", policyJS+`
export function toolResult(call) { return { result: { content: call.result.content, extra: 1 } } }
`, ScriptOptions{Pool: 1, Isolation: IsolationNone})
	r := (<-s.idle).(*jsVM)
	defer func() { s.idle <- r }()
	vm := r.vm
	parse := jsonParse(vm)

	// JSON to JavaScript values, by size.
	var tools []string
	for i := range 50 {
		tools = append(tools, fmt.Sprintf(`{"name":"t%03d","description":"Extra echo tool; the extra tools make tools/list take several pages.","inputSchema":{"type":"object","properties":{"text":{"type":"string","description":"The text to send back."}},"required":["text"],"additionalProperties":false}}`, i))
	}
	for _, in := range []struct{ name, json string }{
		{"arguments", `{"path":"/srv/data/report.txt","head":10}`},
		{"result-1KiB", `{"content":[{"type":"text","text":"` + strings.Repeat("x", 1000) + `"}]}`},
		{"tools-50", "[" + strings.Join(tools, ",") + "]"},
	} {
		data := []byte(in.json)
		b.Run("json/"+in.name+"/jsonToJS", func(b *testing.B) { // what input does
			for b.Loop() {
				if _, err := jsonToJS(vm, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("json/"+in.name+"/JSON.parse", func(b *testing.B) {
			for b.Loop() {
				if _, err := parse(goja.Undefined(), vm.ToValue(string(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("json/"+in.name+"/Unmarshal+ToValue", func(b *testing.B) { // wrapped Go maps, random key order
			for b.Loop() {
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
				vm.ToValue(v)
			}
		})
	}

	// The whole call object, and the policy hook called with it.
	in := &Input{Hook: PhaseToolCall, Server: "fs", Method: "tools/call", Caller: Caller{Token: "ci", Transport: "streamable-http"},
		Tool: "read_text_file", Arguments: json.RawMessage(`{"path":"/srv/data/report.txt","head":10,"opts":{"encoding":"utf-8","tags":["a","b"]}}`)}
	call := r.fns[phaseBit(PhaseToolCall)]
	b.Run("input/object+jsonToJS", func(b *testing.B) { // what input does
		for b.Loop() {
			v, err := r.input(in)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := call(goja.Undefined(), v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("input/whole JSON.parse", func(b *testing.B) {
		for b.Loop() {
			raw, err := json.Marshal(in)
			if err != nil {
				b.Fatal(err)
			}
			v, err := parse(goja.Undefined(), vm.ToValue(string(raw)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := call(goja.Undefined(), v); err != nil {
				b.Fatal(err)
			}
		}
	})

	// Reading a decision with a result.
	result := &Input{Hook: PhaseToolResult, Server: "fs", Method: "tools/call", Tool: "read_text_file",
		Arguments: json.RawMessage(`{}`), Result: json.RawMessage(`{"content":[{"type":"text","text":"hello world, a line of a file"},{"type":"text","text":"and another"}]}`)}
	arg, err := r.input(result)
	if err != nil {
		b.Fatal(err)
	}
	ret, err := r.fns[phaseBit(PhaseToolResult)](goja.Undefined(), arg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decision/JSON.stringify", func(b *testing.B) { // what decision does
		for b.Loop() {
			if _, err := r.decision(PhaseToolResult, ret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decision/Export+Marshal", func(b *testing.B) { // loses key order, ignores toJSON
		for b.Loop() {
			o := ret.(*goja.Object)
			for _, k := range o.Keys() {
				if _, err := json.Marshal(o.Get(k).Export()); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkHookCPU is what the policy hook costs through Middleware (the
// server replaced by a stub), per call, in wall time and in CPU time of
// this process and its hook hosts together, with 1 and 8 callers, run in
// host processes and in this process.
func BenchmarkHookCPU(b *testing.B) {
	req := &engine.Request{Server: "fs", Method: "tools/call", Params: json.RawMessage(`{"name":"read_text_file","arguments":{"path":"/srv/data/report.txt","head":10}}`)}
	for _, iso := range []Isolation{IsolationProcess, IsolationNone} {
		for _, callers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/callers-%d", iso, callers), func(b *testing.B) {
				s := loadJS(b, "policy.js", policyJS, ScriptOptions{Isolation: iso, Logger: warnLogger(b)})
				h := Middleware(s, Options{})(func(context.Context, *engine.Request) (json.RawMessage, error) {
					return json.RawMessage(`{"content":[]}`), nil
				})
				ctx := context.Background()
				for range 200 { // warm up: start the pool's hosts
					var wg sync.WaitGroup
					for range callers {
						wg.Go(func() { _, _ = h(ctx, req) })
					}
					wg.Wait()
				}
				pids := hostPids(s)
				cpu0, host0 := cpuTime(nil), cpuTime(pids)
				b.SetParallelism(callers) // with GOMAXPROCS 2: 2×callers goroutines
				if callers == 1 {
					b.SetParallelism(1)
				}
				start := time.Now()
				n := 0
				var mu sync.Mutex
				if callers == 1 {
					for b.Loop() {
						if _, err := h(ctx, req); err != nil {
							b.Fatal(err)
						}
						n++
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						k := 0
						for pb.Next() {
							if _, err := h(ctx, req); err != nil {
								b.Error(err)
								return
							}
							k++
						}
						mu.Lock()
						n += k
						mu.Unlock()
					})
				}
				wall := time.Since(start)
				self := cpuTime(nil) - cpu0
				cpu := cpuTime(pids) - host0
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n)/1e3, "cpu-µs/call")
				b.ReportMetric(float64((cpu-self).Nanoseconds())/float64(n)/1e3, "host-cpu-µs/call")
				b.ReportMetric(float64(wall.Nanoseconds())/float64(n)/1e3, "wall-µs/call")
				b.ReportMetric(float64(len(pids)), "hosts")
			})
		}
	}
}

// hostPids returns the process ids of s's idle host processes.
func hostPids(s *Script) []int {
	var pids []int
	var back []jsRuntime
	for {
		select {
		case r := <-s.idle:
			back = append(back, r)
			if h, ok := r.(*hostVM); ok {
				pids = append(pids, h.p.Pid())
			}
			continue
		default:
		}
		break
	}
	for _, r := range back {
		s.idle <- r
	}
	return pids
}

// cpuTime is the CPU time (user and system) of this process and of pids.
func cpuTime(pids []int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / 100 // clock ticks (USER_HZ = 100)
	}
	return total
}

// BenchmarkLoadScript is loading the policy hook: bundling, and its first
// runtime, in a new host process or in this one.
func BenchmarkLoadScript(b *testing.B) {
	dir := writeFiles(b, map[string]string{"policy.js": policyJS})
	for _, iso := range []Isolation{IsolationProcess, IsolationNone} {
		b.Run(string(iso), func(b *testing.B) {
			for b.Loop() {
				s, err := LoadScript(dir+"/policy.js", ScriptOptions{Isolation: iso})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}

// BenchmarkRunnerCPU is the CPU time a tools/call of the test server's
// echo costs through a Runner with 8 callers at once (this process, the
// server and the hook hosts together): without hooks, with the policy
// hook in host processes, and with it in this process. The variants take
// turns of 500ms, so that drift in the machine's load hits them alike.
func BenchmarkRunnerCPU(b *testing.B) {
	const callers = 8
	process := loadJS(b, "policy.js", policyJS, ScriptOptions{Logger: warnLogger(b), Isolation: IsolationProcess})
	inproc := loadJS(b, "policy.js", policyJS, ScriptOptions{Logger: warnLogger(b), Isolation: IsolationNone})
	ctx := testCtx(b)
	start := func(mw ...engine.Middleware) (*engine.Client, int) {
		cfg, err := config.Parse([]byte(`{`+serversJSON("a")+`}`), "bench.json")
		if err != nil {
			b.Fatal(err)
		}
		r, err := engine.New(cfg, &engine.Options{Logger: warnLogger(b), Middleware: mw})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.StopAll(context.Background()) })
		if err := r.StartAll(ctx); err != nil {
			b.Fatal(err)
		}
		c, _ := r.Client("a")
		st, err := r.Status("a")
		if err != nil {
			b.Fatal(err)
		}
		return c, st.PID
	}
	type variant struct {
		name  string
		c     *engine.Client
		pids  func() []int
		calls int64
		cpu   time.Duration
		self  time.Duration // of this process
		wall  time.Duration
	}
	plain, plainPid := start()
	hooked, hookedPid := start(Middleware(process, Options{}))
	inHooked, inPid := start(Middleware(inproc, Options{}))
	vs := []*variant{
		{name: "none", c: plain, pids: func() []int { return []int{plainPid} }},
		{name: "process", c: hooked, pids: func() []int { return append(hostPids(process), hookedPid) }},
		{name: "inprocess", c: inHooked, pids: func() []int { return []int{inPid} }},
	}
	args := map[string]any{"text": "/srv/data/report.txt"}
	run := func(v *variant, d time.Duration) {
		pids := v.pids()
		c0, s0, t0 := cpuTime(pids), cpuTime(nil), time.Now()
		var n atomic.Int64
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for time.Since(t0) < d {
					if _, err := v.c.CallTool(ctx, "echo", args); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		v.wall += time.Since(t0)
		v.cpu += cpuTime(pids) - c0
		v.self += cpuTime(nil) - s0
		v.calls += n.Load()
	}
	for _, v := range vs {
		run(v, 200*time.Millisecond) // warm up
		v.calls, v.cpu, v.self, v.wall = 0, 0, 0, 0
	}
	for b.Loop() {
		for _, v := range vs {
			run(v, 500*time.Millisecond)
		}
	}
	for _, v := range vs {
		b.ReportMetric(float64(v.cpu.Microseconds())/float64(v.calls), v.name+"-cpu-µs/call")
		b.ReportMetric(float64(v.self.Microseconds())/float64(v.calls), v.name+"-self-cpu-µs/call")
		b.ReportMetric(float64(v.calls)/v.wall.Seconds(), v.name+"-calls/s")
	}
}
