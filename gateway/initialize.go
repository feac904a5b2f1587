// Logging is deprecated only from MCP 2026-07-28 on; in 2025-11-25, the
// version the gateway speaks, it is current.
//lint:file-ignore SA1019 see above

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// initialize answers a client's initialize itself: the version is the
// client's if mcpscript supports it, else engine.LatestProtocolVersion; the
// rest is the server's cached handshake (a server view) or the union of the
// servers' capabilities (the aggregate).
func (s *Session) initialize(ctx context.Context, rq *request, params json.RawMessage) (json.RawMessage, error) {
	var p struct {
		ProtocolVersion string                         `json:"protocolVersion"`
		Capabilities    map[string]json.RawMessage     `json:"capabilities"`
		ClientInfo      struct{ Name, Version string } `json:"clientInfo"`
	}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, invalidParamsf("invalid initialize params: %v", err)
		}
	}
	version := negotiate(p.ProtocolVersion)
	s.mu.Lock()
	if s.handshaken {
		s.mu.Unlock()
		return nil, wire.Errorf(wire.CodeInvalidRequest,
			"invalid request: this session is already initialized; a client initializes once per session (to start over, open a new session)")
	}
	s.handshaken = true
	s.initialized = true
	s.id.Protocol = version
	s.id.ClientName, s.id.ClientVersion = p.ClientInfo.Name, p.ClientInfo.Version
	s.clientCaps = p.Capabilities
	if s.clientCaps == nil {
		s.clientCaps = map[string]json.RawMessage{}
	}
	s.mu.Unlock()

	if s.view != "" {
		ir, err := s.g.initResult(ctx, rq, s.view)
		if err != nil {
			return nil, err
		}
		res := *ir
		res.ProtocolVersion = version
		return json.Marshal(&res)
	}

	caps := map[string]any{"tools": map[string]any{"listChanged": true}}
	var prompts, resources, subscribe, logging, completions bool
	var instructions []string
	for _, name := range s.servers {
		ir, err := s.g.initResult(ctx, rq, name)
		if err != nil {
			continue
		}
		if c := ir.Capabilities; c != nil {
			prompts = prompts || c.Prompts != nil
			resources = resources || c.Resources != nil
			subscribe = subscribe || c.Resources != nil && c.Resources.Subscribe
			logging = logging || c.Logging != nil
			completions = completions || c.Completions != nil
		}
		if ir.Instructions != "" {
			instructions = append(instructions, fmt.Sprintf("%s (tools and prompts prefixed %q): %s", name, s.g.prefix[name]+nsSeparator, ir.Instructions))
		}
	}
	if prompts {
		caps["prompts"] = map[string]any{"listChanged": true}
	}
	if resources {
		caps["resources"] = map[string]any{"listChanged": true, "subscribe": subscribe}
	}
	if logging {
		caps["logging"] = map[string]any{}
	}
	if completions {
		caps["completions"] = map[string]any{}
	}
	res := map[string]any{
		"protocolVersion": version,
		"capabilities":    caps,
		"serverInfo":      map[string]any{"name": "mcpscript", "version": engine.Version},
	}
	if len(instructions) > 0 {
		res["instructions"] = strings.Join(instructions, "\n\n")
	}
	return json.Marshal(res)
}

// negotiate picks the protocol version for a client that asked for v.
func negotiate(v string) string {
	if engine.IsSupportedProtocolVersion(v) {
		return v
	}
	return engine.LatestProtocolVersion
}
