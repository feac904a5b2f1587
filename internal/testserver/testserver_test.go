package testserver

//lint:file-ignore SA1019 the test server deliberately exercises logging, sampling and roots, deprecated in 2026-07-28 but still part of the legacy protocol.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestMain(m *testing.M) {
	if Requested() {
		Main()
	}
	os.Exit(m.Run())
}

func command(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), Env(mode)...)
	return cmd
}

type clientEvents struct {
	mu       sync.Mutex
	logs     []*mcp.LoggingMessageParams
	progress []*mcp.ProgressNotificationParams
	updated  []string
	changed  int
}

func (e *clientEvents) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		ok := cond()
		e.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connect starts the test server in normal mode and connects a go-sdk
// client speaking protocolVersion (empty: the client's default).
func connect(t *testing.T, protocolVersion string) (*mcp.ClientSession, *clientEvents) {
	t.Helper()
	ev := &clientEvents{}
	client := mcp.NewClient(&mcp.Implementation{Name: "testserver-test", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			text := req.Params.Messages[0].Content.(*mcp.TextContent).Text
			return &mcp.CreateMessageResult{Role: "assistant", Model: "fake", Content: &mcp.TextContent{Text: "reply to " + text}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"answer": "42"}}, nil
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			ev.mu.Lock()
			ev.logs = append(ev.logs, req.Params)
			ev.mu.Unlock()
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			ev.mu.Lock()
			ev.progress = append(ev.progress, req.Params)
			ev.mu.Unlock()
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			ev.mu.Lock()
			ev.updated = append(ev.updated, req.Params.URI)
			ev.mu.Unlock()
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			ev.mu.Lock()
			ev.changed++
			ev.mu.Unlock()
		},
	})
	client.AddRoots(&mcp.Root{URI: "file:///tmp/root1", Name: "root1"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: command(ModeNormal)}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, ev
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	text := contentText(res.Content...)
	if res.IsError {
		t.Fatalf("call %s: tool error: %s", name, text)
	}
	return text
}

func TestNormal(t *testing.T) {
	cs, ev := connect(t, "2025-11-25")
	ctx := context.Background()
	if name := cs.InitializeResult().ServerInfo.Name; name != ServerName {
		t.Errorf("server name = %q", name)
	}

	if got := call(t, cs, "echo", map[string]any{"text": "hi"}); got != "hi" {
		t.Errorf("echo = %q", got)
	}
	if got := call(t, cs, "big", map[string]any{"bytes": 65536}); got != BigText(65536) || len(got) != 65536 || got[:20] != "0123456789abcdef0123" {
		t.Errorf("big returned %d bytes", len(got))
	}
	if got := call(t, cs, "pid", nil); got == strconv.Itoa(os.Getpid()) || got == "" {
		t.Errorf("pid = %q", got)
	}
	if got := call(t, cs, "env", map[string]any{"name": EnvVar}); got != ModeNormal {
		t.Errorf("env = %q", got)
	}
	wd, _ := os.Getwd()
	if got := call(t, cs, "cwd", nil); got != wd {
		t.Errorf("cwd = %q, want %q", got, wd)
	}
	if got := call(t, cs, "stderr", map[string]any{"bytes": 250}); got != "ok" {
		t.Errorf("stderr = %q", got)
	}

	// Progress.
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "delayMs": 1}}
	params.SetProgressToken("p1")
	if res, err := cs.CallTool(ctx, params); err != nil || contentText(res.Content...) != "done" {
		t.Fatalf("slow = %v, %v", res, err)
	}
	ev.wait(t, "3 progress notifications", func() bool { return len(ev.progress) == 3 })

	// Cancellation reaches the server.
	cctx, cancel := context.WithCancel(ctx)
	hp := &mcp.CallToolParams{Name: "hang"}
	hp.SetProgressToken("h1")
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(cctx, hp)
		errc <- err
	}()
	ev.wait(t, "hang to start", func() bool { return len(ev.progress) == 4 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled hang returned %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for call(t, cs, "cancelled", nil) != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the server did not see the cancellation")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Pagination: tools/list takes several pages.
	first, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Tools) != PageSize || first.NextCursor == "" {
		t.Errorf("first page: %d tools, cursor %q", len(first.Tools), first.NextCursor)
	}
	n := 0
	for _, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != ExtraTools+21 {
		t.Errorf("listed %d tools", n)
	}

	// Server-to-client requests.
	if got := call(t, cs, "sample", map[string]any{"prompt": "hello"}); got != "reply to hello" {
		t.Errorf("sample = %q", got)
	}
	if got := call(t, cs, "elicit", map[string]any{"message": "question?"}); got != `{"action":"accept","content":{"answer":"42"}}` {
		t.Errorf("elicit = %q", got)
	}
	if got := call(t, cs, "roots", nil); got != `[{"name":"root1","uri":"file:///tmp/root1"}]` {
		t.Errorf("roots = %q", got)
	}

	// Logging works without logging/setLevel.
	call(t, cs, "log", map[string]any{"level": "warning", "message": "careful"})
	ev.wait(t, "log message", func() bool { return len(ev.logs) == 1 })
	if l := ev.logs[0]; l.Level != "warning" || l.Data != "careful" {
		t.Errorf("log = %+v", l)
	}

	// Dynamic tools.
	call(t, cs, "addtool", map[string]any{"name": "newtool"})
	ev.wait(t, "tools/list_changed", func() bool { return ev.changed == 1 })
	if got := call(t, cs, "newtool", map[string]any{"text": "x"}); got != "x" {
		t.Errorf("newtool = %q", got)
	}

	// Resources and subscriptions.
	read, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://item/7"})
	if err != nil || read.Contents[0].Text != "item 7" {
		t.Errorf("read item = %v, %v", read, err)
	}
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://static"}); err != nil {
		t.Fatal(err)
	}
	if got := call(t, cs, "subscriptions", nil); got != `["test://static"]` {
		t.Errorf("subscriptions = %q", got)
	}
	call(t, cs, "touch", map[string]any{"uri": "test://static"})
	ev.wait(t, "resources/updated", func() bool { return len(ev.updated) == 1 })

	// Prompt completion.
	comp, err := cs.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "greet"},
		Argument: mcp.CompleteParamsArgument{Name: "name", Value: "al"},
	})
	if err != nil || strings.Join(comp.Completion.Values, ",") != "alice,albert" {
		t.Errorf("complete = %v, %v", comp, err)
	}
}

