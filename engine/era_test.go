package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// TestModernTwin: a dual-era server's own process stays legacy; a modern
// client's first request starts its twin, probed with server/discover;
// both serve at once and stay of their era.
func TestModernTwin(t *testing.T) {
	r, c := startOne(t, "normal", "", nil)
	m, err := r.ModernClient(ctx(t), "ts")
	if err != nil {
		t.Fatal(err)
	}
	if m == c || !m.IsModern() || c.IsModern() {
		t.Fatalf("twin %p modern %v, own client %p modern %v", m, m.IsModern(), c, c.IsModern())
	}
	if again, err := r.ModernClient(ctx(t), "ts"); err != nil || again != m {
		t.Errorf("second ModernClient: %p, %v", again, err)
	}
	if got := call(t, m, "echo", map[string]any{"text": "modern"}); got != "modern" {
		t.Errorf("echo on the twin: %q", got)
	}
	if got := call(t, c, "echo", map[string]any{"text": "legacy"}); got != "legacy" {
		t.Errorf("echo on the legacy process: %q", got)
	}
	if ir := c.InitializeResult(); ir.ProtocolVersion != engine.LatestProtocolVersion {
		t.Errorf("legacy process negotiated %q", ir.ProtocolVersion)
	}
	if ir := m.InitializeResult(); ir.ProtocolVersion != engine.ModernProtocolVersion || ir.Capabilities.Tools == nil {
		t.Errorf("twin's discover-made handshake %+v", ir)
	}
	if pm, pc := call(t, m, "pid", nil), call(t, c, "pid", nil); pm == pc {
		t.Errorf("twin and process share pid %s", pm)
	}
	// A modern caller's own _meta goes as it is: the result keeps its
	// modern shape.
	raw, err := m.CallDirect(ctx(t), "tools/call", json.RawMessage(`{"name":"echo","arguments":{"text":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`))
	if err != nil || !strings.Contains(string(raw), `"resultType":"complete"`) {
		t.Errorf("pass-through call: %s, %v", raw, err)
	}
	if err := r.StopServer(ctx(t), "ts"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CallTool(ctx(t), "echo", map[string]any{"text": "x"}); !errors.Is(err, engine.ErrNotRunning) {
		t.Errorf("twin after StopServer: %v", err)
	}
}

// TestLegacyOnly: a server that answers server/discover with an error is
// legacy-only, remembered; its own process is untouched.
func TestLegacyOnly(t *testing.T) {
	entry := testenv.NPMServer(t, "server-everything")
	r := newRunner(t, map[string]string{"everything": fmt.Sprintf(`{"command": "node", "args": [%q, "stdio"]}`, entry)}, nil)
	if err := r.StartAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err := r.ModernClient(ctx(t), "everything")
	if !errors.Is(err, engine.ErrLegacyOnly) {
		t.Fatalf("ModernClient: %v, want ErrLegacyOnly", err)
	}
	if _, again := r.ModernClient(ctx(t), "everything"); !errors.Is(again, engine.ErrLegacyOnly) {
		t.Errorf("second ModernClient: %v", again)
	}
	c, _ := r.Client("everything")
	if res, err := c.CallTool(ctx(t), "echo", map[string]any{"message": "still"}); err != nil || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "still") {
		t.Errorf("the legacy process after the probe: %v", err)
	}
}

// TestModernChild: with "protocol": "modern" the one process is modern,
// and the Go API works on it unchanged: input_required results are
// fulfilled with OnRequest and the request sent again.
func TestModernChild(t *testing.T) {
	fixture := testenv.EverythingServer(t)
	var asked []string
	r := newRunner(t, map[string]string{"conf": fmt.Sprintf(`{"command": %q, "protocol": "modern"}`, fixture)},
		&engine.Options{OnRequest: func(_ context.Context, _, method string, params json.RawMessage) (any, error) {
			asked = append(asked, method)
			if method == "elicitation/create" {
				return map[string]any{"action": "accept", "content": map[string]any{"name": "Ada"}}, nil
			}
			return nil, &engine.RPCError{Code: -32601, Message: "no"}
		}})
	if err := r.StartAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("conf")
	if !c.IsModern() {
		t.Fatal("the process is not modern")
	}
	if m, err := r.ModernClient(ctx(t), "conf"); err != nil || m != c {
		t.Errorf("ModernClient of a modern server: %p %v", m, err)
	}
	res, err := c.CallTool(ctx(t), "test_input_required_result_elicitation", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Content[0].(*mcp.TextContent).Text; got != "Hello, Ada!" || len(asked) != 1 {
		t.Errorf("result %q after asking %v", got, asked)
	}
	tools, err := c.ListTools(ctx(t))
	if err != nil || len(tools) < 10 {
		t.Errorf("ListTools: %d, %v", len(tools), err)
	}
	if err := c.Ping(ctx(t)); err != nil {
		t.Errorf("Ping on a modern session: %v", err)
	}
}
