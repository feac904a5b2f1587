package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// testCtx is a context for one test's requests.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testLogger sends logs to t.Log, so that they show for failing tests only.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serversJSON is the mcpServers section for test servers by name; each
// has WHO=<its name> in its environment (the env tool tells them apart).
func serversJSON(names ...string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf(`%q: {%s}`, n, testserver.ConfigJSON("normal", map[string]string{"WHO": n})))
	}
	return `"mcpServers": {` + strings.Join(parts, ", ") + `}`
}

// startRunner starts a runner over test servers a and b with mw.
func startRunner(t testing.TB, mw ...engine.Middleware) *engine.Runner {
	t.Helper()
	cfg, err := config.Parse([]byte(`{`+serversJSON("a", "b")+`}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: testLogger(t), Middleware: mw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.StopAll(ctx); err != nil {
			t.Errorf("StopAll: %v", err)
		}
	})
	if err := r.StartAll(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return r
}

// swap is middleware whose inner middleware the test changes, so that the
// cases of a table share one runner.
type swap struct {
	cur atomic.Pointer[engine.Middleware]
}

func (s *swap) set(m engine.Middleware) { s.cur.Store(&m) }

func (s *swap) mw(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		if m := s.cur.Load(); m != nil && *m != nil {
			return (*m)(next)(ctx, req)
		}
		return next(ctx, req)
	}
}

// writeFiles writes name → content into a fresh folder and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadJS writes src as file into a fresh folder and loads it.
func loadJS(t testing.TB, file, src string, opts ScriptOptions) *Script {
	t.Helper()
	dir := writeFiles(t, map[string]string{file: src})
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := LoadScript(filepath.Join(dir, file), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// callText calls a tool and returns its text, or the error.
func callText(ctx context.Context, r *engine.Runner, server, tool string, args any) (string, error) {
	c, err := r.Client(server)
	if err != nil {
		return "", err
	}
	res, err := c.CallTool(ctx, tool, args)
	if err != nil {
		return "", err
	}
	if res.IsError {
		return "", fmt.Errorf("tool error: %s", resultText(res))
	}
	return resultText(res), nil
}

// mustCall is callText failing the test on an error.
func mustCall(t testing.TB, r *engine.Runner, server, tool string, args any) string {
	t.Helper()
	s, err := callText(testCtx(t), r, server, tool, args)
	if err != nil {
		t.Fatalf("%s/%s: %v", server, tool, err)
	}
	return s
}

// checkErr checks err against want: "" no error; "denied: x" a denial
// containing x; "hook: x" a hook failure containing x.
func checkErr(t testing.TB, err error, want string) bool {
	t.Helper()
	kind, text, _ := strings.Cut(want, ": ")
	switch {
	case want == "":
		if err != nil {
			t.Errorf("error %v", err)
			return false
		}
	case kind == "denied":
		if !errors.Is(err, engine.ErrDenied) || !strings.Contains(err.Error(), text) {
			t.Errorf("error %v, want a denial containing %q", err, text)
			return false
		}
	case kind == "hook":
		if !errors.Is(err, engine.ErrHook) || !strings.Contains(err.Error(), text) {
			t.Errorf("error %v, want a hook failure containing %q", err, text)
			return false
		}
	default:
		t.Fatalf("bad want %q", want)
	}
	if err != nil {
		t.Logf("error as expected: %v", err)
	}
	return true
}

// answer is JavaScript for a tools/call result with one text.
const answerJS = `function answer(text) { return { result: { content: [{ type: "text", text: String(text) }] } } }
`

func TestJSOutcomes(t *testing.T) {
	t.Setenv("HOOK_GRANTED", "yes")
	t.Setenv("HOOK_SECRET", "no")
	data := writeFiles(t, map[string]string{"note.txt": "from the folder"})
	var sw swap
	r := startRunner(t, sw.mw)
	alice := engine.WithIdentity(testCtx(t), engine.Identity{Token: "alice", Session: "s1", Transport: "streamable-http"})
	cases := []struct {
		name   string
		src    string
		opts   ScriptOptions
		open   bool
		ctx    context.Context
		server string
		tool   string
		args   map[string]any
		want   string // the text, or ...
		err    string // checkErr's want
	}{
		{name: "continue", src: `export function toolCall(call) {}`,
			tool: "echo", args: map[string]any{"text": "hi"}, want: "hi"},
		{name: "continue with null", src: `export function toolCall(call) { return null }`,
			tool: "echo", args: map[string]any{"text": "hi"}, want: "hi"},
		{name: "modified arguments", src: `export function toolCall(call) {
  return { arguments: { ...call.arguments, text: call.arguments.text.toUpperCase() } }
}`, tool: "echo", args: map[string]any{"text": "hi"}, want: "HI"},
		{name: "route to another tool", src: `export function toolCall(call) { if (call.tool === "say") return { tool: "echo" } }`,
			tool: "say", args: map[string]any{"text": "hi"}, want: "hi"},
		{name: "route to another server", src: `export function toolCall(call) { if (call.server === "a" && call.tool === "env") return { server: "b" } }`,
			tool: "env", args: map[string]any{"name": "WHO"}, want: "b"},
		{name: "route both", src: `export function toolCall(call) { if (call.tool === "whoami") return { server: "b", tool: "env", arguments: { name: "WHO" } } }`,
			tool: "whoami", want: "b"},
		{name: "deny with a reason", src: `export function toolCall(call) { if (call.tool === "echo") return { deny: "echo is switched off" } }`,
			tool: "echo", args: map[string]any{"text": "hi"}, err: `denied: tools/call "echo" on server "a" by policy.js: echo is switched off`},
		{name: "deny true", src: `export const toolCall = () => ({ deny: true })`,
			tool: "echo", err: `denied: tools/call "echo" on server "a" by policy.js`},
		{name: "deny false", src: `export const toolCall = () => ({ deny: false })`,
			tool: "echo", args: map[string]any{"text": "hi"}, want: "hi"},
		{name: "answer without the server", src: answerJS + `export function toolCall(call) { if (call.tool === "crash") return answer("answered " + call.arguments.code) }`,
			tool: "crash", args: map[string]any{"code": 3}, want: "answered 3"},
		{name: "toolResult redaction", src: `export function toolResult({ result }) {
  const content = result.content.map((c) => ({ ...c, text: c.text.replace(/sk-[a-z0-9]+/g, "[REDACTED]") }))
  return { result: { ...result, content } }
}`, tool: "echo", args: map[string]any{"text": "key sk-abc123 end"}, want: "key [REDACTED] end"},
		{name: "toolResult sees the call", src: answerJS + `export function toolResult(c) { return answer([c.hook, c.server, c.tool, c.arguments.text, c.result.content[0].text].join(" ")) }`,
			tool: "echo", args: map[string]any{"text": "hi"}, want: "toolResult a echo hi hi"},
		{name: "toolResult denies", src: `export function toolResult({ result }) { if (result.content[0].text.includes("secret")) return { deny: "leak" } }`,
			tool: "echo", args: map[string]any{"text": "a secret"}, err: "denied: leak"},
		{name: "the call object", src: answerJS + `export function toolCall(c) {
  return answer(JSON.stringify([c.hook, c.server, c.method, c.tool, c.arguments, c.caller, c.result, c.items, c.params]))
}`, ctx: alice, tool: "pid",
			want: `["toolCall","a","tools/call","pid",{},{"token":"alice","session":"s1","transport":"streamable-http","auth":"none","subject":"","clientId":"","scopes":[],"claims":{},"client":{"name":"","version":""},"protocol":""},null,null,null]`},
		{name: "caller without identity", src: answerJS + `export function toolCall(c) { return answer(JSON.stringify(c.caller)) }`,
			tool: "pid", want: `{"token":"","session":"","transport":"go","auth":"none","subject":"","clientId":"","scopes":[],"claims":{},"client":{"name":"","version":""},"protocol":""}`},
		{name: "async", src: `export async function toolCall(call) {
  const text = await Promise.resolve(call.arguments.text)
  await null
  return { arguments: { text: text + "!" } }
}`, tool: "echo", args: map[string]any{"text": "hi"}, want: "hi!"},
		{name: "async deny", src: `export async function toolCall() { await null; return { deny: "later" } }`,
			tool: "echo", err: "denied: later"},
		{name: "async nothing", src: `export async function toolCall() {}`,
			tool: "echo", args: map[string]any{"text": "hi"}, want: "hi"},
		{name: "promise that never settles", src: `export function toolCall() { return new Promise(() => {}) }`,
			tool: "echo", err: "hook: hook policy.js: toolCall failed: toolCall returned a promise that did not settle (hooks cannot wait for I/O)"},
		{name: "rejected promise", src: "export async function toolCall() {\n  await null\n  throw new Error(\"nope\")\n}",
			tool: "echo", err: "hook: toolCall's promise was rejected: Error: nope\n\tat toolCall (policy.js:3:"},
		{name: "a number", src: `export const toolCall = () => 5`,
			tool: "echo", err: "hook: toolCall must return an object or nothing, got number"},
		{name: "a string", src: `export const toolCall = () => "deny"`,
			tool: "echo", err: "hook: toolCall must return an object or nothing, got string"},
		{name: "an array", src: `export const toolCall = () => []`,
			tool: "echo", err: "hook: toolCall must return an object or nothing, got array"},
		{name: "a typo", src: `export const toolCall = () => ({ denied: "x" })`,
			tool: "echo", err: `hook: toolCall returned an unknown field "denied" (it may return deny, result, arguments, server, tool)`},
		{name: "a near miss", src: `export const toolCall = () => ({ Deny: "x" })`,
			tool: "echo", err: `hook: toolCall returned an unknown field "Deny" (it may return deny, result, arguments, server, tool); did you mean "deny"?`},
		{name: "a field of another phase", src: `export const toolResult = () => ({ arguments: {} })`,
			tool: "echo", err: `hook: toolResult cannot return "arguments" (it may return deny, result)`},
		{name: "deny a number", src: `export const toolCall = () => ({ deny: 1 })`,
			tool: "echo", err: "hook: deny must be a string (the reason) or true, got number"},
		{name: "server not a string", src: `export const toolCall = () => ({ server: 1 })`,
			tool: "echo", err: "hook: toolCall: server must be a string, got number"},
		{name: "arguments a function", src: `export const toolCall = () => ({ arguments: () => 1 })`,
			tool: "echo", err: "hook: toolCall: arguments cannot be turned into JSON (got function)"},
		{name: "a throwing getter", src: `export const toolCall = () => ({ get deny() { throw new Error("from a getter") } })`,
			tool: "echo", err: "hook: hook policy.js: toolCall failed: Error: from a getter\n\tat deny (policy.js:1:"},
		{name: "a throwing toJSON", src: `export const toolCall = () => ({ arguments: { toJSON() { throw new Error("no JSON") } } })`,
			tool: "echo", err: "hook: toolCall: arguments cannot be turned into JSON: Error: no JSON"},
		{name: "arguments not an object", src: `export const toolCall = () => ({ arguments: [1] })`,
			tool: "echo", err: "hook: arguments must be an object, not [1]"},
		{name: "answer not an object", src: `export const toolCall = () => ({ result: "done" })`,
			tool: "echo", err: `hook: result must be an object, not "done"`},
		{name: "malformed, fail-open", src: `export const toolCall = () => ({ denied: "x" })`, open: true,
			tool: "echo", args: map[string]any{"text": "hi"}, want: "hi"},
		{name: "routed to an unknown server", src: `export const toolCall = () => ({ server: "nope" })`,
			tool: "echo", err: "none"},
		{name: "env granted or not", src: answerJS + "export const toolCall = () => answer(`${process.env.HOOK_GRANTED}/${process.env.HOOK_SECRET}`)",
			opts: ScriptOptions{Grants: jsrt.Grants{Env: []string{"HOOK_GRANTED"}}}, tool: "echo", want: "yes/undefined"},
		{name: "fs without a grant", src: `export const toolCall = () => { fs.readFile("note.txt") }`,
			tool: "echo", err: `hook: not granted: file access: set "scripts.readDir"`},
		{name: "fs with a grant", src: answerJS + `export const toolCall = () => answer(fs.readFile("note.txt"))`,
			opts: ScriptOptions{Grants: jsrt.Grants{ReadDir: data}}, tool: "echo", want: "from the folder"},
		{name: "fs escaping the grant", src: answerJS + `export const toolCall = () => answer(fs.readFile("../x"))`,
			opts: ScriptOptions{Grants: jsrt.Grants{ReadDir: data}}, tool: "echo", err: "hook: outside scripts.readDir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := loadJS(t, "policy.js", tc.src, tc.opts)
			sw.set(Middleware(s, Options{FailOpen: tc.open, Logger: testLogger(t)}))
			ctx := tc.ctx
			if ctx == nil {
				ctx = testCtx(t)
			}
			server := tc.server
			if server == "" {
				server = "a"
			}
			args := tc.args
			if args == nil {
				args = map[string]any{}
			}
			got, err := callText(ctx, r, server, tc.tool, args)
			switch {
			case tc.err == "none":
				if err == nil {
					t.Errorf("got %q, want an error", got)
				}
			case tc.err != "":
				checkErr(t, err, tc.err)
			case err != nil:
				t.Errorf("error %v, want %q", err, tc.want)
			case got != tc.want:
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	sw.set(nil)
	// The answered crash never reached the server: still the first process.
	if st, err := r.Status("a"); err != nil || st.Restarts != 0 || st.State != engine.StateRunning {
		t.Errorf("server a: %+v, %v; want it running, never restarted", st, err)
	}
}

func TestJSLists(t *testing.T) {
	s := loadJS(t, "lists.js", `
const KEEP = new Set(["echo", "pid", "env"])
const RENAME = { echo: "say" }
const BACK = Object.fromEntries(Object.entries(RENAME).map(([k, v]) => [v, k]))

export function listTools({ items }) {
  return { items: items.filter((t) => KEEP.has(t.name)).map((t) => ({ ...t, name: RENAME[t.name] ?? t.name })) }
}
export function toolCall({ tool }) {
  if (BACK[tool]) return { tool: BACK[tool] }
  if (!KEEP.has(tool)) return { deny: tool + " is hidden" }
}
export function listPrompts({ items }) { return { items: [] } }
export function listResources({ items }) { return { items: items.filter((r) => r.uri !== "test://static") } }
export function listResourceTemplates({ items }) { return { items: items.map((t) => ({ ...t, name: "renamed" })) } }
export function request(call) {
  if (call.method === "resources/read" && call.params.uri.startsWith("test://item/secret")) return { deny: "secret items" }
  if (call.method === "resources/read" && call.params.uri === "test://item/old") return { params: { ...call.params, uri: "test://item/new" } }
}
export function response(call) {
  if (call.method === "resources/read") {
    return { result: { contents: call.result.contents.map((c) => ({ ...c, text: c.text.toUpperCase() })) } }
  }
}
`, ScriptOptions{})
	r := startRunner(t, Middleware(s, Options{Logger: testLogger(t)}))
	ctx := testCtx(t)
	c, err := r.Client("a")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := c.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if want := []string{"env", "pid", "say"}; !slices.Equal(names, want) {
		t.Errorf("tools %v, want %v", names, want)
	}
	if got := mustCall(t, r, "a", "say", map[string]any{"text": "renamed"}); got != "renamed" {
		t.Errorf("say = %q", got)
	}
	if _, err := c.CallTool(ctx, "t001", map[string]any{"text": "x"}); !errors.Is(err, engine.ErrDenied) || !strings.Contains(err.Error(), "t001 is hidden") {
		t.Errorf("hidden tool: %v", err)
	}

	prompts, err := c.ListPrompts(ctx)
	if err != nil || len(prompts) != 0 {
		t.Errorf("prompts %v, %v; want none", prompts, err)
	}
	res, err := c.ListResources(ctx)
	if err != nil || len(res) != 0 {
		t.Errorf("resources %v, %v; want none (test://static filtered out)", res, err)
	}
	tpl, err := c.ListResourceTemplates(ctx)
	if err != nil || len(tpl) != 1 || tpl[0].Name != "renamed" || tpl[0].URITemplate != "test://item/{id}" {
		t.Errorf("templates %v, %v; want the item template, renamed", tpl, err)
	}

	read, err := c.ReadResource(ctx, "test://item/7")
	if err != nil || len(read.Contents) != 1 || read.Contents[0].Text != "ITEM 7" {
		t.Errorf("read item 7: %+v, %v; want ITEM 7 (through the response hook)", read, err)
	}
	read, err = c.ReadResource(ctx, "test://item/old")
	if err != nil || len(read.Contents) != 1 || read.Contents[0].Text != "ITEM NEW" {
		t.Errorf("read item old: %+v, %v; want ITEM NEW (params rewritten)", read, err)
	}
	_, err = c.ReadResource(ctx, "test://item/secret1")
	var de *engine.DeniedError
	if !errors.As(err, &de) || de.Name != "test://item/secret1" || de.Reason != "secret items" || de.By != "lists.js" {
		t.Errorf("read secret: %v, want a denial by lists.js naming the URI", err)
	}
}

func TestJSModuleFormats(t *testing.T) {
	var sw swap
	r := startRunner(t, sw.mw)
	cases := []struct{ name, file, src string }{
		{"esm", "policy.mjs", `export function toolCall(c) { if (c.tool === "rm") return { deny: "no rm" }; return { arguments: { text: c.arguments.text + " esm" } } }`},
		{"esm default object", "policy.js", `export default {
  prefix: " default",
  toolCall(c) { if (c.tool === "rm") return { deny: "no rm" }; return { arguments: { text: c.arguments.text + this.prefix } } },
}`},
		{"commonjs", "policy.cjs", `module.exports = {
  suffix: require("./suffix.cjs"),
  toolCall(c) { if (c.tool === "rm") return { deny: "no rm" }; return { arguments: { text: c.arguments.text + this.suffix } } },
}`},
		{"commonjs exports", "policy.js", `exports.toolCall = function (c) { if (c.tool === "rm") return { deny: "no rm" }; return { arguments: { text: c.arguments.text + " exports" } } }`},
		{"typescript", "policy.ts", `import { suffix } from "./suffix"
interface Call { tool: string; arguments: { text?: string } }
type Decision = { deny?: string; arguments?: Record<string, unknown> } | undefined
export function toolCall(c: Call): Decision {
  if (c.tool === "rm") return { deny: "no rm" }
  return { arguments: { text: (c.arguments.text ?? "") + suffix("ts") } }
}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				tc.file:       tc.src,
				"suffix.cjs":  `module.exports = " cjs"`,
				"suffix.ts":   `export const suffix = (s: string): string => " " + s`,
				"unused.json": `{}`,
			})
			s, err := LoadScript(filepath.Join(dir, tc.file), ScriptOptions{Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.Has(PhaseToolCall) || s.Has(PhaseToolResult) {
				t.Errorf("Has: toolCall %v, toolResult %v", s.Has(PhaseToolCall), s.Has(PhaseToolResult))
			}
			sw.set(Middleware(s, Options{}))
			want := "hi " + strings.Fields(tc.name)[0]
			switch tc.name {
			case "esm default object":
				want = "hi default"
			case "commonjs":
				want = "hi cjs"
			case "commonjs exports":
				want = "hi exports"
			case "typescript":
				want = "hi ts"
			}
			if got := mustCall(t, r, "a", "echo", map[string]any{"text": "hi"}); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			_, err = callText(testCtx(t), r, "a", "rm", nil)
			checkErr(t, err, "denied: no rm")
		})
	}
}

