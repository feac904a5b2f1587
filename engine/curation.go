package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/curation"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// pinTTL is how long the schemas fetched to check a pinned tool's calls
// are trusted without a notifications/tools/list_changed: a server that
// changes a schema without announcing it is caught within this time.
const pinTTL = 30 * time.Second

// toolCuration is a server's tool curation in the engine: the curator, and
// the input schemas last fetched to check calls of pinned tools.
type toolCuration struct {
	server string
	c      *curation.Curator
	logger *slog.Logger

	mu      sync.Mutex
	schemas map[string]string // the server's tool name -> input schema hash
	from    *Client           // the client they were fetched on
	session *session          // and its session then
	at      time.Time
	gen     uint64 // bumped by list_changed; schemas are of fetchGen
	fetched uint64
	warned  map[string]string // tool -> the mismatching hash last logged
}

func newCuration(server string, cfg *config.Tools, logger *slog.Logger) *toolCuration {
	return &toolCuration{server: server, c: curation.New(cfg), logger: logger, warned: map[string]string{}}
}

// invalidate forgets the fetched schemas (the server's tools changed).
func (cu *toolCuration) invalidate() {
	cu.mu.Lock()
	cu.gen++
	cu.mu.Unlock()
}

// curate is the runner's outermost middleware: a curated server's tools
// are renamed, re-described, hidden and pinned for every caller, while the
// middleware after it (hooks, filters) sees the server's own names.
func (r *Runner) curate(next Handler) Handler {
	return func(ctx context.Context, req *Request) (json.RawMessage, error) {
		s, err := r.server(req.Server)
		if err != nil || s.tools == nil {
			return next(ctx, req)
		}
		switch req.Method {
		case "tools/list":
			res, err := next(ctx, req)
			if err != nil {
				return nil, err
			}
			return s.tools.list(res)
		case "tools/call":
			return s.tools.call(ctx, r, req, next)
		}
		return next(ctx, req)
	}
}

// list curates a tools/list result page.
func (cu *toolCuration) list(page json.RawMessage) (json.RawMessage, error) {
	out, dropped, err := cu.c.List(page)
	if err != nil {
		return nil, fmt.Errorf("%w: server %q: tools/list: %v", ErrCommunication, cu.server, err)
	}
	for _, d := range dropped {
		if d.Mismatch != nil {
			cu.warnMismatch(d.Mismatch)
		}
	}
	return out, nil
}

// warnMismatch logs a pinned tool's changed schema, once per change.
func (cu *toolCuration) warnMismatch(m *curation.Mismatch) {
	cu.mu.Lock()
	seen := cu.warned[m.Tool] == m.Hash
	cu.warned[m.Tool] = m.Hash
	cu.mu.Unlock()
	if !seen {
		cu.logger.Warn("a pinned tool's input schema changed; hiding it and refusing its calls until the pin is updated",
			"server", cu.server, "tool", m.Tool, "pin", m.Pin, "now", m.Hash)
	}
}

// call maps a tools/call to the server's own tool name and checks its pin.
func (cu *toolCuration) call(ctx context.Context, r *Runner, req *Request, next Handler) (json.RawMessage, error) {
	name, ok := rawjson.GetString(req.Params, "name")
	if !ok {
		return next(ctx, req)
	}
	orig, ok := cu.c.Original(name)
	if !ok {
		msg := fmt.Sprintf("unknown tool %q", name)
		if now, shown := cu.c.Exposed(name); shown && now != name {
			msg += fmt.Sprintf(" (the config renames it %q)", now)
		}
		return nil, &RPCError{Server: cu.server, Method: req.Method, Code: wire.CodeInvalidParams, Message: msg}
	}
	if pin := cu.c.Pin(orig); pin != "" {
		hash, err := cu.schemaHash(ctx, r, req, orig)
		if err != nil {
			return nil, err
		}
		if hash != "" && hash != pin {
			m := &curation.Mismatch{Tool: orig, Pin: pin, Hash: hash}
			cu.warnMismatch(m)
			return nil, &DeniedError{By: "pin", Server: cu.server, Method: req.Method, Name: name,
				Reason: m.Error() + "; review the tool, then update its pin in tools.override (mcpscript tools --pins prints the current hashes)"}
		}
	}
	if orig == name {
		return next(ctx, req)
	}
	rq := *req
	rq.Params = rawjson.ApplyValid(req.Params, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(orig)}}})
	return next(ctx, &rq)
}

// schemaHash returns the hash of tool's input schema as the server now
// lists it ("" when it does not list it), fetching the list when the last
// one is stale: older than pinTTL, from another session, or before a
// list_changed.
func (cu *toolCuration) schemaHash(ctx context.Context, r *Runner, req *Request, tool string) (string, error) {
	var (
		c       *Client
		release = noRelease
		err     error
	)
	if req.Route != nil {
		c, release, err = req.Route.Route(ctx, req.Server)
	} else {
		c, release, err = r.defaultRoute(ctx, req.Server)
	}
	if err != nil {
		return "", fmt.Errorf("routing %s: %w", req.Method, err)
	}
	defer release()
	sess, err := c.session(ctx)
	if err != nil {
		return "", err
	}
	cu.mu.Lock()
	if cu.schemas != nil && cu.from == c && cu.session == sess && cu.fetched == cu.gen && time.Since(cu.at) < pinTTL {
		h := cu.schemas[tool]
		cu.mu.Unlock()
		return h, nil
	}
	gen := cu.gen
	cu.mu.Unlock()

	schemas := map[string]string{}
	cursor := ""
	for pages := 0; ; pages++ {
		params := json.RawMessage("{}")
		if cursor != "" {
			params = append(append([]byte(`{"cursor":`), rawjson.Quote(cursor)...), '}')
		}
		page, err := c.CallDirect(ctx, "tools/list", params)
		if err != nil {
			return "", fmt.Errorf("checking the pin of tool %q: %w", tool, err)
		}
		got, err := curation.Schemas(page)
		if err != nil {
			return "", fmt.Errorf("%w: server %q: %v", ErrCommunication, cu.server, err)
		}
		for k, v := range got {
			schemas[k] = v
		}
		next, _ := rawjson.GetString(page, "nextCursor")
		if next == "" || next == cursor || pages > 1000 {
			break
		}
		cursor = next
	}
	cu.mu.Lock()
	cu.schemas, cu.from, cu.session, cu.at, cu.fetched = schemas, c, sess, time.Now(), gen
	cu.mu.Unlock()
	return schemas[tool], nil
}
