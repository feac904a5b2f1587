package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/scripting"
)

func TestDecisions(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg", Config: json.RawMessage(`{"mode": "", "x": [1, 2]}`)})
	ctx := testCtx(t)
	call := func(in *scripting.Input) *scripting.Decision {
		t.Helper()
		d, err := f.Call(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", in.Tool, err)
		}
		return d
	}
	if d := call(toolCall("deny", nil)); string(d.Deny) != `"tool deny is denied"` {
		t.Errorf("deny: %+v", d)
	}
	if d := call(toolCall("modify", map[string]any{"a": 1})); string(d.Arguments) != `{"a":1,"filtered":true}` {
		t.Errorf("modify: %s", d.Arguments)
	}
	if d := call(toolCall("nil", nil)); d == nil || len(d.Deny)+len(d.Result)+len(d.Arguments) != 0 {
		t.Errorf("nil: %+v", d)
	}
	d := call(toolCall("config", nil))
	if got := resultText(t, d.Result); got != `{"mode": "", "x": [1, 2]}` {
		t.Errorf("config: %s", got)
	}
	// The guest reads exactly the Input's JSON.
	in := toolCall("input", map[string]any{"text": "héllo \u2028 \"quoted\""})
	in.Caller = scripting.Caller{Token: "alice", Session: "s1", Transport: "streamable-http",
		Auth: "jwt", Subject: "alice@example.com", ClientID: "app", Scopes: []string{"mcp:tools", "a\"b"},
		Claims: json.RawMessage(`{"sub":"alice@example.com","tier":"gold"}`), Client: scripting.ClientInfo{Name: "claude-code", Version: "2.1"}, Protocol: "2026-07-28"}
	want, _ := json.Marshal(in)
	if got := resultText(t, call(in).Result); got != string(want) {
		t.Errorf("input:\n got %s\nwant %s", got, want)
	}
	// State lives on in one instance between calls.
	first := resultText(t, call(toolCall("count", nil)).Result)
	second := resultText(t, call(toolCall("count", nil)).Result)
	if first == second {
		t.Errorf("count did not advance: %s, %s", first, second)
	}
}

func TestHas(t *testing.T) {
	all := load(t, guestWasm, Options{})
	some := load(t, guestWasm, Options{Phases: []scripting.Phase{scripting.PhaseToolCall, scripting.PhaseListTools}})
	for _, p := range scripting.Phases {
		if !all.Has(p) {
			t.Errorf("no phases given: Has(%s) = false", p)
		}
		if want := p == scripting.PhaseToolCall || p == scripting.PhaseListTools; some.Has(p) != want {
			t.Errorf("Has(%s) = %v", p, some.Has(p))
		}
	}
	if all.Has("nonsense") {
		t.Error("Has(nonsense)")
	}
	if all.Name() != "guest" {
		t.Errorf("default name %q, want the file's base name", all.Name())
	}
}

// Every misbehaviour fails closed through scripting.Middleware with an
// error that names the filter, the phase and what happened; the instance
// is discarded and the next call runs on a fresh one (its count starts
// again at 1).
func TestFailuresFailClosed(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg", Pool: 1, MemoryLimitMiB: 32})
	h, slow := chain(f, 300*time.Millisecond), chain(f, 10*time.Second)
	cases := []struct {
		tool string
		args any
		want string
		is   error
	}{
		{"panic", nil, "wasm trap: unreachable (the guest panicked: panic: boom)", nil},
		{"loop", nil, "(the instance was discarded)", context.DeadlineExceeded},
		{"sleep", map[string]any{"ms": 60000}, "(the instance was discarded)", context.DeadlineExceeded},
		{"oom", nil, "memory limit of 32 MiB reached", nil},
		{"error", nil, "the guest returned error code 1: guest says no", nil},
		{"exit", nil, "the guest exited with code 3", nil},
		{"malformed", nil, "malformed output: invalid character", nil},
		{"unknown", nil, `malformed output: json: unknown field "denied"`, nil},
		{"empty", nil, "malformed output: empty", nil},
		{"badptr", nil, "wasm trap: input_read: the buffer [4294967280, 4294967344) is outside the guest's memory", nil},
	}
	ran := 0
	for _, c := range cases {
		t.Run(c.tool, func(t *testing.T) {
			ran++
			ctx := testCtx(t)
			start := time.Now()
			hc := h
			if c.tool == "oom" {
				hc = slow // allocating 32 MiB takes a while under the race detector
			}
			res, err := callTool(ctx, hc, c.tool, c.args)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("no error; result %s", res)
			}
			var he *engine.HookError
			if !errors.As(err, &he) || !errors.Is(err, engine.ErrHook) || he.Hook != "tg" || he.Phase != "toolCall" {
				t.Fatalf("not a HookError of tg/toolCall: %#v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `filter "tg": toolCall: `) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q\nwant it to contain %q", msg, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v) = false", c.is)
			}
			if c.is == context.DeadlineExceeded {
				checkDeadline(t, err, 300*time.Millisecond)
			}
			if took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			res, err = callTool(ctx, h, "count", nil)
			if err != nil {
				t.Fatalf("the next call: %v", err)
			}
			if got := resultText(t, res); got != "1" {
				t.Errorf("the next call ran on an instance that had %s calls, want a fresh one", got)
			}
		})
	}
	st := f.Stats()
	if st.Failures != int64(ran) || st.Instances != int64(ran)+1 {
		t.Errorf("stats %+v, want %d failures and %d instances", st, ran, ran+1)
	}
}

