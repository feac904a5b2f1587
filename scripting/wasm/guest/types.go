package guest

import (
	"encoding/json"
	"fmt"
)

// ABIVersion is the version of the mcpscript filter ABI this package
// implements; the host refuses modules of another version.
const ABIVersion = 1

// Phase names a hook point: the point in a request's life the filter runs at.
type Phase string

// The hook points, as in the "hooks" list of a filter's configuration.
const (
	ToolCall              Phase = "toolCall"              // before a tools/call
	ToolResult            Phase = "toolResult"            // after a tools/call
	ListTools             Phase = "listTools"             // on each tools/list result
	ListPrompts           Phase = "listPrompts"           // on each prompts/list result
	ListResources         Phase = "listResources"         // on each resources/list result
	ListResourceTemplates Phase = "listResourceTemplates" // on each resources/templates/list result
	Request               Phase = "request"               // before any other request
	Response              Phase = "response"              // after any other request
)

// Caller is who made the request.
type Caller struct {
	Token     string `json:"token"`     // the bearer token's name; "" without auth
	Session   string `json:"session"`   // the proxy session id; "" outside the proxy
	Transport string `json:"transport"` // "streamable-http", "sse", "go", "cli", ...
	// Auth is how the caller authenticated: "jwt", "bearer" or "none".
	Auth     string          `json:"auth"`
	Subject  string          `json:"subject"`  // a verified JWT's sub; "" otherwise
	ClientID string          `json:"clientId"` // the OAuth client a JWT was issued to; "" otherwise
	Scopes   []string        `json:"scopes"`   // the scopes a JWT grants
	Claims   json.RawMessage `json:"claims"`   // every claim of the verified JWT, as a JSON object
	Client   ClientInfo      `json:"client"`   // the MCP client's clientInfo from its initialize
	Protocol string          `json:"protocol"` // the MCP version the caller speaks; "" when unknown
}

// ClientInfo is the name and version an MCP client gave in its initialize.
type ClientInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Input is what the host hands the filter for one phase. Fields a phase does
// not use are empty. It mirrors the host's scripting.Input.
type Input struct {
	Hook      Phase           `json:"hook"`                // the phase being run
	Server    string          `json:"server"`              // the target server
	Method    string          `json:"method"`              // the MCP method, e.g. "tools/call"
	Caller    Caller          `json:"caller"`              // who asked
	Tool      string          `json:"tool,omitempty"`      // toolCall, toolResult: the tool's name
	Arguments json.RawMessage `json:"arguments,omitempty"` // toolCall, toolResult: the tool's arguments
	Params    json.RawMessage `json:"params,omitempty"`    // request, response, list phases: the request's params
	Result    json.RawMessage `json:"result,omitempty"`    // toolResult, response: the server's result
	Items     json.RawMessage `json:"items,omitempty"`     // list phases: the array of tools/prompts/resources
	State     json.RawMessage `json:"state,omitempty"`     // toolResult, response: the State this filter's toolCall or request phase set for the same request
}

// DecodeArguments decodes the tool's arguments into v (absent arguments leave v unchanged).
func (in *Input) DecodeArguments(v any) error { return decode(in.Arguments, v) }

// DecodeResult decodes the server's result into v.
func (in *Input) DecodeResult(v any) error { return decode(in.Result, v) }

// DecodeParams decodes the request's params into v.
func (in *Input) DecodeParams(v any) error { return decode(in.Params, v) }

// DecodeItems decodes the listed items into v (usually a slice).
func (in *Input) DecodeItems(v any) error { return decode(in.Items, v) }

func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// Decision is what the filter answers. The zero Decision lets the request
// continue unchanged. It mirrors the host's scripting.Decision; see
// docs/wasm-abi.md for which fields each phase honours.
type Decision struct {
	// Deny refuses the request or its result: a JSON string is the reason
	// shown to the caller, true denies without one.
	Deny json.RawMessage `json:"deny,omitempty"`
	// Result answers the request without any server (before phases) or
	// replaces the server's result (after phases).
	Result json.RawMessage `json:"result,omitempty"`
	// Arguments replaces a tools/call's arguments (toolCall).
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// Params replaces a request's params (request).
	Params json.RawMessage `json:"params,omitempty"`
	// Server routes the request to another configured server (toolCall, request).
	Server string `json:"server,omitempty"`
	// Tool routes a tools/call to another tool (toolCall).
	Tool string `json:"tool,omitempty"`
	// Items replaces the list (list phases).
	Items json.RawMessage `json:"items,omitempty"`
	// State, a JSON object, is kept for the same request's after phase
	// (toolCall → toolResult, request → response), which reads it as
	// Input.State.
	State json.RawMessage `json:"state,omitempty"`
}

// isContinue reports whether d (nil included) changes nothing.
func (d *Decision) isContinue() bool {
	return d == nil || len(d.Deny) == 0 && len(d.Result) == 0 && len(d.Arguments) == 0 &&
		len(d.Params) == 0 && d.Server == "" && d.Tool == "" && len(d.Items) == 0 && len(d.State) == 0
}

// Continue lets the request (or result) through unchanged.
func Continue() *Decision { return &Decision{} }

// Deny refuses the request (before phases) or the result (after phases)
// with reason, which the caller sees.
func Deny(reason string) *Decision {
	b, _ := json.Marshal(reason)
	return &Decision{Deny: b}
}

// Result answers the request with v without calling any server (toolCall,
// request), or replaces the server's result with v (toolResult, response).
// For tools, v is a CallToolResult object such as
// {"content": [{"type": "text", "text": "..."}]}; see TextResult.
func Result(v any) (*Decision, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Decision{Result: b}, nil
}

// Arguments rewrites a tools/call's arguments (toolCall); v must encode as
// a JSON object.
func Arguments(v any) (*Decision, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Decision{Arguments: b}, nil
}

// Items replaces a listed page's items (list phases); v must encode as a
// JSON array.
func Items(v any) (*Decision, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Decision{Items: b}, nil
}

// TextResult is a tool result with one text content, for Result.
func TextResult(text string, isError bool) map[string]any {
	r := map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}}
	if isError {
		r["isError"] = true
	}
	return r
}

// Handler decides one phase. A nil Decision means Continue. An error fails
// the call: the host logs the message and applies the filter's fail mode
// (by default the request is refused). A panic does the same, and the host
// also discards this instance of the module.
type Handler func(in *Input) (*Decision, error)

// RawHandler decides one phase on the raw JSON: in is the Input, and the
// returned bytes must be a Decision; see HandleRaw.
type RawHandler func(in []byte) ([]byte, error)

// Level is a log level; the values are those of Go's log/slog.
type Level int32

// The log levels.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// Logf is Log with fmt.Sprintf formatting.
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }
