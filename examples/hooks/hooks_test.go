// The example hooks, loaded from the example config, in front of the real
// server-filesystem from npm (installed by scripts/npm-fixtures.sh).
package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/procman"
	"github.com/mcpscript/mcpscript/scripting"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	scripting.RunHostIfRequested()
	os.Exit(m.Run())
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func TestExampleHooks(t *testing.T) {
	if _, err := os.Stat("../../testdata/npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"); err != nil {
		t.Fatalf("npm fixtures missing: run scripts/npm-fixtures.sh (%v)", err)
	}
	data, err := filepath.Abs("data")
	if err != nil {
		t.Fatal(err)
	}
	public := filepath.Join(data, "public")
	t.Setenv("ALLOWED_DIR", public)
	// The config reads its bearer tokens from these; they have no defaults.
	t.Setenv("ADMIN_TOKEN", "admin-0123456789abcdef")
	t.Setenv("CI_TOKEN", "ci-0123456789abcdef")

	r, err := engine.FromConfigFile("config.json")
	if err != nil {
		t.Fatal(err)
	}
	mw, closeHooks, err := scripting.Hooks(r.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeHooks()
	r.Use(mw...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.StartServer(ctx, "fs"); err != nil {
		t.Fatal(err)
	}
	defer r.StopAll(context.Background())
	fs, _ := r.Client("fs")
	ci := engine.WithIdentity(ctx, engine.Identity{Token: "ci", Transport: "streamable-http"})
	admin := engine.WithIdentity(ctx, engine.Identity{Token: "admin", Transport: "streamable-http"})

	// readonly.js: write tools are not listed and refused.
	tools, err := fs.ListTools(admin)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name)
	}
	if slices.Contains(names, "write_file") || !slices.Contains(names, "read_text_file") {
		t.Errorf("admin's tools: %v", names)
	}
	_, err = fs.CallTool(admin, "write_file", map[string]any{"path": filepath.Join(public, "new.txt"), "content": "x"})
	var de *engine.DeniedError
	if !errors.As(err, &de) || de.By != "readonly.js" {
		t.Errorf("write_file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(public, "new.txt")); err == nil {
		t.Errorf("write_file reached the server")
	}

	// confine.ts: paths outside ALLOWED_DIR are refused, inside are read.
	_, err = fs.CallTool(admin, "read_text_file", map[string]any{"path": filepath.Join(data, "private", "secrets.txt")})
	if !errors.As(err, &de) || de.By != "confine.ts" || !strings.Contains(de.Reason, "is outside") {
		t.Errorf("reading outside the folder: %v", err)
	}
	_, err = fs.CallTool(admin, "read_text_file", map[string]any{"path": public + "/../private/secrets.txt"})
	if !errors.Is(err, engine.ErrDenied) {
		t.Errorf("escaping with ..: %v", err)
	}
	res, err := fs.CallTool(admin, "read_text_file", map[string]any{"path": filepath.Join(public, "notes.txt")})
	if err != nil || !strings.Contains(text(res), "deploy on Fridays") {
		t.Errorf("reading inside the folder: %v %v", res, err)
	}

	// allowlist.js: token ci sees and calls only its tools.
	tools, err = fs.ListTools(ci)
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, tool := range tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"list_directory", "read_text_file"}) {
		t.Errorf("ci's tools: %v", names)
	}
	if _, err := fs.CallTool(ci, "get_file_info", map[string]any{"path": filepath.Join(public, "notes.txt")}); !errors.As(err, &de) || de.By != "allowlist.js" {
		t.Errorf("ci calling get_file_info: %v", err)
	}
	if res, err := fs.CallTool(ci, "list_directory", map[string]any{"path": public}); err != nil || !strings.Contains(text(res), "notes.txt") {
		t.Errorf("ci listing the folder: %v %v", res, err)
	}

	// redact.js: secrets in results are replaced.
	res, err = fs.CallTool(ci, "read_text_file", map[string]any{"path": filepath.Join(public, "leak.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(res); strings.Contains(got, "AKIAIOSFODNN7EXAMPLE") || !strings.Contains(got, "[REDACTED]") {
		t.Errorf("leak.txt through the hooks: %q", got)
	}
}

// TestRedactEveryShape puts the example redact.js in front of the real
// server-filesystem and a server of the official SDK
// (testdata/secrets-server.cjs), and checks that a secret is gone from
// every place a result can carry it: text content, structured content,
// an embedded resource, resources/read and prompts/get.
func TestRedactEveryShape(t *testing.T) {
	const secret = "sk-0123456789abcdefghij"
	npm, err := filepath.Abs("../../testdata/npm/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(npm, "@modelcontextprotocol/server-filesystem/dist/index.js")); err != nil {
		t.Fatalf("npm fixtures missing: run scripts/npm-fixtures.sh (%v)", err)
	}
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "config.env"), []byte("OPENAI_API_KEY="+secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hook, _ := filepath.Abs("redact.js")
	server, _ := filepath.Abs("testdata/secrets-server.cjs")
	cfg, _ := json.Marshal(map[string]any{
		"mcpServers": map[string]any{
			"fs":      map[string]any{"command": "node", "args": []string{filepath.Join(npm, "@modelcontextprotocol/server-filesystem/dist/index.js"), files}},
			"secrets": map[string]any{"command": "node", "args": []string{server}, "env": map[string]string{"NODE_PATH": npm, "SECRET": secret}},
		},
		"scripts": map[string]any{"hooks": []string{hook}},
	})
	r, err := engine.FromConfigString(string(cfg))
	if err != nil {
		t.Fatal(err)
	}
	mw, closeHooks, err := scripting.Hooks(r.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeHooks()
	r.Use(mw...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.StopAll(context.Background())
	fs, _ := r.Client("fs")
	secrets, _ := r.Client("secrets")

	call := func(c *engine.Client, tool string, args map[string]any) func() (json.RawMessage, error) {
		return func() (json.RawMessage, error) {
			params, _ := json.Marshal(map[string]any{"name": tool, "arguments": args})
			return c.Call(ctx, "tools/call", params)
		}
	}
	request := func(c *engine.Client, method, params string) func() (json.RawMessage, error) {
		return func() (json.RawMessage, error) { return c.Call(ctx, method, json.RawMessage(params)) }
	}
	for _, tc := range []struct {
		name string
		do   func() (json.RawMessage, error)
		want []string // what must be in the redacted answer
	}{
		{"text and structured content (read_text_file)", call(fs, "read_text_file", map[string]any{"path": filepath.Join(files, "config.env")}),
			[]string{`"text":"OPENAI_API_KEY=[REDACTED]`, `"structuredContent":{"content":"OPENAI_API_KEY=[REDACTED]`}},
		{"several files (read_multiple_files)", call(fs, "read_multiple_files", map[string]any{"paths": []string{filepath.Join(files, "config.env")}}),
			[]string{`OPENAI_API_KEY=[REDACTED]`, `"structuredContent"`}},
		{"nested structured content", call(secrets, "structured", map[string]any{}),
			[]string{`{\"key\":\"[REDACTED]\"}`, `"value":"[REDACTED]"`, `"note":"rotate [REDACTED] soon"`}},
		{"embedded resource", call(secrets, "embedded", map[string]any{}), []string{`"text":"key=[REDACTED]"`, `"uri":"secret://embedded"`}},
		{"resources/read", request(secrets, "resources/read", `{"uri":"secret://key"}`), []string{`"text":"the key is [REDACTED]"`}},
		{"prompts/get", request(secrets, "prompts/get", `{"name":"leaky"}`), []string{`"text":"use [REDACTED]"`, `"text":"[REDACTED]"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.do()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(res), secret) || strings.Contains(string(res), "0123456789abcdefghij") {
				t.Errorf("the secret came through: %s", res)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(res), w) {
					t.Errorf("%s\nlacks %s", res, w)
				}
			}
		})
	}
}
