package guest

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// decodeInput decodes the host's Input JSON into in. The host writes it
// with encoding/json, so a small scanner that splits the object into
// members, keeping nested values raw, does the job several times faster
// than encoding/json's reflection (which matters in a wasm guest, where
// every loop iteration pays the host's deadline check). Anything the
// scanner does not expect falls back to encoding/json. The raw fields
// alias b.
func decodeInput(b []byte, in *Input) error {
	if fastInput(b, in) {
		return nil
	}
	*in = Input{}
	return json.Unmarshal(b, in)
}

func fastInput(b []byte, in *Input) bool {
	return eachMember(b, func(key, val []byte) bool {
		var ok = true
		switch string(key) {
		case "hook":
			var s string
			s, ok = internedString(val, &lastHook)
			in.Hook = Phase(s)
		case "server":
			in.Server, ok = internedString(val, &lastServer)
		case "method":
			in.Method, ok = internedString(val, &lastMethod)
		case "tool":
			in.Tool, ok = internedString(val, &lastTool)
		// The raw members are kept as they are (null too), as encoding/json does.
		case "arguments":
			in.Arguments = json.RawMessage(val)
		case "params":
			in.Params = json.RawMessage(val)
		case "result":
			in.Result = json.RawMessage(val)
		case "items":
			in.Items = json.RawMessage(val)
		case "state":
			in.State = json.RawMessage(val)
		case "caller":
			ok = fastCaller(val, &in.Caller)
		default:
			ok = !folds(key, inputKeys) // encoding/json matches names regardless of case
		}
		return ok
	})
}

func fastCaller(b []byte, c *Caller) bool {
	return eachMember(b, func(key, val []byte) bool {
		var ok = true
		switch string(key) {
		case "token":
			c.Token, ok = internedString(val, &lastToken)
		case "session":
			c.Session, ok = internedString(val, &lastSession)
		case "transport":
			c.Transport, ok = internedString(val, &lastTransport)
		case "auth":
			c.Auth, ok = internedString(val, &lastAuth)
		case "subject":
			c.Subject, ok = internedString(val, &lastSubject)
		case "clientId":
			c.ClientID, ok = internedString(val, &lastClientID)
		case "protocol":
			c.Protocol, ok = internedString(val, &lastProtocol)
		case "claims":
			c.Claims = json.RawMessage(val)
		case "scopes":
			ok = fastScopes(val, &c.Scopes)
		case "client":
			ok = fastClient(val, &c.Client)
		default:
			ok = !folds(key, callerKeys)
		}
		return ok
	})
}

// fastScopes decodes the caller's scopes: null and [] (every caller but
// a JWT's) without encoding/json, which costs tens of µs in wasm.
func fastScopes(val []byte, scopes *[]string) bool {
	switch string(val) {
	case "null":
		return true
	case "[]":
		*scopes = []string{}
		return true
	}
	return json.Unmarshal(val, scopes) == nil
}

// fastClient decodes the caller's client name and version.
func fastClient(val []byte, ci *ClientInfo) bool {
	if string(val) == "null" {
		return true
	}
	return eachMember(val, func(key, v []byte) bool {
		var ok = true
		switch string(key) {
		case "name":
			ci.Name, ok = internedString(v, &lastClientName)
		case "version":
			ci.Version, ok = internedString(v, &lastClientVersion)
		default:
			ok = !folds(key, clientKeys)
		}
		return ok
	})
}

// eachMember calls f with each member of the JSON object b, in order, and
// reports whether b was a well-formed object all of whose members f
// accepted; it stops at the first it does not.
func eachMember(b []byte, f func(key, val []byte) bool) bool {
	m, ok := members(b)
	if !ok {
		return false
	}
	for {
		key, val, more, ok := m.next()
		if !ok {
			return false
		}
		if !more {
			return true
		}
		if !f(key, val) {
			return false
		}
	}
}

