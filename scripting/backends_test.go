package scripting

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/state"
	jsonrpc "github.com/mcpscript/mcpscript/internal/wire"
)

var isolations = []Isolation{IsolationProcess, IsolationNone}

// through runs a request through a hook's middleware to a server that
// answers every request with {"echo": its params}; it returns the answer's
// text (the first text content, or the raw result).
func through(t testing.TB, mw engine.Middleware, req *engine.Request) (string, error) {
	t.Helper()
	next := func(_ context.Context, r *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{"content":[{"type":"text","text":"from the server"}]}`), nil
	}
	res, err := mw(next)(testCtx(t), req)
	if err != nil {
		return "", err
	}
	var out struct {
		Content []struct{ Text string } `json:"content"`
	}
	if json.Unmarshal(res, &out) == nil && len(out.Content) > 0 {
		return out.Content[0].Text, nil
	}
	return string(res), nil
}

// toolReq is a tools/call of tool with args on server "a", by caller.
func toolReq(tool, args string, caller engine.Identity) *engine.Request {
	if args == "" {
		args = "{}"
	}
	return &engine.Request{Server: "a", Method: "tools/call", Params: raw(`{"name":"` + tool + `","arguments":` + args + `}`), Caller: caller}
}

// TestJSState checks the per-request state between a hook's phases: what
// toolCall (request) leaves in call.state, its toolResult (response) gets
// for the same request only, in both isolation modes.
func TestJSState(t *testing.T) {
	for _, iso := range isolations {
		t.Run(string(iso), func(t *testing.T) {
			s := loadJS(t, "state.js", answerJS+`
export function toolCall(call) {
  if (call.tool === "bad") { call.state = [1, 2]; return }
  if (call.tool === "replace") { call.state = { replaced: true }; return }
  if (call.tool === "none") return
  call.state.n = call.arguments.n
  call.state.seen = [call.tool]
  if (call.tool === "route") return { tool: "echo" }
}
export function toolResult(call) {
  return answer(JSON.stringify({ tool: call.tool, state: call.state }))
}
export function request(req) { req.state.uri = req.params.uri }
export function response(req) { return { result: { contents: [{ uri: "x", text: JSON.stringify(req.state) }] } } }
`, ScriptOptions{Pool: 4, Isolation: iso})
			mw := Middleware(s, Options{Logger: testLogger(t)})
			// Many requests at once: each sees its own state.
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					got, err := through(t, mw, toolReq("echo", fmt.Sprintf(`{"n":%d}`, i), engine.Identity{}))
					if want := fmt.Sprintf(`{"tool":"echo","state":{"n":%d,"seen":["echo"]}}`, i); err != nil || got != want {
						t.Errorf("request %d: %s, %v; want %s", i, got, err, want)
					}
				})
			}
			wg.Wait()
			for _, tc := range []struct{ tool, want string }{
				{"none", `{"tool":"none","state":{}}`},
				{"replace", `{"tool":"replace","state":{"replaced":true}}`},
				{"route", `{"tool":"echo","state":{"seen":["route"]}}`},
			} {
				if got, err := through(t, mw, toolReq(tc.tool, "", engine.Identity{})); err != nil || got != tc.want {
					t.Errorf("%s: %s, %v; want %s", tc.tool, got, err, tc.want)
				}
			}
			_, err := through(t, mw, toolReq("bad", "", engine.Identity{}))
			checkErr(t, err, "hook: toolCall: state must be an object, got array")

			next := func(_ context.Context, r *engine.Request) (json.RawMessage, error) {
				return raw(`{"contents":[]}`), nil
			}
			res, err := mw(next)(testCtx(t), &engine.Request{Server: "a", Method: "resources/read", Params: raw(`{"uri":"test://x"}`)})
			if err != nil || !strings.Contains(string(res), `"text":"{\"uri\":\"test://x\"}"`) {
				t.Errorf("request/response state: %s, %v", res, err)
			}
		})
	}
}

// TestJSStoreTTL checks store entries with expiry, over a memory store
// with a clock the test moves, in both isolation modes; and that each
// hook file has its own keys.
func TestJSStoreTTL(t *testing.T) {
	for _, iso := range isolations {
		t.Run(string(iso), func(t *testing.T) {
			var now atomic.Int64
			now.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
			mem := state.NewMemory(state.MemoryOptions{Now: func() time.Time { return time.Unix(0, now.Load()) }})
			src := answerJS + `
export function toolCall({ tool, arguments: a }) {
  switch (tool) {
    case "set": store.set(a.key, a.value, a.opts); return answer("ok")
    case "get": return answer(JSON.stringify(store.get(a.key)) ?? "undefined")
    case "incr": return answer(store.incr(a.key, a.by, a.opts))
    case "delete": return answer(store.delete(a.key))
  }
}`
			opts := ScriptOptions{Isolation: iso, Backends: Backends{Store: mem}}
			dir := writeFiles(t, map[string]string{"a.js": src, "b.js": src})
			load := func(file, name string) engine.Middleware {
				opts := opts
				opts.Name, opts.Logger = name, testLogger(t)
				s, err := LoadScript(filepath.Join(dir, file), opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return Middleware(s, Options{Logger: testLogger(t)})
			}
			a, b, a2 := load("a.js", "a.js"), load("b.js", "b.js"), load("a.js", "a.js")
			call := func(mw engine.Middleware, tool, args string) string {
				t.Helper()
				got, err := through(t, mw, toolReq(tool, args, engine.Identity{}))
				if err != nil {
					return "error: " + err.Error()
				}
				return got
			}
			steps := []struct {
				mw         engine.Middleware
				tool, args string
				want       string
				advance    time.Duration
			}{
				{mw: a, tool: "set", args: `{"key":"k","value":{"v":1},"opts":{"ttl":"10m"}}`, want: "ok"},
				{mw: a, tool: "set", args: `{"key":"forever","value":"x"}`, want: "ok"},
				{mw: a, tool: "get", args: `{"key":"k"}`, want: `{"v":1}`},
				{mw: b, tool: "get", args: `{"key":"k"}`, want: "undefined"}, // another file: its own keys
				{mw: a2, tool: "get", args: `{"key":"k"}`, want: `{"v":1}`},  // the same file loaded again (another process)
				{mw: a, tool: "incr", args: `{"key":"n","by":5,"opts":{"ttl":60}}`, want: "5"},
				{mw: a, tool: "incr", args: `{"key":"n"}`, want: "6", advance: 30 * time.Second},
				{mw: a, tool: "get", args: `{"key":"n"}`, want: "6", advance: 31 * time.Second}, // incr kept the first ttl
				{mw: a, tool: "get", args: `{"key":"n"}`, want: "undefined"},
				{mw: a, tool: "get", args: `{"key":"k"}`, want: `{"v":1}`, advance: 9 * time.Minute},
				{mw: a, tool: "get", args: `{"key":"k"}`, want: "undefined"},
				{mw: a, tool: "get", args: `{"key":"forever"}`, want: `"x"`},
				{mw: a, tool: "set", args: `{"key":"d","value":1,"opts":{"ttl":"1.5d"}}`, want: "ok", advance: 35 * time.Hour},
				{mw: a, tool: "get", args: `{"key":"d"}`, want: "1", advance: 2 * time.Hour},
				{mw: a, tool: "delete", args: `{"key":"d"}`, want: "false"},
				{mw: a, tool: "delete", args: `{"key":"forever"}`, want: "true"},
				{mw: a, tool: "set", args: `{"key":"k","opts":{"ttl":0}}`, want: "error: hook a.js: toolCall failed: TypeError: store.set: ttl 0: must be from 0.001 seconds to ten years"},
				{mw: a, tool: "set", args: `{"key":"k","value":1,"opts":{"ttl":"soon"}}`, want: `error: hook a.js: toolCall failed: TypeError: store.set: ttl "soon": write seconds (60) or a duration ("90s", "10m", "24h", "7d")`},
				{mw: a, tool: "set", args: `{"key":"k","value":1,"opts":{"tll":5}}`, want: `error: hook a.js: toolCall failed: TypeError: store.set: unknown option "tll" (the options are: ttl)`},
				{mw: a, tool: "incr", args: `{"key":"k","by":1,"opts":{"ttl":-1}}`, want: "error: hook a.js: toolCall failed: TypeError: store.incr: ttl -1: must be from 0.001 seconds to ten years"},
				{mw: a, tool: "set", args: `{"key":"","value":1}`, want: "error: hook a.js: toolCall failed: TypeError: store.set: the key must not be empty"},
			}
			for i, st := range steps {
				got := call(st.mw, st.tool, st.args)
				if first, _, _ := strings.Cut(got, "\n"); first != st.want {
					t.Errorf("step %d %s %s: %q, want %q", i, st.tool, st.args, first, st.want)
				}
				now.Add(int64(st.advance))
			}
		})
	}
}

// redisBackends is a Redis store and limiter under a prefix of their own.
func redisBackends(t *testing.T, url string, failOpen bool) (Backends, *redis.Client, string) {
	t.Helper()
	c, err := state.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("t%d:", time.Now().UnixNano())
	st, err := state.NewRedis(state.RedisOptions{Client: c, Prefix: prefix + "state:"})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := limits.NewRedis(limits.RedisOptions{Client: c, Prefix: prefix + "limits:"})
	if err != nil {
		t.Fatal(err)
	}
	return Backends{Store: st, Limiter: lim, FailOpen: failOpen}, c, prefix
}

const backendsJS = answerJS + `
export function toolCall({ tool, caller, arguments: a }) {
  switch (tool) {
    case "set": store.set(a.key, a.value, a.opts); return answer("ok")
    case "get": return answer(JSON.stringify(store.get(a.key)) ?? "undefined")
    case "incr": return answer(store.incr(a.key, a.by, a.opts))
    case "take": return answer(limits.take(a.key, a.spec))
    case "user": return answer(limits.take("user:" + caller.subject, { rate: "2/min", name: "per-user" }))
    case "soft":
      try { limits.take("soft", { rate: "1/min" }) } catch (e) {
        return answer(e.name + " " + e.retryAfter + " " + e.limit + " " + (e instanceof Error))
      }
      return answer("ok")
    case "caught":
      try { store.get("k") } catch (e) { return answer("caught " + e.message) }
      return answer("got it")
  }
}`

// TestJSStoreRedis checks the store over Redis: values, counters, expiry
// and the script's namespace, in both isolation modes.
func TestJSStoreRedis(t *testing.T) {
	rs := redistest.Start(t)
	for _, iso := range isolations {
		t.Run(string(iso), func(t *testing.T) {
			b, client, prefix := redisBackends(t, rs.URL, false)
			s := loadJS(t, "policy.js", backendsJS, ScriptOptions{Isolation: iso, Backends: b, Name: "hooks/policy:v1.js"})
			mw := Middleware(s, Options{Logger: testLogger(t)})
			for i, st := range []struct{ tool, args, want string }{
				{"set", `{"key":"k","value":{"list":[1,2]},"opts":{"ttl":"10m"}}`, "ok"},
				{"get", `{"key":"k"}`, `{"list":[1,2]}`},
				{"incr", `{"key":"n","by":41,"opts":{"ttl":60}}`, "41"},
				{"incr", `{"key":"n"}`, "42"},
				{"get", `{"key":"n"}`, "42"},
				{"get", `{"key":"absent"}`, "undefined"},
			} {
				if got, err := through(t, mw, toolReq(st.tool, st.args, engine.Identity{})); err != nil || got != st.want {
					t.Errorf("step %d %s %s: %q, %v; want %q", i, st.tool, st.args, got, err, st.want)
				}
			}
			ctx := testCtx(t)
			ns := prefix + "state:hook:hooks/policy%3Av1.js:"
			if ttl, err := client.TTL(ctx, ns+"k").Result(); err != nil || ttl <= 9*time.Minute || ttl > 10*time.Minute {
				t.Errorf("ttl of %sk: %v, %v", ns, ttl, err)
			}
			if ttl, err := client.TTL(ctx, ns+"n").Result(); err != nil || ttl <= 50*time.Second || ttl > time.Minute {
				t.Errorf("ttl of %sn: %v, %v", ns, ttl, err)
			}
		})
	}
}

// TestJSLimitsTake checks limits.take: a refusal is the rate-limit error
// (JSON-RPC -32005 with retryAfter and the limit's name) whatever the
// hook's fail mode, unless the script catches it; counters are per key
// and shared by every runtime (and, through Redis, every process).
func TestJSLimitsTake(t *testing.T) {
	rs := redistest.Start(t)
	for _, backend := range []string{"memory", "redis"} {
		for _, iso := range isolations {
			t.Run(backend+"/"+string(iso), func(t *testing.T) {
				var b Backends
				if backend == "redis" {
					b, _, _ = redisBackends(t, rs.URL, false)
				} else {
					b.Limiter = limits.NewMemory(limits.MemoryOptions{})
				}
				// Two loads of one file: two processes' worth.
				dir := writeFiles(t, map[string]string{"policy.js": backendsJS})
				var mws []engine.Middleware
				for range 2 {
					s, err := LoadScript(filepath.Join(dir, "policy.js"), ScriptOptions{Isolation: iso, Backends: b, Pool: 2, Logger: testLogger(t)})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					mws = append(mws, Middleware(s, Options{Logger: testLogger(t), FailOpen: true}))
				}
				alice := engine.Identity{Auth: engine.AuthJWT, Subject: "alice"}
				bob := engine.Identity{Auth: engine.AuthJWT, Subject: "bob"}
				for i, want := range []string{"1", "0"} {
					if got, err := through(t, mws[i], toolReq("user", "", alice)); err != nil || got != want {
						t.Errorf("alice's call %d: %q, %v; want %q", i, got, err, want)
					}
				}
				_, err := through(t, mws[0], toolReq("user", "", alice))
				var we *jsonrpc.Error
				if !errors.As(err, &we) || we.Code != jsonrpc.CodeRateLimited {
					t.Fatalf("alice's third call: %v, want a rate-limit error", err)
				}
				var data struct {
					RetryAfter int64  `json:"retryAfter"`
					Limit      string `json:"limit"`
				}
				if err := json.Unmarshal(we.Data, &data); err != nil || data.Limit != "per-user" || data.RetryAfter < 1 || data.RetryAfter > 30 {
					t.Errorf("the refusal's data: %s", we.Data)
				}
				if !strings.Contains(we.Message, `rate limit "per-user" (2/1m0s burst 2) exceeded; retry after`) {
					t.Errorf("the refusal's message: %s", we.Message)
				}
				if got, err := through(t, mws[1], toolReq("user", "", bob)); err != nil || got != "1" {
					t.Errorf("bob: %q, %v", got, err)
				}
				// Caught, the refusal is the script's to handle.
				if got, err := through(t, mws[0], toolReq("soft", "", alice)); err != nil || got != "ok" {
					t.Errorf("soft 1: %q, %v", got, err)
				}
				if got, err := through(t, mws[1], toolReq("soft", "", alice)); err != nil || !strings.HasPrefix(got, "RateLimitError ") || !strings.HasSuffix(got, " soft true") {
					t.Errorf("soft 2: %q, %v", got, err)
				}
				// A quota beside a rate; remaining is the least left.
				spec := `{"key":"q","spec":{"rate":"100/s","quota":"3/day"}}`
				for i, want := range []string{"2", "1", "0"} {
					if got, err := through(t, mws[i%2], toolReq("take", spec, bob)); err != nil || got != want {
						t.Errorf("quota %d: %q, %v; want %q", i, got, err, want)
					}
				}
				if _, err := through(t, mws[0], toolReq("take", spec, bob)); !errors.As(err, &we) || we.Code != jsonrpc.CodeRateLimited || !strings.Contains(we.Message, `quota "q" (3/24h0m0s) exceeded`) {
					t.Errorf("over the quota: %v", err)
				}
			})
		}
	}
}

// TestJSLimitsSpec checks the mistakes a limits.take spec can make: each
// is the hook's failure, saying what is wrong.
func TestJSLimitsSpec(t *testing.T) {
	s := loadJS(t, "policy.js", backendsJS, ScriptOptions{Isolation: IsolationNone})
	mw := Middleware(s, Options{Logger: testLogger(t)})
	for _, tc := range []struct{ spec, want string }{
		{`{"rat":"1/s"}`, `TypeError: limits.take: unknown field "rat" (the fields are: rate, burst, quota, name); did you mean "rate"?`},
		{`{}`, `TypeError: limits.take: give a rate ("10/m"), a quota ("1000/month") or both`},
		{`"10/s"`, `TypeError: limits.take: the second argument must be an object like {rate: "10/m", burst: 20, quota: "1000/month"}, got string`},
		{`{"rate":"ten/s"}`, `TypeError: limits.take: "ten/s": the count must be a whole number`},
		{`{"rate":"10/month"}`, `TypeError: limits.take: rate "10/month": a month is a quota window, not a rate`},
		{`{"quota":"5/fortnight"}`, `TypeError: limits.take: "5/fortnight": unit "fortnight" is not a duration`},
		{`{"rate":"1/s","burst":0.5}`, `TypeError: limits.take: burst must be a whole number from 1, got 0.5`},
		{`{"quota":"1/day","burst":3}`, `TypeError: limits.take: burst is set without a rate`},
		{`{"rate":5}`, `TypeError: limits.take: rate must be a string, got number`},
	} {
		_, err := through(t, mw, toolReq("take", `{"key":"k","spec":`+tc.spec+`}`, engine.Identity{}))
		if err == nil || !strings.Contains(err.Error(), "hook policy.js: toolCall failed: "+tc.want) {
			t.Errorf("spec %s: %v\nwant %s", tc.spec, err, tc.want)
		}
	}
}

// TestJSBackendDown checks a store and limiter that cannot be reached
// (Redis stopped): fail-closed refuses the request whatever the hook's
// own fail mode and even when the script catches the exception;
// fail-open carries on as if the store were empty and the limits allowed
// everything.
func TestJSBackendDown(t *testing.T) {
	redis.SetLogger(quietRedis{}) // every dial failure is an error the test checks
	rs := redistest.Start(t)
	url := rs.URL
	rs.Stop()
	for _, iso := range isolations {
		t.Run(string(iso), func(t *testing.T) {
			closed, _, _ := redisBackends(t, url, false)
			s := loadJS(t, "policy.js", backendsJS, ScriptOptions{Isolation: iso, Backends: closed})
			mw := Middleware(s, Options{Logger: testLogger(t), FailOpen: true})
			for _, tc := range []struct{ tool, args, op string }{
				{"caught", "", "store.get"},
				{"set", `{"key":"k","value":1}`, "store.set"},
				{"incr", `{"key":"n"}`, "store.incr"},
				{"take", `{"key":"k","spec":{"rate":"1/s"}}`, "limits.take"},
			} {
				_, err := through(t, mw, toolReq(tc.tool, tc.args, engine.Identity{}))
				var be *BackendError
				var he *engine.HookError
				if !errors.As(err, &be) || !errors.As(err, &he) || be.Op != tc.op || !errors.Is(err, state.ErrUnavailable) ||
					!strings.Contains(err.Error(), `hook policy.js: toolCall failed: `+tc.op+`: state store unavailable`) ||
					!strings.HasSuffix(err.Error(), `(state.onError is "closed")`) {
					t.Errorf("%s, fail-closed: %v", tc.tool, err)
				}
			}

			open, _, _ := redisBackends(t, url, true)
			var logs syncBuffer
			s = loadJS(t, "policy.js", backendsJS, ScriptOptions{Isolation: iso, Backends: open, Logger: newBufLogger(&logs.Buffer)})
			mw = Middleware(s, Options{Logger: testLogger(t)})
			for _, tc := range []struct{ tool, args, want string }{
				{"caught", "", "got it"},
				{"get", `{"key":"k"}`, "undefined"},
				{"set", `{"key":"k","value":1}`, "ok"},
				{"incr", `{"key":"n","by":5}`, "5"},
				{"take", `{"key":"k","spec":{"rate":"1/s"}}`, "-1"},
			} {
				if got, err := through(t, mw, toolReq(tc.tool, tc.args, engine.Identity{})); err != nil || got != tc.want {
					t.Errorf("%s, fail-open: %q, %v; want %q", tc.tool, got, err, tc.want)
				}
			}
			if log := logs.String(); !strings.Contains(log, `hook's state could not be reached; carrying on without it (state.onError is \"open\")`) ||
				!strings.Contains(log, "op=limits.take") {
				t.Errorf("fail-open log: %s", log)
			}
		})
	}
}

