package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func serverJSON(t testing.TB, mode, extra string) string { return testenv.ServerJSON(t, mode, extra) }

func newRunner(t testing.TB, servers map[string]string, opts *engine.Options) *engine.Runner {
	return testenv.NewRunner(t, servers, opts)
}

func startOne(t testing.TB, mode, extra string, opts *engine.Options) (*engine.Runner, *engine.Client) {
	t.Helper()
	r := newRunner(t, map[string]string{"ts": serverJSON(t, mode, extra)}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.StartServer(ctx, "ts"); err != nil {
		t.Fatal(err)
	}
	c, err := r.Client("ts")
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func ctx(t testing.TB) context.Context { return testenv.Ctx(t) }

func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func call(t *testing.T, c *engine.Client, tool string, args any) string {
	t.Helper()
	res, err := c.CallTool(ctx(t), tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		t.Fatalf("%s: tool error: %s", tool, text(t, res))
	}
	return text(t, res)
}

func TestResultSizes(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	for _, n := range []int{0, 1, 64 << 10, 10 << 20} {
		got := call(t, c, "big", map[string]any{"bytes": n})
		if len(got) != n {
			t.Errorf("big %d: got %d bytes", n, len(got))
		}
	}
}

func TestConcurrentCallsOnOneConnection(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			want := fmt.Sprintf("payload-%d-%s", i, strings.Repeat("x", i*37))
			res, err := c.CallTool(ctx(t), "echo", map[string]any{"text": want})
			if err != nil {
				errs <- err
				return
			}
			if got := text(t, res); got != want {
				errs <- fmt.Errorf("call %d got %.40q", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestGarbageOnStdoutIsSkipped(t *testing.T) {
	_, c := startOne(t, "garbage", "", nil)
	if got := call(t, c, "echo", map[string]any{"text": "a"}); got != "a" {
		t.Fatalf("echo = %q", got)
	}
	call(t, c, "garbage", nil)
	if got := call(t, c, "echo", map[string]any{"text": "b"}); got != "b" {
		t.Fatalf("echo after garbage = %q", got)
	}
}

func TestKilledMidCallFailsPendingAndRestarts(t *testing.T) {
	r, c := startOne(t, "normal", "", nil)
	events, unsub := r.Subscribe(64)
	defer unsub()
	pid, _ := strconv.Atoi(call(t, c, "pid", nil))

	// hang reports progress once it runs on the server: then kill the process.
	started := make(chan struct{}, 1)
	hctx := engine.WithProgress(ctx(t), func(*mcp.ProgressNotificationParams) {
		select {
		case started <- struct{}{}:
		default:
		}
	})
	errc := make(chan error, 1)
	go func() {
		_, err := c.CallTool(hctx, "hang", nil)
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("hang never started")
	}
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, engine.ErrCommunication) {
			t.Fatalf("pending call: want ErrCommunication, got %v", err)
		}
		if !strings.Contains(err.Error(), "killed") {
			t.Errorf("error should say how the server died: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("pending call failed only after %s", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pending call did not fail after the server was killed")
	}
	waitState(t, events, engine.StateRunning)
	newPID, _ := strconv.Atoi(call(t, c, "pid", nil))
	if newPID == pid || newPID == 0 {
		t.Fatalf("after restart pid = %d, before %d", newPID, pid)
	}
	if st, _ := r.Status("ts"); st.Restarts < 1 {
		t.Errorf("Restarts = %d, want >= 1", st.Restarts)
	}
}

func waitState(t *testing.T, events <-chan engine.Event, want engine.State) engine.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == want {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within 20s", want)
		}
	}
}

func TestTimeoutSendsCancellation(t *testing.T) {
	_, c := startOne(t, "normal", `"requestTimeout": "300ms"`, nil)
	start := time.Now()
	_, err := c.CallTool(ctx(t), "hang", nil)
	if !errors.Is(err, engine.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("timed out after %s", d)
	}
	// The server learns of the cancellation from notifications/cancelled.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if call(t, c, "cancelled", nil) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never saw notifications/cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The connection is still good.
	if got := call(t, c, "echo", map[string]any{"text": "ok"}); got != "ok" {
		t.Fatalf("echo = %q", got)
	}
}

func TestContextCancellation(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	cctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	_, err := c.CallTool(cctx, "hang", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name, mode, extra string
		is                error
		contains          []string
	}{
		{"exits at start", "exit", "", engine.ErrCommunication, []string{`start server "ts"`, "missing API key FOO_TOKEN", "status 3"}},
		{"crashes on initialize", "crashinit", "", engine.ErrCommunication, []string{"status 4"}},
		{"never answers", "silent", `"startTimeout": "500ms"`, engine.ErrTimeout, []string{"did not answer the MCP handshake (initialize) within startTimeout 500ms"}},
		{"command not found", "normal", "", nil, []string{"no-such-command-xyz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := serverJSON(t, tc.mode, tc.extra)
			if tc.name == "command not found" {
				js = `{"command": "no-such-command-xyz"}`
			}
			r := newRunner(t, map[string]string{"ts": js}, nil)
			err := r.StartServer(ctx(t), "ts")
			if err == nil {
				t.Fatal("StartServer succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("want %v, got %v", tc.is, err)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q:\n%v", s, err)
				}
			}
			if st, _ := r.Status("ts"); st.State != engine.StateFailed {
				t.Errorf("state = %s, want failed", st.State)
			}
			c, _ := r.Client("ts")
			if _, err := c.ListTools(ctx(t)); !errors.Is(err, engine.ErrNotRunning) {
				t.Errorf("call after failed start: want ErrNotRunning, got %v", err)
			}
		})
	}
}

func TestStderrFloodDoesNotHang(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	if got := call(t, c, "stderr", map[string]any{"bytes": 2 << 20}); got != "ok" {
		t.Fatalf("stderr = %q", got)
	}
	if got := call(t, c, "echo", map[string]any{"text": "after"}); got != "after" {
		t.Fatalf("echo = %q", got)
	}
}

func TestStopKillsGrandchildren(t *testing.T) {
	r, c := startOne(t, "normal", "", nil)
	gpid, err := strconv.Atoi(call(t, c, "grandchild", nil))
	if err != nil || gpid <= 0 {
		t.Fatalf("grandchild pid: %v", err)
	}
	if !testenv.Alive(gpid) {
		t.Fatal("grandchild not running")
	}
	if err := r.StopServer(ctx(t), "ts"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testenv.Alive(gpid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive after stop", gpid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.CallTool(ctx(t), "echo", map[string]any{"text": "x"}); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("call after stop: want ErrNotRunning, got %v", err)
	}
	if err := r.StopServer(ctx(t), "ts"); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("second stop: want ErrNotRunning, got %v", err)
	}
}

// alive reports whether pid exists and is not a zombie (this container's init
// does not reap orphans).

func TestOversizedFrameRestartsConnection(t *testing.T) {
	_, c := startOne(t, "normal", `"maxFrameBytes": 65536`, nil)
	_, err := c.CallTool(ctx(t), "big", map[string]any{"bytes": 200000})
	if !errors.Is(err, engine.ErrCommunication) || !strings.Contains(err.Error(), "maxFrameBytes") {
		t.Fatalf("want a communication error naming maxFrameBytes, got %v", err)
	}
	// The server is restarted and the next call works.
	if got := call(t, c, "echo", map[string]any{"text": "again"}); got != "again" {
		t.Fatalf("echo = %q", got)
	}
}

func TestProgress(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	var mu sync.Mutex
	var got []float64
	pctx := engine.WithProgress(ctx(t), func(p *mcp.ProgressNotificationParams) {
		mu.Lock()
		got = append(got, p.Progress)
		mu.Unlock()
	})
	res, err := c.CallTool(pctx, "slow", map[string]any{"steps": 5, "delayMs": 5})
	if err != nil {
		t.Fatal(err)
	}
	if text(t, res) != "done" {
		t.Fatalf("slow = %q", text(t, res))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 || got[0] >= got[4] {
		t.Fatalf("progress = %v, want 5 increasing values", got)
	}
}

func TestClientMethods(t *testing.T) {
	r, c := startOne(t, "normal", `"roots": [{"uri": "file:///tmp/root-a", "name": "a"}]`, &engine.Options{
		OnRequest: func(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
			if method != "sampling/createMessage" {
				return nil, &engine.RPCError{Code: -32601, Message: "no " + method}
			}
			return map[string]any{"role": "assistant", "model": "test", "content": map[string]any{"type": "text", "text": "sampled by " + server}}, nil
		},
	})
	cx := ctx(t)
	init, err := c.Initialize(cx)
	if err != nil || init.ProtocolVersion != engine.LatestProtocolVersion || init.ServerInfo.Name != "testserver" {
		t.Fatalf("Initialize = %+v, %v", init, err)
	}
	if err := c.Ping(cx); err != nil {
		t.Fatal(err)
	}
	tools, err := c.ListTools(cx)
	if err != nil || len(tools) < 150 {
		t.Fatalf("ListTools: %d tools, %v (want all pages)", len(tools), err)
	}
	if got := call(t, c, "roots", nil); !strings.Contains(got, "file:///tmp/root-a") {
		t.Errorf("roots = %s", got)
	}
	if got := call(t, c, "sample", map[string]any{"prompt": "hi"}); !strings.Contains(got, "sampled by ts") {
		t.Errorf("sample = %s", got)
	}
	res, err := c.ReadResource(cx, "test://static")
	if err != nil || len(res.Contents) != 1 || res.Contents[0].Text != "static text" {
		t.Fatalf("ReadResource = %+v, %v", res, err)
	}
	rs, err := c.ListResources(cx)
	if err != nil || len(rs) == 0 {
		t.Fatalf("ListResources = %v, %v", rs, err)
	}
	tpls, err := c.ListResourceTemplates(cx)
	if err != nil || len(tpls) == 0 {
		t.Fatalf("ListResourceTemplates = %v, %v", tpls, err)
	}
	prompts, err := c.ListPrompts(cx)
	if err != nil || len(prompts) == 0 {
		t.Fatalf("ListPrompts = %v, %v", prompts, err)
	}
	pr, err := c.GetPrompt(cx, "greet", map[string]string{"name": "Ada"})
	if err != nil || len(pr.Messages) == 0 {
		t.Fatalf("GetPrompt = %+v, %v", pr, err)
	}
	comp, err := c.Complete(cx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "greet"},
		Argument: mcp.CompleteParamsArgument{Name: "name", Value: "al"},
	})
	if err != nil || len(comp.Completion.Values) != 2 {
		t.Fatalf("Complete = %+v, %v", comp, err)
	}
	if err := c.SetLogLevel(cx, "debug"); err != nil {
		t.Fatal(err)
	}

	notes := make(chan string, 16)
	remove := c.OnNotification("", func(server, method string, params json.RawMessage) {
		notes <- method + " " + string(params)
	})
	defer remove()
	call(t, c, "log", map[string]any{"level": "warning", "message": "careful"})
	waitNote(t, notes, "notifications/message", "careful")
	if err := c.Subscribe(cx, "test://static"); err != nil {
		t.Fatal(err)
	}
	call(t, c, "touch", map[string]any{"uri": "test://static"})
	waitNote(t, notes, "notifications/resources/updated", "test://static")
	if err := c.Unsubscribe(cx, "test://static"); err != nil {
		t.Fatal(err)
	}
	call(t, c, "addtool", map[string]any{"name": "fresh"})
	waitNote(t, notes, "notifications/tools/list_changed", "")

	_, err = c.Call(cx, "no/such/method", nil)
	var re *engine.RPCError
	if !errors.As(err, &re) || re.Code != -32601 || re.Server != "ts" {
		t.Fatalf("unknown method: want RPCError -32601, got %v", err)
	}
	_, err = c.CallTool(cx, "ecoh", map[string]any{"text": "x"})
	if !errors.Is(err, engine.ErrToolNotFound) || !strings.Contains(err.Error(), `did you mean "echo"?`) {
		t.Fatalf("unknown tool: want ErrToolNotFound with a hint, got %v", err)
	}
	if _, err := r.Client("tss"); !errors.Is(err, engine.ErrServerNotFound) || !strings.Contains(err.Error(), `"ts"`) {
		t.Fatalf("unknown server: got %v", err)
	}
	if err := r.StartServer(cx, "ts"); !errors.Is(err, engine.ErrAlreadyRunning) {
		t.Fatalf("second start: want ErrAlreadyRunning, got %v", err)
	}
}

