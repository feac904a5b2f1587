package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpscript/mcpscript/internal/wire"
)

// Request is one MCP request on its way to a server through the middleware
// chain. Middleware may change Server (routing), Params (rewriting) and,
// rarely, Method; the next handler sends what it finds. Change a copy
// (r := *req) rather than building a new Request, so that Progress and
// Route stay with the request.
type Request struct {
	Server string          // the server the request goes to
	Method string          // e.g. "tools/call", "tools/list", "resources/read"
	Params json.RawMessage // the params as they will be sent: valid JSON, or empty
	Caller Identity        // who asked: token name, session, transport

	// Progress, if set, receives the params of the server's
	// notifications/progress about this request, as sent; the request then
	// carries a progress token of the engine's own.
	Progress func(params json.RawMessage)
	// Route, if set, finds the client for the request's Server when it is
	// sent; nil sends it to the runner's client of that server, if
	// Caller.Servers allows it.
	Route Router

	// Notes, when set, collects the decisions of hooks and the fields they
	// add for the audit trail: a hook runner calls Notes.AddDecision once
	// per hook that ran and Notes.Add for a script's audit.add. It is set
	// by the audit observer (see Runner.Observe) and nil when nothing
	// records, which its methods accept. Copies of the request share it.
	Notes *CallNotes
}

// Router finds the client a request is sent on: the gateway's sessions
// route to the servers their caller may use and to their own per-session
// children. release is called when the request is done.
type Router interface {
	Route(ctx context.Context, server string) (c *Client, release func(), err error)
}

func noRelease() {}

// Handler sends a request on and returns the raw result, or an error. For a
// tools/call the result is the CallToolResult object; for a list method it
// is one page ({"tools": [...], "nextCursor": ...}).
type Handler func(ctx context.Context, req *Request) (json.RawMessage, error)

// Middleware wraps the next handler of the chain. It can pass the request on
// (changed or not), change the result on the way back, refuse the request
// (return a *DeniedError), or answer it without calling next. Middleware runs
// on the caller's goroutine and must be safe for concurrent use.
type Middleware func(next Handler) Handler

// Every request a Client sends passes the chain: the Go API, the proxy's
// sessions and workflows alike. The engine's own housekeeping (the
// handshake, list caching, subscriptions, log levels) does not.

// CodeDenied is the JSON-RPC error code the gateway answers a denied
// request with; the error's data is {"by": hook, "reason": reason}.
const CodeDenied = wire.CodeDenied

// ErrDenied means a middleware refused a request; see DeniedError.
var ErrDenied = errors.New("denied")

// ErrHook means a hook failed (threw, timed out, returned something
// unreadable) and its fail mode refused the request; see HookError.
var ErrHook = errors.New("hook failed")

// DeniedError is a request refused by a middleware or hook, with the reason
// it gave.
type DeniedError struct {
	By     string // the hook or middleware that refused, e.g. "policy.js"
	Server string // the server the request was for
	Method string // the request's method
	Name   string // the tool or prompt name, or the resource URI, when there is one
	Reason string // the reason given, shown to the caller
}

func (e *DeniedError) Error() string {
	what := e.Method
	if e.Name != "" {
		what += fmt.Sprintf(" %q", e.Name)
	}
	msg := fmt.Sprintf("denied: %s on server %q", what, e.Server)
	if e.By != "" {
		msg += " by " + e.By
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// HookError is a hook that failed while its fail mode is closed: the request
// is refused rather than let through unchecked.
type HookError struct {
	Hook  string // the script or filter, e.g. "policy.js"
	Phase string // the hook function, e.g. "toolCall"
	Err   error  // what went wrong: a script exception (with its stack), a timeout, bad output
}

func (e *HookError) Error() string {
	return fmt.Sprintf("hook %s: %s failed: %v", e.Hook, e.Phase, e.Err)
}

// Is makes errors.Is(err, ErrHook) true.
func (e *HookError) Is(target error) bool { return target == ErrHook }

// Unwrap returns the underlying failure (e.g. context.DeadlineExceeded).
func (e *HookError) Unwrap() error { return e.Err }

// Name returns params.name (tools/call, prompts/get) or params.uri
// (resources/read and friends), or "" when there is none.
func (r *Request) Name() string {
	// A map, not a struct: servers match keys exactly, and so must policy.
	var p map[string]json.RawMessage
	if json.Unmarshal(r.Params, &p) != nil {
		return ""
	}
	var name string
	if json.Unmarshal(p["name"], &name) == nil && name != "" {
		return name
	}
	_ = json.Unmarshal(p["uri"], &name)
	return name
}

// Identity says who calls: the gateway's sessions carry the proxy's, and
// middleware and hooks read it from Request.Caller. Treat it as read-only:
// copies share Servers, Scopes and Claims.
type Identity struct {
	// Auth is how a proxy client authenticated: AuthJWT (an OAuth access
	// token), AuthBearer (a configured static token) or AuthNone (the proxy
	// has no authentication). It is "" for callers outside the proxy (Go,
	// the CLI, workflows), which are not authenticated either.
	Auth      string
	Token     string   // name of the static bearer token used ("" for a JWT, or when auth is off)
	Subject   string   // the JWT subject (sub) of an OAuth access token: the user, or the client of a client-credentials token; "" for bearer tokens
	Session   string   // the transport's session id
	Transport string   // "streamable-http", "sse", "reference-sse", "go", "cli", "workflow"
	Servers   []string // if non-nil, the only servers this caller may use (the token's limit)
	// Protocol is the MCP version the caller speaks ("2026-07-28" for a
	// modern client, the negotiated version for a legacy session, "" when
	// unknown).
	Protocol string

	// ClientID is the OAuth client a JWT was issued to (client_id, else azp).
	ClientID string
	// Scopes are the scopes a JWT grants.
	Scopes []string
	// Claims are all of a JWT's claims, as decoded JSON (numbers are
	// float64); nil for other callers.
	Claims map[string]any

	// ClientName and ClientVersion are the clientInfo of the session's MCP
	// initialize, once the client sent it.
	ClientName    string
	ClientVersion string
}

// Principal names who the caller is, for deciding what belongs to whom
// (sessions, pending requests): the subject and client of a JWT, else the
// static token's name ("" when authentication is off). Two requests of
// one principal may see each other's sessions; of two, never.
func (id Identity) Principal() string {
	if id.Auth == AuthJWT {
		return "\x00jwt\x00" + id.Subject + "\x00" + id.ClientID
	}
	return id.Token
}

// Values of Identity.Auth.
const (
	AuthNone   = "none"
	AuthBearer = "bearer"
	AuthJWT    = "jwt"
)

type identityKey struct{}

// WithIdentity returns a context whose requests carry id as their caller.
// The proxy sets it per session; the CLI and workflows set their transport.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the caller set by WithIdentity, or {Transport: "go"}.
func IdentityFrom(ctx context.Context) Identity {
	if id, ok := ctx.Value(identityKey{}).(Identity); ok {
		return id
	}
	return Identity{Transport: "go"}
}