// TestModernInputRequests checks that sampling works over the
// multi-round-trip protocol of 2026-07-28 too.
func TestModernInputRequests(t *testing.T) {
	cs, _ := connect(t, "")
	if v := cs.InitializeResult().ProtocolVersion; v < modernVersion {
		t.Skipf("client negotiated %s", v)
	}
	if got := call(t, cs, "sample", map[string]any{"prompt": "hi"}); got != "reply to hi" {
		t.Errorf("sample = %q", got)
	}
	if got := call(t, cs, "roots", nil); !strings.Contains(got, "root1") {
		t.Errorf("roots = %q", got)
	}
}

func TestCrashAndGrandchild(t *testing.T) {
	cs, _ := connect(t, "2025-11-25")
	pid, err := strconv.Atoi(call(t, cs, "grandchild", nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("grandchild %d is not running: %v", pid, err)
	}
	_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "crash", Arguments: map[string]any{"code": 7}})
	if err == nil {
		t.Error("crash returned a result")
	}
}

func TestExit(t *testing.T) {
	cmd := command(ModeExit)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitStatusExit {
		t.Fatalf("exit mode: %v", err)
	}
	if !strings.HasPrefix(stderr.String(), ExitMessage+"\n") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestCrashInit(t *testing.T) {
	cmd := command(ModeCrashInit)
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize"}` + "\n")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitStatusCrashInit {
		t.Fatalf("crashinit mode: %v", err)
	}
}

// TestGarbage reads the raw stdout of garbage mode: the junk lines come
// first, then the server answers initialize normally.
func TestGarbage(t *testing.T) {
	cmd := command(ModeGarbage)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	r := bufio.NewReader(stdout)
	for _, want := range GarbageLines {
		line, err := r.ReadString('\n')
		if err != nil || line != want+"\n" {
			t.Fatalf("line = %q, %v; want %q", line, err, want)
		}
	}
	stdin.Write([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"garbage"}}` + "\n"))
	line, _ := r.ReadString('\n')
	var resp struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(line), &resp); err != nil || resp.ID != 1 || !strings.Contains(string(resp.Result), ServerName) {
		t.Fatalf("initialize response %q: %v", line, err)
	}
	if line, _ = r.ReadString('\n'); line != GarbageToolLine+"\n" {
		t.Errorf("garbage tool line = %q", line)
	}
	if line, _ = r.ReadString('\n'); !strings.Contains(line, `"id":2`) {
		t.Errorf("garbage tool response = %q", line)
	}
}

func TestBigText(t *testing.T) {
	for _, n := range []int{0, 1, 17, 64 << 10, 10 << 20} {
		s := BigText(n)
		if len(s) != n || (n > 17 && s[16:18] != "01") {
			t.Errorf("BigText(%d): %d bytes", n, len(s))
		}
	}
}

func TestStderrText(t *testing.T) {
	for _, n := range []int{0, 1, 99, 100, 101, 250, 10000} {
		s := StderrText(n)
		if len(s) != n || (n > 0 && !strings.HasSuffix(s, "\n")) {
			t.Errorf("StderrText(%d): %d bytes", n, len(s))
		}
		for _, l := range strings.SplitAfter(s, "\n") {
			if len(l) > 100 {
				t.Errorf("StderrText(%d): line of %d bytes", n, len(l))
			}
		}
	}
}
