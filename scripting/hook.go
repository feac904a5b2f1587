package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/policy"
)

// Phase names a hook function: the point in a request's life where it runs.
type Phase string

// The hook points. A script exports functions of these names; a WebAssembly
// filter declares which of them it handles.
const (
	// PhaseToolCall runs before a tools/call: it may rewrite the arguments,
	// route to another server or tool, deny, or answer without a server.
	PhaseToolCall Phase = "toolCall"
	// PhaseToolResult runs after a tools/call: it may replace the result or deny it.
	PhaseToolResult Phase = "toolResult"
	// PhaseListTools runs on each tools/list result: it may filter, edit or rename items.
	PhaseListTools Phase = "listTools"
	// PhaseListPrompts runs on each prompts/list result.
	PhaseListPrompts Phase = "listPrompts"
	// PhaseListResources runs on each resources/list result.
	PhaseListResources Phase = "listResources"
	// PhaseListResourceTemplates runs on each resources/templates/list result.
	PhaseListResourceTemplates Phase = "listResourceTemplates"
	// PhaseRequest runs before any other request (resources/read,
	// prompts/get, completion/complete, ...): it may rewrite params, route,
	// deny or answer.
	PhaseRequest Phase = "request"
	// PhaseResponse runs after any other request: it may replace the result or deny it.
	PhaseResponse Phase = "response"
)

// Phases lists every hook point, in no particular order of execution.
var Phases = []Phase{PhaseToolCall, PhaseToolResult, PhaseListTools, PhaseListPrompts,
	PhaseListResources, PhaseListResourceTemplates, PhaseRequest, PhaseResponse}

// listPhases maps a list method to its hook and the result's array field.
var listPhases = map[string]struct {
	phase Phase
	field string
}{
	"tools/list":               {PhaseListTools, "tools"},
	"prompts/list":             {PhaseListPrompts, "prompts"},
	"resources/list":           {PhaseListResources, "resources"},
	"resources/templates/list": {PhaseListResourceTemplates, "resourceTemplates"},
}

// Input is what a hook receives: the same fields for JavaScript (as an
// object) and WebAssembly (as JSON). Fields a phase does not use are absent.
type Input struct {
	Hook      Phase           `json:"hook"`                // the phase being run
	Server    string          `json:"server"`              // the target server
	Method    string          `json:"method"`              // the MCP method
	Caller    Caller          `json:"caller"`              // who asked
	Tool      string          `json:"tool,omitempty"`      // toolCall, toolResult: the tool's name
	Arguments json.RawMessage `json:"arguments,omitempty"` // toolCall, toolResult: the tool's arguments
	Params    json.RawMessage `json:"params,omitempty"`    // request, response: the request's params
	Result    json.RawMessage `json:"result,omitempty"`    // toolResult, response: the server's result
	Items     json.RawMessage `json:"items,omitempty"`     // list phases: the array of tools/prompts/resources
	// State is what the hook's before phase of the same request
	// (toolCall, request) left for its after phase (toolResult,
	// response): a JSON object, absent when it left nothing.
	State json.RawMessage `json:"state,omitempty"`

	// Notes, when set, is the request's record for the audit trail
	// (engine.Request.Notes): where a script's audit.add goes. Not part
	// of the JSON.
	Notes *engine.CallNotes `json:"-"`

	failed bool // the phase failed open (recorded in Notes as such)
}

// Decision is what a hook returns. The zero Decision (a JavaScript hook
// returning undefined, a filter writing {}) lets the request continue
// unchanged.
type Decision struct {
	// Deny refuses the request (before phases) or the result (after
	// phases): a string is the reason shown to the caller; true denies
	// without one; false and null do nothing.
	Deny json.RawMessage `json:"deny,omitempty"`
	// Result, before a call, answers it without any server; after a call,
	// replaces the server's result.
	Result json.RawMessage `json:"result,omitempty"`
	// Arguments replaces a tools/call's arguments (toolCall).
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// Params replaces a request's params (request).
	Params json.RawMessage `json:"params,omitempty"`
	// Server routes the request to another configured server (toolCall, request).
	Server string `json:"server,omitempty"`
	// Tool routes a tools/call to another tool name (toolCall).
	Tool string `json:"tool,omitempty"`
	// Items replaces the list (list phases).
	Items json.RawMessage `json:"items,omitempty"`
	// State, from a before phase (toolCall, request), is a JSON object
	// kept for the same hook's after phase of the same request, which
	// gets it as Input.State. A JavaScript hook writes it as call.state.
	State json.RawMessage `json:"state,omitempty"`
}

