package guest

import (
	"encoding/json"
	"errors"
)

// Member is one member of a JSON object.
type Member struct {
	Key   string          // unescaped
	Value json.RawMessage // as written, aliasing the object
}

// ErrNotObject is Members' error for anything but a JSON object.
var ErrNotObject = errors.New("guest.Members: not a JSON object")

// Members splits the JSON object obj into its members, in order,
// duplicated keys included (encoding/json keeps the last one). It reads
// only what it needs to find where each value ends, without decoding the
// values or checking them (the host sends valid JSON): for a large object,
// such as tool arguments with a long text, that is much cheaper in wasm
// than decoding it into a map.
func Members(obj json.RawMessage) ([]Member, error) {
	b := obj
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, ErrNotObject
	}
	out := make([]Member, 0, 8) // room for most tools' arguments
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, ErrNotObject
		}
		return out, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, ErrNotObject
		}
		j := skipString(b, i)
		if j < 0 {
			return nil, ErrNotObject
		}
		key, ok := jsonString(b[i:j])
		if !ok {
			return nil, ErrNotObject
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, ErrNotObject
		}
		i = skipSpace(b, i+1)
		k := skipValue(b, i)
		if k < 0 {
			return nil, ErrNotObject
		}
		out = append(out, Member{Key: key, Value: json.RawMessage(b[i:k])})
		i = skipSpace(b, k)
		if i >= len(b) {
			return nil, ErrNotObject
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return nil, ErrNotObject
			}
			return out, nil
		}
		if b[i] != ',' {
			return nil, ErrNotObject
		}
		i = skipSpace(b, i+1)
	}
}