func TestJSFailures(t *testing.T) {
	var sw swap
	r := startRunner(t, sw.mw)
	const src = `let calls = 0
export function toolCall(call) {
  calls++
  switch (call.arguments.text) {
    case "throw": throw new TypeError("bad input")
    case "loop": for (;;) {}
    case "deep": return deep(0)
    case "calls": return { arguments: { text: String(calls) } }
  }
}
function deep(n) { return deep(n + 1) + 1 }
`
	for _, open := range []bool{false, true} {
		mode := map[bool]string{false: "fail-closed", true: "fail-open"}[open]
		t.Run(mode, func(t *testing.T) {
			s := loadJS(t, "policy.js", src, ScriptOptions{Pool: 1, MaxCallStackSize: 100})
			sw.set(Middleware(s, Options{Timeout: 250 * time.Millisecond, FailOpen: open, Logger: testLogger(t)}))
			call := func(text string) (string, error) {
				return callText(testCtx(t), r, "a", "echo", map[string]any{"text": text})
			}
			if got, err := call("calls"); err != nil || got != "1" {
				t.Fatalf("first call: %q, %v", got, err)
			}
			for _, tc := range []struct{ text, err, calls string }{
				{"throw", "hook: hook policy.js: toolCall failed: TypeError: bad input\n\tat toolCall (policy.js:5:", "3"},
				{"loop", "hook: toolCall failed: ran past its 250ms timeout and was stopped: interrupted at toolCall (policy.js:", "1"},
				{"deep", "hook: toolCall failed: call stack limit exceeded", "1"},
			} {
				before := s.created.Load()
				got, err := call(tc.text)
				if open {
					if err != nil || got != tc.text {
						t.Errorf("%s (fail-open): %q, %v; want the request through unchanged", tc.text, got, err)
					}
				} else {
					checkErr(t, err, tc.err)
				}
				// The next call works; after a timeout or a stack overflow on
				// a fresh runtime (its module state starts over).
				if got, err := call("calls"); err != nil || got != tc.calls {
					t.Errorf("after %s: %q, %v; want calls = %s", tc.text, got, err, tc.calls)
				}
				fresh := s.created.Load() - before
				if want := map[bool]int64{true: 0, false: 1}[tc.calls == "3"]; fresh != want {
					t.Errorf("after %s: %d runtimes created, want %d", tc.text, fresh, want)
				}
			}
		})
	}
}

