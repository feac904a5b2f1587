package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/suggest"
)

// listKind is one of the lists a server offers.
type listKind int

const (
	kindTools listKind = iota
	kindPrompts
	kindResources
	kindTemplates
	numKinds
)

var kindInfo = [numKinds]struct {
	method, field, key, noun string
	namespaced               bool
}{
	{"tools/list", "tools", "name", "tool", true},
	{"prompts/list", "prompts", "name", "prompt", true},
	{"resources/list", "resources", "uri", "resource", false},
	{"resources/templates/list", "resourceTemplates", "uriTemplate", "resource template", false},
}

// capability reports whether a server offers the list, and whether it
// announces changes to it.
func (k listKind) capability(ir *mcp.InitializeResult) (has, listChanged bool) {
	c := ir.Capabilities
	if c == nil {
		return false, false
	}
	switch k {
	case kindTools:
		return c.Tools != nil, c.Tools != nil && c.Tools.ListChanged
	case kindPrompts:
		return c.Prompts != nil, c.Prompts != nil && c.Prompts.ListChanged
	default:
		return c.Resources != nil, c.Resources != nil && c.Resources.ListChanged
	}
}

// listItem is one tool, prompt, resource or template of a server.
type listItem struct {
	key  string          // name, uri or uriTemplate
	raw  json.RawMessage // as the server listed it
	full string          // tools and prompts: the namespaced name
	out  json.RawMessage // tools and prompts: raw with the namespaced name
	re   *regexp.Regexp  // templates: matches the URIs of the template
	dup  bool            // an earlier item had the same key
}

// serverList is a complete list of one server, as fetched once.
type serverList struct {
	items  []listItem
	byKey  map[string]int
	byFull map[string]int
	gen    uint64                // the cache generation it was fetched in
	init   *mcp.InitializeResult // the connection it was fetched on
	at     time.Time
}

// listCache holds a server's latest list of one kind. Invalidation only
// bumps gen, so notification handlers never wait for a fetch.
type listCache struct {
	sem ctxMutex      // held while fetching
	gen atomic.Uint64 // bumped by list_changed and restarts

	mu  sync.Mutex
	cur *serverList
}

func (lc *listCache) invalidate() { lc.gen.Add(1) }

func (lc *listCache) fresh(l *serverList, ir *mcp.InitializeResult, listChanged bool, maxAge time.Duration) bool {
	if l == nil || l.gen != lc.gen.Load() || l.init != ir {
		return false
	}
	age := time.Since(l.at)
	return (listChanged || age < listTTL) && (maxAge == 0 || age < maxAge)
}

// list returns a server's complete list of one kind, from the cache when it
// is fresh (and, with maxAge > 0, younger than maxAge). It returns nil and
// no error when the server does not offer that kind.
func (g *Gateway) list(ctx context.Context, name string, kind listKind, maxAge time.Duration) (*serverList, error) {
	srv := g.srv(ctx, name)
	ir, err := g.initResult(ctx, name)
	if err != nil {
		return nil, err
	}
	has, listChanged := kind.capability(ir)
	if !has {
		return nil, nil
	}
	lc := &srv.lists[kind]
	lc.mu.Lock()
	cur := lc.cur
	lc.mu.Unlock()
	if lc.fresh(cur, ir, listChanged, maxAge) {
		return cur, nil
	}
	if err := lc.sem.lock(ctx); err != nil {
		return nil, err
	}
	defer lc.sem.unlock()
	lc.mu.Lock()
	cur = lc.cur
	lc.mu.Unlock()
	if lc.fresh(cur, ir, listChanged, maxAge) { // fetched while we waited
		return cur, nil
	}
	gen := lc.gen.Load()
	l, err := g.fetch(ctx, srv, kind)
	if err != nil {
		return nil, err
	}
	l.gen, l.init = gen, ir
	lc.mu.Lock()
	lc.cur = l
	lc.mu.Unlock()
	return l, nil
}

