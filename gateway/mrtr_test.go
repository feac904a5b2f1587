package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// TestRequestState: the gateway's requestState binds its call, round,
// caller, endpoint and request, and expires; anything else is refused as
// invalid params.
func TestRequestState(t *testing.T) {
	var p pendingCalls
	p.init(nil)
	s := &Session{id: engine.Identity{Token: "alice"}, view: "fs"}
	c := &modernCall{s: s, method: "tools/call", name: "write", done: make(chan struct{})}
	c.id = p.add(c)
	c.round = 1
	good := p.sign(c)
	if !strings.HasPrefix(good, statePrefix) {
		t.Fatalf("state %q", good)
	}
	if got, err := p.verify(good, "alice", "fs", "tools/call", "write"); err != nil || got != c {
		t.Fatalf("a good state: %v", err)
	}
	forge := func(mut func(*statePayload)) string {
		body, _, _ := strings.Cut(strings.TrimPrefix(good, statePrefix), ".")
		raw, _ := base64.RawURLEncoding.DecodeString(body)
		var st statePayload
		_ = json.Unmarshal(raw, &st)
		mut(&st)
		b, _ := json.Marshal(st)
		nb := base64.RawURLEncoding.EncodeToString(b)
		return statePrefix + nb + "." + base64.RawURLEncoding.EncodeToString(p.mac(nb))
	}
	other := pendingCalls{}
	other.init(nil)
	cases := []struct {
		name, state, caller, view, method, tool, why string
	}{
		{"tampered", good + "-TAMPERED", "alice", "fs", "tools/call", "write", "tampered"},
		{"another gateway's key", statePrefix + strings.SplitN(strings.TrimPrefix(good, statePrefix), ".", 2)[0] + "." + base64.RawURLEncoding.EncodeToString(other.mac("x")), "alice", "fs", "tools/call", "write", "tampered"},
		{"another caller", good, "mallory", "fs", "tools/call", "write", "another caller"},
		{"another endpoint", good, "alice", "db", "tools/call", "write", "another caller"},
		{"another tool", good, "alice", "fs", "tools/call", "delete", "another request"},
		{"expired", forge(func(st *statePayload) { st.Expires = time.Now().Add(-time.Second).UnixMilli() }), "alice", "fs", "tools/call", "write", "expired"},
		{"stale round", forge(func(st *statePayload) { st.Round = 0 }), "alice", "fs", "tools/call", "write", "stale"},
		{"ended call", forge(func(st *statePayload) { st.ID = "gone" }), "alice", "fs", "tools/call", "write", "ended"},
	}
	for _, tc := range cases {
		_, err := p.verify(tc.state, tc.caller, tc.view, tc.method, tc.tool)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeInvalidParams || !strings.Contains(we.Message, tc.why) {
			t.Errorf("%s: %v, want invalid params saying %q", tc.name, err, tc.why)
		}
	}
}
