package config

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The configs other MCP clients write load as they are: each test is a
// file as its client documents it.
func TestClientFormats(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{
			"HOME": "/home/me", "API_TOKEN": "tok", "MCP_INPUT_GITHUB_PAT": "ghp_x", "DOCS_KEY": "dk",
		}[name]
		return v, ok
	}
	for _, tc := range []struct {
		name, path, in string
		format, desc   string
		check          func(t *testing.T, c *Config)
	}{{
		name: "Claude Code .mcp.json", path: "/w/.mcp.json", format: FormatMCPServers, desc: "Claude Code .mcp.json",
		in: `{"mcpServers": {
  "local": {"type": "stdio", "command": "npx", "args": ["-y", "server-memory"], "env": {"K": "${API_TOKEN:-none}"}},
  "api": {"type": "http", "url": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer ${API_TOKEN}"}},
  "old": {"type": "sse", "url": "https://old.example.com/sse"}}}`,
		check: func(t *testing.T, c *Config) {
			api := c.Servers["api"]
			if !api.Remote() || api.Transport() != TypeHTTP || api.Headers["Authorization"] != "Bearer tok" {
				t.Errorf("api: %+v", api)
			}
			if old := c.Servers["old"]; old.Transport() != TypeSSE || old.URL != "https://old.example.com/sse" {
				t.Errorf("old: %+v", old)
			}
			if l := c.Servers["local"]; l.Remote() || l.Transport() != TypeStdio || l.Env["K"] != "tok" {
				t.Errorf("local: %+v", l)
			}
			if c.Servers["api"].StopTimeout.Duration != 0 {
				t.Errorf("a remote server got a stopTimeout")
			}
		},
	}, {
		name: "Claude Desktop", path: "/h/Library/Application Support/Claude/claude_desktop_config.json", format: FormatMCPServers,
		desc: "Claude Desktop",
		in:   `{"mcpServers": {"fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]}}, "globalShortcut": "Ctrl+Space"}`,
		check: func(t *testing.T, c *Config) {
			if c.Servers["fs"].Command != "npx" {
				t.Errorf("fs: %+v", c.Servers["fs"])
			}
		},
	}, {
		name: "Cursor", path: "/w/.cursor/mcp.json", format: FormatMCPServers, desc: "Cursor .cursor/mcp.json",
		in: `{"mcpServers": {
  "docs": {"url": "https://docs.example.com/mcp", "headers": {"X-Key": "${env:DOCS_KEY}"}},
  "tool": {"command": "${workspaceFolder}/bin/tool", "args": ["--home", "${userHome}"]}}}`,
		check: func(t *testing.T, c *Config) {
			if d := c.Servers["docs"]; d.Transport() != "" || d.Headers["X-Key"] != "dk" {
				t.Errorf("docs: %+v (transport %q)", d, d.Transport())
			}
			if tl := c.Servers["tool"]; tl.Command != "/w/bin/tool" || tl.Args[1] != "/home/me" {
				t.Errorf("tool: %+v", tl)
			}
		},
	}, {
		name: "VS Code mcp.json", path: "/w/.vscode/mcp.json", format: FormatVSCode, desc: "VS Code mcp.json",
		in: `{
  "inputs": [
    {"type": "promptString", "id": "github_pat", "description": "GitHub Personal Access Token", "password": true},
    {"type": "pickString", "id": "region", "description": "Region", "options": ["eu", "us"], "default": "eu"}
  ],
  "servers": {
    "github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${input:github_pat}"}},
    "fetch": {"type": "stdio", "command": "uvx", "args": ["mcp-server-fetch", "--region", "${input:region}"],
              "env": {"ROOT": "${workspaceFolder}", "T": "${env:API_TOKEN}"}, "envFile": "${workspaceFolder}/.env", "dev": {"watch": "src/**/*.py"}},
    "stream": {"type": "streamableHttp", "url": "http://127.0.0.1:9000/mcp"}
  }
}`,
		check: func(t *testing.T, c *Config) {
			if h := c.Servers["github"].Headers["Authorization"]; h != "Bearer ghp_x" {
				t.Errorf("github header %q", h)
			}
			f := c.Servers["fetch"]
			if f.Args[2] != "eu" || f.Env["ROOT"] != "/w" || f.Env["T"] != "tok" || f.ResolvedEnvFile(c.Dir) != "/w/.env" {
				t.Errorf("fetch: %+v", f)
			}
			if c.Servers["stream"].Type != TypeHTTP {
				t.Errorf("streamableHttp read as %q", c.Servers["stream"].Type)
			}
			if len(c.Inputs) != 2 || c.Inputs[0].ID != "github_pat" || !c.Inputs[0].Password || c.Inputs[1].Default != "eu" {
				t.Errorf("inputs: %+v", c.Inputs)
			}
			if got := c.Vars("servers.github.headers.Authorization"); !reflect.DeepEqual(got, []string{"MCP_INPUT_GITHUB_PAT"}) {
				t.Errorf("Vars = %v", got)
			}
			if p := c.ServerPath("github", "url"); p != "servers.github.url" {
				t.Errorf("ServerPath = %q", p)
			}
			if line, _ := c.Position(c.ServerPath("github", "url")); line != 7 {
				t.Errorf("line of servers.github.url = %d", line)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseWithOptions([]byte(tc.in), tc.path, Options{LookupEnv: env, Dir: filepath.Dir(tc.path)})
			if err != nil {
				t.Fatal(err)
			}
			if c.Format != tc.format || c.FormatName() != tc.desc {
				t.Errorf("format %q (%s), want %q (%s)", c.Format, c.FormatName(), tc.format, tc.desc)
			}
			tc.check(t, c)
			// It writes itself back in its own format.
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			key := `"mcpServers":`
			if tc.format == FormatVSCode {
				key = `"servers":`
			}
			if !strings.Contains(string(out), key) || strings.Count(string(out), `ervers":`) != 1 {
				t.Errorf("marshalled as %s", out)
			}
		})
	}
}

