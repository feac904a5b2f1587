package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
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

// kindInfo describes each list: its method, the result's array field, the
// key of its items, a noun for messages, whether the aggregate prefixes
// its names, and the notification that announces its changes.
var kindInfo = [numKinds]struct {
	method, field, key, noun string
	namespaced               bool
	changed                  string
}{
	{"tools/list", "tools", "name", "tool", true, "notifications/tools/list_changed"},
	{"prompts/list", "prompts", "name", "prompt", true, "notifications/prompts/list_changed"},
	{"resources/list", "resources", "uri", "resource", false, "notifications/resources/list_changed"},
	{"resources/templates/list", "resourceTemplates", "uriTemplate", "resource template", false, "notifications/resources/list_changed"},
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
func (g *Gateway) list(ctx context.Context, rq *request, name string, kind listKind, maxAge time.Duration) (*serverList, error) {
	srv := rq.upstream(name)
	ir, err := g.initResult(ctx, rq, name)
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
func (g *Gateway) fetch(ctx context.Context, srv *upstream, kind listKind) (*serverList, error) {
	info := kindInfo[kind]
	l := &serverList{byKey: map[string]int{}, byFull: map[string]int{}, at: time.Now()}
	cursor := ""
	seen := map[string]bool{}
	for {
		params := json.RawMessage("{}")
		if cursor != "" {
			params = append(append([]byte(`{"cursor":`), rawjson.Quote(cursor)...), '}')
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		raw, err := srv.client.CallDirect(ctx, info.method, params)
		if err != nil {
			return nil, err
		}
		var next string
		var items json.RawMessage
		err = rawjson.Each(raw, func(m rawjson.Member) {
			switch {
			case m.Is(info.field):
				items = m.Value
			case m.Is("nextCursor"):
				next, _ = rawjson.Unquote(m.Value)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%w: server %q: %s: malformed result: %v", engine.ErrCommunication, srv.name, info.method, err)
		}
		if rawjson.Present(items) {
			if items[0] != '[' {
				return nil, fmt.Errorf("%w: server %q: %s: %s is not an array", engine.ErrCommunication, srv.name, info.method, info.field)
			}
			var list []json.RawMessage
			if err := json.Unmarshal(items, &list); err != nil {
				return nil, fmt.Errorf("%w: server %q: %s: malformed %s: %v", engine.ErrCommunication, srv.name, info.method, info.field, err)
			}
			for _, it := range list {
				key, ok := rawjson.GetString(it, info.key)
				if !ok {
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
		}
		if next == "" {
			break
		}
		if seen[next] {
			return nil, fmt.Errorf("%w: server %q: %s returned the cursor %q twice", engine.ErrCommunication, srv.name, info.method, next)
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
			it.out = rawjson.ApplyValid(it.raw, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(it.full)}}})
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
func (g *Gateway) lists(ctx context.Context, rq *request, names []string, kind listKind, maxAge time.Duration) []listResult {
	out := make([]listResult, len(names))
	if len(names) == 1 {
		l, err := g.list(ctx, rq, names[0], kind, maxAge)
		out[0] = listResult{server: names[0], list: l, err: err}
		return out
	}
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			l, err := g.list(ctx, rq, name, kind, maxAge)
			out[i] = listResult{server: name, list: l, err: err}
		})
	}
	wg.Wait()
	return out
}

// aggregateList merges every allowed server's list into one page.
func (s *Session) aggregateList(ctx context.Context, rq *request, kind listKind, params json.RawMessage) (json.RawMessage, error) {
	if cursor, _ := rawjson.GetString(params, "cursor"); cursor != "" {
		return nil, invalidParamsf("invalid cursor %q: the aggregate view lists everything in one page and issues no cursors", cursor)
	}
	info := kindInfo[kind]
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(info.field)
	b.WriteString(`":[`)
	first, ok := true, false
	var firstErr error
	seen := map[string]bool{}
	for _, r := range s.g.lists(ctx, rq, s.servers, kind, 0) {
		if r.err != nil {
			level := slog.LevelWarn
			if errors.Is(r.err, engine.ErrNotRunning) {
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
			if firstErr == nil || errors.Is(err, engine.ErrDenied) || errors.Is(err, engine.ErrHook) {
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
		return nil, firstErr
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
func (s *Session) hooked(ctx context.Context, server string, kind listKind, params json.RawMessage, l *serverList) ([]keyedItem, error) {
	info := kindInfo[kind]
	if !s.g.r.HasMiddleware() {
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
	req := &engine.Request{Server: server, Method: info.method, Params: params, Caller: s.Identity()}
	res, err := s.g.r.Through(ctx, req, func(context.Context, *engine.Request) (json.RawMessage, error) { return page, nil })
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	field, ok, ferr := rawjson.Get(res, info.field)
	if ferr != nil || !ok || json.Unmarshal(field, &items) != nil {
		return nil, fmt.Errorf("%w: server %q: %s: the hooks returned no %q array", engine.ErrHook, server, info.method, info.field)
	}
	prefix := s.g.prefix[server]
	out := make([]keyedItem, 0, len(items))
	for _, item := range items {
		key, ok := rawjson.GetString(item, info.key)
		if !ok {
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
		out = append(out, keyedItem{key, rawjson.ApplyValid(item, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(full)}}})})
	}
	return out, nil
}

// excerpt shortens raw JSON for a log line.
func excerpt(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}