// A filter's toolCall leaves state that its toolResult for the same
// request reads, and only that request's.
func TestState(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg"})
	h := chain(f, 5*time.Second)
	ctx := testCtx(t)
	for _, text := range []string{"first", "second"} {
		res, err := callTool(ctx, h, "state", map[string]any{"text": text})
		if err != nil {
			t.Fatal(err)
		}
		want := `state {"seen":"{\"text\":\"` + text + `\"}"}`
		if got := resultText(t, res); got != want {
			t.Errorf("toolResult saw %s, want %s", got, want)
		}
	}
}

func TestFailOpen(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg"})
	var logs syncBuffer
	h := scripting.Middleware(f, scripting.Options{FailOpen: true, Logger: testLogger(t, &logs)})(
		func(context.Context, *engine.Request) (json.RawMessage, error) {
			return json.RawMessage(`{"content":[{"type":"text","text":"through"}]}`), nil
		})
	res, err := callTool(testCtx(t), h, "panic", nil)
	if err != nil || resultText(t, res) != "through" {
		t.Fatalf("fail-open: %s, %v", res, err)
	}
	if !strings.Contains(logs.String(), "panic: boom") {
		t.Errorf("no warning with the cause in the log:\n%s", logs.String())
	}
}

func TestStopsPromptlyWhenCancelled(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg", Pool: 1})
	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := f.Call(ctx, toolCall("loop", nil))
		errc <- err
	}()
	waitBusy(t, f, 1)
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `filter "tg": toolCall: cancelled after`) {
		t.Fatalf("got %v", err)
	}
	// The caller giving up is not the filter's failure, but the instance
	// is discarded all the same.
	if _, err := f.Call(testCtx(t), toolCall("count", nil)); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Calls != 2 || st.Failures != 0 || st.Instances != 2 {
		t.Errorf("stats %+v, want 2 calls, no failure, 2 instances", st)
	}
}

