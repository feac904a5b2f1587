//go:build wasip1

package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
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

var (
	handler Handler
	raw     RawHandler
	initFns []func() error
	inBuf   []byte // the input buffer, reused across calls
)

// Handle registers the filter's handler. Call it from an init function:
// a reactor module never runs main.
func Handle(h Handler) { handler, raw = h, nil }

// HandleRaw registers a handler that reads the Input's JSON and writes the
// Decision's JSON itself (to use another JSON library, or to pass bytes
// through untouched); it replaces any handler registered before.
func HandleRaw(h RawHandler) { handler, raw = nil, h }

// Init registers f to run once per instance, after every init function and
// before the first call; an error refuses the instance (and, for the first
// one, makes loading the filter fail with the error's message). It is the
// place to read and check Config.
func Init(f func() error) { initFns = append(initFns, f) }

// ConfigBytes returns the filter's "config" from the mcpscript configuration,
// as JSON; "{}" when none was given.
func ConfigBytes() []byte {
	n := configRead(nil, 0)
	if n == 0 {
		return []byte("{}")
	}
	b := make([]byte, n)
	configRead(unsafe.Pointer(&b[0]), n)
	return b
}

// Config decodes the filter's config into v (a pointer).
func Config(v any) error {
	if err := json.Unmarshal(ConfigBytes(), v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Level is a log level; the values are those of Go's log/slog.
type Level int32

// The log levels.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// Log writes msg to the host's log at level, tagged with the filter's name.
// (Anything written to os.Stdout or os.Stderr is logged too, a line at a
// time.)
func Log(level Level, msg string) {
	if msg == "" {
		hostLog(int32(level), nil, 0)
		return
	}
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// Logf is Log with fmt.Sprintf formatting.
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }

//go:wasmimport mcpscript input_read
func inputRead(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport mcpscript output_write
func outputWrite(ptr unsafe.Pointer, n uint32)

//go:wasmimport mcpscript config_read
func configRead(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport mcpscript log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

func write(b []byte) {
	if len(b) == 0 {
		outputWrite(nil, 0)
		return
	}
	outputWrite(unsafe.Pointer(&b[0]), uint32(len(b)))
}

// fail writes err's message as the output and returns the error code.
func fail(err error) int32 {
	write([]byte(err.Error()))
	return 1
}

// The exports are called by the host only; this tells linters they are used.
var _ = []any{abiVersion, initInstance, filter}

//go:wasmexport mcpscript_abi_version
func abiVersion() int32 { return ABIVersion }

//go:wasmexport mcpscript_init
func initInstance() int32 {
	for _, f := range initFns {
		if err := f(); err != nil {
			return fail(err)
		}
	}
	return 0
}

//go:wasmexport mcpscript_filter
func filter(n uint32) int32 {
	if handler == nil && raw == nil {
		return fail(errors.New("no handler: call guest.Handle from an init function"))
	}
	if cap(inBuf) < int(n) {
		inBuf = make([]byte, n)
	}
	buf := inBuf[:n]
	if n > 0 {
		buf = buf[:inputRead(unsafe.Pointer(&buf[0]), n)]
	}
	if raw != nil {
		out, err := raw(buf)
		if err != nil {
			return fail(err)
		}
		write(out)
		return 0
	}
	in := new(Input)
	if err := json.Unmarshal(buf, in); err != nil {
		return fail(fmt.Errorf("reading the input: %w", err))
	}
	d, err := handler(in)
	if err != nil {
		return fail(err)
	}
	if d == nil {
		d = Continue()
	}
	out, err := json.Marshal(d)
	if err != nil {
		return fail(fmt.Errorf("encoding the decision: %w", err))
	}
	write(out)
	return 0
}
