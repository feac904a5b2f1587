package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/scripting"
)

// The example filter (examples/filters/redact), called directly.
func TestRedactExample(t *testing.T) {
	f := load(t, redactWasm, Options{Config: json.RawMessage(`{"folder": "/srv/data", "patterns": ["(?i)password=\\S+"]}`)})
	ctx := testCtx(t)

	t.Run("redacts results", func(t *testing.T) {
		secrets := []string{
			"sk-proj-abcdefghijklmnopqrstuvwx",
			"AKIAIOSFODNN7EXAMPLE",
			"ghp_" + strings.Repeat("a1B2", 9),
			"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
			"PassWord=hunter2",
		}
		for _, s := range secrets {
			res, _ := json.Marshal(map[string]any{
				"content":           []any{map[string]any{"type": "text", "text": "before " + s + " after"}},
				"structuredContent": map[string]any{"deep": []any{s, json.Number("12345678901234567890")}},
			})
			in := &scripting.Input{Hook: scripting.PhaseToolResult, Server: "fs", Method: "tools/call", Tool: "read_file", Result: res}
			d, err := f.Call(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"content":[{"text":"before [REDACTED] after","type":"text"}],"structuredContent":{"deep":["[REDACTED]",12345678901234567890]}}`
			if string(d.Result) != want {
				t.Errorf("%q:\n got %s\nwant %s", s, d.Result, want)
			}
		}
		// A secret hidden behind a JSON escape is found too.
		in := &scripting.Input{Hook: scripting.PhaseToolResult, Method: "tools/call", Result: json.RawMessage(`{"content":[{"type":"text","text":"sk\u002dabcdefghijklmnopqrstuvwxyz"}]}`)}
		if d, err := f.Call(ctx, in); err != nil || !strings.Contains(string(d.Result), "[REDACTED]") {
			t.Errorf("escaped: %+v, %v", d, err)
		}
		// Nothing to redact: continue, without re-encoding.
		in = &scripting.Input{Hook: scripting.PhaseToolResult, Method: "tools/call", Result: json.RawMessage(`{"content":[{"type":"text","text":"sk-short"}]}`)}
		if d, err := f.Call(ctx, in); err != nil || len(d.Result) != 0 {
			t.Errorf("clean: %+v, %v", d, err)
		}
	})

	t.Run("every shape of result", func(t *testing.T) {
		const key = "sk-proj-abcdefghijklmnopqrstuvwx"
		for _, c := range []struct {
			phase  scripting.Phase
			method string
			result string
		}{
			{scripting.PhaseToolResult, "tools/call", `{"content":[{"type":"text","text":"{\"k\":\"` + key + `\"}"}],"structuredContent":{"config":{"keys":[{"value":"` + key + `"}],"note":"rotate ` + key + `"}}}`},
			{scripting.PhaseToolResult, "tools/call", `{"content":[{"type":"resource","resource":{"uri":"secret://e","mimeType":"text/plain","text":"key=` + key + `"}}]}`},
			{scripting.PhaseToolResult, "tools/call", `{"Content":[{"type":"text","Text":"` + key + `"}],"StructuredContent":{"k":"` + key + `"}}`},
			{scripting.PhaseResponse, "resources/read", `{"contents":[{"uri":"secret://key","mimeType":"text/plain","text":"the key is ` + key + `"}]}`},
			{scripting.PhaseResponse, "prompts/get", `{"messages":[{"role":"user","content":{"type":"text","text":"use ` + key + `"}},{"role":"user","content":{"type":"resource","resource":{"uri":"u","text":"` + key + `"}}}]}`},
		} {
			d, err := f.Call(ctx, &scripting.Input{Hook: c.phase, Method: c.method, Result: json.RawMessage(c.result)})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Result) == 0 || strings.Contains(string(d.Result), "abcdefghijklmnop") || !json.Valid(d.Result) {
				t.Errorf("%s %s:\n got %s", c.method, c.result, d.Result)
			}
		}
	})

	t.Run("refuses paths outside the folder", func(t *testing.T) {
		cases := []struct {
			args map[string]any
			deny string
		}{
			{map[string]any{"path": "/srv/data/a.txt"}, ""},
			{map[string]any{"path": "/srv/data"}, ""},
			{map[string]any{"path": "notes/a.txt"}, ""},
			{map[string]any{"paths": []any{"/srv/data/a", "b"}}, ""},
			{map[string]any{"text": "/etc/passwd"}, ""},
			{map[string]any{"path": "/etc/passwd"}, `path "/etc/passwd" is outside the allowed folder /srv/data`},
			{map[string]any{"path": "/srv/data/../secret"}, `path "/srv/data/../secret" is outside`},
			{map[string]any{"path": "/srv/database"}, `is outside`},
			{map[string]any{"path": "../x"}, `is outside`},
			{map[string]any{"path": "~/.ssh/id_rsa"}, `is outside`},
			{map[string]any{"paths": []any{"/srv/data/a", "/etc"}}, `paths "/etc" is outside`},
			{map[string]any{"source": "/srv/data/a", "destination": "/tmp/a"}, `destination "/tmp/a" is outside`},
			{map[string]any{"path": 42}, `argument "path" must be a path string`},
		}
		for _, c := range cases {
			d, err := f.Call(ctx, toolCall("write_file", c.args))
			if err != nil {
				t.Fatal(err)
			}
			var reason string
			_ = json.Unmarshal(d.Deny, &reason)
			if c.deny == "" && len(d.Deny) != 0 || c.deny != "" && !strings.Contains(reason, c.deny) {
				t.Errorf("%v: deny %s, want %q", c.args, d.Deny, c.deny)
			}
		}
	})

	t.Run("config", func(t *testing.T) {
		for cfg, want := range map[string]string{
			`{"folder": "data"}`:       `"folder" must be an absolute path, not "data"`,
			`{"patterns": ["(oops"]}`:  `config: pattern "(oops": error parsing regexp`,
			`{"folder": 3}`:            `config: json: cannot unmarshal number`,
			`{"replacement": "XXXXX"}`: ``,
		} {
			g, err := Load(ctx, redactWasm, Options{Config: json.RawMessage(cfg), CacheDir: testCache, Logger: testLogger(t, nil)})
			switch {
			case want == "" && err != nil:
				t.Errorf("%s: %v", cfg, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("%s: got %v, want %q", cfg, err, want)
			}
			if g != nil {
				g.Close(ctx)
			}
		}
	})
}

// startRunner runs the test server as "ts" under a real engine.Runner.
func startRunner(t testing.TB) (*engine.Runner, *engine.Client) {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"mcpServers": {"ts": {`+testserver.ConfigJSON(testserver.ModeNormal, nil)+`}}}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
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
	if err := r.StartServer(testCtx(t), "ts"); err != nil {
		t.Fatal(err)
	}
	c, err := r.Client("ts")
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// Filters in a real Runner's chain, in front of the test server.
func TestRunner(t *testing.T) {
	r, c := startRunner(t)
	redact := load(t, redactWasm, Options{Config: json.RawMessage(`{"folder": "/srv/data"}`),
		Phases: []scripting.Phase{scripting.PhaseToolCall, scripting.PhaseToolResult}})
	tg := load(t, guestWasm, Options{Name: "tg", Phases: []scripting.Phase{scripting.PhaseToolCall}})
	r.Use(scripting.Middleware(redact, scripting.Options{Timeout: 5 * time.Second}),
		scripting.Middleware(tg, scripting.Options{Timeout: 5 * time.Second}))
	ctx := testCtx(t)

	res, err := c.CallTool(ctx, "echo", map[string]any{"text": "key sk-abcdefghijklmnopqrstuvwxyz0123 and AKIAABCDEFGHIJKLMNOP, fine"})
	if err != nil {
		t.Fatal(err)
	}
	if got := toolText(res); got != "key [REDACTED] and [REDACTED], fine" {
		t.Errorf("echo: %q", got)
	}

	_, err = c.CallTool(ctx, "echo", map[string]any{"text": "x", "path": "/etc/passwd"})
	var de *engine.DeniedError
	if !errors.Is(err, engine.ErrDenied) || !errors.As(err, &de) || de.By != "redact" ||
		de.Reason != `path "/etc/passwd" is outside the allowed folder /srv/data` {
		t.Fatalf("outside the folder: %v", err)
	}
	// Inside the folder the call goes on (the test server's echo then
	// refuses the unknown argument itself).
	if _, err = c.CallTool(ctx, "echo", map[string]any{"text": "x", "path": "/srv/data/a"}); errors.Is(err, engine.ErrDenied) {
		t.Fatalf("inside the folder: %v", err)
	}

	// The second filter answers, fails closed, then works again.
	if res, err = c.CallTool(ctx, "answer", nil); err != nil || toolText(res) != "answered by the filter" {
		t.Fatalf("answer: %v, %v", res, err)
	}
	_, err = c.CallTool(ctx, "panic", nil)
	if !errors.Is(err, engine.ErrHook) || !strings.Contains(err.Error(), `filter "tg": toolCall: wasm trap: unreachable (the guest panicked: panic: boom)`) {
		t.Fatalf("panic: %v", err)
	}
	if res, err = c.CallTool(ctx, "echo", map[string]any{"text": "after"}); err != nil || toolText(res) != "after" {
		t.Fatalf("after the panic: %v, %v", res, err)
	}
}

// Filters builds the middleware from a configuration's "filters" section.
func TestFilters(t *testing.T) {
	t.Setenv(EnvCacheDir, testCache)
	parse := func(filters string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(`{"mcpServers": {"ts": {"command": "x"}}, "filters": `+filters+`}`), "test.json")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	cfg := parse(`[
		{"wasm": ` + q(redactWasm) + `, "config": {"folder": "/srv/data"}, "hooks": ["toolCall", "toolResult"]},
		{"wasm": ` + q(guestWasm) + `, "name": "tg", "hooks": ["toolCall"], "onError": "open", "timeout": "200ms", "pool": 1, "memoryLimitMiB": 32}
	]`)
	mw, closeAll, err := Filters(testCtx(t), cfg, testLogger(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if len(mw) != 2 {
		t.Fatalf("%d middleware", len(mw))
	}
	var h engine.Handler = func(context.Context, *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{"content":[{"type":"text","text":"token ghp_` + strings.Repeat("x", 36) + `"}]}`), nil
	}
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	ctx := testCtx(t)
	// tg loops past its 200ms timeout and fails open; redact still redacts.
	res, err := callTool(ctx, h, "loop", nil)
	if err != nil || resultText(t, res) != "token [REDACTED]" {
		t.Fatalf("got %s, %v", res, err)
	}
	if _, err := callTool(ctx, h, "x", map[string]any{"path": "/etc"}); !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("path: %v", err)
	}
	if err := closeAll(); err != nil {
		t.Fatal(err)
	}

	_, _, err = Filters(testCtx(t), parse(`[{"wasm": `+q(redactWasm)+`}, {"wasm": "/nonexistent/x.wasm"}]`), testLogger(t, nil))
	if err == nil || !strings.HasPrefix(err.Error(), `filters[1]: filter "x" (/nonexistent/x.wasm): open `) {
		t.Fatalf("missing module: %v", err)
	}
}

// The example configuration parses and its filter loads and works.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("../../examples/filters/config.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Filters) != 1 || filepath.Base(cfg.Resolve(cfg.Filters[0].Wasm)) != "redact.wasm" {
		t.Fatalf("filters: %+v", cfg.Filters)
	}
	cfg.Filters[0].Wasm = redactWasm // the one TestMain built
	t.Setenv(EnvCacheDir, testCache)
	mw, closeAll, err := Filters(testCtx(t), cfg, testLogger(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	h := mw[0](func(context.Context, *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{"content":[{"type":"text","text":"db password: hunter2"}]}`), nil
	})
	res, err := callTool(testCtx(t), h, "read_file", map[string]any{"path": "/tmp/mcp-demo/notes.txt"})
	if err != nil || resultText(t, res) != "db [REDACTED]" {
		t.Fatalf("got %s, %v", res, err)
	}
	_, err = callTool(testCtx(t), h, "read_file", map[string]any{"path": "/etc/passwd"})
	if !errors.Is(err, engine.ErrDenied) || !strings.Contains(err.Error(), `by redact: path "/etc/passwd" is outside the allowed folder /tmp/mcp-demo`) {
		t.Fatalf("got %v", err)
	}
}
