package gateway

import (
	"encoding/json"
	"slices"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// table is the servers the gateway exposes. It is never modified: a
// reload (Runner.Reconfigure) builds the next one and swaps it in.
type table struct {
	names   []string             // the servers the gateway exposes, sorted
	servers map[string]*upstream // by name, for each of names
	prefix  map[string]string    // namespace prefix of every configured server
	// perSession says whether any server has a child per session (else a
	// request has no private child to acquire).
	perSession bool
}

// scope is what a session may use, in one table: a reload gives each
// session a new scope, and a request keeps the one it started with, so
// that everything it looks up agrees.
type scope struct {
	tab     *table
	servers []string        // the servers the session may use, sorted
	may     map[string]bool // the same as a set
	reach   []string        // what the caller may use at all (hooks may route there): the allowed servers within the token's limit
}

func (g *Gateway) table() *table { return g.tab.Load() }

// upstream returns the shared upstream of a server the gateway exposes
// now, or nil.
func (g *Gateway) upstream(name string) *upstream { return g.table().servers[name] }

// buildTable makes the table for the runner's servers now. Upstreams of
// servers that are not in changed are taken from prev (when it has them),
// with their caches and notification handlers; the others are new, and
// their handlers installed.
func (g *Gateway) buildTable(prev *table, changed func(string) bool) *table {
	all := g.r.Servers()
	t := &table{servers: map[string]*upstream{}}
	var keep map[string]string
	if prev != nil {
		keep = prev.prefix
	}
	t.prefix = serverPrefixesKeeping(all, keep)
	for _, name := range all {
		if g.allowed != nil && !slices.Contains(g.allowed, name) {
			continue
		}
		c, err := g.r.Client(name)
		if err != nil {
			continue // removed meanwhile; the next reload's table follows
		}
		sc := g.r.Config().Servers[name]
		if sc == nil {
			continue
		}
		t.names = append(t.names, name)
		if old := prev.lookup(name); old != nil && old.client == c && !changed(name) {
			t.servers[name] = old
			t.perSession = t.perSession || old.perSession
			continue
		}
		u := newUpstream(name, c)
		t.servers[name] = u
		if sc.PerSession() {
			u.perSession, u.idle, u.maxSessions = true, sc.SessionIdleTimeout.Duration, sc.MaxSessions
			t.perSession = true
			continue
		}
		u.removeHandler = c.OnNotification("", func(_, method string, params json.RawMessage) {
			g.onNotification(u, nil, method, params)
		})
	}
	return t
}

func (t *table) lookup(name string) *upstream {
	if t == nil {
		return nil
	}
	return t.servers[name]
}

// scopeFor returns what a session of view and id may use in t; a view
// that t does not have (or id may not use) is an error.
func (t *table) scopeFor(view string, id engine.Identity) (*scope, error) {
	var servers []string
	for _, name := range t.names {
		if id.Servers == nil || slices.Contains(id.Servers, name) {
			servers = append(servers, name)
		}
	}
	reach := servers
	if view != "" {
		if !slices.Contains(servers, view) {
			return nil, wrapNotFound(unavailable(view, servers))
		}
		servers = []string{view}
	}
	sc := &scope{tab: t, servers: servers, may: make(map[string]bool, len(servers)), reach: reach}
	for _, name := range servers {
		sc.may[name] = true
	}
	return sc, nil
}

// reconfigured follows a Runner.Reconfigure: the next table replaces the
// current one, every session gets its scope in it, sessions of a server
// view whose server went away are closed, and the sessions whose lists
// may have changed are told so. Upstreams of servers that changed or went
// away stop routing their notifications here.
func (g *Gateway) reconfigured(ch engine.Changes) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	prev := g.table()
	next := g.buildTable(prev, ch.Affected)
	g.tab.Store(next)
	for name, u := range prev.servers {
		if next.servers[name] != u && u.removeHandler != nil {
			u.removeHandler()
		}
	}
	g.twinsMu.Lock()
	for name := range g.twins {
		if ch.Affected(name) {
			delete(g.twins, name)
		}
	}
	g.twinsMu.Unlock()
	// Subscriptions stay: a changed server's new process gets them when it
	// is up (serverUp), and a removed one's come back if it does.

	var gone []*Session
	touchedSessions := map[*Session]bool{}
	for _, s := range g.snapshot() {
		old := s.scope()
		sc, err := next.scopeFor(s.view, s.Identity())
		if err != nil {
			gone = append(gone, s)
			continue
		}
		s.sc.Store(sc)
		touched := !slices.Equal(old.servers, sc.servers)
		for _, name := range sc.servers {
			touched = touched || ch.Affected(name)
		}
		touchedSessions[s] = touched
		if s.modern != nil {
			continue // a modern request's session: its listen hears below
		}
		s.closePrivateOf(func(name string) bool { return ch.Affected(name) })
		s.mu.Lock()
		listed := s.listed
		s.mu.Unlock()
		if touched && listed {
			for _, method := range []string{"notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed"} {
				s.send(wire.Notification(method, nil), nil)
			}
		}
	}
	g.mu.Lock()
	var ls []*listener
	for l := range g.listeners {
		if touchedSessions[l.s] {
			ls = append(ls, l)
		}
	}
	g.mu.Unlock()
	for _, l := range ls {
		for _, k := range []struct {
			on     bool
			method string
		}{{l.tools, "notifications/tools/list_changed"}, {l.prompts, "notifications/prompts/list_changed"}, {l.res, "notifications/resources/list_changed"}} {
			if k.on {
				l.deliver(k.method, nil)
			}
		}
	}
	for _, s := range gone {
		g.logger.Info("gateway: closing a session of a server that is no longer served", "server", s.view)
		s.Close()
	}
}
