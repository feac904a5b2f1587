package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// ModernProtocolVersion is the MCP version of the stateless era: a client
// asks for it per request, in params._meta, and there is no initialize.
const ModernProtocolVersion = "2026-07-28"

// Keys of params._meta in the modern era.
const (
	MetaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	MetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	MetaClientInfo         = "io.modelcontextprotocol/clientInfo"
	MetaLogLevel           = "io.modelcontextprotocol/logLevel"
	MetaServerInfo         = "io.modelcontextprotocol/serverInfo"
	MetaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
)

// ErrLegacyOnly means a server does not speak MCP 2026-07-28: it answered
// server/discover with an error (or not at all, or without that version).
var ErrLegacyOnly = errors.New("server speaks no 2026-07-28")

// maxInputRounds bounds the input_required round trips of one request, as
// the go-sdk's client does.
const maxInputRounds = 10

// discover is the handshake of a modern session: server/discover with the
// client's _meta. A result that offers no modern version is an error
// wrapping ErrLegacyOnly, as is a JSON-RPC error.
func (c *Client) discover(ctx context.Context, cn *conn) (*mcp.InitializeResult, json.RawMessage, error) {
	params := append([]byte(`{"_meta":`), c.modernMeta(nil)...)
	params = append(params, '}')
	raw, err := cn.call(ctx, "server/discover", params, nil)
	if err != nil {
		var re *RPCError
		if errors.As(err, &re) {
			return nil, nil, fmt.Errorf("%w: server %q: server/discover: %w", ErrLegacyOnly, c.name, err)
		}
		return nil, nil, fmt.Errorf("discover server %q: %w", c.name, err)
	}
	var d struct {
		SupportedVersions []string                `json:"supportedVersions"`
		Capabilities      *mcp.ServerCapabilities `json:"capabilities"`
		Instructions      string                  `json:"instructions"`
		Meta              struct {
			ServerInfo *mcp.Implementation `json:"io.modelcontextprotocol/serverInfo"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, nil, fmt.Errorf("%w: discover server %q: malformed result: %v", ErrCommunication, c.name, err)
	}
	if !slices.Contains(d.SupportedVersions, ModernProtocolVersion) {
		return nil, nil, fmt.Errorf("%w: server %q offers %v", ErrLegacyOnly, c.name, d.SupportedVersions)
	}
	ir := &mcp.InitializeResult{ProtocolVersion: ModernProtocolVersion, Capabilities: d.Capabilities,
		Instructions: d.Instructions, ServerInfo: d.Meta.ServerInfo}
	if ir.Capabilities == nil {
		ir.Capabilities = &mcp.ServerCapabilities{}
	}
	if ir.ServerInfo == nil {
		ir.ServerInfo = &mcp.Implementation{Name: c.name, Version: "unknown"}
	}
	return ir, raw, nil
}

// modernMeta returns the _meta the engine sends for requests of its own
// on a modern session, with extra members (valid JSON values) added.
func (c *Client) modernMeta(extra []rawjson.Field) []byte {
	var capFields []rawjson.Field
	if c.requestHandler() != nil {
		capFields = append(capFields,
			rawjson.Field{Key: "elicitation", Value: []byte(`{"form":{},"url":{}}`)},
			rawjson.Field{Key: "sampling", Value: []byte(`{}`)})
	}
	if len(c.opts.Roots) > 0 || c.requestHandler() != nil {
		capFields = append(capFields, rawjson.Field{Key: "roots", Value: []byte(`{}`)})
	}
	caps := rawjson.ApplyValid(nil, rawjson.Edit{Set: capFields})
	info, _ := json.Marshal(c.opts.ClientInfo)
	fields := append([]rawjson.Field{
		{Key: MetaProtocolVersion, Value: rawjson.Quote(ModernProtocolVersion)},
		{Key: MetaClientCapabilities, Value: caps},
		{Key: MetaClientInfo, Value: info},
	}, extra...)
	return rawjson.ApplyValid(nil, rawjson.Edit{Set: fields})
}

// IsModern reports whether the client's current session speaks MCP
// 2026-07-28.
func (c *Client) IsModern() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil && c.sess.modern
}

// DiscoverResultRaw returns the server's server/discover result as sent,
// or nil when the session is not modern (or not connected).
func (c *Client) DiscoverResultRaw() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || !c.sess.modern {
		return nil
	}
	return c.sess.initRaw
}

// hasModernMeta reports whether params name a protocol version in _meta:
// the request was made by a modern client and goes as it is.
func hasModernMeta(params []byte) bool {
	if !bytes.Contains(params, []byte(MetaProtocolVersion)) {
		return false
	}
	meta, ok := rawjson.GetValid(params, "_meta")
	if !ok {
		return false
	}
	_, ok = rawjson.GetValid(meta, MetaProtocolVersion)
	return ok
}

// withModernMeta returns params with the engine's modern _meta members
// added to the _meta they have (theirs win).
func (c *Client) withModernMeta(params []byte) []byte {
	base := c.modernMeta(nil)
	meta, ok := rawjson.GetValid(params, "_meta")
	if ok && len(meta) > 0 && meta[0] == '{' {
		var fields []rawjson.Field
		rawjson.EachValid(meta, func(m rawjson.Member) {
			fields = append(fields, rawjson.Field{Key: m.Name(), Value: m.Value})
		})
		base = rawjson.ApplyValid(base, rawjson.Edit{Set: fields})
	}
	return rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "_meta", Value: base}}})
}

// sendModern sends a request made by a legacy caller (the Go API, a
// legacy gateway session) to a modern session: the request gets the
// engine's _meta, and an input_required result is fulfilled with the
// client's request handler (sampling, elicitation, roots) and the request
// sent again, up to maxInputRounds times. A modern caller's request (its
// params name a protocol version) goes as it is, its answer too.
func (c *Client) sendModern(ctx context.Context, cn *conn, method string, raw json.RawMessage, progress func(json.RawMessage)) (json.RawMessage, error) {
	if hasModernMeta(raw) {
		return cn.call(ctx, method, raw, progress)
	}
	switch method {
	case "ping":
		return json.RawMessage(`{}`), nil // removed in 2026-07-28: the connection is the answer
	case "notifications/initialized":
		return nil, nil
	}
	params := c.withModernMeta(raw)
	for round := 0; ; round++ {
		res, err := cn.call(ctx, method, params, progress)
		if err != nil {
			return nil, err
		}
		typ, _ := rawjson.GetString(res, "resultType")
		if typ != "input_required" {
			return res, nil
		}
		if round == maxInputRounds {
			return nil, fmt.Errorf("%w: server %q: %s still asked for input after %d rounds", ErrCommunication, c.name, method, maxInputRounds)
		}
		if params, err = c.fulfil(ctx, method, params, res); err != nil {
			return nil, err
		}
	}
}

// fulfil answers the input requests of an input_required result with the
// client's request handler and returns the params to send again: the
// original params with inputResponses and the server's requestState.
func (c *Client) fulfil(ctx context.Context, method string, params, res json.RawMessage) (json.RawMessage, error) {
	reqs, _ := rawjson.GetValid(res, "inputRequests")
	var responses []rawjson.Field
	var ferr error
	rawjson.EachValid(reqs, func(m rawjson.Member) {
		if ferr != nil {
			return
		}
		inner, _ := rawjson.GetString(m.Value, "method")
		p, _ := rawjson.GetValid(m.Value, "params")
		out, err := c.handleRequest(ctx, inner, p)
		if err != nil {
			ferr = fmt.Errorf("server %q: %s asked for %s: %w", c.name, method, inner, err)
			return
		}
		b, err := marshalRaw(out)
		if err != nil {
			ferr = err
			return
		}
		responses = append(responses, rawjson.Field{Key: m.Name(), Value: b})
	})
	if ferr != nil {
		return nil, ferr
	}
	set := []rawjson.Field{{Key: "inputResponses", Value: rawjson.ApplyValid(nil, rawjson.Edit{Set: responses})}}
	if st, ok := rawjson.GetValid(res, "requestState"); ok {
		set = append(set, rawjson.Field{Key: "requestState", Value: st})
	}
	return rawjson.ApplyValid(params, rawjson.Edit{Set: set, Delete: []string{"inputResponses", "requestState"}}), nil
}