// fetch lists every page of one kind from a server.
func (g *Gateway) fetch(ctx context.Context, srv *gwServer, kind listKind) (*serverList, error) {
	info := kindInfo[kind]
	l := &serverList{byKey: map[string]int{}, byFull: map[string]int{}, at: time.Now()}
	cursor := ""
	seen := map[string]bool{}
	for {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		raw, err := srv.client.callRaw(ctx, info.method, params)
		if err != nil {
			return nil, err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("%w: server %q: %s: malformed result: %v", ErrCommunication, srv.name, info.method, err)
		}
		var items []json.RawMessage
		if v := page[info.field]; len(v) > 0 && string(v) != "null" {
			if err := json.Unmarshal(v, &items); err != nil {
				return nil, fmt.Errorf("%w: server %q: %s: malformed %s: %v", ErrCommunication, srv.name, info.method, info.field, err)
			}
		}
		for _, it := range items {
			var obj map[string]json.RawMessage
			var key string
			if json.Unmarshal(it, &obj) != nil || json.Unmarshal(obj[info.key], &key) != nil {
				g.logger.Warn("gateway: skipping a malformed list item", "server", srv.name, "method", info.method, "item", excerpt(it))
				continue
			}
			item := listItem{key: key, raw: it}
			if _, dup := l.byKey[key]; dup {
				item.dup = true
			} else {
				l.byKey[key] = len(l.items)
			}
			if kind == kindTemplates {
				item.re = templateRegexp(key)
			}
			l.items = append(l.items, item)
		}
		var next string
		if v := page["nextCursor"]; len(v) > 0 {
			_ = json.Unmarshal(v, &next)
		}
		if next == "" {
			break
		}
		if seen[next] {
			return nil, fmt.Errorf("%w: server %q: %s returned the cursor %q twice", ErrCommunication, srv.name, info.method, next)
		}
		seen[next] = true
		cursor = next
	}
	if info.namespaced {
		keys := make([]string, 0, len(l.byKey))
		for k := range l.byKey {
			keys = append(keys, k)
		}
		names := namespaceItems(g.prefix[srv.name], keys)
		for i := range l.items {
			it := &l.items[i]
			it.full = names[it.key]
			if it.dup {
				continue
			}
			out, err := editObject(it.raw, map[string]json.RawMessage{"name": jsonString(it.full)})
			if err != nil {
				return nil, fmt.Errorf("%w: server %q: %s: %v", ErrCommunication, srv.name, info.method, err)
			}
			it.out = out
			l.byFull[it.full] = i
		}
	}
	return l, nil
}

type listResult struct {
	server string
	list   *serverList // nil: the server does not offer the kind (or err)
	err    error
}

// lists fetches one kind from several servers at once, in the given order.
func (g *Gateway) lists(ctx context.Context, names []string, kind listKind, maxAge time.Duration) []listResult {
	out := make([]listResult, len(names))
	if len(names) == 1 {
		l, err := g.list(ctx, names[0], kind, maxAge)
		out[0] = listResult{server: names[0], list: l, err: err}
		return out
	}
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			l, err := g.list(ctx, name, kind, maxAge)
			out[i] = listResult{server: name, list: l, err: err}
		})
	}
	wg.Wait()
	return out
}