// A store that does not answer makes the hook's call run into its
// deadline; state.onError "closed" still refuses the request, even for a
// hook whose own onError is "open" (a timeout would otherwise let it
// through). In-process, where the store call returns before the call does.
func TestJSBackendHangsFailsClosed(t *testing.T) {
	redis.SetLogger(quietRedis{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go io.Copy(io.Discard, c)
		}
	}()
	closed, _, _ := redisBackends(t, "redis://"+ln.Addr().String(), false)
	s := loadJS(t, "policy.js", backendsJS, ScriptOptions{Isolation: IsolationNone, Backends: closed})
	mw := Middleware(s, Options{Logger: testLogger(t), FailOpen: true, Timeout: 300 * time.Millisecond})
	got, err := through(t, mw, toolReq("caught", "", engine.Identity{}))
	var be *BackendError
	if !errors.As(err, &be) || !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("a hung store under state.onError closed: %q, %v; want a *BackendError", got, err)
	}
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// syncBuffer is a bytes.Buffer safe for the loggers of several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

// TestHookAuditTrail runs hooks in a runner with an audit trail writing
// to a real file and tracing on: each record carries the hooks' decisions
// and the fields their scripts added with audit.add, and each hook phase
// has a span.
func TestHookAuditTrail(t *testing.T) {
	for _, iso := range isolations {
		t.Run(string(iso), func(t *testing.T) { testHookAuditTrail(t, iso) })
	}
}

