package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// The Streamable HTTP transport of MCP 2026-07-28 ("modern") on the same
// endpoints as the stateful one: a POST is modern when its body's
// params._meta names a protocol version, or its MCP-Protocol-Version header
// names a version that is not a legacy one, and it carries no legacy
// session's id. It is stateless: no session is minted, each request is
// answered on its own, as an event stream (the request's progress and log
// messages, then its answer) or, when the answer is an error that comes
// first, as JSON with the error's status: -32601 → 404; -32602, -32020,
// -32021, -32022 → 400. The headers are checked against the body first
// (-32020): MCP-Protocol-Version against _meta's version, Mcp-Method
// against the method, Mcp-Name against the tool or prompt name or the
// resource URI (=?base64?…?= decoded). A notification gets 202. Closing
// the stream cancels the request. GET and DELETE without a legacy
// session's id get 405 with Allow: POST.

// Headers of the modern era.
const (
	headerMethod = "Mcp-Method"
	headerName   = "Mcp-Name"
)

// isModern reports whether a POSTed message is of the modern era.
func isModern(c *fiber.Ctx, m *wire.Message) bool {
	if c.Get(headerSessionID) != "" {
		return false // a legacy session's: it is checked as such
	}
	if v := c.Get(headerProtocolVersion); v != "" && !engine.IsSupportedProtocolVersion(v) {
		return true
	}
	return metaVersion(m.Params) != ""
}

// metaVersion is params._meta's protocol version, or "".
func metaVersion(params json.RawMessage) string {
	if !strings.Contains(string(params), engine.MetaProtocolVersion) {
		return ""
	}
	meta, _ := rawjson.GetValid(params, "_meta")
	v, _ := rawjson.GetString(meta, engine.MetaProtocolVersion)
	return v
}

// headerMismatch is a -32020 refusal.
func headerMismatch(id json.RawMessage, format string, args ...any) error {
	return refuse(fiber.StatusBadRequest, wire.CodeHeaderMismatch, format, args...).withID(id)
}

// checkModernHeaders checks the standard headers of a modern request
// against its body.
func checkModernHeaders(c *fiber.Ctx, m *wire.Message) error {
	hv := strings.TrimSpace(c.Get(headerProtocolVersion))
	if hv == "" {
		return headerMismatch(m.ID, "MCP-Protocol-Version header is required for requests carrying %q", engine.MetaProtocolVersion)
	}
	if mv := metaVersion(m.Params); mv != "" && mv != hv {
		return headerMismatch(m.ID, "MCP-Protocol-Version header %q does not match the request's %s %q", hv, engine.MetaProtocolVersion, mv)
	}
	method := strings.TrimSpace(c.Get(headerMethod))
	switch {
	case method == "":
		return headerMismatch(m.ID, "missing required Mcp-Method header (it must be the request's method, %q)", m.Method)
	case method != m.Method:
		return headerMismatch(m.ID, "header mismatch: Mcp-Method header value %q does not match body value %q", method, m.Method)
	}
	var field string
	switch m.Method {
	case "tools/call", "prompts/get":
		field = "name"
	case "resources/read":
		field = "uri"
	default:
		return nil
	}
	raw := strings.TrimSpace(c.Get(headerName))
	if raw == "" {
		return headerMismatch(m.ID, "missing required Mcp-Name header for method %q (it must be params.%s)", m.Method, field)
	}
	name, ok := decodeHeaderValue(raw)
	body, _ := rawjson.GetString(m.Params, field)
	if !ok || name != body {
		return headerMismatch(m.ID, "header mismatch: Mcp-Name header value %q does not match params.%s %q", raw, field, body)
	}
	return nil
}

// decodeHeaderValue decodes a header value written =?base64?…?= (strict
// standard base64), and takes any other as it is.
func decodeHeaderValue(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return v, true
	}
	b, err := base64.StdEncoding.Strict().DecodeString(inner)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// paramHeaders collects a request's Mcp-Param-* headers, by the name after
// the prefix, lowercased; nil when there are none.
func paramHeaders(c *fiber.Ctx) map[string]string {
	var out map[string]string
	for k, v := range c.Request().Header.All() {
		if len(k) > len("Mcp-Param-") && strings.EqualFold(string(k[:len("Mcp-Param-")]), "Mcp-Param-") {
			if out == nil {
				out = map[string]string{}
			}
			out[strings.ToLower(string(k[len("Mcp-Param-"):]))] = strings.TrimSpace(string(v))
		}
	}
	return out
}

// modernStatus is the HTTP status of a modern error answer.
func modernStatus(code int64) int {
	switch code {
	case wire.CodeMethodNotFound:
		return fiber.StatusNotFound
	case wire.CodeInvalidParams, wire.CodeHeaderMismatch, wire.CodeMissingRequiredCapability, wire.CodeUnsupportedProtocolVersion:
		return fiber.StatusBadRequest
	}
	return fiber.StatusOK
}

// modern serves a modern POST.
func (t *streamable) modern(c *fiber.Ctx, m *wire.Message) error {
	if !m.IsRequest() {
		c.Status(fiber.StatusAccepted) // a notification or response: nothing to do statelessly
		return nil
	}
	if err := checkModernHeaders(c, m); err != nil {
		return err
	}
	ident := identityOf(c)
	ident.Transport = transportStreamable
	st := newEventStream(0, false, t.opts, nil)
	// Followed for a graceful stop, as the requests of sessions are.
	tctx, end, err := t.opts.calls.begin(traceContext(c, context.Background()))
	if err != nil {
		return sendJSON(c, fiber.StatusServiceUnavailable, wire.ErrorResponse(m.ID, errProxyDraining))
	}
	ctx, cancel := context.WithCancel(tctx)
	req := &gateway.ModernRequest{View: t.view, Caller: ident, Message: m, ParamHeaders: paramHeaders(c),
		Send: func(msg json.RawMessage) { st.push("message", msg, false) }}
	answer := make(chan []byte, 1)
	go func() {
		resp := t.gw.ServeModern(ctx, req)
		end()
		if t.opts.OnCall != nil {
			t.opts.OnCall(messageLabel(m), 0)
		}
		answer <- resp
	}()
	select {
	case resp := <-answer:
		if st.empty() {
			if e, ok := rawjson.GetValid(resp, "error"); ok {
				cancel()
				code, _ := rawjson.GetValid(e, "code")
				var n int64
				_ = json.Unmarshal(code, &n)
				return sendJSON(c, modernStatus(n), resp)
			}
		}
		st.push("message", resp, true)
	case <-st.queued:
		go func() { st.push("message", <-answer, true) }()
	}
	a, err := st.attach(0, false, false)
	if err != nil {
		cancel()
		return errShuttingDown
	}
	setSSEHeaders(c)
	done, hb, conn := c.Context().Done(), t.opts.Heartbeat, c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		if reason := st.serveConn(w, a, hb, done, conn, nil); reason != endComplete {
			cancel() // the client closed the stream: that cancels the request
		}
		cancel()
	})
	return nil
}

// methodNotAllowed answers a GET or DELETE that names no legacy session:
// the modern transport takes POSTs only.
func methodNotAllowed(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, fiber.MethodPost)
	return refuse(fiber.StatusMethodNotAllowed, wire.CodeInvalidRequest,
		"%s is not allowed here without an %s header: send requests with POST (a 2025 session's client names its session)", c.Method(), headerSessionID)
}
