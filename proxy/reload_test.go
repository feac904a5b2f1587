package proxy

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// reloadConfig is a config of the named servers (each the test server,
// args telling changed ones apart) behind a tokenless proxy on port 0.
func reloadConfig(t *testing.T, servers map[string]string) *config.Config {
	t.Helper()
	var parts []string
	for name, args := range servers {
		parts = append(parts, fmt.Sprintf(`%q: {%s, "args": [%q], "restart": {"policy": "on-failure", "backoff": "10ms"}}`,
			name, testserver.ConfigJSON(testserver.ModeNormal, nil), args))
	}
	src := `{"mcpServers": {` + strings.Join(parts, ",") + `}, "sseProxy": {"port": 0}}`
	cfg, err := config.Parse([]byte(src), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReloadThroughProxy reconfigures a serving proxy: a server is
// removed, one added, one changed and one left alone. Sessions of the
// aggregate hear list_changed and see the new tools; a session of the
// unchanged server goes on without noticing; a session of the removed
// server is closed and its route answers 404; the added server's route
// serves at once.
func TestReloadThroughProxy(t *testing.T) {
	e := startProxy(t, reloadConfig(t, map[string]string{"keep": "v1", "change": "v1", "drop": "v1"}))
	ctx := testCtx(t)

	var changed atomic.Int32
	agg := mcp.NewClient(&mcp.Implementation{Name: "reload-test", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed.Add(1) },
	})
	aggSession, err := agg.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: e.base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer aggSession.Close()
	toolNames := func() []string {
		res, err := aggSession.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tl := range res.Tools {
			if strings.HasSuffix(tl.Name, "__echo") {
				out = append(out, strings.TrimSuffix(tl.Name, "__echo"))
			}
		}
		slices.Sort(out)
		return out
	}
	if got := toolNames(); !slices.Equal(got, []string{"change", "drop", "keep"}) {
		t.Fatalf("echo tools before the reload: %v", got)
	}
	keep := connect(t, e.base+"/servers/keep/mcp", "")
	drop := connect(t, e.base+"/servers/drop/mcp", "")
	if got := keep.call(t, "echo", map[string]any{"text": "before"}, nil); got != "before" {
		t.Fatalf("keep before: %q", got)
	}

	ch, err := e.r.Reconfigure(ctx, reloadConfig(t, map[string]string{"keep": "v1", "change": "v2", "add": "v1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Added, []string{"add"}) || !slices.Equal(ch.Removed, []string{"drop"}) || !slices.Equal(ch.Changed, []string{"change"}) {
		t.Fatalf("changes: %+v", ch)
	}

	testenv.WaitFor(t, func() bool { return changed.Load() > 0 }, "tools/list_changed on the aggregate session")
	if got := toolNames(); !slices.Equal(got, []string{"add", "change", "keep"}) {
		t.Errorf("echo tools after the reload: %v", got)
	}
	for _, name := range []string{"add__echo", "change__echo", "keep__echo"} {
		res, err := aggSession.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{"text": name}})
		if err != nil || res.IsError {
			t.Errorf("%s after the reload: %v %+v", name, err, res)
		}
	}
	if res, err := aggSession.CallTool(ctx, &mcp.CallToolParams{Name: "drop__echo", Arguments: map[string]any{"text": "x"}}); err == nil && !res.IsError {
		t.Error("the removed server's tool still answers in the aggregate")
	}
	// The unchanged server's session did not notice.
	if got := keep.call(t, "echo", map[string]any{"text": "after"}, nil); got != "after" {
		t.Errorf("keep after: %q", got)
	}
	// The removed server's session is gone, and so is its route.
	if _, err := drop.cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}); err == nil {
		t.Error("a session of the removed server still answers")
	}
	if resp, body := e.do("POST", "/servers/drop/mcp", "", map[string]string{"Accept": "application/json, text/event-stream"},
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the removed server's route: %d %s", resp.StatusCode, body)
	}
	added := connect(t, e.base+"/servers/add/mcp", "")
	if got := added.call(t, "echo", map[string]any{"text": "new"}, nil); got != "new" {
		t.Errorf("the added server: %q", got)
	}
	if st, _ := e.r.Status("drop"); st.State != "" {
		t.Errorf("the removed server still has a status: %+v", st)
	}
	var apiNames []string
	for _, st := range e.r.Statuses() {
		apiNames = append(apiNames, st.Name)
	}
	if !slices.Equal(apiNames, []string{"add", "change", "keep"}) {
		t.Errorf("statuses: %v", apiNames)
	}
}
