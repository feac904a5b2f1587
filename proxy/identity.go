package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
)

// identityKey is the fiber Locals key under which the auth middleware stores
// the caller's engine.Identity (with Transport and Session empty: the
// transports fill them in when they open a gateway session).
const identityKey = "mcpscript.identity"

// identityOf returns the identity the auth middleware stored for this
// request: the zero Identity when auth is off. The result is a deep copy
// (fiber's strings may point into buffers reused after the request, and
// sessions keep the identity).
func identityOf(c *fiber.Ctx) engine.Identity {
	var id engine.Identity
	switch v := c.Locals(identityKey).(type) {
	case engine.Identity:
		id = v
	case *engine.Identity:
		if v != nil {
			id = *v
		}
	}
	id.Token = strings.Clone(id.Token)
	id.Session = strings.Clone(id.Session)
	id.Transport = strings.Clone(id.Transport)
	if id.Servers != nil {
		servers := make([]string, len(id.Servers))
		for i, s := range id.Servers {
			servers[i] = strings.Clone(s)
		}
		id.Servers = servers
	}
	return id
}

// sameToken reports whether two identities carry the same token name (in
// constant time, though names are not secrets).
func sameToken(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Transport names given to the gateway in Identity.Transport.
const (
	transportStreamable   = "streamable-http"
	transportSSE          = "sse"
	transportReferenceSSE = "reference-sse"
)

// Defaults of transportOptions.
const (
	defaultHeartbeat   = 15 * time.Second
	defaultIdleTimeout = 30 * time.Minute
	defaultQueueSize   = 1024
	defaultReplay      = 256
)

// transportOptions tunes the HTTP transports. The zero value is ready to use.
type transportOptions struct {
	// Logger receives the transports' logs; default slog.Default().
	Logger *slog.Logger
	// Heartbeat is the interval of the ": ping" comments on open SSE
	// streams; default 15s. Besides keeping proxies from timing out idle
	// streams, a heartbeat is how a vanished client is noticed: fasthttp
	// reports a disconnect only as a failed write.
	Heartbeat time.Duration
	// OnSession, if set, is called with +1 when a session opens and -1 when
	// it closes (the metrics hook).
	OnSession func(delta int)
	// OnCall, if set, is called after the gateway answered a client request,
	// with the message (to label it) and the time the answer took.
	OnCall func(msg []byte, d time.Duration)
	// IdleTimeout closes a Streamable HTTP session that has had no request
	// in flight and no open stream for that long; default 30 minutes.
	IdleTimeout time.Duration
	// QueueSize bounds the messages waiting to be written on one SSE stream;
	// a client that falls further behind has its session closed (the
	// gateway is never blocked and nothing is dropped silently). Default 1024.
	QueueSize int
	// Replay is how many already written events each Streamable HTTP stream
	// keeps for a client that resumes it with Last-Event-ID; default 256.
	Replay int
}

func (o transportOptions) withDefaults() transportOptions {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = defaultHeartbeat
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.Replay <= 0 {
		o.Replay = defaultReplay
	}
	return o
}

// sessionCount reports a session opening (+1) or closing (-1) to the hook.
func (o transportOptions) sessionCount(delta int) {
	if o.OnSession != nil {
		o.OnSession(delta)
	}
}

// newSessionID returns a session id: 128 random bits from crypto/rand as 32
// hex digits (visible ASCII, as MCP requires).
func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("proxy: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return hex.EncodeToString(b[:])
}

// JSON-RPC error codes the transports answer with.
const (
	codeParseError      = -32700
	codeInvalidRequest  = -32600
	codeInternalError   = -32603
	codeSessionNotFound = -32001 // as the TypeScript SDK's servers answer
)

// message is what a transport needs to know about an incoming JSON-RPC
// message; the gateway reads the rest.
type message struct {
	id     json.RawMessage // the request's id as sent; nil for notifications and responses
	method string
}

// kind of a message.
func (m message) isRequest() bool { return m.method != "" && m.id != nil }

// parseError is a client message the transport refuses before the gateway
// sees it: HTTP status 400 and a JSON-RPC error.
type parseError struct {
	code int
	msg  string
}

// parseMessage checks that body is one JSON-RPC 2.0 message and classifies
// it. Batches (JSON arrays) are refused: MCP removed them in 2025-06-18, and
// neither the go-sdk nor the TypeScript SDK clients send them.
func parseMessage(body []byte) (message, *parseError) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return message{}, &parseError{codeParseError, "parse error: the request body is empty; send one JSON-RPC message"}
	}
	if !json.Valid(body) {
		return message{}, &parseError{codeParseError, "parse error: the request body is not valid JSON"}
	}
	if body[0] == '[' {
		return message{}, &parseError{codeInvalidRequest, "invalid request: JSON-RPC batches are not supported (MCP removed them in 2025-06-18); send one message per POST"}
	}
	var env struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  *string         `json:"method"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if body[0] != '{' || json.Unmarshal(body, &env) != nil {
		return message{}, &parseError{codeInvalidRequest, "invalid request: a JSON-RPC message must be a JSON object with \"jsonrpc\": \"2.0\""}
	}
	if env.JSONRPC != "2.0" {
		return message{}, &parseError{codeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`}
	}
	hasID := len(env.ID) > 0 && string(env.ID) != "null"
	if hasID && env.ID[0] != '"' && env.ID[0] != '-' && (env.ID[0] < '0' || env.ID[0] > '9') {
		return message{}, &parseError{codeInvalidRequest, "invalid request: id must be a string or a number"}
	}
	switch {
	case env.Method != nil:
		if *env.Method == "" {
			return message{}, &parseError{codeInvalidRequest, "invalid request: method must not be empty"}
		}
		if len(env.ID) > 0 && !hasID {
			return message{}, &parseError{codeInvalidRequest, "invalid request: id must not be null"}
		}
		m := message{method: *env.Method}
		if hasID {
			m.id = env.ID
		}
		return m, nil
	case hasID && (len(env.Result) > 0) != (len(env.Error) > 0):
		return message{}, nil // a response to a server→client request
	default:
		return message{}, &parseError{codeInvalidRequest, "invalid request: a message needs a method, or an id with a result or an error"}
	}
}

