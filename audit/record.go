package audit

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// Outcomes of a request, the values of Record.Outcome.
const (
	OutcomeOK      = "ok"      // answered with a result
	OutcomeIsError = "isError" // a tools/call whose result says isError: the tool failed
	OutcomeError   = "error"   // answered with a JSON-RPC error (Code)
	OutcomeDenied  = "denied"  // refused by a hook or filter (Code is CodeDenied)
)

// Caller is who made a request.
type Caller struct {
	Transport     string // "streamable-http", "sse", "cli", "workflow", "go", ...
	Token         string // the bearer token's name
	Subject       string // who the token speaks for (an OAuth subject), when known
	Session       string // the transport's session id
	Protocol      string // the MCP version the caller speaks
	ClientName    string // the client's name from its handshake, when known
	ClientVersion string // and its version
}

// Field is one field a hook added to a record (audit.add).
type Field struct {
	Key   string
	Value json.RawMessage // JSON
}

// Record is one request as the audit trail keeps it. Records handed to
// subscribers are shared: treat them as read-only.
type Record struct {
	Seq    uint64    // order in the trail, from 1
	Time   time.Time // when the request arrived
	Caller Caller
	Server string // the server it was for
	Method string // e.g. "tools/call"
	Tool   string // tools/call: the tool
	Prompt string // prompts/get: the prompt
	URI    string // resources/read, subscribe, unsubscribe: the resource

	// ArgsBytes is the size of the arguments (params.arguments of
	// tools/call and prompts/get) as sent, 0 when there are none;
	// ArgsSHA256 their SHA-256 in hex (not with arguments "none");
	// Arguments the arguments themselves (only with arguments "full").
	ArgsBytes  int
	ArgsSHA256 string
	Arguments  json.RawMessage

	Decisions []engine.Decision // what hooks and filters decided, in order
	Fields    []Field           // what hooks added

	Outcome string        // OutcomeOK, OutcomeIsError, OutcomeError or OutcomeDenied
	Code    int64         // the JSON-RPC error code (error and denied)
	Error   string        // the error's first line (error and denied)
	Latency time.Duration // from arrival to the answer
	TraceID string        // the OpenTelemetry trace, when traced
	SpanID  string        // the request's span, when traced
}

// MarshalJSON encodes the record as AppendJSON does.
func (r *Record) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// AppendJSON appends the record as one JSON object (no newline) to dst:
//
//	{"seq":1,"time":"2026-12-03T10:00:00.000001Z",
//	 "caller":{"transport":"streamable-http","token":"ci","session":"9f…","protocol":"2025-11-25",
//	           "clientName":"claude-code","clientVersion":"2.1"},
//	 "server":"demo","method":"tools/call","tool":"echo",
//	 "argsBytes":15,"argsSha256":"5d41…","arguments":{"text":"hi"},
//	 "decisions":[{"by":"policy.js","kind":"deny","reason":"read-only"}],
//	 "fields":{"user":"ada"},
//	 "outcome":"denied","code":-32003,"error":"…","latencyMs":0.412,
//	 "traceId":"4bf9…","spanId":"00f0…"}
//
// Members that do not apply are left out.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","caller":{"transport":`...)
	dst = rawjson.AppendQuote(dst, r.Caller.Transport)
	dst = appendString(dst, "token", r.Caller.Token)
	dst = appendString(dst, "subject", r.Caller.Subject)
	dst = appendString(dst, "session", r.Caller.Session)
	dst = appendString(dst, "protocol", r.Caller.Protocol)
	dst = appendString(dst, "clientName", r.Caller.ClientName)
	dst = appendString(dst, "clientVersion", r.Caller.ClientVersion)
	dst = append(dst, `},"server":`...)
	dst = rawjson.AppendQuote(dst, r.Server)
	dst = append(dst, `,"method":`...)
	dst = rawjson.AppendQuote(dst, r.Method)
	dst = appendString(dst, "tool", r.Tool)
	dst = appendString(dst, "prompt", r.Prompt)
	dst = appendString(dst, "uri", r.URI)
	if r.ArgsBytes > 0 {
		dst = append(dst, `,"argsBytes":`...)
		dst = strconv.AppendInt(dst, int64(r.ArgsBytes), 10)
	}
	dst = appendString(dst, "argsSha256", r.ArgsSHA256)
	if len(r.Arguments) > 0 {
		dst = append(dst, `,"arguments":`...)
		dst = append(dst, r.Arguments...)
	}
	if len(r.Decisions) > 0 {
		dst = append(dst, `,"decisions":[`...)
		for i, d := range r.Decisions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"by":`...)
			dst = rawjson.AppendQuote(dst, d.By)
			dst = append(dst, `,"kind":`...)
			dst = rawjson.AppendQuote(dst, d.Kind)
			dst = appendString(dst, "reason", d.Reason)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(r.Fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		for i, f := range r.Fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = rawjson.AppendQuote(dst, f.Key)
			dst = append(dst, ':')
			dst = append(dst, f.Value...)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"outcome":`...)
	dst = rawjson.AppendQuote(dst, r.Outcome)
	if r.Code != 0 {
		dst = append(dst, `,"code":`...)
		dst = strconv.AppendInt(dst, r.Code, 10)
	}
	dst = appendString(dst, "error", r.Error)
	dst = append(dst, `,"latencyMs":`...)
	dst = strconv.AppendFloat(dst, float64(r.Latency.Microseconds())/1000, 'f', -1, 64)
	dst = appendString(dst, "traceId", r.TraceID)
	dst = appendString(dst, "spanId", r.SpanID)
	return append(dst, '}')
}

// appendString appends ,"key":"value" when value is not empty.
func appendString(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return rawjson.AppendQuote(dst, value)
}
