package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// The reference servers from npm, installed by scripts/npm-fixtures.sh.
func npmServer(t *testing.T, pkg string) string { return testenv.NPMServer(t, pkg) }

func TestServerEverything(t *testing.T) {
	entry := npmServer(t, "server-everything")
	var sampled sync.Map
	r := newRunner(t, map[string]string{"everything": fmt.Sprintf(
		`{"command": "node", "args": [%q, "stdio"], "roots": [{"uri": "file:///tmp/everything-root", "name": "root"}]}`, entry)},
		&engine.Options{OnRequest: func(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
			sampled.Store(method, string(params))
			switch method {
			case "sampling/createMessage":
				return map[string]any{"role": "assistant", "model": "stub-model",
					"content": map[string]any{"type": "text", "text": "the sampled answer"}}, nil
			case "elicitation/create":
				return map[string]any{"action": "decline"}, nil
			}
			return nil, &engine.RPCError{Code: -32601, Message: method}
		}})
	cx := ctx(t)
	if err := r.StartAll(cx); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("everything")

	init, err := c.Initialize(cx)
	if err != nil || init.ServerInfo == nil || !strings.Contains(init.ServerInfo.Name, "everything") {
		t.Fatalf("Initialize = %+v, %v", init, err)
	}
	if init.ProtocolVersion != engine.LatestProtocolVersion {
		t.Errorf("negotiated %s", init.ProtocolVersion)
	}
	if err := c.Ping(cx); err != nil {
		t.Fatal(err)
	}

	tools, err := c.ListTools(cx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tl := range tools {
		names[tl.Name] = true
	}
	for _, want := range []string{"echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request", "get-roots-list"} {
		if !names[want] {
			t.Errorf("tool %s missing (capability-dependent tools need sampling/roots advertised)", want)
		}
	}

	if got := call(t, c, "echo", map[string]any{"message": "hi there"}); !strings.Contains(got, "hi there") {
		t.Errorf("echo = %q", got)
	}
	if got := call(t, c, "get-sum", map[string]any{"a": 2, "b": 3}); !strings.Contains(got, "5") {
		t.Errorf("get-sum = %q", got)
	}

	var progress []float64
	var mu sync.Mutex
	pctx := engine.WithProgress(cx, func(p *mcp.ProgressNotificationParams) {
		mu.Lock()
		progress = append(progress, p.Progress)
		mu.Unlock()
	})
	if _, err := c.CallTool(pctx, "trigger-long-running-operation", map[string]any{"duration": 1, "steps": 3}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(progress) < 2 {
		t.Errorf("progress events = %v", progress)
	}
	mu.Unlock()

	if got := call(t, c, "trigger-sampling-request", map[string]any{"prompt": "say something", "maxTokens": 10}); !strings.Contains(got, "the sampled answer") {
		t.Errorf("sampling result = %q", got)
	}
	if got := call(t, c, "get-roots-list", nil); !strings.Contains(got, "file:///tmp/everything-root") {
		t.Errorf("roots = %q", got)
	}

	resources, err := c.ListResources(cx)
	if err != nil || len(resources) == 0 {
		t.Fatalf("ListResources = %d, %v", len(resources), err)
	}
	read, err := c.ReadResource(cx, resources[0].URI)
	if err != nil || len(read.Contents) == 0 {
		t.Fatalf("ReadResource(%s) = %+v, %v", resources[0].URI, read, err)
	}
	templates, err := c.ListResourceTemplates(cx)
	if err != nil || len(templates) == 0 {
		t.Fatalf("ListResourceTemplates = %v, %v", templates, err)
	}
	if err := c.Subscribe(cx, resources[0].URI); err != nil {
		t.Fatal(err)
	}
	if err := c.Unsubscribe(cx, resources[0].URI); err != nil {
		t.Fatal(err)
	}

	prompts, err := c.ListPrompts(cx)
	if err != nil || len(prompts) == 0 {
		t.Fatalf("ListPrompts = %v, %v", prompts, err)
	}
	p, err := c.GetPrompt(cx, "simple-prompt", nil)
	if err != nil || len(p.Messages) == 0 {
		t.Fatalf("GetPrompt = %+v, %v", p, err)
	}
	p, err = c.GetPrompt(cx, "args-prompt", map[string]string{"city": "Lisbon"})
	if err != nil || !strings.Contains(fmt.Sprint(p.Messages[0].Content), "Lisbon") {
		t.Fatalf("GetPrompt args = %+v, %v", p, err)
	}
	comp, err := c.Complete(cx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "completable-prompt"},
		Argument: mcp.CompleteParamsArgument{Name: "department", Value: "E"},
	})
	if err != nil || len(comp.Completion.Values) == 0 {
		t.Fatalf("Complete = %+v, %v", comp, err)
	}

	logs := make(chan string, 8)
	remove := c.OnNotification("notifications/message", func(_, _ string, params json.RawMessage) {
		select {
		case logs <- string(params):
		default:
		}
	})
	defer remove()
	if err := c.SetLogLevel(cx, "debug"); err != nil {
		t.Fatal(err)
	}
	call(t, c, "toggle-simulated-logging", nil)
	select {
	case <-logs:
	case <-time.After(15 * time.Second):
		t.Fatal("no notifications/message after toggle-simulated-logging")
	}
}

func TestServerFilesystemAndMemory(t *testing.T) {
	dir := t.TempDir()
	memFile := filepath.Join(t.TempDir(), "memory.jsonl")
	r := newRunner(t, map[string]string{
		"fs":     fmt.Sprintf(`{"command": "node", "args": [%q, %q]}`, npmServer(t, "server-filesystem"), dir),
		"memory": fmt.Sprintf(`{"command": "node", "args": [%q], "env": {"MEMORY_FILE_PATH": %q}}`, npmServer(t, "server-memory"), memFile),
	}, nil)
	cx := ctx(t)
	if err := r.StartAll(cx); err != nil {
		t.Fatal(err)
	}
	fs, _ := r.Client("fs")
	path := filepath.Join(dir, "note.txt")
	call(t, fs, "write_file", map[string]any{"path": path, "content": "written through mcpscript"})
	if got := call(t, fs, "read_text_file", map[string]any{"path": path}); got != "written through mcpscript" {
		t.Errorf("read_text_file = %q", got)
	}
	// Outside the allowed folder the server refuses, as a tool error.
	res, err := fs.CallTool(cx, "read_text_file", map[string]any{"path": "/etc/hostname"})
	if err != nil || !res.IsError {
		t.Errorf("reading outside the root: res=%v err=%v, want a tool error", res, err)
	}

	mem, _ := r.Client("memory")
	call(t, mem, "create_entities", map[string]any{"entities": []map[string]any{
		{"name": "mcpscript", "entityType": "project", "observations": []string{"written in Go"}},
	}})
	if got := call(t, mem, "search_nodes", map[string]any{"query": "Go"}); !strings.Contains(got, "mcpscript") {
		t.Errorf("search_nodes = %q", got)
	}
	if b, err := os.ReadFile(memFile); err != nil || !strings.Contains(string(b), "written in Go") {
		t.Errorf("memory file = %q, %v", b, err)
	}
	all, err := r.AllTools(cx)
	if err != nil || len(all["fs"]) == 0 || len(all["memory"]) == 0 {
		t.Fatalf("AllTools = %v, %v", all, err)
	}
}