// waitBusy waits until n instances are in use.
func waitBusy(t *testing.T, f *Filter, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.sem) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances busy, want %d", len(f.sem), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitsForAFreeInstance(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg", Pool: 1})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.Call(ctx, toolCall("loop", nil))
	}()
	waitBusy(t, f, 1)
	short, cancelShort := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancelShort()
	_, err := f.Call(short, toolCall("count", nil))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a free instance (pool of 1)") {
		t.Fatalf("got %v", err)
	}
	// A waiting call gets the instance's slot once the busy one ends.
	got := make(chan error, 1)
	go func() {
		_, err := f.Call(testCtx(t), toolCall("count", nil))
		got <- err
	}()
	cancel()
	<-done
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestConcurrent(t *testing.T) {
	for _, name := range []string{"go", "hand"} {
		t.Run(name, func(t *testing.T) {
			path := guestWasm
			if name == "hand" {
				path = writeModule(t, "hand.wasm", handModule(1, 0, `{}`, nil))
			}
			f := load(t, path, Options{Name: "tg", Pool: 2})
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for g := range 8 {
				wg.Go(func() {
					for i := range 40 {
						tool := "modify"
						if name == "go" && (g+i)%10 == 3 {
							tool = "panic"
						}
						d, err := f.Call(testCtx(t), toolCall(tool, map[string]any{"g": g, "i": i}))
						switch {
						case tool == "panic" && err == nil:
							errs <- errors.New("panic: no error")
						case tool == "panic":
						case err != nil:
							errs <- err
						case name == "go" && string(d.Arguments) != fmt.Sprintf(`{"filtered":true,"g":%d,"i":%d}`, g, i):
							errs <- fmt.Errorf("g%d i%d: arguments %s", g, i, d.Arguments)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			st := f.Stats()
			if st.Calls != 8*40 {
				t.Errorf("stats %+v", st)
			}
			if name == "hand" && st.Instances > 2 {
				t.Errorf("%d instances started with a pool of 2", st.Instances)
			}
			if len(f.idle) > 2 || len(f.sem) != 0 {
				t.Errorf("%d idle, %d busy after the calls", len(f.idle), len(f.sem))
			}
		})
	}
}

func TestLogs(t *testing.T) {
	var logs syncBuffer
	f := load(t, guestWasm, Options{Name: "tg", Logger: testLogger(t, &logs)})
	if _, err := f.Call(testCtx(t), toolCall("log", nil)); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{
		`level=WARN msg="hello from guest.Log" filter=tg phase=toolCall`,
		`level=INFO msg="hello from stdout" filter=tg stream=stdout`,
		`level=WARN msg="hello from stderr" filter=tg stream=stderr`,
		`level=INFO msg="partial line" filter=tg stream=stdout`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// Close stops the calls in flight, looping or sleeping, at once, and
// waits for them.
func TestClose(t *testing.T) {
	f, err := Load(testCtx(t), guestWasm, Options{Name: "tg", Pool: 2, CacheDir: testCache, Logger: testLogger(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	for _, in := range []*scripting.Input{toolCall("loop", nil), toolCall("sleep", map[string]any{"ms": 60000})} {
		go func() {
			_, err := f.Call(testCtx(t), in)
			errc <- err
		}()
	}
	waitBusy(t, f, 2)
	time.Sleep(50 * time.Millisecond) // into the loop and the sleep
	start := time.Now()
	if err := f.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v", took)
	}
	for range 2 { // Close waited for them
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("a call in flight: %v, want ErrClosed", err)
			}
		case <-time.After(time.Second):
			t.Fatal("a call in flight was still running after Close")
		}
	}
	if _, err := f.Call(testCtx(t), toolCall("count", nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := f.Close(testCtx(t)); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	noFilter := handModule(1, 0, "{}", func(m *wmodule) { m.exports = m.exports[:2] })
	noMemory := handModule(1, 0, "{}", func(m *wmodule) { m.exports = m.exports[1:] })
	wrongType := handModule(1, 0, "{}", func(m *wmodule) { m.funcs[1].typ = 1; m.funcs[1].body = i32c(0) })
	command := handModule(1, 0, "{}", func(m *wmodule) {
		m.funcs = append(m.funcs, wfunc{typ: 3})
		m.exports = append(m.exports, wexport{"_start", 0, 3})
	})
	addImport := func(module, name string) []byte {
		return handModule(1, 0, "{}", func(m *wmodule) {
			m.imports = append(m.imports, wimport{module, name, 3})
			m.exports[1].idx++ // imports come first in the function index space
			m.exports[2].idx++
		})
	}
	envImport := addImport("env", "abort")
	unknownHost := addImport("mcpscript", "time")
	badSig := handModule(1, 0, "{}", func(m *wmodule) {
		m.imports[0].typ = 4 // output_write declared to return an i32
		body := append(i32c(0), i32c(2)...)
		body = append(body, opCall, 0, opDrop)
		m.funcs[1].body = append(body, i32c(0)...)
	})
	cases := []struct {
		name string
		path string
		opts Options
		want string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope.wasm"), Options{}, `filter "nope" (`},
		{"not wasm", writeModule(t, "text.wasm", []byte("hello")), Options{}, `filter "text" (`},
		{"no filter export", writeModule(t, "redact.wasm", noFilter), Options{},
			`filter "redact" (` + "%DIR%" + `/redact.wasm): missing export "mcpscript_filter"; see docs/wasm-abi.md`},
		{"no memory", writeModule(t, "m.wasm", noMemory), Options{}, `missing export "memory"`},
		{"filter type", writeModule(t, "m.wasm", wrongType), Options{}, `export "mcpscript_filter" has type () -> i32, want (i32) -> i32`},
		{"command", writeModule(t, "m.wasm", command), Options{}, `is a WASI command`},
		{"env import", writeModule(t, "m.wasm", envImport), Options{}, `imports env.abort: filters may import only from "mcpscript" and "wasi_snapshot_preview1"`},
		{"unknown host function", writeModule(t, "m.wasm", unknownHost), Options{}, `imports mcpscript.time, which ABI v1 does not have`},
		{"host function type", writeModule(t, "m.wasm", badSig), Options{}, `imports mcpscript.output_write with type (i32, i32) -> i32, want (i32, i32)`},
		{"abi version", writeModule(t, "v2.wasm", handModule(2, 0, "{}", nil)), Options{},
			`filter "v2" (` + "%DIR%" + `/v2.wasm): the module implements ABI version 2, but this mcpscript supports version 1`},
		{"config refused", guestWasm, Options{Name: "tg", Config: json.RawMessage(`{"mode": "refuse"}`)},
			`filter "tg" (` + guestWasm + `): the filter refused to start (mcpscript_init returned 1): mode "refuse" refuses to start`},
		{"init panics", guestWasm, Options{Name: "tg", Config: json.RawMessage(`{"mode": "initpanic"}`)},
			`mcpscript_init: wasm trap: unreachable (the guest panicked: panic: init boom`},
		{"config not JSON", guestWasm, Options{Name: "tg", Config: json.RawMessage(`{`)}, `config is not valid JSON`},
		{"unknown phase", guestWasm, Options{Name: "tg", Phases: []scripting.Phase{"toolcall"}}, `unknown hook "toolcall" (known: toolCall,`},
		{"memory limit", guestWasm, Options{Name: "tg", MemoryLimitMiB: 1}, `(memoryLimitMiB is 1)`},
		{"memory limit range", guestWasm, Options{Name: "tg", MemoryLimitMiB: 5000}, `memoryLimitMiB 5000 is out of range`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.CacheDir = testCache
			c.opts.Logger = testLogger(t, nil)
			f, err := Load(testCtx(t), c.path, c.opts)
			if err == nil {
				f.Close(context.Background())
				t.Fatal("loaded")
			}
			want := strings.ReplaceAll(c.want, "%DIR%", filepath.Dir(c.path))
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestHandModule(t *testing.T) {
	f := load(t, writeModule(t, "hand.wasm", handModule(1, 0, `{"deny": "hand-made"}`, nil)), Options{})
	d, err := f.Call(testCtx(t), toolCall("x", nil))
	if err != nil || string(d.Deny) != `"hand-made"` {
		t.Fatalf("%+v, %v", d, err)
	}
	g := load(t, writeModule(t, "code.wasm", handModule(1, 7, `no such table`, nil)), Options{})
	_, err = g.Call(testCtx(t), toolCall("x", nil))
	if err == nil || err.Error() != `filter "code": toolCall: the guest returned error code 7: no such table` {
		t.Fatalf("got %v", err)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv(EnvCacheDir, "")
	base, err := os.UserCacheDir()
	if err == nil {
		if got := cacheDir(""); got != filepath.Join(base, "mcpscript", "wazero") {
			t.Errorf("default: %q", got)
		}
	}
	t.Setenv(EnvCacheDir, "/somewhere")
	if got := cacheDir(""); got != "/somewhere" {
		t.Errorf("from the environment: %q", got)
	}
	if got := cacheDir("/mine"); got != "/mine" {
		t.Errorf("given: %q", got)
	}
	for _, off := range []string{"-", "off"} {
		if got := cacheDir(off); got != "" {
			t.Errorf("%s: %q", off, got)
		}
		t.Setenv(EnvCacheDir, off)
		if got := cacheDir(""); got != "" {
			t.Errorf("env %s: %q", off, got)
		}
	}

	// A cache folder fills on the first load.
	dir := filepath.Join(t.TempDir(), "cache")
	load(t, writeModule(t, "hand.wasm", handModule(1, 0, `{}`, nil)), Options{CacheDir: dir})
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n == 0 {
		t.Error("nothing written to the cache folder")
	}
}

// A call whose context is already over touches no instance, and a call
// without a deadline still cannot run forever.
func TestContextEdges(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg", Pool: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Call(ctx, toolCall("count", nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if st := f.Stats(); st.Calls != 0 || st.Instances != 1 {
		t.Errorf("stats %+v", st)
	}
	if testing.Short() {
		t.Skip("waits for scripting.DefaultTimeout")
	}
	_, err := f.Call(context.Background(), toolCall("loop", nil))
	checkDeadline(t, err, time.Second)
}

// The guest sees no files, no environment, only its name as argument, and
// the real time.
func TestSandbox(t *testing.T) {
	t.Setenv("MCPSCRIPT_SECRET", "x")
	f := load(t, guestWasm, Options{Name: "tg"})
	d, err := f.Call(testCtx(t), toolCall("sandbox", nil))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		File, Dir string
		Env, Args []string
		Time      int
	}
	if err := json.Unmarshal([]byte(resultText(t, d.Result)), &got); err != nil {
		t.Fatal(err)
	}
	if got.File == "<nil>" || got.Dir == "<nil>" || len(got.Env) != 0 || len(got.Args) != 1 || got.Args[0] != "tg" || got.Time != time.Now().Year() {
		t.Errorf("the guest sees %+v", got)
	}
}
