package demoserver

//lint:file-ignore SA1019 the tests exercise the logging capability, deprecated in 2026-07-28 but still part of the legacy protocol.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// connect starts the demo server on in-memory transports and returns a
// connected client session. progress, if non-nil, receives progress
// notifications.
func connect(t *testing.T, progress func(*mcp.ProgressNotificationParams)) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	serverT, clientT := mcp.NewInMemoryTransports()
	done := make(chan error, 1)
	go func() { done <- New().Run(ctx, serverT) }()

	client := mcp.NewClient(&mcp.Implementation{Name: "demo-test", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			if progress != nil {
				progress(req.Params)
			}
		},
	})
	cs, err := client.Connect(ctx, clientT, nil)
	if err != nil {
		cancel()
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		cs.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	})
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	var texts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			texts = append(texts, tc.Text)
		}
	}
	return res, strings.Join(texts, "\n")
}

func TestInitialize(t *testing.T) {
	cs := connect(t, nil)
	res := cs.InitializeResult()
	if res.ServerInfo.Name != "mcpscript-demo" || res.ServerInfo.Version != Version {
		t.Errorf("server info = %+v", res.ServerInfo)
	}
	caps := res.Capabilities
	if caps.Tools == nil || caps.Resources == nil || caps.Prompts == nil || caps.Logging == nil || caps.Completions == nil {
		t.Errorf("capabilities = %+v", caps)
	}
	if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Errorf("setLevel: %v", err)
	}
}

func TestListTools(t *testing.T) {
	cs := connect(t, nil)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.Description == "" || tool.InputSchema == nil {
			t.Errorf("tool %s lacks a description or input schema", tool.Name)
		}
	}
	slices.Sort(names)
	if want := []string{"add", "count", "echo", "fail", "time"}; !slices.Equal(names, want) {
		t.Errorf("tools = %v, want %v", names, want)
	}
}

func TestEcho(t *testing.T) {
	cs := connect(t, nil)
	res, text := callText(t, cs, "echo", map[string]any{"text": "hello, world"})
	if res.IsError || text != "hello, world" {
		t.Errorf("echo = %q (isError=%v)", text, res.IsError)
	}
}

func TestAdd(t *testing.T) {
	cs := connect(t, nil)
	res, text := callText(t, cs, "add", map[string]any{"a": 2, "b": 3})
	if res.IsError || text != "5" {
		t.Errorf("add text = %q (isError=%v)", text, res.IsError)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if string(b) != `{"sum":5}` {
		t.Errorf("structuredContent = %s", b)
	}
	_, text = callText(t, cs, "add", map[string]any{"a": 0.5, "b": -2})
	if text != "-1.5" {
		t.Errorf("add(0.5,-2) = %q", text)
	}
	res, _ = callText(t, cs, "add", map[string]any{"a": "x"})
	if !res.IsError {
		t.Error("add with bad arguments did not fail")
	}
}

func TestCountProgress(t *testing.T) {
	var (
		mu     sync.Mutex
		events []*mcp.ProgressNotificationParams
	)
	cs := connect(t, func(p *mcp.ProgressNotificationParams) {
		mu.Lock()
		events = append(events, p)
		mu.Unlock()
	})
	params := &mcp.CallToolParams{Name: "count", Arguments: map[string]any{"to": 3, "delayMs": 1}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Content[0].(*mcp.TextContent).Text; got != "counted to 3" {
		t.Errorf("count = %q", got)
	}
	// Notifications may be handled just after the response: wait a little.
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 {
		t.Fatalf("got %d progress events, want 3", len(events))
	}
	for i, ev := range events {
		if ev.ProgressToken != "tok-1" || ev.Progress != float64(i+1) || ev.Total != 3 || ev.Message != fmt.Sprintf("%d/3", i+1) {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
}

func TestCountDefaultsWithoutProgress(t *testing.T) {
	var calls int
	cs := connect(t, func(*mcp.ProgressNotificationParams) { calls++ })
	start := time.Now()
	_, text := callText(t, cs, "count", map[string]any{"delayMs": 0})
	if text != "counted to 5" {
		t.Errorf("count = %q", text)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("count with delayMs 0 was slow")
	}
	if calls != 0 {
		t.Errorf("got %d progress events without a progress token", calls)
	}
	res, _ := callText(t, cs, "count", map[string]any{"to": 101})
	if !res.IsError {
		t.Error("count to 101 did not fail")
	}
}

func TestCountCancel(t *testing.T) {
	cs := connect(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "count", Arguments: map[string]any{"to": 100, "delayMs": 1000}})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled call did not return")
	}
	if time.Since(start) > 3*time.Second {
		t.Error("cancellation took too long")
	}
	// The session is still usable.
	if _, text := callText(t, cs, "echo", map[string]any{"text": "still here"}); text != "still here" {
		t.Errorf("echo after cancel = %q", text)
	}
}

func TestTime(t *testing.T) {
	cs := connect(t, nil)
	_, text := callText(t, cs, "time", map[string]any{})
	got, err := time.Parse(time.RFC3339, text)
	if err != nil {
		t.Fatalf("time = %q: %v", text, err)
	}
	if d := time.Since(got); d < -2*time.Second || d > time.Minute {
		t.Errorf("time %v is off by %v", got, d)
	}
	if !strings.HasSuffix(text, "Z") {
		t.Errorf("time %q is not UTC", text)
	}
}

func TestFail(t *testing.T) {
	cs := connect(t, nil)
	res, text := callText(t, cs, "fail", map[string]any{"message": "boom"})
	if !res.IsError || text != "boom" {
		t.Errorf("fail = %q (isError=%v)", text, res.IsError)
	}
}

func TestResources(t *testing.T) {
	cs := connect(t, nil)
	ctx := context.Background()
	list, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Resources) != 1 || list.Resources[0].URI != "demo://readme" || list.Resources[0].MIMEType != "text/markdown" {
		t.Errorf("resources = %+v", list.Resources)
	}
	read, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "demo://readme"})
	if err != nil {
		t.Fatal(err)
	}
	if c := read.Contents[0]; c.MIMEType != "text/markdown" || !strings.Contains(c.Text, "demo server") {
		t.Errorf("readme = %+v", c)
	}

	tmpls, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpls.ResourceTemplates) != 1 || tmpls.ResourceTemplates[0].URITemplate != "demo://greeting/{name}" {
		t.Errorf("templates = %+v", tmpls.ResourceTemplates)
	}
	read, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "demo://greeting/Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if got := read.Contents[0].Text; got != "Hello, Ada!" {
		t.Errorf("greeting = %q", got)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "demo://nope"}); err == nil {
		t.Error("reading an unknown resource succeeded")
	}
}