func testHookAuditTrail(t *testing.T, iso Isolation) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	trail, err := audit.Open(path, audit.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())

	s := loadJS(t, "audit.js", `
export function toolCall({ tool, caller, arguments: a }) {
  audit.add("user", caller.subject || "anonymous")
  audit.add("detail", { tool, n: 1 })
  switch (tool) {
    case "secret": return { deny: "secrets stay home" }
    case "time": return { result: { content: [{ type: "text", text: "noon" }] } }
    case "elsewhere": return { server: "b", tool: "echo" }
    case "broken": throw new Error("broken on purpose")
  }
  if (a.limited) { limits.take("once", { rate: "1/min", name: "once" }); return { arguments: { text: a.text } } }
  if (a.big) audit.add("big", "x".repeat(5000))
  if (a.text === "quiet") return { arguments: { text: "LOUD" } }
}
export function toolResult({ tool }) { audit.add("after", tool) }
`, ScriptOptions{Isolation: iso})
	cfg := `{` + serversJSON("a", "b") + `}`
	c, err := config.Parse([]byte(cfg), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(c, &engine.Options{Logger: testLogger(t), TracerProvider: tp,
		Observers: []engine.Middleware{trail.Observer()}, Middleware: []engine.Middleware{Middleware(s, Options{Logger: testLogger(t)})}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	t.Cleanup(func() { r.StopAll(context.Background()) })
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := r.Client("a")
	alice := engine.WithIdentity(ctx, engine.Identity{Auth: engine.AuthJWT, Subject: "alice", Transport: "streamable-http"})
	calls := []struct{ tool, args string }{
		{"echo", `{"text":"quiet"}`}, {"echo", `{"text":"as is"}`}, {"secret", `{}`}, {"time", `{}`},
		{"elsewhere", `{"text":"far"}`}, {"broken", `{}`}, {"echo", `{"text":"1","limited":true}`}, {"echo", `{"text":"2","limited":true}`}, {"echo", `{"text":"x","big":true}`},
	}
	for _, c := range calls {
		_, _ = a.Call(alice, "tools/call", raw(`{"name":"`+c.tool+`","arguments":`+c.args+`}`))
	}
	if err := trail.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type decision struct{ By, Kind, Reason string }
	var records []struct {
		Tool      string
		Decisions []decision
		Fields    map[string]json.RawMessage
		Outcome   string
		Code      int64
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Tool      string
			Decisions []decision
			Fields    map[string]json.RawMessage
			Outcome   string
			Code      int64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		records = append(records, r)
	}
	if len(records) != len(calls) {
		t.Fatalf("%d records for %d calls:\n%s", len(records), len(calls), data)
	}
	want := []struct {
		decisions string
		outcome   string
		after     bool
	}{
		{`modified|continue`, "ok", true},
		{`continue|continue`, "ok", true},
		{`deny secrets stay home`, "denied", false},
		{`answered`, "ok", false},
		{`routed server "b", tool "echo"|continue`, "ok", true},
		{`failed Error: broken on purpose`, "error", false},
		{`modified|continue`, "ok", true},
		{`deny rate limit "once" (1/1m0s burst 1) exceeded; retry after`, "error", false},
		{`failed RangeError: audit.add: "big" is 5002 bytes as JSON, over the limit of 4096`, "error", false},
	}
	for i, w := range want {
		got := records[i]
		var ds []string
		for _, d := range got.Decisions {
			if d.By != "audit.js" {
				t.Errorf("record %d: decision by %q", i, d.By)
			}
			ds = append(ds, strings.TrimSpace(d.Kind+" "+d.Reason))
		}
		if joined := strings.Join(ds, "|"); !strings.HasPrefix(joined, w.decisions) {
			t.Errorf("record %d (%s): decisions %q, want %q", i, calls[i].tool, joined, w.decisions)
		}
		if got.Outcome != w.outcome {
			t.Errorf("record %d (%s): outcome %q, want %q", i, calls[i].tool, got.Outcome, w.outcome)
		}
		if string(got.Fields["user"]) != `"alice"` || !jsonEqual(string(got.Fields["detail"]), `{"tool":"`+calls[i].tool+`","n":1}`) {
			t.Errorf("record %d (%s): fields %s", i, calls[i].tool, got.Fields)
		}
		if w.after != (got.Fields["after"] != nil) {
			t.Errorf("record %d (%s): the after phase's field: %s", i, calls[i].tool, got.Fields["after"])
		}
	}
	if records[7].Code != jsonrpc.CodeRateLimited {
		t.Errorf("the limited call's code: %d", records[7].Code)
	}
	// A field over the limit fails the hook, which is recorded.
	if _, ok := records[8].Fields["big"]; ok {
		t.Errorf("a 5000-byte field was recorded")
	}
	// Each phase that ran has its span, a child of the request's.
	spans := map[string]int{}
	for _, sp := range rec.Ended() {
		if strings.HasPrefix(sp.Name(), "hook ") {
			spans[sp.Name()]++
			if !sp.Parent().IsValid() {
				t.Errorf("span %s has no parent", sp.Name())
			}
		}
	}
	if spans["hook toolCall audit.js"] != len(calls) || spans["hook toolResult audit.js"] != 4 {
		t.Errorf("hook spans: %v", spans)
	}
}
