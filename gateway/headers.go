package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Parameter headers (MCP 2026-07-28, SEP-2243): a tool whose input schema
// marks a property with "x-mcp-header": "Name" wants the argument mirrored
// in an Mcp-Param-Name header of the HTTP request, so that intermediaries
// can route on it without reading the body. The server must check that the
// header and the argument agree; the gateway does it for the servers it
// bridges and for those it forwards to alike.

// paramHeader is one x-mcp-header property of a tool.
type paramHeader struct {
	name string   // the header's name after "Mcp-Param-", lowercased
	path []string // the property's path in the arguments
	typ  string   // its JSON Schema type
}

// toolParamHeaders reads the x-mcp-header properties of a tool's schema
// (following properties chains).
func toolParamHeaders(tool json.RawMessage) []paramHeader {
	if !bytes.Contains(tool, []byte("x-mcp-header")) {
		return nil
	}
	schema, _ := rawjson.GetValid(tool, "inputSchema")
	var out []paramHeader
	var walk func(schema json.RawMessage, path []string)
	walk = func(schema json.RawMessage, path []string) {
		props, _ := rawjson.GetValid(schema, "properties")
		rawjson.EachValid(props, func(m rawjson.Member) {
			p := append(append([]string(nil), path...), m.Name())
			if h, ok := rawjson.GetString(m.Value, "x-mcp-header"); ok && h != "" {
				typ, _ := rawjson.GetString(m.Value, "type")
				out = append(out, paramHeader{name: strings.ToLower(h), path: p, typ: typ})
				return
			}
			walk(m.Value, p)
		})
	}
	walk(schema, nil)
	return out
}

// checkParamHeaders checks a modern tools/call's Mcp-Param-* headers
// (headers: their names after "Mcp-Param-", lowercased) against the
// arguments: an argument the schema marks must come with its header, equal
// once decoded (=?base64?…?=), and an absent one without it. A mismatch is
// -32020.
func (s *Session) checkParamHeaders(ctx context.Context, rq *request, params json.RawMessage, headers map[string]string) error {
	name, ok := rawjson.GetString(params, "name")
	if !ok {
		return nil // the call itself is refused later
	}
	server, tool := s.view, name
	if server == "" {
		var err error
		if server, tool, err = s.resolve(ctx, rq, kindTools, name); err != nil {
			return nil // an unknown tool is refused later, as such
		}
	}
	l, err := s.g.list(ctx, rq, server, kindTools, 0)
	if err != nil || l == nil {
		return nil
	}
	i, ok := l.byKey[tool]
	if !ok {
		return nil
	}
	args, _ := rawjson.GetValid(params, "arguments")
	for _, h := range toolParamHeaders(l.items[i].raw) {
		v := args
		for _, p := range h.path {
			v, _ = rawjson.GetValid(v, p)
		}
		hv, present := headers[h.name]
		switch {
		case !rawjson.Present(v) && !present:
		case !rawjson.Present(v):
			return headerMismatchf("Mcp-Param-%s header given, but the argument %q is absent", h.name, strings.Join(h.path, "."))
		case !present:
			return headerMismatchf("missing Mcp-Param-%s header for parameter %q", h.name, strings.Join(h.path, "."))
		default:
			dec, ok := decodeParamHeader(hv)
			if !ok {
				return headerMismatchf("Mcp-Param-%s header contains invalid Base64 encoding", h.name)
			}
			if !paramEqual(v, dec) {
				return headerMismatchf("Mcp-Param-%s header value %q does not match the argument %q", h.name, hv, strings.Join(h.path, "."))
			}
		}
	}
	return nil
}

func headerMismatchf(format string, args ...any) error {
	return wire.Errorf(wire.CodeHeaderMismatch, "header mismatch: "+format, args...)
}

// decodeParamHeader decodes =?base64?…?= (strict standard base64) and takes
// any other value as it is.
func decodeParamHeader(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return v, true
	}
	b, err := base64.StdEncoding.Strict().DecodeString(inner)
	return string(b), err == nil
}

// paramEqual compares an argument with a header's decoded value: strings
// exactly, numbers numerically, booleans as true/false.
func paramEqual(arg json.RawMessage, header string) bool {
	if s, ok := rawjson.Unquote(arg); ok {
		return s == header
	}
	switch string(arg) {
	case "true", "false":
		return string(arg) == header
	}
	a, err1 := strconv.ParseFloat(string(arg), 64)
	b, err2 := strconv.ParseFloat(header, 64)
	return err1 == nil && err2 == nil && a == b
}
