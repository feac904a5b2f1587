package proxy

import (
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
)

// stubSession is a session for the session table alone.
type stubSession struct{ id, token string }

func (s stubSession) sessionID() string { return s.id }
func (s stubSession) tokenName() string { return s.token }
func (s stubSession) close(string)      {}

// FuzzSessionHeaders feeds arbitrary values of the headers the transports
// read (Mcp-Session-Id with the token name it comes with, Last-Event-ID,
// Accept, Authorization) to the code that reads them: nothing panics, a
// session is found only by its own id and token, an event id that parses
// is one this proxy writes (and parses back the same), and a bearer token
// is never empty nor padded.
func FuzzSessionHeaders(f *testing.F) {
	const sid, owner = "0123456789abcdef0123456789abcdef", "default"
	f.Add(sid, owner, "3-17", "application/json, text/event-stream", "Bearer secret")
	f.Add(sid, "ci", "0-0", "text/event-stream;q=0, */*", "bearer  x ")
	f.Add(sid+" ", owner, "-1-5", "", "Basic YTpi")
	f.Add("", "", "99999999999999999999-1", "application/*;q=0.0", "Bearer")
	f.Add(strings.ToUpper(sid), owner, "1--1", "TEXT/EVENT-STREAM", "Bearer\ttab")
	f.Add("x\x00y", "default\x00", "1-2-3", ";;;,,,", "\xff\xfe")
	f.Fuzz(func(t *testing.T, id, token, lastEventID, accept, authorization string) {
		table := newSessionTable[stubSession](newSessionLimits(4, 8))
		place, err := table.reserve(engineIdentity(owner))
		if err != nil {
			t.Fatal(err)
		}
		if err := table.add(stubSession{sid, owner}, place); err != nil {
			t.Fatal(err)
		}
		_, found := table.lookup(id, token)
		if found != (id == sid && token == owner) {
			t.Fatalf("lookup(%q, %q) = %v", id, token, found)
		}

		if stream, seq, ok := parseEventID(lastEventID); ok {
			st := &eventStream{id: stream}
			again, seq2, ok2 := parseEventID(st.eventID(seq))
			if !ok2 || again != stream || seq2 != seq || stream < 0 || seq < 0 {
				t.Fatalf("event id %q: (%d, %d) does not round-trip", lastEventID, stream, seq)
			}
		}

		a := parseAccept(accept)
		if strings.TrimSpace(accept) == "" && (!a.json || a.sse) {
			t.Fatalf("no Accept: %+v, want JSON only", a)
		}

		if tok, ok := bearerToken(authorization); ok && (tok == "" || tok != strings.TrimSpace(tok)) {
			t.Fatalf("bearerToken(%q) = %q", authorization, tok)
		}

		route, server := classifyPath(id)
		if server != "" && !strings.Contains(id, server) {
			t.Fatalf("classifyPath(%q) = %q, %q", id, route, server)
		}
	})
}

// engineIdentity is the identity of a bearer token's name.
func engineIdentity(token string) engine.Identity { return engine.Identity{Token: token} }
