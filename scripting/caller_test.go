package scripting

import (
	"encoding/json"
	"slices"
	"testing"
)

// Callers that differ in any one field have different keys, so that a
// runtime never hands one caller another's cached caller object.
func TestCallerKeyDistinguishesEveryField(t *testing.T) {
	base := Caller{Token: "t", Session: "s", Transport: "sse", Auth: "jwt", Subject: "alice", ClientID: "app",
		Scopes: []string{"a", "b"}, Claims: json.RawMessage(`{"sub":"alice"}`), Client: ClientInfo{Name: "n", Version: "1"}, Protocol: "2025-11-25"}
	variants := []func(*Caller){
		func(c *Caller) { c.Token = "u" },
		func(c *Caller) { c.Session = "s2" },
		func(c *Caller) { c.Transport = "streamable-http" },
		func(c *Caller) { c.Auth = "bearer" },
		func(c *Caller) { c.Subject = "bob" },
		func(c *Caller) { c.ClientID = "other" },
		func(c *Caller) { c.Scopes = []string{"a"} },
		func(c *Caller) { c.Scopes = []string{"ab"} },
		func(c *Caller) { c.Scopes = []string{"a", "b", ""} },
		func(c *Caller) { c.Claims = json.RawMessage(`{"sub":"bob"}`) },
		func(c *Caller) { c.Client.Name = "m" },
		func(c *Caller) { c.Client.Version = "2" },
		func(c *Caller) { c.Protocol = "2026-07-28" },
		func(c *Caller) { c.Token, c.Session = "ts", "" }, // a field's bytes moved to its neighbour
	}
	seen := map[string]int{string(base.appendKey(nil)): -1}
	for i, change := range variants {
		c := base
		c.Scopes = slices.Clone(base.Scopes)
		change(&c)
		k := string(c.appendKey(nil))
		if j, dup := seen[k]; dup {
			t.Errorf("variant %d has the key of %d", i, j)
		}
		seen[k] = i
	}
	if string(base.appendKey(nil)) != string((&Caller{Token: "t", Session: "s", Transport: "sse", Auth: "jwt", Subject: "alice", ClientID: "app",
		Scopes: []string{"a", "b"}, Claims: json.RawMessage(`{"sub":"alice"}`), Client: ClientInfo{Name: "n", Version: "1"}, Protocol: "2025-11-25"}).appendKey(nil)) {
		t.Error("equal callers have different keys")
	}
}
