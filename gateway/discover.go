package gateway

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// discover answers server/discover: for a dual-era server's view, its
// modern process's own answer; otherwise one made from the legacy
// handshake (a server's, or the aggregate's union), offering every version
// the gateway bridges.
func (g *Gateway) discover(ctx context.Context, view string, caller engine.Identity) (json.RawMessage, error) {
	if view != "" {
		if u := g.twin(ctx, view); u != nil {
			if raw := u.client.DiscoverResultRaw(); raw != nil {
				return raw, nil
			}
		}
	}
	s, err := g.Open(view, caller, nil)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rq := &request{s: s, sc: s.scope()}
	release, err := s.acquireFor(ctx, rq, rq.sc.servers, view == "")
	if err != nil {
		return nil, err
	}
	defer release()
	init, err := s.initialize(ctx, rq, json.RawMessage(`{}`))
	if err != nil {
		return nil, err
	}
	var ir struct {
		Capabilities json.RawMessage `json:"capabilities"`
		Instructions string          `json:"instructions"`
		ServerInfo   json.RawMessage `json:"serverInfo"`
	}
	if err := json.Unmarshal(init, &ir); err != nil {
		return nil, err
	}
	versions, _ := json.Marshal(supportedVersions)
	fields := []rawjson.Field{
		{Key: "resultType", Value: []byte(`"complete"`)},
		{Key: "supportedVersions", Value: versions},
		{Key: "capabilities", Value: dropTasks(ir.Capabilities)},
	}
	if strings.TrimSpace(ir.Instructions) != "" {
		fields = append(fields, rawjson.Field{Key: "instructions", Value: rawjson.Quote(ir.Instructions)})
	}
	if rawjson.Present(ir.ServerInfo) {
		fields = append(fields, rawjson.Field{Key: "_meta", Value: rawjson.ApplyValid(nil, rawjson.Edit{Set: []rawjson.Field{{Key: engine.MetaServerInfo, Value: ir.ServerInfo}}})})
	}
	fields = append(fields, rawjson.Field{Key: "ttlMs", Value: []byte("0")}, rawjson.Field{Key: "cacheScope", Value: []byte(`"public"`)})
	return rawjson.ApplyValid(nil, rawjson.Edit{Set: fields}), nil
}

// dropTasks removes the legacy tasks capability, which 2026-07-28 moved to
// an extension the bridge does not offer.
func dropTasks(caps json.RawMessage) json.RawMessage {
	if !rawjson.Present(caps) || caps[0] != '{' {
		return json.RawMessage(`{}`)
	}
	return rawjson.ApplyValid(caps, rawjson.Edit{Delete: []string{"tasks"}})
}