func TestToolsVisible(t *testing.T) {
	tools := &Tools{Include: []string{"read_*", "list"}, Exclude: []string{"*_secret"}}
	for name, want := range map[string]bool{
		"read_file": true, "read_secret": false, "list": true, "list_all": false, "write_file": false, "read_": true,
	} {
		if got := tools.Visible(name); got != want {
			t.Errorf("Visible(%q) = %v", name, got)
		}
	}
	if !(*Tools)(nil).Visible("x") || !(&Tools{Exclude: []string{"y"}}).Visible("x") {
		t.Error("without include every tool not excluded is visible")
	}
}

func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "a", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*.*", "a.b.c", true}, {"x", "x", true}, {"x", "xy", false},
		{"**a", "bba", true}, {"a*b*c", "aXbYbZc", true}, {"a*b*c", "aXbYbZ", false}, {"é?", "éé", true},
		{"[a]", "a", false}, {"[a]", "[a]", true},
	} {
		if got := MatchGlob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("MatchGlob(%q, %q) = %v", tc.pattern, tc.name, got)
		}
	}
}

func TestInputVar(t *testing.T) {
	for id, want := range map[string]string{"api-key": "MCP_INPUT_API_KEY", "github_pat": "MCP_INPUT_GITHUB_PAT", "a.b": "MCP_INPUT_A_B"} {
		if got := InputVar(id); got != want {
			t.Errorf("InputVar(%q) = %q", id, got)
		}
	}
}

func TestToolCurationParses(t *testing.T) {
	pin := "sha256:" + strings.Repeat("ab", 32)
	c := parse(t, `{"mcpServers": {"s": {"command": "x", "tools": {"include": ["read_*"], "exclude": ["read_secret"],
  "override": {"read_file": {"name": "cat", "title": "Cat", "description": "Reads a file.", "pin": "`+pin+`"}}}}}}`)
	want := &Tools{Include: []string{"read_*"}, Exclude: []string{"read_secret"},
		Override: map[string]*ToolOverride{"read_file": {Name: "cat", Title: "Cat", Description: "Reads a file.", Pin: pin}}}
	if got := c.Servers["s"].Tools; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}