// denied reports whether d denies, and the reason.
func (d *Decision) denied() (bool, string, error) {
	if len(d.Deny) == 0 {
		return false, "", nil
	}
	switch string(d.Deny) {
	case "null", "false":
		return false, "", nil
	case "true":
		return true, "", nil
	}
	var reason string
	if err := json.Unmarshal(d.Deny, &reason); err != nil {
		return false, "", fmt.Errorf("deny must be a string (the reason) or true, not %s", excerpt(d.Deny))
	}
	return true, reason, nil
}

// Hook is one loaded script or filter: a set of phase functions. Call runs
// one phase; it must return when ctx ends (with ctx's error) and be safe for
// concurrent use.
type Hook interface {
	// Name identifies the hook in errors and logs, e.g. "policy.js".
	Name() string
	// Has says whether the hook implements the phase.
	Has(Phase) bool
	// Call runs one phase.
	Call(ctx context.Context, in *Input) (*Decision, error)
}

// Options tune how a Hook runs in the chain.
type Options struct {
	// Timeout bounds every call of the hook; default 1s.
	Timeout time.Duration
	// FailOpen lets a request through unchanged when the hook fails (throws,
	// times out, returns something unreadable); the default, fail-closed,
	// refuses it with an *engine.HookError.
	FailOpen bool
	// Logger receives fail-open warnings; default slog.Default().
	Logger *slog.Logger
}

// DefaultTimeout bounds a hook call when Options.Timeout is zero.
const DefaultTimeout = time.Second

// Middleware returns h as engine middleware: for each request it runs the
// phases h implements and applies their decisions.
func Middleware(h Hook, opts Options) engine.Middleware {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &hookMW{h: h, opts: opts}
	for _, p := range Phases {
		if h.Has(p) {
			m.has |= 1 << phaseBit(p)
		}
	}
	return func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			return m.handle(ctx, req, next)
		}
	}
}

type hookMW struct {
	h    Hook
	opts Options
	has  uint32
}

func phaseBit(p Phase) int {
	for i, q := range Phases {
		if q == p {
			return i
		}
	}
	return 31
}

func (m *hookMW) implements(p Phase) bool { return m.has&(1<<phaseBit(p)) != 0 }

