package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectTargets(t *testing.T) {
	all := catalog()
	tests := []struct {
		list    string
		want    []string
		wantErr string
	}{
		{"direct,mcpscript-http", []string{"direct", "mcpscript-http"}, ""},
		{"mcpscript-http,direct", []string{"direct", "mcpscript-http"}, ""}, // catalog order
		{"tbxark-*", []string{"tbxark-http", "tbxark-sse"}, ""},
		{"peers", []string{"direct", "supergateway-http", "supergateway-sse", "mcp-proxy-http", "mcp-proxy-sse", "tbxark-http", "tbxark-sse"}, ""},
		{"mcpscript,direct", []string{"direct", "mcpscript-http", "mcpscript-http-agg", "mcpscript-sse", "mcpscript-sse-agg", "mcpscript-js", "mcpscript-wasm"}, ""},
		{"supergatway-http", nil, `no target "supergatway-http"`},
		{"[", nil, "bad pattern"},
		{",", nil, "selects nothing"},
	}
	for _, tt := range tests {
		got, err := selectTargets(all, tt.list)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("selectTargets(%q) err = %v, want %q", tt.list, err, tt.wantErr)
			}
			continue
		}
		var names []string
		for _, tg := range got {
			names = append(names, tg.name)
		}
		if err != nil || !slices.Equal(names, tt.want) {
			t.Errorf("selectTargets(%q) = %v, %v; want %v", tt.list, names, err, tt.want)
		}
	}
	if got, _ := selectTargets(all, "all"); len(got) != len(all) {
		t.Errorf("all selects %d of %d", len(got), len(all))
	}
}

// TestCatalogIsComplete: every target can say whether it runs, names a tool
// and a unique name, and only direct stdio runs without a proxy.
func TestCatalogIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, tg := range catalog() {
		if seen[tg.name] || tg.label == "" || tg.tool == "" || tg.missing == nil {
			t.Errorf("target %+v: duplicate or incomplete", tg.name)
		}
		seen[tg.name] = true
		if (tg.start == nil) != (tg.kind == kindStdio) {
			t.Errorf("target %s: only direct stdio runs without a proxy", tg.name)
		}
		if tg.kind != kindStdio && !strings.HasPrefix(tg.path, "/") {
			t.Errorf("target %s: path %q", tg.name, tg.path)
		}
	}
}

// TestMissingSaysWhatToDo: a target that cannot run names what is missing.
func TestMissingSaysWhatToDo(t *testing.T) {
	env := &benchEnv{mcpscript: "/nonexistent/mcpscript", benchDir: t.TempDir(), node: "node"}
	want := map[string]string{
		"direct":         "go build -o bin/mcpscript",
		"mcpscript-wasm": "go build -o bin/mcpscript",
		"tbxark-sse":     "TBXARK=",
	}
	for _, tg := range catalog() {
		if w, ok := want[tg.name]; ok {
			if got := tg.missing(env); !strings.Contains(got, w) {
				t.Errorf("%s: missing = %q, want it to mention %q", tg.name, got, w)
			}
		}
	}
}
