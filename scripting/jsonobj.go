package scripting

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// A JSON object read member by member and edited in place: the
// middleware reads a request's params or a result's page without decoding
// them into a map (which cost a fifth of a hooked call's CPU time), and
// writes back only the members a hook changed, every other member's bytes
// as they came.

// member is one member of a JSON object: its key, unescaped, and its
// value's bytes.
type member struct {
	key   string
	value []byte
}

// jsonObject is a JSON object's members, in order. A key may come more
// than once; get returns the last, as JSON.parse and encoding/json do.
type jsonObject []member

var errNotObject = errors.New("not a JSON object")

// parseObject splits raw into its members; empty input or null is an
// empty object. The values are slices of raw.
func parseObject(raw []byte) (jsonObject, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || isNull(raw[i:]) {
		return jsonObject{}, nil
	}
	if raw[i] != '{' {
		return nil, errNotObject
	}
	var obj jsonObject
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		if skipSpace(raw, i+1) != len(raw) {
			return nil, fmt.Errorf("%w: data after the object", errNotObject)
		}
		return jsonObject{}, nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, fmt.Errorf("%w: expected a key at offset %d", errNotObject, i)
		}
		end, err := skipString(raw, i)
		if err != nil {
			return nil, err
		}
		key, err := unquote(raw[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, fmt.Errorf("%w: expected ':' at offset %d", errNotObject, i)
		}
		i = skipSpace(raw, i+1)
		vend, err := skipValue(raw, i, 0)
		if err != nil {
			return nil, err
		}
		obj = append(obj, member{key, raw[i:vend]})
		i = skipSpace(raw, vend)
		if i >= len(raw) {
			return nil, fmt.Errorf("%w: unexpected end", errNotObject)
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			if skipSpace(raw, i+1) != len(raw) {
				return nil, fmt.Errorf("%w: data after the object", errNotObject)
			}
			return obj, nil
		default:
			return nil, fmt.Errorf("%w: expected ',' or '}' at offset %d", errNotObject, i)
		}
	}
}

func isNull(b []byte) bool {
	return len(b) >= 4 && string(b[:4]) == "null" && skipSpace(b, 4) == len(b)
}

// get returns the value of the last member named key, nil when absent.
func (o jsonObject) get(key string) []byte {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].key == key {
			return o[i].value
		}
	}
	return nil
}

// with returns the object with key set to value: its first member of
// that name replaced (later ones dropped), else a member added at the end.
func (o jsonObject) with(key string, value []byte) jsonObject {
	out := make(jsonObject, 0, len(o)+1)
	found := false
	for _, m := range o {
		if m.key != key {
			out = append(out, m)
		} else if !found {
			out = append(out, member{key, value})
			found = true
		}
	}
	if !found {
		out = append(out, member{key, value})
	}
	return out
}

// bytes writes the object: the members' values as they are.
func (o jsonObject) bytes() []byte {
	n := 2
	for _, m := range o {
		n += len(m.key) + len(m.value) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, m.key)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// appendKey appends key as a JSON string.
func appendKey(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(key)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"')
}

// stringValue reads a JSON string value ("" for anything else).
func stringValue(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	s, err := unquote(raw)
	if err != nil {
		return ""
	}
	return s
}

// unquote returns the text of a JSON string (with its quotes).
func unquote(q []byte) (string, error) {
	inner := q[1 : len(q)-1]
	if !slices.Contains(inner, '\\') && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", fmt.Errorf("%w: %v", errNotObject, err)
	}
	return s, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string that starts at i.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			j++
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, fmt.Errorf("%w: control character in a string at offset %d", errNotObject, j)
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", errNotObject)
}

// skipValue returns the offset just past the value that starts at i.
// Nested values are checked for balance and strings for termination;
// numbers and literals for their characters only (the JSON-RPC layer has
// validated the message as a whole).
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: unexpected end", errNotObject)
	}
	if depth > maxJSONDepth {
		return 0, fmt.Errorf("%w: nested too deeply", errNotObject)
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, fmt.Errorf("%w: expected a key at offset %d", errNotObject, i)
				}
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return 0, fmt.Errorf("%w: expected ':' at offset %d", errNotObject, i)
				}
				i = skipSpace(b, i+1)
			}
			end, err := skipValue(b, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if i >= len(b) {
				return 0, fmt.Errorf("%w: unexpected end", errNotObject)
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case closing:
				return i + 1, nil
			default:
				return 0, fmt.Errorf("%w: unexpected %q at offset %d", errNotObject, b[i], i)
			}
		}
	default:
		j := i
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'E') {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("%w: unexpected %q at offset %d", errNotObject, c, i)
		}
		return j, nil
	}
}