// run calls one phase under the timeout, in a span of its own. A failure
// is returned as an *engine.HookError (fail-closed) or logged and turned
// into "continue" (fail-open). Two failures ignore the fail mode: a
// limits.take over its limit refuses the request with the rate-limit
// error (JSON-RPC -32005, with retryAfter), and a store or limiter that
// could not be reached under Backends.FailOpen false refuses it with an
// *engine.HookError saying so.
func (m *hookMW) run(ctx context.Context, in *Input) (*Decision, error) {
	sctx, end := engine.StartHookSpan(ctx, m.h.Name(), string(in.Hook))
	cctx, cancel := context.WithTimeout(sctx, m.opts.Timeout)
	d, err := m.h.Call(cctx, in)
	cancel()
	end(err)
	if err == nil {
		if d == nil {
			d = &Decision{}
		}
		return d, nil
	}
	if ctx.Err() != nil {
		// The caller gave up (cancelled, or its own deadline): not the hook's fault.
		return nil, context.Cause(ctx)
	}
	var le *limits.LimitedError
	if errors.As(err, &le) {
		m.note(in, engine.DecisionDenied, le.Error())
		return nil, policy.RateLimited(le)
	}
	var be *BackendError
	if errors.As(err, &be) {
		m.note(in, engine.DecisionFailed, firstLine(err.Error()))
		m.opts.Logger.Warn("hook's state could not be reached; refusing the request (state.onError is \"closed\")",
			"hook", m.h.Name(), "phase", in.Hook, "server", in.Server, "method", in.Method, "err", err)
		return nil, &engine.HookError{Hook: m.h.Name(), Phase: string(in.Hook), Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		var ns *notStartedError
		if errors.As(err, &ns) {
			err = fmt.Errorf("timed out after %v: %w", m.opts.Timeout, err)
		} else {
			err = fmt.Errorf("ran past its %v timeout and was stopped: %w", m.opts.Timeout, err)
		}
	}
	if err := m.fail(in, err); err != nil {
		return nil, err
	}
	return &Decision{}, nil
}

// note records the hook's decision about the request in its audit notes
// (nothing when nobody records).
func (m *hookMW) note(in *Input, kind, reason string) {
	in.Notes.AddDecision(m.h.Name(), kind, reason)
}

// decided records the outcome of a phase that did not deny, answer or
// fail closed: kind (continue, modified, routed) unless the hook failed
// open, which fail recorded.
func (m *hookMW) decided(in *Input, kind, reason string) {
	if in.failed && kind == engine.DecisionContinue {
		return
	}
	m.note(in, kind, reason)
}

// fail applies the fail mode to a hook that failed or returned a decision
// this middleware cannot apply: open logs it and returns nil (go on as if
// the hook had returned nothing); closed logs it and returns the
// *engine.HookError that refuses the request. Either way the audit notes
// record the failure.
func (m *hookMW) fail(in *Input, err error) error {
	in.failed = true
	m.note(in, engine.DecisionFailed, firstLine(err.Error()))
	attrs := []any{"hook", m.h.Name(), "phase", in.Hook, "server", in.Server, "method", in.Method, "err", err}
	if m.opts.FailOpen {
		m.opts.Logger.Warn("hook failed; letting the request through (fail-open)", attrs...)
		return nil
	}
	m.opts.Logger.Warn("hook failed; refusing the request (fail-closed)", attrs...)
	return &engine.HookError{Hook: m.h.Name(), Phase: string(in.Hook), Err: err}
}

// refused applies d.Deny: a *engine.DeniedError when it denies; a deny
// that is neither a string nor a boolean fails under the fail mode.
func (m *hookMW) refused(req *engine.Request, in *Input, d *Decision, name string) error {
	deny, reason, err := d.denied()
	if err != nil {
		return m.fail(in, err)
	}
	if deny {
		m.note(in, engine.DecisionDenied, reason)
		return m.deny(req, name, reason)
	}
	return nil
}

// answer reads d.Result: ok says there is a result to return in place of
// the server's. A result that is not a JSON object fails under the fail
// mode (and is ignored when the mode is open). kind is the decision an
// applied result makes: answered (before a call) or modified (after).
func (m *hookMW) answer(in *Input, d *Decision, kind string) (res json.RawMessage, ok bool, err error) {
	if len(d.Result) == 0 || string(d.Result) == "null" {
		return nil, false, nil
	}
	if d.Result[0] != '{' {
		return nil, false, m.fail(in, fmt.Errorf("result must be an object, not %s", excerpt(d.Result)))
	}
	m.note(in, kind, "")
	return d.Result, true, nil
}

func (m *hookMW) deny(req *engine.Request, name, reason string) error {
	return &engine.DeniedError{By: m.h.Name(), Server: req.Server, Method: req.Method, Name: name, Reason: reason}
}

func (m *hookMW) handle(ctx context.Context, req *engine.Request, next engine.Handler) (json.RawMessage, error) {
	if req.Method == "tools/call" {
		return m.toolCall(ctx, req, next)
	}
	if lp, ok := listPhases[req.Method]; ok {
		return m.list(ctx, req, next, lp.phase, lp.field)
	}
	return m.other(ctx, req, next)
}

// routed names where a decision sent a request, for the audit notes.
func routed(server, tool string) string {
	switch {
	case server != "" && tool != "":
		return fmt.Sprintf("server %q, tool %q", server, tool)
	case server != "":
		return fmt.Sprintf("server %q", server)
	}
	return fmt.Sprintf("tool %q", tool)
}

// kept is the state a before phase left for the after phase: an object
// with members, or nothing.
func kept(d *Decision) json.RawMessage {
	if len(d.State) < 2 || d.State[0] != '{' || string(d.State) == "{}" {
		return nil
	}
	return d.State
}

func (m *hookMW) toolCall(ctx context.Context, req *engine.Request, next engine.Handler) (json.RawMessage, error) {
	before, after := m.implements(PhaseToolCall), m.implements(PhaseToolResult)
	if !before && !after {
		return next(ctx, req)
	}
	// Exact keys, as servers read them: decoding into a struct would match
	// "Arguments" or "NAME" too, and a hook could be shown other values
	// than the server acts on.
	call, err := parseObject(req.Params)
	if err != nil {
		return nil, fmt.Errorf("tools/call params: %w", err)
	}
	tool := stringValue(call.get("name"))
	args := call.get("arguments")
	caller := callerOf(req.Caller)
	var state json.RawMessage
	if before {
		in := &Input{Hook: PhaseToolCall, Server: req.Server, Method: req.Method, Caller: caller, Tool: tool, Arguments: args, Notes: req.Notes}
		d, err := m.run(ctx, in)
		if err != nil {
			return nil, err
		}
		if err := m.refused(req, in, d, tool); err != nil {
			return nil, err
		}
		if res, ok, err := m.answer(in, d, engine.DecisionAnswered); ok || err != nil {
			return res, err
		}
		state = kept(d)
		changed, kind, reason := false, engine.DecisionContinue, ""
		if len(d.Arguments) > 0 && string(d.Arguments) != "null" {
			if d.Arguments[0] != '{' {
				if err := m.fail(in, fmt.Errorf("arguments must be an object, not %s", excerpt(d.Arguments))); err != nil {
					return nil, err
				}
			} else {
				args, changed, kind = d.Arguments, true, engine.DecisionModified
			}
		}
		newTool, newServer := "", ""
		if d.Tool != "" && d.Tool != tool {
			tool, changed, newTool = d.Tool, true, d.Tool
		}
		if changed {
			// Only what the hook changed is written anew; the other
			// members (_meta, ...) keep their bytes.
			name, _ := json.Marshal(tool)
			params := call.with("name", name)
			if len(args) > 0 {
				params = params.with("arguments", args)
			}
			r := *req
			r.Params = params.bytes()
			req = &r
		}
		if d.Server != "" && d.Server != req.Server {
			r := *req
			r.Server, newServer = d.Server, d.Server
			req = &r
		}
		if newTool != "" || newServer != "" {
			kind, reason = engine.DecisionRouted, routed(newServer, newTool)
		}
		m.decided(in, kind, reason)
	}
	res, err := next(ctx, req)
	if err != nil || !after {
		return res, err
	}
	in := &Input{Hook: PhaseToolResult, Server: req.Server, Method: req.Method, Caller: caller, Tool: tool, Arguments: args, Result: res, State: state, Notes: req.Notes}
	d, err := m.run(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := m.refused(req, in, d, tool); err != nil {
		return nil, err
	}
	if out, ok, err := m.answer(in, d, engine.DecisionModified); ok || err != nil {
		return out, err
	}
	m.decided(in, engine.DecisionContinue, "")
	return res, nil
}

func (m *hookMW) list(ctx context.Context, req *engine.Request, next engine.Handler, phase Phase, field string) (json.RawMessage, error) {
	res, err := next(ctx, req)
	if err != nil || !m.implements(phase) {
		return res, err
	}
	page, err := parseObject(res)
	if err != nil {
		return res, nil // not ours to judge: the caller sees the server's answer
	}
	items := page.get(field)
	if len(items) == 0 || string(items) == "null" {
		items = json.RawMessage("[]")
	}
	in := &Input{Hook: phase, Server: req.Server, Method: req.Method, Caller: callerOf(req.Caller), Params: req.Params, Items: items, Notes: req.Notes}
	d, err := m.run(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := m.refused(req, in, d, ""); err != nil {
		return nil, err
	}
	if len(d.Items) == 0 || string(d.Items) == "null" {
		m.decided(in, engine.DecisionContinue, "")
		return res, nil
	}
	if d.Items[0] != '[' {
		if err := m.fail(in, fmt.Errorf("items must be an array, not %s", excerpt(d.Items))); err != nil {
			return nil, err
		}
		return res, nil
	}
	m.note(in, engine.DecisionModified, "")
	return page.with(field, d.Items).bytes(), nil
}

func (m *hookMW) other(ctx context.Context, req *engine.Request, next engine.Handler) (json.RawMessage, error) {
	before, after := m.implements(PhaseRequest), m.implements(PhaseResponse)
	if !before && !after {
		return next(ctx, req)
	}
	caller := callerOf(req.Caller)
	name := req.Name()
	var state json.RawMessage
	if before {
		in := &Input{Hook: PhaseRequest, Server: req.Server, Method: req.Method, Caller: caller, Params: req.Params, Notes: req.Notes}
		d, err := m.run(ctx, in)
		if err != nil {
			return nil, err
		}
		if err := m.refused(req, in, d, name); err != nil {
			return nil, err
		}
		if res, ok, err := m.answer(in, d, engine.DecisionAnswered); ok || err != nil {
			return res, err
		}
		state = kept(d)
		kind, reason := engine.DecisionContinue, ""
		if len(d.Params) > 0 && string(d.Params) != "null" || d.Server != "" {
			r := *req
			if len(d.Params) > 0 && string(d.Params) != "null" {
				if d.Params[0] != '{' {
					if err := m.fail(in, fmt.Errorf("params must be an object, not %s", excerpt(d.Params))); err != nil {
						return nil, err
					}
				} else {
					r.Params, kind = d.Params, engine.DecisionModified
				}
			}
			if d.Server != "" {
				r.Server = d.Server
				if d.Server != req.Server {
					kind, reason = engine.DecisionRouted, routed(d.Server, "")
				}
			}
			req = &r
		}
		m.decided(in, kind, reason)
	}
	res, err := next(ctx, req)
	if err != nil || !after {
		return res, err
	}
	in := &Input{Hook: PhaseResponse, Server: req.Server, Method: req.Method, Caller: caller, Params: req.Params, Result: res, State: state, Notes: req.Notes}
	d, err := m.run(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := m.refused(req, in, d, name); err != nil {
		return nil, err
	}
	if out, ok, err := m.answer(in, d, engine.DecisionModified); ok || err != nil {
		return out, err
	}
	m.decided(in, engine.DecisionContinue, "")
	return res, nil
}

// firstLine is the first line of an error message, for the audit notes
// (a script's stack stays in the log).
func firstLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return line
}

// excerpt shortens raw JSON for an error message.
func excerpt(raw json.RawMessage) string {
	const max = 80
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}