func TestPrompt(t *testing.T) {
	cs := connect(t, nil)
	ctx := context.Background()
	list, err := cs.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Prompts) != 1 || list.Prompts[0].Name != "greet" || len(list.Prompts[0].Arguments) != 2 || !list.Prompts[0].Arguments[0].Required {
		t.Errorf("prompts = %+v", list.Prompts)
	}
	for style, want := range map[string]string{
		"":       "Please greet Ada.",
		"formal": "formal greeting for Ada",
		"casual": "Say hi to Ada",
	} {
		args := map[string]string{"name": "Ada"}
		if style != "" {
			args["style"] = style
		}
		res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: args})
		if err != nil {
			t.Fatalf("style %q: %v", style, err)
		}
		if len(res.Messages) != 1 || res.Messages[0].Role != "user" {
			t.Fatalf("style %q: messages = %+v", style, res.Messages)
		}
		if text := res.Messages[0].Content.(*mcp.TextContent).Text; !strings.Contains(text, want) {
			t.Errorf("style %q: text = %q, want it to contain %q", style, text, want)
		}
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"style": "formal"}}); err == nil {
		t.Error("greet without a name succeeded")
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"name": "x", "style": "loud"}}); err == nil {
		t.Error("greet with an unknown style succeeded")
	}
}

func TestCompletion(t *testing.T) {
	cs := connect(t, nil)
	cases := []struct {
		ref   *mcp.CompleteReference
		arg   string
		value string
		want  []string
	}{
		{&mcp.CompleteReference{Type: "ref/prompt", Name: "greet"}, "style", "", []string{"casual", "formal"}},
		{&mcp.CompleteReference{Type: "ref/prompt", Name: "greet"}, "style", "f", []string{"formal"}},
		{&mcp.CompleteReference{Type: "ref/prompt", Name: "greet"}, "style", "x", []string{}},
		{&mcp.CompleteReference{Type: "ref/prompt", Name: "greet"}, "name", "", []string{}},
		{&mcp.CompleteReference{Type: "ref/resource", URI: "demo://greeting/{name}"}, "name", "a", []string{"Ada", "Alan"}},
	}
	for _, c := range cases {
		res, err := cs.Complete(context.Background(), &mcp.CompleteParams{
			Ref:      c.ref,
			Argument: mcp.CompleteParamsArgument{Name: c.arg, Value: c.value},
		})
		if err != nil {
			t.Fatalf("complete %s %q: %v", c.arg, c.value, err)
		}
		if !slices.Equal(res.Completion.Values, c.want) {
			t.Errorf("complete %+v %s=%q = %v, want %v", c.ref, c.arg, c.value, res.Completion.Values, c.want)
		}
	}
}

// TestRunStdio drives Run over pipes with raw JSON lines, the way
// `mcpscript demo-server` is used, and checks that Run returns nil when the
// client closes its end.
func TestRunStdio(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), inR, outW) }()

	dec := json.NewDecoder(outR)
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() map[string]any {
		t.Helper()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
	if m := recv(); m["result"].(map[string]any)["serverInfo"].(map[string]any)["name"] != "mcpscript-demo" {
		t.Errorf("initialize = %v", m)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`)
	m := recv()
	content := m["result"].(map[string]any)["content"].([]any)
	if content[0].(map[string]any)["text"] != "hi" {
		t.Errorf("echo = %v", m)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after stdin closed")
	}
}

func TestRunContextCancel(t *testing.T) {
	inR, inW := io.Pipe()
	defer inW.Close()
	outR, outW := io.Pipe()
	go io.Copy(io.Discard, outR)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, inR, outW) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
}