// TestJSTimeoutWhileWaiting checks that a call waiting for a runtime of a
// busy pool gives up at its deadline.
func TestJSTimeoutWhileWaiting(t *testing.T) {
	s := loadJS(t, "busy.js", `export function toolCall(c) { if (c.tool === "spin") for (;;) {} }`, ScriptOptions{Pool: 1})
	ctx := testCtx(t)
	spinCtx, stopSpin := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.Call(spinCtx, &Input{Hook: PhaseToolCall, Tool: "spin"})
		done <- err
	}()
	// Wait until the spinning call holds the only runtime.
	for deadline := time.Now().Add(10 * time.Second); len(s.idle) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the spinning call never started")
		}
		time.Sleep(time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err := s.Call(wctx, &Input{Hook: PhaseToolCall, Tool: "echo"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a free runtime (all 1 busy") {
		t.Errorf("waiting: %v", err)
	}
	stopSpin()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted at toolCall (busy.js:1:") {
		t.Errorf("spinning call: %v, want it interrupted by its cancellation", err)
	}
	if _, err := s.Call(ctx, &Input{Hook: PhaseToolCall, Tool: "echo"}); err != nil {
		t.Errorf("after: %v", err)
	}
	if _, err := s.Call(ctx, &Input{Hook: PhaseToolResult}); err != nil {
		t.Errorf("a phase the script lacks: %v", err)
	}
	_ = s.Close()
	if _, err := s.Call(ctx, &Input{Hook: PhaseToolCall}); !errors.Is(err, ErrScriptClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestJSSlowTopLevel checks a script whose top-level code takes longer
// than the hook's timeout: a runtime built for a call that gave up is
// finished under the load timeout and kept, so the script keeps working.
func TestJSSlowTopLevel(t *testing.T) {
	s := loadJS(t, "init.js", `
const end = Date.now() + 400; while (Date.now() < end) {}
export function toolCall(c) { if (c.arguments.spin) for (;;) {} }`, ScriptOptions{Pool: 2})
	h := Middleware(s, Options{Timeout: 250 * time.Millisecond, Logger: testLogger(t)})(func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	})
	call := func(args string) error {
		_, err := h(testCtx(t), &engine.Request{Server: "a", Method: "tools/call", Params: json.RawMessage(`{"name":"x","arguments":` + args + `}`)})
		return err
	}
	if err := call(`{}`); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := call(`{"spin":true}`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("spinning call: %v", err)
	}
	// Its runtime is gone: the next call needs a new one, whose top-level
	// code outlasts the call.
	err := call(`{}`)
	checkErr(t, err, "hook: timed out after 250ms: starting a runtime")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v: not a deadline", err)
	}
	// The runtime is finished anyway, and the next calls use it.
	for deadline := time.Now().Add(10 * time.Second); len(s.idle) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the runtime started for the call that gave up never became idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 {
		if err := call(`{}`); err != nil {
			t.Errorf("call %d after: %v", i, err)
		}
	}
	if n := s.created.Load(); n != 2 {
		t.Errorf("%d runtimes created, want 2", n)
	}
}

// TestJSBuildBound checks runtimes built in the background: under the
// load timeout rather than the call's, never more than the pool, and
// interrupted by Close.
func TestJSBuildBound(t *testing.T) {
	defer func(d time.Duration) { loadTimeout = d }(loadTimeout)
	loadTimeout = 300 * time.Millisecond
	shortLoadsNeedLongGrace(t)
	// Every runtime but the first spins at the top level.
	src := `if (store.incr("runtimes") > 1) for (;;) {}
export function toolCall(c) { if (c.tool === "spin") for (;;) {} }`
	s := loadJS(t, "spin.js", src, ScriptOptions{Pool: 1})
	spin := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(testCtx(t), timeout)
		defer cancel()
		_, err := s.Call(ctx, &Input{Hook: PhaseToolCall, Tool: "spin"})
		return err
	}
	if err := spin(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("spin: %v", err)
	}
	// A call with time to spare fails at the load timeout, not its own.
	start := time.Now()
	err := spin(time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "interrupted at") || !strings.Contains(err.Error(), "spin.js:1") {
		t.Errorf("a runtime whose top level spins: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("it took %v", d)
	}

	loadTimeout = time.Minute
	if err := spin(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "starting a runtime") {
		t.Errorf("a call that gives up while its runtime starts: %v", err)
	}
	// The pool's one runtime is being built: a call waits for it rather
	// than starting another.
	if err := spin(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a free runtime (all 1 busy") {
		t.Errorf("a call while the pool's runtime starts: %v", err)
	}
	start = time.Now()
	_ = s.Close()
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Close took %v", d)
	}
	if n := len(s.slots); n != 0 {
		t.Errorf("%d runtimes alive after Close", n)
	}
	if _, err := s.Call(testCtx(t), &Input{Hook: PhaseToolCall}); !errors.Is(err, ErrScriptClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestJSInterruptReadingDecision checks a timeout or a stack overflow
// while the decision is read (a getter, a Proxy): reported as such, and
// the runtime thrown away.
func TestJSInterruptReadingDecision(t *testing.T) {
	s := loadJS(t, "getter.js", `
function deep(n) { return deep(n + 1) + 1 }
export function toolCall(c) {
  switch (c.tool) {
    case "getter": return { get deny() { for (;;) {} } }
    case "proxy": return new Proxy({}, { ownKeys() { for (;;) {} } })
    case "toJSON": return { result: { toJSON() { for (;;) {} } } }
    case "deep": return { get deny() { return deep(0) } }
    case "deepJSON": return { result: { toJSON() { return deep(0) } } }
  }
}`, ScriptOptions{Pool: 1, MaxCallStackSize: 100})
	h := Middleware(s, Options{Timeout: 200 * time.Millisecond, Logger: testLogger(t)})(func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	})
	call := func(tool string) error {
		_, err := h(testCtx(t), &engine.Request{Server: "a", Method: "tools/call", Params: json.RawMessage(`{"name":"` + tool + `"}`)})
		return err
	}
	for _, tc := range []struct{ tool, want string }{
		{"getter", "hook: ran past its 200ms timeout and was stopped: interrupted at"},
		{"proxy", "hook: ran past its 200ms timeout and was stopped: interrupted at"},
		{"toJSON", "hook: ran past its 200ms timeout and was stopped: "},
		{"deep", "hook: call stack limit exceeded"},
		{"deepJSON", "hook: call stack limit exceeded"},
	} {
		before := s.created.Load()
		err := call(tc.tool)
		checkErr(t, err, tc.want)
		if strings.Contains(tc.want, "timeout") && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v: not a deadline", tc.tool, err)
		}
		if strings.Contains(fmt.Sprint(err), "internal error") {
			t.Errorf("%s: %v", tc.tool, err)
		}
		if err := call("ok"); err != nil {
			t.Errorf("after %s: %v", tc.tool, err)
		}
		if n := s.created.Load() - before; n != 1 {
			t.Errorf("after %s: %d runtimes created, want 1 (the one that failed thrown away)", tc.tool, n)
		}
	}
}

func TestJSStore(t *testing.T) {
	for _, iso := range []Isolation{IsolationProcess, IsolationNone} {
		t.Run(string(iso), func(t *testing.T) { testJSStore(t, iso) })
	}
}

func testJSStore(t *testing.T, iso Isolation) {
	s := loadJS(t, "store.js", answerJS+`
export function toolCall({ tool, arguments: a }) {
  switch (tool) {
    case "incr": return answer(store.incr(a.key, a.n))
    case "set": store.set(a.key, a.value); return answer("ok")
    case "get": return answer(JSON.stringify(store.get(a.key)))
    case "delete": return answer(store.delete(a.key))
    case "mutate": { const v = store.get(a.key); v.list.push(4); return answer(JSON.stringify(store.get(a.key))) }
    case "bad": return answer(store.set("f", () => 1))
    case "badkey": return answer(store.get(1))
    case "incr-object": return answer(store.incr("obj"))
    case "incr-half": return answer(store.incr("n", 0.5))
    case "cyclic": { const o = {}; o.o = o; store.set("c", o); return answer("stored") }
    case "caught": { try { store.set("f", Symbol("x")) } catch (e) { return answer("caught " + e.name) } }
  }
}`, ScriptOptions{Pool: 4, Isolation: iso})
	ctx := testCtx(t)
	call := func(r jsRuntime, tool string, args string) (string, error) {
		d, _, err := r.run(ctx, 0, &Input{Hook: PhaseToolCall, Tool: tool, Arguments: raw(args)}, &callEnv{ctx: ctx})
		if err != nil {
			return "", err
		}
		var res mcp.CallToolResult
		if err := json.Unmarshal(d.Result, &res); err != nil {
			return "", err
		}
		return resultText(&res), nil
	}
	// Two runtimes at once: what one stores, the other reads.
	r1, err := s.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r1 == r2 {
		t.Fatal("one runtime twice")
	}
	steps := []struct {
		r          jsRuntime
		tool, args string
		want       string
	}{
		{r1, "set", `{"key":"k","value":{"list":[1,2,3],"s":"x"}}`, "ok"},
		{r2, "get", `{"key":"k"}`, `{"list":[1,2,3],"s":"x"}`},
		{r2, "mutate", `{"key":"k"}`, `{"list":[1,2,3],"s":"x"}`},
		{r1, "get", `{"key":"absent"}`, "undefined"},
		{r1, "incr", `{"key":"n"}`, "1"},
		{r2, "incr", `{"key":"n","n":41}`, "42"},
		{r1, "incr", `{"key":"n","n":-1}`, "41"},
		{r2, "delete", `{"key":"n"}`, "true"},
		{r1, "delete", `{"key":"n"}`, "false"},
		{r2, "set", `{"key":"k"}`, "ok"},
		{r1, "get", `{"key":"k"}`, "undefined"},
		{r1, "set", `{"key":"obj","value":{}}`, "ok"},
	}
	for i, st := range steps {
		got, err := call(st.r, st.tool, st.args)
		if err != nil || got != st.want {
			t.Errorf("step %d %s %s: %q, %v; want %q", i, st.tool, st.args, got, err, st.want)
		}
	}
	for tool, want := range map[string]string{
		"bad":         "TypeError: store.set: the value must be JSON-serialisable, got function",
		"badkey":      "TypeError: store.get: the key must be a string, got number",
		"incr-object": `TypeError: store.incr: state value is not an integer: "obj" holds`,
		"incr-half":   `TypeError: store.incr: by must be a whole number, got 0.5`,
		"cyclic":      `TypeError`,
	} {
		if _, err := call(r1, tool, `{}`); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", tool, err, want)
		}
	}
	if got, err := call(r2, "caught", `{}`); err != nil || got != "caught TypeError" {
		t.Errorf("a store error caught in the script: %q, %v", got, err)
	}
	s.release(r1, false)
	s.release(r2, false)

	// Many goroutines, one counter: exact.
	const goroutines, calls = 32, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if _, err := s.Call(ctx, &Input{Hook: PhaseToolCall, Tool: "incr", Arguments: raw(`{"key":"total"}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d, err := s.Call(ctx, &Input{Hook: PhaseToolCall, Tool: "get", Arguments: raw(`{"key":"total"}`)})
	if err != nil || !strings.Contains(string(d.Result), fmt.Sprintf(`"text":"%d"`, goroutines*calls)) {
		t.Errorf("total: %s, %v; want %d", d.Result, err, goroutines*calls)
	}
	if n := s.created.Load(); n < 2 || n > 4 {
		t.Errorf("%d runtimes created, want 2 to 4 (the pool)", n)
	}
}

// TestJSConcurrency runs many calls at once through a pool of two runtimes
// (run it with -race).
func TestJSConcurrency(t *testing.T) {
	s := loadJS(t, "policy.js", `
const DENY = new Set(["rm"])
export function toolCall(c) {
  if (DENY.has(c.tool)) return { deny: "no" }
  return { arguments: { text: c.arguments.text + "/" + c.caller.session } }
}
export function toolResult({ result }) {
  return { result: { ...result, content: result.content.map((c) => ({ ...c, text: c.text.toUpperCase() })) } }
}`, ScriptOptions{Pool: 2})
	r := startRunner(t, Middleware(s, Options{Timeout: 10 * time.Second}))
	const goroutines, calls = 32, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := engine.WithIdentity(testCtx(t), engine.Identity{Session: "s" + strconv.Itoa(g)})
			for i := range calls {
				text := fmt.Sprintf("g%d-%d", g, i)
				got, err := callText(ctx, r, "a", "echo", map[string]any{"text": text})
				if want := strings.ToUpper(text + "/s" + strconv.Itoa(g)); err != nil || got != want {
					t.Errorf("%s: %q, %v; want %q", text, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := s.created.Load(); n > 2 {
		t.Errorf("%d runtimes created, want at most the pool's 2", n)
	}
}

// TestJSGateway checks a per-token allow-list through the gateway's
// aggregate view: hooks see the servers' own tool names, the caller the
// namespaced ones.
func TestJSGateway(t *testing.T) {
	s := loadJS(t, "allow.js", `
const ALLOW = { ci: ["echo", "pid"] }
const allowed = (caller, tool) => caller.token === "" || (ALLOW[caller.token] ?? []).includes(tool)
export function listTools({ caller, items }) { return { items: items.filter((t) => allowed(caller, t.name)) } }
export function toolCall({ caller, tool }) { if (!allowed(caller, tool)) return { deny: "token " + caller.token + " may not call " + tool } }
`, ScriptOptions{})
	cfg, err := config.Parse([]byte(`{`+serversJSON("a", "b")+`}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: testLogger(t), Middleware: []engine.Middleware{Middleware(s, Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	g := gateway.New(r, nil)
	t.Cleanup(func() {
		g.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.StopAll(ctx)
	})
	if err := r.StartAll(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	type rpcResp struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
	}
	id := 0
	rpc := func(sess *gateway.Session, method string, params any) rpcResp {
		t.Helper()
		id++
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		var resp rpcResp
		if err := json.Unmarshal(sess.Handle(testCtx(t), msg), &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	open := func(token string) *gateway.Session {
		sess, err := g.Open("", engine.Identity{Token: token, Transport: "streamable-http", Session: "sess-" + token}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sess.Close)
		if resp := rpc(sess, "initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "t", "version": "1"}}); resp.Error != nil {
			t.Fatalf("initialize: %+v", resp.Error)
		}
		return sess
	}
	toolNames := func(sess *gateway.Session) []string {
		var names []string
		cursor := ""
		for {
			params := map[string]any{}
			if cursor != "" {
				params["cursor"] = cursor
			}
			resp := rpc(sess, "tools/list", params)
			if resp.Error != nil {
				t.Fatalf("tools/list: %+v", resp.Error)
			}
			var page struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
				NextCursor string `json:"nextCursor"`
			}
			if err := json.Unmarshal(resp.Result, &page); err != nil {
				t.Fatal(err)
			}
			for _, tl := range page.Tools {
				names = append(names, tl.Name)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		slices.Sort(names)
		return names
	}

	ci := open("ci")
	if got, want := toolNames(ci), []string{"a__echo", "a__pid", "b__echo", "b__pid"}; !slices.Equal(got, want) {
		t.Errorf("ci's tools: %v, want %v", got, want)
	}
	resp := rpc(ci, "tools/call", map[string]any{"name": "b__echo", "arguments": map[string]any{"text": "hi"}})
	if resp.Error != nil || !strings.Contains(string(resp.Result), `"text":"hi"`) {
		t.Errorf("ci calls b__echo: %s %+v", resp.Result, resp.Error)
	}
	resp = rpc(ci, "tools/call", map[string]any{"name": "a__env", "arguments": map[string]any{"name": "WHO"}})
	if resp.Error == nil || resp.Error.Code != engine.CodeDenied || !strings.Contains(resp.Error.Message, "token ci may not call env") ||
		!jsonEqual(string(resp.Error.Data), `{"by":"allow.js","reason":"token ci may not call env"}`) {
		t.Errorf("ci calls a__env: %s %+v, want a denial (%d)", resp.Result, resp.Error, engine.CodeDenied)
	}

	local := open("")
	if n := len(toolNames(local)); n < 2*testserver.ExtraTools {
		t.Errorf("a session without a token sees %d tools, want them all", n)
	}
	resp = rpc(local, "tools/call", map[string]any{"name": "a__env", "arguments": map[string]any{"name": "WHO"}})
	if resp.Error != nil || !strings.Contains(string(resp.Result), `"text":"a"`) {
		t.Errorf("local calls a__env: %s %+v", resp.Result, resp.Error)
	}
}

func TestLoadScriptErrors(t *testing.T) {
	defer func(d time.Duration) { loadTimeout = d }(loadTimeout)
	loadTimeout = 100 * time.Millisecond
	shortLoadsNeedLongGrace(t)
	cases := []struct {
		name, file, src string
		want            []string
	}{
		{"syntax error", "bad.js", "export function toolCall(c) {\n  return {\n}}\n}\n", []string{"bad.js:4:", "Unexpected"}},
		{"no hook function", "none.js", `export function helper() {}`, []string{"hook script ", "none.js exports no hook functions (toolCall, toolResult, listTools, listPrompts, listResources, listResourceTemplates, request, response)", "it exports helper"}},
		{"a near miss", "typo.js", `export function toolcall() {}`, []string{`it exports "toolcall": did you mean "toolCall"?`}},
		{"nothing exported", "empty.js", `const x = 1`, []string{"empty.js exports no hook functions (toolCall,"}},
		{"not a function", "const.js", `export const toolCall = { deny: true }`, []string{"it exports toolCall, but as object, not a function"}},
		{"top-level throw", "throws.js", "export function toolCall() {}\nconst cfg = JSON.parse(\"{bad\")\n", []string{"SyntaxError", "throws.js:2:"}},
		{"node builtin", "node.js", `import { readFileSync } from "node:fs"; export function toolCall() {}`, []string{"Node's built-in modules are not available"}},
		{"top-level loop", "spin.ts", "export function toolCall() {}\nlet n = 0\nwhile (true) { n++ }\n", []string{"spin.ts", "interrupted at", "deadline exceeded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{tc.file: tc.src})
			_, err := LoadScript(filepath.Join(dir, tc.file), ScriptOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := LoadScript(filepath.Join(t.TempDir(), "absent.js"), ScriptOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent: %v", err)
	}
	dir := writeFiles(t, map[string]string{"ok.js": `export function toolCall() {}`})
	if _, err := LoadScript(filepath.Join(dir, "ok.js"), ScriptOptions{Grants: jsrt.Grants{ReadDir: filepath.Join(dir, "nope")}}); err == nil || !strings.Contains(err.Error(), "scripts.readDir") {
		t.Errorf("missing readDir: %v", err)
	}
}

func TestHooksFromConfig(t *testing.T) {
	t.Setenv("HOOK_GRANTED", "granted")
	dir := writeFiles(t, map[string]string{
		"hooks/first.js": answerJS + `export function toolCall(c) {
  if (c.tool === "env") return answer(process.env.HOOK_GRANTED + " " + fs.readFile("note.txt"))
  return { arguments: { text: c.arguments.text + " first" } }
}`,
		"hooks/second.ts": `export function toolCall(c: { arguments: { text: string } }) {
  if (c.arguments.text === "loop first") for (;;) {}
  return { arguments: { text: c.arguments.text + " second" } }
}`,
		"data/note.txt": "note",
	})
	cfgJSON := `{` + serversJSON("a") + `,
  "scripts": {
    "hooks": ["hooks/first.js", {"path": "hooks/second.ts", "timeout": "250ms", "onError": "open"}],
    "env": ["HOOK_GRANTED"],
    "readDir": "data",
    "pool": 2
  }
}`
	path := filepath.Join(dir, "mcpscript.json")
	if err := os.WriteFile(path, []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	mw, closeHooks, err := Hooks(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeHooks(); err != nil {
			t.Error(err)
		}
	})
	if len(mw) != 2 {
		t.Fatalf("%d middleware, want 2", len(mw))
	}
	r, err := engine.New(cfg, &engine.Options{Logger: testLogger(t), Middleware: mw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.StopAll(ctx)
	})
	if err := r.StartAll(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, r, "a", "echo", map[string]any{"text": "hi"}); got != "hi first second" {
		t.Errorf("in order: %q", got)
	}
	if got := mustCall(t, r, "a", "env", map[string]any{"name": "X"}); got != "granted note" {
		t.Errorf("grants: %q", got)
	}
	// second.ts times out after 250ms and is fail-open: the request goes on.
	if got := mustCall(t, r, "a", "echo", map[string]any{"text": "loop"}); got != "loop first" {
		t.Errorf("fail-open timeout: %q", got)
	}

	// Errors name the hook entry and the script.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{`+serversJSON("a")+`, "scripts": {"hooks": ["hooks/first.js", "hooks/broken.js"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hooks/broken.js"), []byte("export function toolCall( {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Hooks(cfg, nil); err == nil || !strings.Contains(err.Error(), "scripts.hooks[1]") || !strings.Contains(err.Error(), "broken.js:2:") {
		t.Errorf("broken hook: %v, want the entry and broken.js:2", err)
	}

	mw, closeHooks, err = Hooks(&config.Config{}, nil)
	if err != nil || len(mw) != 0 || closeHooks() != nil {
		t.Errorf("no scripts section: %v, %v", mw, err)
	}
}

// TestJSCaller checks that each call sees its own caller, read-only (its
// claims too, all the way down), on a runtime that served other callers
// before.
func TestJSCaller(t *testing.T) {
	for _, iso := range []Isolation{IsolationProcess, IsolationNone} {
		t.Run(string(iso), func(t *testing.T) { testJSCaller(t, iso) })
	}
}

func testJSCaller(t *testing.T, iso Isolation) {
	s := loadJS(t, "caller.cjs", `
exports.toolCall = function (call) {
  call.caller.token = "admin" // ignored: the caller is frozen
  try { call.caller.scopes.push("admin") } catch {}
  try { call.caller.claims.org.roles.push("root") } catch {}
  try { call.caller.claims.org.name = "evil" } catch {}
  return { result: { content: [{ type: "text", text: JSON.stringify(call.caller) }] } }
}`, ScriptOptions{Pool: 1, Isolation: iso})
	ctx := testCtx(t)
	claims := map[string]any{"sub": "alice", "org": map[string]any{"name": "acme", "roles": []any{"dev"}}, "n": 1.5}
	for _, id := range []engine.Identity{
		{Token: "ci", Session: "s1", Transport: "sse", Auth: engine.AuthBearer},
		{Token: "ci", Session: "s1", Transport: "sse", Auth: engine.AuthBearer},
		{Transport: "go"},
		{Auth: engine.AuthJWT, Subject: "alice", ClientID: "app", Scopes: []string{"mcp", "files:write"}, Claims: claims,
			ClientName: "claude-code", ClientVersion: "2.1.0", Protocol: "2026-07-28", Session: "s2", Transport: "streamable-http"},
		{Auth: engine.AuthJWT, Subject: "alice", ClientID: "app", Scopes: []string{"mcp", "files:write"}, Claims: claims,
			ClientName: "claude-code", ClientVersion: "2.1.0", Protocol: "2026-07-28", Session: "s2", Transport: "streamable-http"},
		{Auth: engine.AuthJWT, Subject: "bob", Scopes: []string{"mcp"}, Claims: map[string]any{"sub": "bob"}, Protocol: "2025-11-25"},
		{Token: "ci", Session: "s1", Transport: "sse", Auth: engine.AuthBearer},
	} {
		c := callerOf(id)
		d, err := s.Call(ctx, &Input{Hook: PhaseToolCall, Tool: "x", Caller: c})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(c)
		var res mcp.CallToolResult
		if err := json.Unmarshal(d.Result, &res); err != nil || !jsonEqual(resultText(&res), string(want)) {
			t.Errorf("caller %+v: hook saw %s (%v), want %s", id, d.Result, err, want)
		}
	}
	if got := claims["org"].(map[string]any)["roles"].([]any); len(got) != 1 {
		t.Errorf("the identity's claims were changed: %v", got)
	}
	esm := loadJS(t, "esm.js", answerJS+`export function toolCall(call) { try { call.caller.token = "admin" } catch {} return answer(call.caller.token) }`, ScriptOptions{})
	d, err := esm.Call(ctx, &Input{Hook: PhaseToolCall, Caller: Caller{Token: "ci"}})
	if err != nil || !strings.Contains(string(d.Result), `"text":"ci"`) {
		t.Errorf("assigning to the caller: %v, %v; want it unchanged", d, err)
	}
}

// shortLoadsNeedLongGrace raises killGrace for a test that shortens
// loadTimeout. The parent's kill timer for a build runs from when it asks,
// the host's own load timer from when the host reads the request, and a
// new host process is still starting then: under -race on two busy cores
// that took longer than the 200 ms grace, and the parent killed a host
// that was about to answer. A long grace leaves every verdict to the host's
// timer, which is what these tests check.
func shortLoadsNeedLongGrace(t *testing.T) {
	old := killGrace
	killGrace = 10 * time.Second
	t.Cleanup(func() { killGrace = old })
}
