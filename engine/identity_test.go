package engine_test

import (
	"testing"

	"github.com/mcpscript/mcpscript/engine"
)

// Principal tells callers apart: what belongs to one (a session, a pending
// request) must never be reachable by another.
func TestPrincipal(t *testing.T) {
	alice := engine.Identity{Auth: engine.AuthJWT, Subject: "alice", ClientID: "app"}
	cases := []struct {
		name string
		a, b engine.Identity
		same bool
	}{
		{"two JWT users", alice, engine.Identity{Auth: engine.AuthJWT, Subject: "bob", ClientID: "app"}, false},
		{"one user, two OAuth clients", alice, engine.Identity{Auth: engine.AuthJWT, Subject: "alice", ClientID: "other"}, false},
		{"one user, a refreshed token", alice, engine.Identity{Auth: engine.AuthJWT, Subject: "alice", ClientID: "app", Scopes: []string{"mcp"}}, true},
		{"a JWT and a token named like its subject", alice, engine.Identity{Auth: engine.AuthBearer, Token: "alice"}, false},
		{"two static tokens", engine.Identity{Auth: engine.AuthBearer, Token: "ci"}, engine.Identity{Auth: engine.AuthBearer, Token: "ops"}, false},
		{"one static token, two sessions", engine.Identity{Auth: engine.AuthBearer, Token: "ci", Session: "1"}, engine.Identity{Auth: engine.AuthBearer, Token: "ci", Session: "2"}, true},
	}
	for _, tc := range cases {
		if got := tc.a.Principal() == tc.b.Principal(); got != tc.same {
			t.Errorf("%s: same principal = %v, want %v", tc.name, got, tc.same)
		}
	}
}
