package scripting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/scripting"
)

// wfRunner builds a runner with one test server per name, stopped at the
// end of the test.
func wfRunner(t *testing.T, names ...string) *engine.Runner {
	t.Helper()
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%q: {%s}", n, testserver.ConfigJSON(testserver.ModeNormal, nil)))
	}
	cfg, err := config.Parse([]byte(`{"mcpServers": {`+strings.Join(parts, ",")+`}}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.StopAll(ctx)
	})
	return r
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logWriter sends logs to t.Log so that they show only for failing tests.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// script writes a workflow file into a temporary folder and returns its path.
func script(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for the workflow's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runWF runs the workflow at path with a 60s limit and returns its output.
func runWF(t *testing.T, r *engine.Runner, path string, opts scripting.WorkflowOptions) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out syncBuffer
	opts.Stdout = &out
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	err := scripting.RunWorkflow(ctx, r, path, opts)
	return out.String(), err
}

// mustRun runs a workflow that must succeed and returns its output.
func mustRun(t *testing.T, r *engine.Runner, path string, opts scripting.WorkflowOptions) string {
	t.Helper()
	out, err := runWF(t, r, path, opts)
	if err != nil {
		t.Fatalf("workflow failed: %v\noutput:\n%s", err, out)
	}
	return out
}

func TestWorkflowESM(t *testing.T) {
	r := wfRunner(t, "ts")
	path := script(t, "workflow.mjs", `
import { shout } from "./lib.js";
export default async function main(args, ctx) {
  const ts = mcp.server("ts");
  const res = await ts.callTool("echo", { text: args.join(" ") });
  print(shout(res.text), res.isError === undefined || res.isError === false);
  print(res.content[0].type, ctx.name, ctx.args.length, mcp.servers());
}
`)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "lib.js"), []byte(`export const shout = s => s.toUpperCase() + "!";`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, r, path, scripting.WorkflowOptions{Args: []string{"hello", "world"}})
	want := "HELLO WORLD! true\ntext workflow.mjs 2 [\"ts\"]\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestWorkflowCommonJS(t *testing.T) {
	r := wfRunner(t, "ts")
	for name, src := range map[string]string{
		"function.js": `module.exports = async function (args) {
  const res = await mcp.server("ts").callTool("echo", { text: "cjs " + args[0] });
  print(res.text);
};`,
		"main.cjs": `exports.main = async (args) => {
  const res = await mcp.server("ts").callTool("echo", { text: "cjs " + args[0] });
  print(res.text);
};`,
		"sync.js": `module.exports = { main(args) { print("cjs " + args[0]); } };`,
	} {
		t.Run(name, func(t *testing.T) {
			out := mustRun(t, r, script(t, name, src), scripting.WorkflowOptions{Args: []string{"x"}})
			if out != "cjs x\n" {
				t.Errorf("output %q", out)
			}
		})
	}
}

func TestWorkflowTypeScript(t *testing.T) {
	r := wfRunner(t, "ts")
	path := script(t, "workflow.ts", `interface Args { n: number }

async function twice({ n }: Args): Promise<number> {
  const res = await mcp.server("ts").callTool("echo", { text: String(n * 2) });
  return Number(res.text);
}

export async function main(args: string[]): Promise<void> {
  const got: number = await twice({ n: Number(args[0]) });
  print("twice:", got);
  if (got > 10) {
    throw new Error("too big: " + got);
  }
}
`)
	out := mustRun(t, r, path, scripting.WorkflowOptions{Args: []string{"4"}})
	if out != "twice: 8\n" {
		t.Errorf("output %q", out)
	}
	_, err := runWF(t, r, path, scripting.WorkflowOptions{Args: []string{"6"}})
	var se *jsrt.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a ScriptError", err, err)
	}
	// The stack points at the TypeScript source's line 12.
	if !strings.Contains(err.Error(), "Error: too big: 12") || !strings.Contains(err.Error(), "at main (workflow.ts:12:") {
		t.Errorf("error %q lacks the message or workflow.ts:12", err)
	}
}

func TestWorkflowResultPrinted(t *testing.T) {
	r := wfRunner(t, "ts")
	out := mustRun(t, r, script(t, "r.js", `export default async () => ({ files: 3, ok: true });`), scripting.WorkflowOptions{})
	if out != "{\n  \"files\": 3,\n  \"ok\": true\n}\n" {
		t.Errorf("output %q", out)
	}
	out = mustRun(t, r, script(t, "s.js", `export default () => "plain";`), scripting.WorkflowOptions{})
	if out != "plain\n" {
		t.Errorf("output %q", out)
	}
}

func TestWorkflowThrows(t *testing.T) {
	r := wfRunner(t, "ts")
	for name, src := range map[string]string{
		"sync.js": `export function main() {
  const x = 1;
  throw new TypeError("bad " + x);
}`,
		"async.js": `export default async function main() {
  await sleep(1);
  throw new TypeError("bad " + 1);
}`,
		"timer.js": `export default async function main() {
  setTimeout(() => {
    throw new TypeError("bad " + 1);
  }, 1);
  await sleep(20000);
  print("not reached");
}`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			out, err := runWF(t, r, script(t, name, src), scripting.WorkflowOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "TypeError: bad 1") || !strings.Contains(err.Error(), name+":3:") {
				t.Errorf("error %q lacks the message or %s:3", err, name)
			}
			if out != "" || time.Since(start) > 10*time.Second {
				t.Errorf("the workflow went on after the error: output %q after %v", out, time.Since(start))
			}
		})
	}
}

func TestWorkflowNoMain(t *testing.T) {
	r := wfRunner(t, "ts")
	// Exports without main, and no exports at all, get the same advice.
	for name, src := range map[string]string{"none.js": `export const x = 1;`, "empty.js": `const x = 1;`} {
		_, err := runWF(t, r, script(t, name, src), scripting.WorkflowOptions{})
		if err == nil || !strings.Contains(err.Error(), name+" exports no main function; export one, e.g.:\n  export default async function main(args) {\n") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	_, err := runWF(t, r, script(t, "syntax.js", "export default function main() {\n  let = ;\n}"), scripting.WorkflowOptions{})
	if err == nil || !strings.Contains(err.Error(), "syntax.js:2:") {
		t.Errorf("error %v", err)
	}
}

func TestWorkflowUnhandledRejection(t *testing.T) {
	r := wfRunner(t, "ts")
	path := script(t, "orphan.js", `export default async function main() {
  Promise.reject(new RangeError("nobody catches me"));
  await sleep(20000);
  print("not reached");
}`)
	start := time.Now()
	out, err := runWF(t, r, path, scripting.WorkflowOptions{})
	if err == nil || !strings.Contains(err.Error(), "unhandled promise rejection: RangeError: nobody catches me") || !strings.Contains(err.Error(), "orphan.js:2:") {
		t.Fatalf("error %v", err)
	}
	if out != "" || time.Since(start) > 10*time.Second {
		t.Errorf("the workflow went on: output %q after %v", out, time.Since(start))
	}

	// A rejection handled within the same task is fine.
	mustRun(t, r, script(t, "handled.js", `export default async function main() {
  const p = Promise.reject(new Error("x"));
  p.catch(() => {});
  const q = Promise.reject(new Error("y"));
  try { await q; } catch (e) { print(e.message); }
}`), scripting.WorkflowOptions{})
}

func TestWorkflowTimers(t *testing.T) {
	r := wfRunner(t, "ts")
	out := mustRun(t, r, script(t, "timers.js", `export default async function main() {
  const order = [];
  await new Promise(resolve => setTimeout(() => { order.push("timeout"); resolve(); }, 20));
  let ticks = 0;
  await new Promise(resolve => {
    const id = setInterval(() => { if (++ticks === 3) { clearInterval(id); resolve(); } }, 5);
  });
  order.push("ticks " + ticks);
  const t0 = Date.now();
  await sleep(50);
  order.push("slept " + (Date.now() - t0 >= 45));
  await new Promise(resolve => setImmediate(resolve));
  const never = setTimeout(() => print("cleared timer ran"), 1);
  clearTimeout(never);
  await sleep(10);
  setTimeout(() => print("pending timer ran"), 5000); // dropped when main ends
  print(order.join(", "));
}`), scripting.WorkflowOptions{})
	if out != "timeout, ticks 3, slept true\n" {
		t.Errorf("output %q", out)
	}
}

func TestWorkflowToolError(t *testing.T) {
	r := wfRunner(t, "ts")
	// echo with a number for its text fails the SDK's input validation: a
	// tool error (isError), not a protocol error.
	out := mustRun(t, r, script(t, "fail.js", `export default async function main() {
  const ts = mcp.server("ts");
  const res = await ts.callTool("echo", { text: 5 });
  print("resolved", res.isError, res.text.length > 0);
  try {
    await ts.callTool("echo", { text: 5 }, { throwOnError: true });
  } catch (e) {
    print("rejected", e instanceof Error, e.code, e.tool, e.server, e.result.isError);
    print(e.stack.split("\n")[1].trim());
  }
  const strict = mcp.server("ts", { throwOnError: true });
  await strict.callTool("echo", { text: 5 }).catch(e => print("strict", e.code));
}`), scripting.WorkflowOptions{})
	want := "resolved true true\nrejected true tool_error echo ts true\nat main (fail.js:6:\n"
	if !strings.HasPrefix(out, "resolved true true\nrejected true tool_error echo ts true\nat main (fail.js:6:") || !strings.HasSuffix(out, "strict tool_error\n") {
		t.Errorf("output %q, want like %q", out, want)
	}
}

func TestWorkflowErrors(t *testing.T) {
	r := wfRunner(t, "ts")
	out := mustRun(t, r, script(t, "errs.js", `export default async function main() {
  try { mcp.server("tss"); } catch (e) { print("server:", e.code, e.message); }
  const ts = mcp.server("ts");
  try { await ts.callTool("ecoh", {}); } catch (e) { print("tool:", e.code, e.message); }
  try { ts.callTool(42); } catch (e) { print("type:", e instanceof TypeError, e.message); }
  try { ts.callTool("echo", [1]); } catch (e) { print("type:", e.message); }
}`), scripting.WorkflowOptions{})
	for _, want := range []string{
		`server: server_not_found server not found: "tss" (did you mean "ts"?)`,
		`tool: tool_not_found server "ts" has no tool "ecoh" (did you mean "echo"?)`,
		`type: true callTool: the argument must be a tool name (a string), got number`,
		`type: callTool: the arguments must be an object, got array`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Uncaught, the error keeps the engine's error for Go callers and the
	// script's stack.
	_, err := runWF(t, r, script(t, "uncaught.js", `export default async function main() {
  const ts = mcp.server("ts");
  await ts.callTool("ecoh", {});
}`), scripting.WorkflowOptions{})
	if !errors.Is(err, engine.ErrToolNotFound) || !strings.Contains(err.Error(), "uncaught.js:3:") {
		t.Errorf("error %v", err)
	}
}

func TestWorkflowOtherMethods(t *testing.T) {
	r := wfRunner(t, "ts")
	out := mustRun(t, r, script(t, "methods.js", `export default async function main() {
  const ts = mcp.server("ts");
  const tools = await ts.listTools();
  print("tools", tools.length > 150, tools.some(t => t.name === "echo"));
  print("resources", (await ts.listResources()).map(r => r.uri));
  print("templates", (await ts.listResourceTemplates()).map(r => r.uriTemplate));
  print("prompts", (await ts.listPrompts()).map(p => p.name));
  const res = await ts.readResource("test://static");
  print("read", res.text, res.contents[0].uri);
  const p = await ts.getPrompt("greet", { name: "ada" });
  print("prompt", p.messages.length > 0);
  const raw = await ts.call("tools/call", { name: "echo", arguments: { text: "raw" } });
  print("raw", raw.content[0].text);
  print("ping", await ts.ping());
  print("same", mcp.server("ts") === ts);
}`), scripting.WorkflowOptions{})
	want := `tools true true
resources ["test://static"]
templates ["test://item/{id}"]
prompts ["greet"]
read static text test://static
prompt true
raw raw
ping undefined
same true
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestWorkflowProgress(t *testing.T) {
	r := wfRunner(t, "ts")
	var mu sync.Mutex
	var got []string
	out := mustRun(t, r, script(t, "progress.js", `export default async function main() {
  const seen = [];
  const res = await mcp.server("ts").callTool("slow", { steps: 3, delayMs: 1 }, {
    onProgress: p => seen.push(p.progress + "/" + p.total),
  });
  await sleep(10);
  print(res.text, seen.join(" "));
}`), scripting.WorkflowOptions{OnProgress: func(server, tool string, p *mcp.ProgressNotificationParams) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s/%s %g/%g", server, tool, p.Progress, p.Total))
	}})
	if out != "done 1/3 2/3 3/3\n" {
		t.Errorf("output %q", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "ts/slow 1/3,ts/slow 2/3,ts/slow 3/3" {
		t.Errorf("OnProgress got %q", got)
	}
}

// pidGone reports whether no process has that pid any more (a zombie
// that nobody reaped counts as gone too: it is not running).
func pidGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && strings.Contains(string(b), ") Z ")
}

func TestWorkflowStartsOnlyUsedServers(t *testing.T) {
	r := wfRunner(t, "used", "unused")
	out := mustRun(t, r, script(t, "lazy.js", `export default async function main() {
  print(mcp.servers().join(","));
  const res = await mcp.server("used").callTool("pid", {});
  print(res.text);
}`), scripting.WorkflowOptions{})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "unused,used" {
		t.Fatalf("output %q", out)
	}
	pid, err := strconv.Atoi(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"used", "unused"} {
		st, _ := r.Status(name)
		if st.State != engine.StateStopped {
			t.Errorf("%s: state %s after the workflow, want stopped", name, st.State)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !pidGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("server process %d still runs after the workflow", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A server that was already running is used and left running.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.StartServer(ctx, "unused"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, r, script(t, "again.js", `export default async () => { await mcp.server("unused").ping(); };`), scripting.WorkflowOptions{})
	if st, _ := r.Status("unused"); st.State != engine.StateRunning {
		t.Errorf("a server running before the workflow is %s after it", st.State)
	}
}

func TestWorkflowServerNotUsedWhenUnknown(t *testing.T) {
	r := wfRunner(t, "ts")
	_, err := runWF(t, r, script(t, "unknown.js", `export default async () => { await mcp.server("nope").ping(); };`), scripting.WorkflowOptions{})
	if !errors.Is(err, engine.ErrServerNotFound) || !strings.Contains(err.Error(), "unknown.js:1:") {
		t.Errorf("error %v", err)
	}
	if st, _ := r.Status("ts"); st.State != engine.StateStopped {
		t.Errorf("ts is %s", st.State)
	}
}

func TestWorkflowCancel(t *testing.T) {
	r := wfRunner(t, "ts")
	for name, src := range map[string]string{
		// Cancelled while a call hangs on the server.
		"hang.js": `export default async function main() {
  await mcp.server("ts").callTool("hang", {});
}`,
		// Cancelled while the script spins (the server runs too).
		"spin.js": `export default async function main() {
  await mcp.server("ts").callTool("slow", { steps: 1, delayMs: 1 });
  for (;;) {}
}`,
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			before := runtime.NumGoroutine()
			progressed := make(chan struct{}, 10)
			errc := make(chan error, 1)
			go func() {
				errc <- scripting.RunWorkflow(ctx, r, script(t, name, src), scripting.WorkflowOptions{
					Logger: testLogger(t),
					OnProgress: func(string, string, *mcp.ProgressNotificationParams) {
						progressed <- struct{}{}
					},
				})
			}()
			select {
			case <-progressed: // the call reached the server
			case err := <-errc:
				t.Fatalf("the workflow ended before the cancel: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("no progress")
			}
			time.Sleep(50 * time.Millisecond)
			cancel()
			start := time.Now()
			var err error
			select {
			case err = <-errc:
			case <-time.After(15 * time.Second):
				t.Fatal("RunWorkflow did not return after the cancel")
			}
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
				t.Errorf("error %v, want an interruption", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v to stop", d)
			}
			if st, _ := r.Status("ts"); st.State != engine.StateStopped {
				t.Errorf("ts is %s after the interrupted workflow", st.State)
			}
			// Every goroutine of the workflow has ended (the loop, its
			// timers, the calls); the engine's may take a moment.
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestWorkflowDeniedByMiddleware(t *testing.T) {
	r := wfRunner(t, "ts")
	var callers sync.Map
	r.Use(func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			callers.Store(req.Caller.Transport, true)
			if req.Method == "tools/call" && req.Name() == "pid" {
				return nil, &engine.DeniedError{By: "test-policy", Server: req.Server, Method: req.Method, Name: "pid", Reason: "no pids today"}
			}
			return next(ctx, req)
		}
	})
	out := mustRun(t, r, script(t, "denied.js", `export default async function main() {
  const ts = mcp.server("ts");
  try {
    await ts.callTool("pid", {});
    print("not denied");
  } catch (e) {
    print(e.code, e.by, e.reason);
    print(e.message);
  }
  print((await ts.callTool("echo", { text: "still fine" })).text);
}`), scripting.WorkflowOptions{})
	want := "denied test-policy no pids today\n" +
		`denied: tools/call "pid" on server "ts" by test-policy: no pids today` + "\nstill fine\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if _, ok := callers.Load("workflow"); !ok {
		t.Errorf("the middleware saw no caller with transport workflow")
	}

	// Uncaught, the denial fails the workflow and stays an ErrDenied.
	_, err := runWF(t, r, script(t, "denied2.js", `export default async () => { await mcp.server("ts").callTool("pid", {}); };`), scripting.WorkflowOptions{})
	if !errors.Is(err, engine.ErrDenied) {
		t.Errorf("error %v, want ErrDenied", err)
	}
}

func TestWorkflowGrants(t *testing.T) {
	r := wfRunner(t, "ts")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("granted data"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WF_VISIBLE", "yes")
	t.Setenv("WF_HIDDEN", "no")
	// A CommonJS module outside the granted folder, which require must not load.
	secret := filepath.Join(t.TempDir(), "secret.js")
	if err := os.WriteFile(secret, []byte(`module.exports = "secret loaded";`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WF_SECRET_JS", secret)
	src := `export default async function main() {
  let req = "loads";
  const name = process.env.WF_SECRET_JS;
  try { req = require(name); } catch (e) { req = "no require"; }
  print(process.env.WF_VISIBLE, process.env.WF_HIDDEN, req);
  try { print(fs.readFile("data.txt")); } catch (e) { print("denied:", e.message.includes("readDir")); }
}`
	out := mustRun(t, r, script(t, "grants.js", src), scripting.WorkflowOptions{
		Grants: jsrt.Grants{Env: []string{"WF_VISIBLE", "WF_SECRET_JS"}, ReadDir: dir},
	})
	if out != "yes undefined no require\ngranted data\n" {
		t.Errorf("output %q", out)
	}
	out = mustRun(t, r, script(t, "grants.js", src), scripting.WorkflowOptions{})
	if out != "undefined undefined no require\ndenied: true\n" {
		t.Errorf("output without grants %q", out)
	}
}

// wfMemoryEnv makes TestWorkflowMemoryLimit's child run the workflow it
// holds under a 256 MiB limit, then exit.
const wfMemoryEnv = "MCPSCRIPT_TEST_WF_MEMORY"

// TestWorkflowMemoryLimit runs workflows that allocate without end, in a
// child process (one of them ends it): each ends within a bound with exit
// status 1 and an error naming the limit, never the Go runtime's fatal
// "out of memory".
func TestWorkflowMemoryLimit(t *testing.T) {
	if src := os.Getenv(wfMemoryEnv); src != "" {
		r := wfRunner(t, "unused")
		err := scripting.RunWorkflow(context.Background(), r, script(t, "hog.js", src), scripting.WorkflowOptions{
			MemoryLimit: 256 << 20, Logger: testLogger(t), Stdout: os.Stdout, Stderr: os.Stderr,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err, "| is ErrMemoryLimit:", errors.Is(err, scripting.ErrMemoryLimit))
			os.Exit(1)
		}
		os.Exit(0)
	}
	bound := 20 * time.Second
	if scripting.RaceEnabled {
		bound = 60 * time.Second
	}
	for _, tc := range []struct{ name, src, want string }{
		{"push-loop", `export default function main() { const a = []; for (;;) a.push({ n: a.length }) }`,
			"interrupted at main (hog.js:1:"},
		{"fill", `export default function main() { new Array(3e8).fill(1) }`, "a built-in function did not see the interrupt"},
		{"repeat", `export default async function main() { const s = "x".repeat(2 ** 30); print(s.length) }`, ""}, // either way, by how fast repeat runs
		{"async", `export default async function main() { const a = []; for (;;) { a.push("x".repeat(1000) + a.length); if (a.length % 1000 === 0) await sleep(0) } }`,
			"is ErrMemoryLimit: true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestWorkflowMemoryLimit$")
			cmd.Env = append(os.Environ(), wfMemoryEnv+"="+tc.src)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Stdout = &stderr // a test failure of the child
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			out := stderr.String()
			if !strings.Contains(out, "exceeded its memory limit of 256 MiB") || !strings.Contains(out, tc.want) || strings.Contains(out, "fatal error") {
				t.Errorf("stderr:\n%s\nwant the memory limit named, and %q", out, tc.want)
			}
			if took > bound {
				t.Errorf("took %v", took)
			}
			t.Logf("after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(out))
		})
	}
}

// TestWorkflowConsole checks that console writes to the workflow's output
// (log, info, debug, dir) and to stderr (warn, error, trace, assert), in
// order with print, formatted as Node formats it.
func TestWorkflowConsole(t *testing.T) {
	r := wfRunner(t, "unused")
	path := script(t, "console.js", `
export default function main() {
  console.log("hello %s, you are %d", "Ada", 36, { langs: ["js", "go"], nested: { deep: { deeper: {} } } });
  print("printed");
  console.info([1, 2, 3, 4, 5, 6, 7]);
  console.debug("%j and %o", { a: 1 }, [1]);
  console.log({ e: new Error("inner") });
  console.dir({ s: "it's", n: -0, m: new Map([["k", 1]]) });
  console.warn("careful:", 42);
  console.error(new Set(["x"]), null, undefined);
  console.assert(1 === 1, "not shown");
  console.assert(false, "%s failed", "check");
  console.trace("here");
  console.log();
}
`)
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := scripting.RunWorkflow(ctx, r, path, scripting.WorkflowOptions{Stdout: &stdout, Stderr: &stderr, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	wantOut := "hello Ada, you are 36 { langs: [ 'js', 'go' ], nested: { deep: { deeper: {} } } }\n" +
		"printed\n" +
		"[\n  1, 2, 3, 4,\n  5, 6, 7\n]\n" +
		`{"a":1} and [ 1, [length]: 1 ]` + "\n" +
		"{\n  e: Error: inner\n  \tat main (console.js:7:19(60))\n}\n" +
		"{ s: \"it's\", n: -0, m: Map(1) { 'k' => 1 } }\n" +
		"\n"
	if got := stdout.String(); got != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, wantOut)
	}
	wantErr := "careful: 42\nSet(1) { 'x' } null undefined\nAssertion failed: check failed\nTrace: here\n\tat main (console.js:"
	if got := stderr.String(); !strings.HasPrefix(got, wantErr) {
		t.Errorf("stderr:\n%s\nwant it to start with:\n%s", got, wantErr)
	}
}