func waitNote(t *testing.T, notes <-chan string, method, contains string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n := <-notes:
			if strings.HasPrefix(n, method+" ") && strings.Contains(n, contains) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s notification containing %q", method, contains)
		}
	}
}

func TestSamplingWithoutHandlerIsRefused(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	res, err := c.CallTool(ctx(t), "sample", map[string]any{"prompt": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError {
		t.Fatalf("sampling without a handler should fail, got %s", text(t, res))
	}
}

func TestEnvAndCwd(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MCPSCRIPT_TEST_OUTER", "outer")
	js := fmt.Sprintf(`{%s, "cwd": %q}`, testserver.ConfigJSON("normal", map[string]string{"INNER": "${MCPSCRIPT_TEST_OUTER}-x"}), dir)
	r := newRunner(t, map[string]string{"ts": js}, nil)
	if err := r.StartServer(ctx(t), "ts"); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("ts")
	if got := call(t, c, "env", map[string]any{"name": "INNER"}); got != "outer-x" {
		t.Errorf("INNER = %q", got)
	}
	if got := call(t, c, "env", map[string]any{"name": "MCPSCRIPT_TEST_OUTER"}); got != "outer" {
		t.Errorf("inherited env = %q", got)
	}
	if got := call(t, c, "cwd", nil); got != dir {
		t.Errorf("cwd = %q, want %q", got, dir)
	}
}

// TestEnvFile: a server gets the variables of its envFile, under env's
// (the file's test server mode, "exit", loses to the config's); one whose
// envFile cannot be read fails to start, saying which file.
func TestEnvFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vars.env"), []byte("# secrets\nexport FROM_FILE=\"file value\"\n"+testserver.EnvVar+"=exit\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, map[string]string{
		"ok":      serverJSON(t, "normal", fmt.Sprintf(`"envFile": %q`, filepath.Join(dir, "vars.env"))),
		"missing": serverJSON(t, "normal", fmt.Sprintf(`"envFile": %q`, filepath.Join(dir, "nope.env"))),
	}, nil)
	err := r.StartAll(ctx(t))
	if err == nil || !strings.Contains(err.Error(), `start server "missing": envFile `+filepath.Join(dir, "nope.env")) {
		t.Errorf("StartAll: %v", err)
	}
	c, _ := r.Client("ok")
	if got := call(t, c, "env", map[string]any{"name": "FROM_FILE"}); got != "file value" {
		t.Errorf("FROM_FILE = %q", got)
	}
}

