package gateway_test

import (
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
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
