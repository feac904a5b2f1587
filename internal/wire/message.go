package wire

import (
	"bytes"
	"encoding/json"

	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// Kind is what a message is.
type Kind int

// The kinds of JSON-RPC message.
const (
	KindRequest      Kind = iota + 1 // a method and an id
	KindNotification                 // a method, no id
	KindResponse                     // an id and a result or an error
)

// Message is one parsed JSON-RPC message. The byte slices point into the
// parsed input, which must not change while the Message is in use.
type Message struct {
	Kind   Kind
	ID     json.RawMessage // as sent; nil for notifications; "null" for an error about an unreadable request
	Method string          // requests and notifications
	Params json.RawMessage // nil when absent
	Result json.RawMessage // responses: nil when absent
	Error  json.RawMessage // responses: nil when absent
	Raw    []byte          // the whole message, trimmed
}

// IsRequest reports whether m is a request (it has a method and an id).
func (m *Message) IsRequest() bool { return m.Kind == KindRequest }

// Parse reads one JSON-RPC 2.0 message in one pass over its bytes: the
// whole message is validated, the envelope decoded, params, result and
// error kept as bytes. On error it returns an Error to answer with
// (-32700 or -32600) and, when the message's id could be read, a Message
// holding it, so the answer can carry the id.
//
// Batches (JSON arrays) are refused: MCP removed them in 2025-06-18 and no
// current client sends them.
func Parse(b []byte) (*Message, *Error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, Errorf(CodeParseError, "parse error: the message is empty; send one JSON-RPC message")
	}
	switch b[0] {
	case '[':
		if !rawjson.Valid(b) {
			return nil, parseError(b)
		}
		return nil, Errorf(CodeInvalidRequest, "invalid request: JSON-RPC batches are not supported (MCP removed them in 2025-06-18); send one message at a time")
	case '{':
	default:
		if !rawjson.Valid(b) {
			return nil, parseError(b)
		}
		return nil, Errorf(CodeInvalidRequest, `invalid request: a JSON-RPC message must be a JSON object with "jsonrpc": "2.0"`)
	}
	var (
		m                  = &Message{Raw: b}
		version, method    []byte
		hasMethod, hasID   bool
		hasResult, hasErrm bool
	)
	err := rawjson.Each(b, func(mb rawjson.Member) {
		switch {
		case mb.Is("jsonrpc"):
			version = mb.Value
		case mb.Is("id"):
			m.ID, hasID = mb.Value, true
		case mb.Is("method"):
			method, hasMethod = mb.Value, true
		case mb.Is("params"):
			m.Params = mb.Value
		case mb.Is("result"):
			m.Result, hasResult = mb.Value, true
		case mb.Is("error"):
			m.Error, hasErrm = mb.Value, true
		}
	})
	if err != nil {
		return nil, parseError(b)
	}
	idNull := hasID && string(m.ID) == "null"
	if hasID && !idNull && !ValidID(m.ID) {
		return nil, Errorf(CodeInvalidRequest, "invalid request: id must be a string or a number")
	}
	replyable := m
	if !hasID || idNull {
		replyable = nil
	}
	if v, ok := rawjson.Unquote(version); !ok || v != "2.0" {
		return replyable, Errorf(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	}
	if hasMethod {
		name, ok := rawjson.Unquote(method)
		switch {
		case !ok:
			return replyable, Errorf(CodeInvalidRequest, "invalid request: method must be a string")
		case name == "":
			return replyable, Errorf(CodeInvalidRequest, "invalid request: method must not be empty")
		case idNull:
			return nil, Errorf(CodeInvalidRequest, "invalid request: id must not be null")
		}
		m.Method = name
		if hasID {
			m.Kind = KindRequest
		} else {
			m.Kind, m.ID = KindNotification, nil
		}
		return m, nil
	}
	switch {
	case hasResult == hasErrm:
	case hasID && !idNull:
		m.Kind = KindResponse
		return m, nil
	case hasErrm:
		// An error about a message the peer could not read: it has no
		// id, or a null one, and nothing answers it.
		m.Kind, m.ID = KindResponse, nil
		return m, nil
	}
	return nil, Errorf(CodeInvalidRequest, "invalid request: a message needs a method, or an id with a result or an error")
}

func parseError(b []byte) *Error {
	msg := "parse error: the message is not valid JSON"
	if err := rawjson.Check(b); err != nil {
		msg += " (" + err.Error() + ")"
	}
	return Errorf(CodeParseError, "%s", msg)
}

// ValidID reports whether raw is a JSON string or number, as JSON-RPC ids
// must be.
func ValidID(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		_, ok := rawjson.Unquote(raw)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return rawjson.Valid(raw)
	}
	return false
}

// IDKey makes an id comparable: strings by value, numbers by their text.
// Ids of different types never share a key.
func IDKey(id []byte) string {
	id = bytes.TrimSpace(id)
	if len(id) > 0 && id[0] == '"' {
		if s, ok := rawjson.Unquote(id); ok {
			return "s:" + s
		}
	}
	return "n:" + string(id)
}