// aggregateList merges every allowed server's list into one page.
func (s *GatewaySession) aggregateList(ctx context.Context, kind listKind, params json.RawMessage) (json.RawMessage, *wireError) {
	var p struct {
		Cursor string `json:"cursor"`
	}
	_ = json.Unmarshal(params, &p)
	if p.Cursor != "" {
		return nil, newWireError(codeInvalidParams, "invalid cursor %q: the aggregate view lists everything in one page and issues no cursors", p.Cursor)
	}
	info := kindInfo[kind]
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(info.field)
	b.WriteString(`":[`)
	first, ok := true, false
	var firstErr error
	seen := map[string]bool{}
	for _, r := range s.g.lists(ctx, s.servers, kind, 0) {
		if r.err != nil {
			level := slog.LevelWarn
			if errors.Is(r.err, ErrNotRunning) {
				level = slog.LevelDebug
			}
			s.g.logger.Log(ctx, level, "gateway: leaving a server out of an aggregate list", "server", r.server, "method", info.method, "err", r.err)
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		if r.list == nil {
			continue
		}
		items, err := s.hooked(ctx, r.server, kind, params, r.list)
		if err != nil {
			if firstErr == nil || errors.Is(err, ErrDenied) || errors.Is(err, ErrHook) {
				firstErr = err
			}
			s.g.logger.Debug("gateway: hooks left a server out of an aggregate list", "server", r.server, "method", info.method, "err", err)
			continue
		}
		ok = true
		for _, item := range items {
			if !info.namespaced {
				if seen[item.key] {
					continue // another server already offers this URI, and reads go there
				}
				seen[item.key] = true
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.Write(item.raw)
		}
	}
	if !ok && firstErr != nil {
		return nil, toWireError(firstErr)
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// keyedItem is one item of an aggregate list as a session sees it, with its
// key (the server's own name or URI).
type keyedItem struct {
	key string
	raw json.RawMessage
}

// hooked returns one server's items of an aggregate list as this session
// sees them: through the middleware (which sees the server's own names and
// may filter, edit or rename items), then namespaced. Without middleware
// it is the cached list as it is.
func (s *GatewaySession) hooked(ctx context.Context, server string, kind listKind, params json.RawMessage, l *serverList) ([]keyedItem, error) {
	info := kindInfo[kind]
	if !s.g.r.hasMiddleware() {
		out := make([]keyedItem, 0, len(l.items))
		for _, it := range l.items {
			item := it.out
			if !info.namespaced {
				item = it.raw
			}
			if !it.dup && item != nil {
				out = append(out, keyedItem{it.key, item})
			}
		}
		return out, nil
	}
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(info.field)
	b.WriteString(`":[`)
	first := true
	for _, it := range l.items {
		if it.dup {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(it.raw)
	}
	b.WriteString("]}")
	page := b.Bytes()
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	req := &Request{Server: server, Method: info.method, Params: params, Caller: IdentityFrom(ctx)}
	res, err := s.g.r.through(ctx, req, func(context.Context, *Request) (json.RawMessage, error) { return page, nil })
	if err != nil {
		return nil, err
	}
	var p map[string]json.RawMessage
	var items []json.RawMessage
	if json.Unmarshal(res, &p) != nil || json.Unmarshal(p[info.field], &items) != nil {
		return nil, fmt.Errorf("%w: server %q: %s: the hooks returned no %q array", ErrHook, server, info.method, info.field)
	}
	prefix := s.g.prefix[server]
	out := make([]keyedItem, 0, len(items))
	for _, item := range items {
		var key string
		if json.Unmarshal(memberOf(item, info.key), &key) != nil {
			continue
		}
		if !info.namespaced {
			out = append(out, keyedItem{key, item})
			continue
		}
		// A name the server has keeps its namespaced form; a new one (a
		// hook renamed it) gets the prefix, and calls to it come back
		// to the hooks under that name (see resolve).
		full := prefix + nsSeparator + key
		if i, ok := l.byKey[key]; ok && l.items[i].full != "" {
			full = l.items[i].full
		} else if len(full) > maxNameLen {
			s.g.logger.Warn("gateway: a renamed item's aggregate name is too long; leaving it out", "server", server, "name", key, "limit", maxNameLen)
			continue
		}
		edited, err := editObject(item, map[string]json.RawMessage{"name": jsonString(full)})
		if err != nil {
			continue
		}
		out = append(out, keyedItem{key, edited})
	}
	return out, nil
}

// memberOf returns the raw value of key in the JSON object obj, or nil.
func memberOf(obj json.RawMessage, key string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return nil
	}
	return m[key]
}

// resolve finds the server and original name of a namespaced tool or prompt.
func (s *GatewaySession) resolve(ctx context.Context, kind listKind, full string) (server, name string, werr *wireError) {
	noun := kindInfo[kind].noun
	if i := strings.Index(full, nsSeparator); i > 0 {
		for srv, prefix := range s.g.prefix {
			if prefix == full[:i] {
				server = srv
				break
			}
		}
	}
	if server != "" {
		if !s.may[server] { // say nothing of servers this session may not see
			return "", "", newWireError(codeInvalidParams, "unknown %s %q", noun, full)
		}
		for _, maxAge := range []time.Duration{0, time.Second} {
			l, err := s.g.list(ctx, server, kind, maxAge)
			if err != nil {
				return "", "", toWireError(err)
			}
			if l == nil {
				break
			}
			if i, ok := l.byFull[full]; ok {
				return server, l.items[i].key, nil
			}
		}
		if s.g.r.hasMiddleware() {
			// Not a name the server has: a hook may have renamed it in
			// the list, so the hooks get the call under that name.
			return server, full[len(s.g.prefix[server])+len(nsSeparator):], nil
		}
	}
	var known []string
	for _, r := range s.g.lists(ctx, s.servers, kind, 0) {
		if r.list != nil {
			for _, it := range r.list.items {
				if !it.dup {
					known = append(known, it.full)
				}
			}
		}
	}
	msg := fmt.Sprintf("unknown %s %q", noun, full)
	if hint := suggest.Closest(full, known); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	} else if server == "" {
		msg += fmt.Sprintf("; aggregate names are <server>%s<name>, see %s", nsSeparator, kindInfo[kind].method)
	}
	return "", "", &wireError{Code: codeInvalidParams, Message: msg}
}

func (s *GatewaySession) callTool(ctx context.Context, fl *inflight, params json.RawMessage) (json.RawMessage, *wireError) {
	var p struct {
		Name   *string `json:"name"`
		Server *string `json:"server"`
		Tool   *string `json:"tool"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, newWireError(codeInvalidParams, "invalid tools/call params: %v", err)
	}
	if p.Server != nil { // the reference's shape: {server, tool or name, arguments}
		server := *p.Server
		tool := p.Tool
		if tool == nil {
			tool = p.Name
		}
		if tool == nil {
			return nil, newWireError(codeInvalidParams, `invalid tools/call params: with "server", give the tool's name in "tool" (or "name")`)
		}
		if werr := s.checkServer(server); werr != nil {
			return nil, werr
		}
		if werr := s.checkTool(ctx, server, *tool); werr != nil {
			return nil, werr
		}
		np, err := editObject(params, map[string]json.RawMessage{"name": jsonString(*tool)}, "server", "tool")
		if err != nil {
			return nil, newWireError(codeInvalidParams, "invalid tools/call params: %v", err)
		}
		return s.forward(ctx, fl, server, "tools/call", np)
	}
	if p.Name == nil {
		return nil, newWireError(codeInvalidParams, `invalid tools/call params: "name" is missing`)
	}
	server, name, werr := s.resolve(ctx, kindTools, *p.Name)
	if werr != nil {
		return nil, werr
	}
	np, err := editObject(params, map[string]json.RawMessage{"name": jsonString(name)})
	if err != nil {
		return nil, newWireError(codeInvalidParams, "invalid tools/call params: %v", err)
	}
	return s.forward(ctx, fl, server, "tools/call", np)
}

// checkTool refuses a tool the server does not list; when the list cannot
// be had, the server decides.
func (s *GatewaySession) checkTool(ctx context.Context, server, tool string) *wireError {
	if s.g.r.hasMiddleware() {
		return nil // a hook may answer or rename tools the server does not list
	}
	var l *serverList
	for _, maxAge := range []time.Duration{0, time.Second} {
		var err error
		if l, err = s.g.list(ctx, server, kindTools, maxAge); err != nil || l == nil {
			return nil
		}
		if _, ok := l.byKey[tool]; ok {
			return nil
		}
	}
	known := make([]string, 0, len(l.items))
	for _, it := range l.items {
		known = append(known, it.key)
	}
	msg := fmt.Sprintf("unknown tool %q on server %q", tool, server)
	if hint := suggest.Closest(tool, known); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	}
	return &wireError{Code: codeInvalidParams, Message: msg}
}

func (s *GatewaySession) getPrompt(ctx context.Context, fl *inflight, params json.RawMessage) (json.RawMessage, *wireError) {
	var p struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(params, &p); err != nil || p.Name == nil {
		return nil, newWireError(codeInvalidParams, `invalid prompts/get params: "name" is missing`)
	}
	server, name, werr := s.resolve(ctx, kindPrompts, *p.Name)
	if werr != nil {
		return nil, werr
	}
	np, err := editObject(params, map[string]json.RawMessage{"name": jsonString(name)})
	if err != nil {
		return nil, newWireError(codeInvalidParams, "invalid prompts/get params: %v", err)
	}
	return s.forward(ctx, fl, server, "prompts/get", np)
}

func resourceURI(method string, params json.RawMessage) (string, *wireError) {
	var p struct {
		URI string `json:"uri"`
	}
	if err := json.Unmarshal(params, &p); err != nil || p.URI == "" {
		return "", newWireError(codeInvalidParams, `invalid %s params: "uri" is missing`, method)
	}
	return p.URI, nil
}

func (s *GatewaySession) readResource(ctx context.Context, fl *inflight, params json.RawMessage) (json.RawMessage, *wireError) {
	uri, werr := resourceURI("resources/read", params)
	if werr != nil {
		return nil, werr
	}
	server, werr := s.resourceOwner(ctx, uri)
	if werr != nil {
		return nil, werr
	}
	return s.forward(ctx, fl, server, "resources/read", params)
}

// resourceOwner finds the server a URI (or URI template) belongs to: the
// first, in sorted order, that lists it as a resource, then as a template,
// then with a template that matches it; failing that, the only server that
// offers resources at all.
func (s *GatewaySession) resourceOwner(ctx context.Context, uri string) (string, *wireError) {
	var offering []string
	var firstErr error
	for _, maxAge := range []time.Duration{0, time.Second} {
		offering, firstErr = nil, nil
		res := s.g.lists(ctx, s.servers, kindResources, maxAge)
		for _, r := range res {
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
			if r.list == nil {
				continue
			}
			offering = append(offering, r.server)
			if _, ok := r.list.byKey[uri]; ok {
				return r.server, nil
			}
		}
		tmpls := s.g.lists(ctx, offering, kindTemplates, maxAge)
		for _, r := range tmpls {
			if r.list != nil {
				if _, ok := r.list.byKey[uri]; ok {
					return r.server, nil
				}
			}
		}
		for _, r := range tmpls {
			if r.list == nil {
				continue
			}
			for _, it := range r.list.items {
				if it.re != nil && it.re.MatchString(uri) {
					return r.server, nil
				}
			}
		}
	}
	if len(offering) == 1 && firstErr == nil {
		return offering[0], nil
	}
	if len(offering) == 0 && firstErr != nil {
		return "", toWireError(firstErr)
	}
	data, _ := json.Marshal(map[string]string{"uri": uri})
	return "", &wireError{Code: codeResourceNotFound, Message: fmt.Sprintf("resource not found: no server offers %q", uri), Data: data}
}

func (s *GatewaySession) complete(ctx context.Context, fl *inflight, params json.RawMessage) (json.RawMessage, *wireError) {
	var p struct {
		Ref json.RawMessage `json:"ref"`
	}
	var ref struct {
		Type string `json:"type"`
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	if json.Unmarshal(params, &p) != nil || len(p.Ref) == 0 || json.Unmarshal(p.Ref, &ref) != nil {
		return nil, newWireError(codeInvalidParams, `invalid completion/complete params: "ref" is missing`)
	}
	switch ref.Type {
	case "ref/prompt":
		server, name, werr := s.resolve(ctx, kindPrompts, ref.Name)
		if werr != nil {
			return nil, werr
		}
		nref, err := editObject(p.Ref, map[string]json.RawMessage{"name": jsonString(name)})
		if err != nil {
			return nil, newWireError(codeInvalidParams, "invalid completion/complete params: %v", err)
		}
		np, err := editObject(params, map[string]json.RawMessage{"ref": nref})
		if err != nil {
			return nil, newWireError(codeInvalidParams, "invalid completion/complete params: %v", err)
		}
		return s.forward(ctx, fl, server, "completion/complete", np)
	case "ref/resource":
		server, werr := s.resourceOwner(ctx, ref.URI)
		if werr != nil {
			return nil, werr
		}
		return s.forward(ctx, fl, server, "completion/complete", params)
	}
	return nil, newWireError(codeInvalidParams, "invalid completion/complete params: unknown ref type %q (use ref/prompt or ref/resource)", ref.Type)
}

// subKey names a subscription: a URI at a server.
type subKey struct{ server, uri string }

// subEntry counts the sessions subscribed to one URI of one server. sem
// serializes the upstream (un)subscriptions; the counters are under g.mu.
type subEntry struct {
	sem      ctxMutex
	count    int  // sessions subscribed
	holders  int  // goroutines working on the entry
	upstream bool // the server has the subscription
}

func (s *GatewaySession) subscription(ctx context.Context, fl *inflight, method string, params json.RawMessage) (json.RawMessage, *wireError) {
	uri, werr := resourceURI(method, params)
	if werr != nil {
		return nil, werr
	}
	server := s.view
	if server == "" {
		if server, werr = s.resourceOwner(ctx, uri); werr != nil {
			return nil, werr
		}
	}
	if method == "resources/subscribe" && s.g.r.hasMiddleware() {
		// The upstream subscription is shared by every session, so hooks
		// decide (they may refuse) but do not shape it.
		req := &Request{Server: server, Method: method, Params: params, Caller: IdentityFrom(ctx)}
		ok := func(context.Context, *Request) (json.RawMessage, error) { return json.RawMessage("{}"), nil }
		if _, err := s.g.r.through(ctx, req, ok); err != nil {
			return nil, toWireError(err)
		}
	}
	k := subKey{server: server, uri: uri}
	if srv := s.g.srv(ctx, server); srv.private {
		return s.privateSubscription(ctx, srv, k, method)
	}
	if method == "resources/unsubscribe" {
		s.mu.Lock()
		st := s.subs[k]
		delete(s.subs, k)
		s.mu.Unlock()
		if st == subActive {
			s.g.subDown(ctx, k)
		}
		return json.RawMessage("{}"), nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, toWireError(errSessionClosed)
	}
	if s.subs[k] != 0 {
		s.mu.Unlock()
		return json.RawMessage("{}"), nil
	}
	s.subs[k] = subPending
	s.mu.Unlock()
	err := s.g.subUp(ctx, k)
	s.mu.Lock()
	if err != nil {
		if s.subs[k] == subPending {
			delete(s.subs, k)
		}
		s.mu.Unlock()
		return nil, toWireError(err)
	}
	if s.closed || s.subs[k] != subPending { // unsubscribed or closed meanwhile
		s.mu.Unlock()
		s.g.subDown(ctx, k)
		return json.RawMessage("{}"), nil
	}
	s.subs[k] = subActive
	s.mu.Unlock()
	return json.RawMessage("{}"), nil
}

func (g *Gateway) acquireSub(k subKey) *subEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.subs[k]
	if e == nil {
		e = &subEntry{sem: newCtxMutex()}
		g.subs[k] = e
	}
	e.holders++
	return e
}

func (g *Gateway) releaseSub(k subKey, e *subEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e.holders--
	if e.holders == 0 && e.count == 0 && !e.upstream && g.subs[k] == e {
		delete(g.subs, k)
	}
}

// subUp adds a session to a subscription, subscribing upstream first when
// it is the first.
func (g *Gateway) subUp(ctx context.Context, k subKey) error {
	e := g.acquireSub(k)
	defer g.releaseSub(k, e)
	if err := e.sem.lock(ctx); err != nil {
		return err
	}
	defer e.sem.unlock()
	g.mu.Lock()
	need := !e.upstream
	g.mu.Unlock()
	if need {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := g.servers[k.server].client.callRawInto(ctx, "resources/subscribe", &mcp.SubscribeParams{URI: k.uri}); err != nil {
			return err
		}
	}
	g.mu.Lock()
	e.upstream = true
	e.count++
	g.mu.Unlock()
	return nil
}

// subDown removes a session from a subscription, unsubscribing upstream
// when it was the last. It is not cut short by ctx's cancellation.
func (g *Gateway) subDown(ctx context.Context, k subKey) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upkeepTimeout)
	defer cancel()
	g.mu.Lock()
	e := g.subs[k]
	if e == nil {
		g.mu.Unlock()
		return
	}
	e.count--
	e.holders++
	g.mu.Unlock()
	defer g.releaseSub(k, e)
	if err := e.sem.lock(ctx); err != nil {
		return
	}
	defer e.sem.unlock()
	g.mu.Lock()
	need := e.count == 0 && e.upstream
	g.mu.Unlock()
	if !need {
		return
	}
	if err := g.servers[k.server].client.callRawInto(ctx, "resources/unsubscribe", &mcp.UnsubscribeParams{URI: k.uri}); err != nil {
		g.logger.Debug("gateway: upstream unsubscribe failed", "server", k.server, "uri", k.uri, "err", err)
	}
	g.mu.Lock()
	e.upstream = false
	g.mu.Unlock()
}

// resubscribe restores a restarted server's subscriptions.
func (g *Gateway) resubscribe(ctx context.Context, server string) {
	type held struct {
		k subKey
		e *subEntry
	}
	var hs []held
	g.mu.Lock()
	for k, e := range g.subs {
		if k.server == server {
			e.holders++
			hs = append(hs, held{k, e})
		}
	}
	g.mu.Unlock()
	for _, h := range hs {
		func() {
			defer g.releaseSub(h.k, h.e)
			if h.e.sem.lock(ctx) != nil {
				return
			}
			defer h.e.sem.unlock()
			g.mu.Lock()
			need := h.e.upstream && h.e.count > 0
			g.mu.Unlock()
			if !need {
				return
			}
			if err := g.servers[server].client.callRawInto(ctx, "resources/subscribe", &mcp.SubscribeParams{URI: h.k.uri}); err != nil {
				g.logger.Warn("gateway: could not restore a subscription on a restarted server", "server", server, "uri", h.k.uri, "err", err)
			}
		}()
	}
}
