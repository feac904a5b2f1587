package gateway_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// TestCallerClientInfo: a session's identity, which its requests carry,
// has the client's name and version once they are recorded.
func TestCallerClientInfo(t *testing.T) {
	r := testenv.NewRunner(t, map[string]string{"a": testenv.ServerJSON(t, "normal", "")}, nil)
	gw := gateway.New(r, nil)
	t.Cleanup(gw.Close)
	id := engine.Identity{Auth: engine.AuthJWT, Subject: "alice", Scopes: []string{"mcp"}, Transport: "streamable-http", Session: "s1"}
	s, err := gw.Open("", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := s.Identity(); c.Subject != "alice" || c.ClientName != "" {
		t.Errorf("before initialize: %+v", c)
	}
	s.SetClientInfo("claude-code", "2.1.0")
	if c := s.Identity(); c.Subject != "alice" || c.Auth != engine.AuthJWT || c.ClientName != "claude-code" || c.ClientVersion != "2.1.0" {
		t.Errorf("after: %+v", c)
	}
}

// TestClientInfoFromTheClient: the clientInfo of a legacy session's
// initialize, and of a modern request's _meta, reach the requests' callers.
func TestClientInfoFromTheClient(t *testing.T) {
	var mu sync.Mutex
	var seen []engine.Identity
	record := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			mu.Lock()
			seen = append(seen, req.Caller)
			mu.Unlock()
			return next(ctx, req)
		}
	}
	r := testenv.NewRunner(t, map[string]string{"a": testenv.ServerJSON(t, "normal", "")}, &engine.Options{Middleware: []engine.Middleware{record}})
	g := gateway.New(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	p := openPeer(t, g, "", engine.Identity{Transport: "go"})
	p.result("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "claude-code", "version": "2.1.0"}})
	p.call("a__echo", map[string]any{"text": "hi"})

	msg, werr := wire.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"hi"},
	  "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},
	  "io.modelcontextprotocol/clientInfo":{"name":"cursor","version":"3.0"}}}}`))
	if werr != nil {
		t.Fatal(werr)
	}
	if out := g.ServeModern(testenv.Ctx(t), &gateway.ModernRequest{Caller: engine.Identity{Transport: "streamable-http"}, Message: msg, Send: func(json.RawMessage) {}}); !strings.Contains(string(out), `"hi"`) {
		t.Fatalf("modern call: %s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, id := range seen {
		got = append(got, id.ClientName+" "+id.ClientVersion+" "+id.Protocol)
	}
	if want := []string{"claude-code 2.1.0 2025-11-25", "cursor 3.0 2026-07-28"}; !slices.Equal(got, want) {
		t.Errorf("callers %q, want %q", got, want)
	}
}