func TestStartAllKeepsGoodServers(t *testing.T) {
	r := newRunner(t, map[string]string{
		"good": serverJSON(t, "normal", ""),
		"bad":  serverJSON(t, "exit", ""),
		"off":  `{"command": "nothing", "disabled": true}`,
	}, nil)
	err := r.StartAll(ctx(t))
	if err == nil || !strings.Contains(err.Error(), `"bad"`) || strings.Contains(err.Error(), `"good"`) {
		t.Fatalf("StartAll error = %v", err)
	}
	states := map[string]engine.State{}
	for _, st := range r.Statuses() {
		states[st.Name] = st.State
	}
	want := map[string]engine.State{"bad": engine.StateFailed, "good": engine.StateRunning, "off": engine.StateDisabled}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("%s: state %s, want %s", k, states[k], v)
		}
	}
	tools, err := r.AllTools(ctx(t))
	if err != nil || len(tools["good"]) == 0 || len(tools) != 1 {
		t.Fatalf("AllTools = %d servers, %v", len(tools), err)
	}
	id, err := r.ServerID("good")
	if err != nil || id == "" {
		t.Fatal(err)
	}
	if name, _ := r.ServerName(id); name != "good" {
		t.Errorf("ServerName(%s) = %q", id, name)
	}
	c1, _ := r.Client("good")
	c2, _ := r.Client("good")
	if c1 != c2 {
		t.Error("Client returned different clients for the same server")
	}
}

// A request whose context is already over, or ends right after it was sent,
// must not break the connection that other requests share.
func TestCancelledCallsKeepTheConnection(t *testing.T) {
	_, c := startOne(t, "normal", "", nil)
	pid := call(t, c, "pid", nil)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.CallTool(done, "echo", map[string]any{"text": "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	for i := range 50 {
		short, cancel := context.WithTimeout(context.Background(), time.Duration(i)*20*time.Microsecond)
		_, _ = c.CallTool(short, "echo", map[string]any{"text": "y"})
		cancel()
	}
	if got := call(t, c, "pid", nil); got != pid {
		t.Fatalf("the server was restarted (pid %s -> %s)", pid, got)
	}
}