// idKey makes a JSON-RPC id comparable: strings by value, numbers by text.
func idKey(id json.RawMessage) string {
	id = bytes.TrimSpace(id)
	if len(id) > 0 && id[0] == '"' {
		var s string
		if json.Unmarshal(id, &s) == nil {
			return "s:" + s
		}
	}
	return "n:" + string(id)
}

// rpcError encodes a JSON-RPC error response (id may be nil: null).
func rpcError(id json.RawMessage, code int, msg string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg}})
	return b
}

// sendRPCError answers with an HTTP status and a JSON-RPC error body.
func sendRPCError(c *fiber.Ctx, status int, id json.RawMessage, code int, msg string) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(rpcError(id, code, msg))
}

// httpError is a refusal: an HTTP status and a JSON-RPC error.
type httpError struct {
	status, code int
	msg          string
}

// send answers with the error.
func (e *httpError) send(c *fiber.Ctx) error {
	return sendRPCError(c, e.status, nil, e.code, e.msg)
}

// checkContentType refuses POST bodies that are declared as something else
// than JSON (415). Browsers send text/plain, form and multipart bodies
// cross-origin without a CORS preflight, so accepting only JSON also
// keeps such requests out. A missing Content-Type is accepted.
func checkContentType(c *fiber.Ctx) *httpError {
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return &httpError{fiber.StatusUnsupportedMediaType, codeInvalidRequest,
		"unsupported Content-Type " + ct + ": send the JSON-RPC message as application/json"}
}

// acceptance is what an Accept header allows.
type acceptance struct {
	json, sse bool
}

// parseAccept reads an Accept header. A missing header accepts JSON only;
// wildcards accept JSON, never an event stream (which must be asked for).
func parseAccept(h string) acceptance {
	if strings.TrimSpace(h) == "" {
		return acceptance{json: true}
	}
	var a acceptance
	for part := range strings.SplitSeq(h, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if zeroQuality(params) {
			continue // q=0: explicitly not acceptable
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/json", "application/*", "*/*":
			a.json = true
		case "text/event-stream":
			a.sse = true
		}
	}
	return a
}

// zeroQuality reports whether media-type parameters hold q=0.
func zeroQuality(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

// supportedVersion reports whether an MCP-Protocol-Version header names a
// version the gateway speaks.
func supportedVersion(v string) bool {
	return engine.IsSupportedProtocolVersion(v)
}

// handle passes one client message to a gateway session and reports how long
// the gateway took to answer a request: the latency a client sees, whether
// the answer then goes out as JSON or on an event stream.
func (o *transportOptions) handle(ctx context.Context, gs *gateway.Session, body []byte) json.RawMessage {
	start := time.Now()
	resp := gs.Handle(ctx, body)
	if resp != nil && o.OnCall != nil {
		o.OnCall(body, time.Since(start))
	}
	return resp
}
