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
//
// One fetch at a time per list: callers that need the list while it is
// being fetched wait for that fetch and share its outcome, error included
// (a dead server costs each of them one wait, not one timeout each behind
// the others). A failure is remembered for listRetryAfter, during which
// callers get it at once.
type listCache struct {
	gen atomic.Uint64 // bumped by list_changed and restarts

	mu     sync.Mutex
	cur    *serverList
	flight *listFlight // the fetch under way, if any
	failed *listFlight // the last fetch, when it failed (the negative cache)
}

// listFlight is one fetch of a list, shared by everyone who waits for it.
type listFlight struct {
	gen   uint64
	init  *mcp.InitializeResult
	start time.Time
	end   time.Time     // when it failed (set with err)
	done  chan struct{} // closed when l or err is set
	l     *serverList
	err   error
}

// listRetryAfter is how long a failed list fetch is remembered: callers in
// that time get its error at once instead of waiting for another fetch.
const listRetryAfter = 2 * time.Second

func (lc *listCache) invalidate() { lc.gen.Add(1) }

func (lc *listCache) fresh(l *serverList, ir *mcp.InitializeResult, listChanged bool, maxAge time.Duration) bool {
	if l == nil || l.gen != lc.gen.Load() || l.init != ir {
		return false
	}
	age := time.Since(l.at)
	return (listChanged || age < listTTL) && (maxAge == 0 || age < maxAge)
}

// current reports whether a fetch (one under way, or one that failed) is
// of the list as it is now: the same generation and connection.
func (lc *listCache) current(f *listFlight, ir *mcp.InitializeResult) bool {
	return f != nil && f.gen == lc.gen.Load() && f.init == ir
}

// list returns a server's complete list of one kind, from the cache when it
// is fresh (and, with maxAge > 0, younger than maxAge). It returns nil and
// no error when the server does not offer that kind. ctx bounds only this
// caller's wait: the fetch itself is shared and bounded by the server's
// requestTimeout, so a caller that gives up leaves it to the others.
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
	if cur := lc.cur; lc.fresh(cur, ir, listChanged, maxAge) {
		lc.mu.Unlock()
		return cur, nil
	}
	if f := lc.failed; lc.current(f, ir) && time.Since(f.end) < listRetryAfter {
		lc.mu.Unlock()
		return nil, f.err
	}
	// A fetch under way is joined even by a caller that wants a list younger
	// than maxAge: it started after the cached list, and a second fetch at
	// once would only pile requests on a server that is slow already.
	f := lc.flight
	if !lc.current(f, ir) {
		f = &listFlight{gen: lc.gen.Load(), init: ir, start: time.Now(), done: make(chan struct{})}
		lc.flight = f
		go g.fly(srv, kind, lc, f)
	}
	lc.mu.Unlock()
	select {
	case <-f.done:
		return f.l, f.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// fly runs one shared fetch and publishes its outcome.
func (g *Gateway) fly(srv *upstream, kind listKind, lc *listCache, f *listFlight) {
	l, err := g.fetch(context.Background(), srv, kind)
	if l != nil {
		l.gen, l.init, l.at = f.gen, f.init, f.start
	}
	lc.mu.Lock()
	if lc.flight == f {
		lc.flight = nil
	}
	if err != nil {
		f.err, f.end = err, time.Now()
		if lc.failed == nil || !lc.failed.start.After(f.start) {
			lc.failed = f
		}
	} else {
		f.l = l
		if lc.cur == nil || !lc.cur.at.After(l.at) {
			lc.cur = l
		}
		if lc.failed != nil && !lc.failed.start.After(f.start) {
			lc.failed = nil
		}
	}
	lc.mu.Unlock()
	close(f.done)
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
		names := namespaceItems(g.table().prefix[srv.name], keys)
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

// errListSlow is why a server's list is left out of an aggregate answer
// when it did not come within the gateway's ListWait; its fetch goes on,
// and a later request finds it in the cache.
var errListSlow = errors.New("no answer within the aggregate's wait")

// lists fetches one kind from several servers at once, in the given order.
// It waits at most the gateway's ListWait for each: a slower server's
// result has an error wrapping errListSlow (and engine.ErrTimeout).
func (g *Gateway) lists(ctx context.Context, rq *request, names []string, kind listKind, maxAge time.Duration) []listResult {
	out := make([]listResult, len(names))
	ctx, cancel := context.WithTimeoutCause(ctx, g.listWait, fmt.Errorf("%w: %w (%s)", engine.ErrTimeout, errListSlow, g.listWait))
	defer cancel()
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

// unavailableMetaKey is the _meta key of an aggregate list result that
// names the servers left out of it, and why.
const unavailableMetaKey = "mcpscript/unavailable"

// leftOut is one server missing from an aggregate list.
type leftOut struct {
	Server string `json:"server"`
	Reason string `json:"reason"`
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
	var missing []leftOut
	seen := map[string]bool{}
	for _, r := range s.g.lists(ctx, rq, rq.sc.servers, kind, 0) {
		if r.err != nil {
			level := slog.LevelWarn
			if errors.Is(r.err, engine.ErrNotRunning) {
				level = slog.LevelDebug
			}
			s.g.logger.Log(ctx, level, "gateway: leaving a server out of an aggregate list", "server", r.server, "method", info.method, "err", r.err)
			if firstErr == nil {
				firstErr = r.err
			}
			missing = append(missing, leftOut{Server: r.server, Reason: leftOutReason(r.err, info.method, s.g.listWait)})
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
	if !ok && firstErr != nil && !errors.Is(firstErr, errListSlow) {
		return nil, firstErr
	}
	b.WriteByte(']')
	if len(missing) > 0 {
		meta, _ := json.Marshal(map[string][]leftOut{unavailableMetaKey: missing})
		b.WriteString(`,"_meta":`)
		b.Write(meta)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// leftOutReason says, for the client, why a server is missing from an
// aggregate list.
func leftOutReason(err error, method string, wait time.Duration) string {
	switch {
	case errors.Is(err, errListSlow):
		return fmt.Sprintf("did not answer %s within %s", method, wait)
	case errors.Is(err, engine.ErrNotRunning):
		return "not running"
	case errors.Is(err, engine.ErrTimeout):
		return fmt.Sprintf("timed out: %s got no answer within the server's requestTimeout", method)
	}
	return errorFor(err).Message
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
	prefix := s.g.table().prefix[server]
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
