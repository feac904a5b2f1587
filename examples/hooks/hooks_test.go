// The example hooks, loaded from the example config, in front of the real
// server-filesystem from npm (installed by scripts/npm-fixtures.sh).
package hooks_test

import (
	"context"
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
