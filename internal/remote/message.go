package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// msgKind classifies a JSON-RPC message.
type msgKind int

const (
	kindRequest      msgKind = iota // has a method and an id: expects a response
	kindNotification                // has a method and no id
	kindResponse                    // has an id and a result or error
)

// outgoing is one message the engine wrote, decoded only as far as the
// transports need: the body is POSTed as written.
type outgoing struct {
	data    []byte
	kind    msgKind
	id      json.RawMessage // requests and responses
	idKey   string
	method  string
	version string // params._meta["io.modelcontextprotocol/protocolVersion"]
	name    string // Mcp-Name: params.name or params.uri, for the methods that have one
	// cancels is the id key of the request a notifications/cancelled names.
	cancels string
}

// metaProtocolVersion is the modern era's per-request version key.
const metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"

// parseOutgoing decodes one line the engine wrote.
func parseOutgoing(line []byte) (*outgoing, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		if len(line) > 0 && line[0] == '[' {
			return nil, errors.New("JSON-RPC batches are not sent over HTTP; write one message per line")
		}
		return nil, errors.New("not a JSON-RPC message object")
	}
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(line, &env); err != nil {
		return nil, fmt.Errorf("malformed JSON-RPC message: %w", err)
	}
	m := &outgoing{data: line, method: env.Method, id: env.ID, idKey: idKey(env.ID)}
	switch {
	case env.Method != "" && m.idKey != "":
		m.kind = kindRequest
	case env.Method != "":
		m.kind = kindNotification
	case m.idKey != "":
		m.kind = kindResponse
	default:
		return nil, errors.New("JSON-RPC message has neither a method nor an id")
	}
	if m.kind == kindResponse || len(env.Params) == 0 || env.Params[0] != '{' {
		return m, nil
	}
	var p struct {
		Meta      map[string]json.RawMessage `json:"_meta"`
		Name      json.RawMessage            `json:"name"`
		URI       json.RawMessage            `json:"uri"`
		RequestID json.RawMessage            `json:"requestId"`
	}
	if json.Unmarshal(env.Params, &p) != nil {
		return m, nil // odd params are the server's to judge
	}
	if v, ok := p.Meta[metaProtocolVersion]; ok {
		_ = json.Unmarshal(v, &m.version)
	}
	switch m.method {
	case "tools/call", "prompts/get":
		_ = json.Unmarshal(p.Name, &m.name)
	case "resources/read":
		_ = json.Unmarshal(p.URI, &m.name)
	case "notifications/cancelled":
		m.cancels = idKey(p.RequestID)
	}
	return m, nil
}

// idKey normalises a JSON-RPC id for map lookups: 7, 7.0 and "7" are
// different ids, but 7 and 7.0 are the same one. "" means no id.
func idKey(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return "s:" + s
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return "n:" + strconv.FormatInt(n, 10)
	}
	if f, err := strconv.ParseFloat(string(raw), 64); err == nil && f == float64(int64(f)) {
		return "n:" + strconv.FormatInt(int64(f), 10)
	}
	return "x:" + string(raw)
}

// incoming is what the transports need to know of a message from the remote.
type incoming struct {
	line     []byte   // compacted JSON plus a newline, ready for the engine
	response []string // id keys of the responses it holds (a batch may hold several)
}

// parseIncoming compacts one message from the remote onto a single line
// (SSE data may span lines; the engine reads one message per line) and
// notes which responses it holds.
func parseIncoming(data []byte) (*incoming, error) {
	var buf bytes.Buffer
	buf.Grow(len(data) + 1)
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("malformed JSON from the remote: %w", err)
	}
	compact := buf.Bytes()
	in := &incoming{}
	switch compact[0] {
	case '{':
		if k := responseKey(compact); k != "" {
			in.response = append(in.response, k)
		}
	case '[':
		var batch []json.RawMessage
		if json.Unmarshal(compact, &batch) == nil {
			for _, m := range batch {
				if k := responseKey(m); k != "" {
					in.response = append(in.response, k)
				}
			}
		}
	default:
		return nil, errors.New("the remote sent JSON that is not a JSON-RPC message")
	}
	buf.WriteByte('\n')
	in.line = buf.Bytes()
	return in, nil
}

// responseKey returns the id key of a response, "" for anything else.
func responseKey(msg []byte) string {
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
	}
	if json.Unmarshal(msg, &env) != nil || env.Method != nil {
		return ""
	}
	return idKey(env.ID)
}

// codeTransportError is the JSON-RPC code of the error responses the link
// makes up when the remote could not answer a request (JSON-RPC's
// "internal error"; the message says what happened).
const codeTransportError = -32603

// errorResponse makes the JSON-RPC error response that answers request id
// when the transport failed it, so the caller gets exactly one outcome.
func errorResponse(id json.RawMessage, err error) []byte {
	line, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": codeTransportError, "message": err.Error()},
	})
	return append(line, '\n')
}

// protocolVersionOf returns result.protocolVersion of an initialize response.
func protocolVersionOf(line []byte) string {
	var env struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	_ = json.Unmarshal(line, &env)
	return env.Result.ProtocolVersion
}

// errorResponseRaw answers request id with the error object the remote
// sent in an HTTP error body.
func errorResponseRaw(id, errObj json.RawMessage) []byte {
	line, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   json.RawMessage `json:"error"`
	}{"2.0", id, errObj})
	return append(line, '\n')
}