var (
	clientKeys = []string{"name", "version"}
	inputKeys  = []string{"hook", "server", "method", "caller", "tool", "arguments", "params", "result", "items", "state"}
	callerKeys = []string{"token", "session", "transport", "auth", "subject", "clientId", "scopes", "claims", "client", "protocol"}
)

// folds reports whether key equals one of keys but for case.
func folds(key []byte, keys []string) bool {
	for _, k := range keys {
		if bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	return false
}

// The last value of each string field of the input: consecutive calls
// mostly repeat them (the phase, the server, the method, the tool), and
// reusing the string spares an allocation, which is dear in wasm. A guest
// runs one call at a time, so these need no lock.
var lastHook, lastServer, lastMethod, lastTool, lastToken, lastSession, lastTransport string
var lastAuth, lastSubject, lastClientID, lastProtocol, lastClientName, lastClientVersion string

// internedString is jsonString, returning *last when the value is the same
// and keeping it there otherwise. *last only ever holds a string that
// needed no decoding, so raw bytes equal to it decode to it.
func internedString(val []byte, last *string) (string, bool) {
	if len(val) >= 2 && val[0] == '"' && string(val[1:len(val)-1]) == *last {
		return *last, true
	}
	s, ok := jsonString(val)
	if ok && len(val) >= 2 && string(val[1:len(val)-1]) == s {
		*last = s
	}
	return s, ok
}

// jsonString decodes a JSON string (null is ""); escapes go through
// encoding/json.
func jsonString(val []byte) (string, bool) {
	if len(val) == 4 && string(val) == "null" {
		return "", true
	}
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') < 0 && plain(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(val, &s) != nil {
		return "", false
	}
	return s, true
}

// plain reports whether s needs no decoding: valid UTF-8 without control
// characters (which encoding/json refuses).
func plain(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c >= 0x80 {
			return utf8.Valid(s) && bytes.IndexFunc(s, func(r rune) bool { return r < 0x20 }) < 0
		}
	}
	return true
}

// memberScanner walks the members of one JSON object.
type memberScanner struct {
	b    []byte
	i    int
	seen bool // a member was read: the next one needs a comma first
}

// members starts scanning the object b.
func members(b []byte) (memberScanner, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return memberScanner{}, false
	}
	return memberScanner{b: b, i: i + 1}, true
}

// next returns the next member's key (raw, without quotes; keys with
// escapes are refused) and value. more is false at the end of the object;
// ok is false on anything unexpected.
func (m *memberScanner) next() (key, val []byte, more, ok bool) {
	b, i := m.b, skipSpace(m.b, m.i)
	if i >= len(b) {
		return nil, nil, false, false
	}
	if b[i] == '}' {
		return nil, nil, false, skipSpace(b, i+1) == len(b)
	}
	if m.seen {
		if b[i] != ',' {
			return nil, nil, false, false
		}
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false, false
	}
	j := skipString(b, i)
	if j < 0 || bytes.IndexByte(b[i:j], '\\') >= 0 || !plain(b[i+1:j-1]) {
		return nil, nil, false, false
	}
	key = b[i+1 : j-1]
	i = skipSpace(b, j)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false, false
	}
	i = skipSpace(b, i+1)
	k := skipValue(b, i)
	if k < 0 {
		return nil, nil, false, false
	}
	m.i, m.seen = k, true
	return key, b[i:k], true, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a
// quote), or -1. It jumps from quote to quote with bytes.IndexByte, whose
// loop is several times cheaper in wasm than one written in Go, and a
// quote ends the string unless an odd number of backslashes precede it.
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		k := i
		for k > 0 && b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i + 1
		}
	}
}

// skipValue returns the index after the value starting at b[i], or -1.
// Nested values are not validated: the host sends valid JSON, and the
// fields kept raw are checked again by whoever decodes them.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	if i == start {
		return -1
	}
	return i
}
