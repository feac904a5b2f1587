package guest

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/mcpscript/mcpscript/internal/resulttext"
)

// Redact returns result (the JSON of a tool result, a resources/read or a
// prompts/get result) with fn applied to every text it carries, so that no
// copy of a secret is missed:
//
//   - content[].text (text content) and content[].resource.text (an
//     embedded resource), in tool results and in prompts/get's
//     messages[].content;
//   - structuredContent: every string, at any depth (keys are left alone);
//   - contents[].text (resources/read).
//
// Member names match whatever their case. Blobs (base64) are not touched. changed says whether any text changed;
// when it did not, out is result itself. Everything but the changed
// strings keeps its bytes: the order of members, numbers, whitespace
// within untouched values. It is the JavaScript hooks' redact(result, fn)
// for filters.
func Redact(result json.RawMessage, fn func(string) string) (out json.RawMessage, changed bool, err error) {
	r := redactor{fn: fn}
	out, err = r.value(result, resulttext.Result)
	if err != nil {
		return nil, false, err
	}
	if out == nil {
		return result, false, nil
	}
	return out, true, nil
}

// RedactResult is Redact for a toolResult or response: it continues when
// nothing changed, and replaces the result otherwise.
func RedactResult(in *Input, fn func(string) string) (*Decision, error) {
	if len(in.Result) == 0 {
		return Continue(), nil
	}
	out, changed, err := Redact(in.Result, fn)
	if err != nil || !changed {
		return Continue(), err
	}
	return &Decision{Result: out}, nil
}

var errMalformed = errors.New("guest.Redact: malformed JSON")

type redactor struct{ fn func(string) string }

// value rewrites the JSON value b of role r; nil when nothing changed.
func (x redactor) value(b []byte, r resulttext.Role) ([]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return nil, errMalformed
	}
	switch b[i] {
	case '"':
		if r != resulttext.All {
			return nil, nil
		}
		s, ok := jsonString(b[i:])
		if !ok {
			return nil, errMalformed
		}
		ns := x.fn(s)
		if ns == s {
			return nil, nil
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ns); err != nil {
			return nil, err
		}
		return bytes.TrimRight(buf.Bytes(), "\n"), nil
	case '{':
		if r == resulttext.None {
			return nil, nil
		}
		return x.object(b[i:], r)
	case '[':
		if r != resulttext.All {
			return nil, nil
		}
		return x.array(b[i:], r)
	}
	return nil, nil
}

// object rewrites the object b (from its '{') of role r.
func (x redactor) object(b []byte, r resulttext.Role) ([]byte, error) {
	type part struct {
		key, val []byte // raw, the key with its quotes
	}
	var parts []part
	changed := false
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		return nil, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, errMalformed
		}
		j := skipString(b, i)
		if j < 0 {
			return nil, errMalformed
		}
		rawKey := b[i:j]
		key, ok := jsonString(rawKey)
		if !ok {
			return nil, errMalformed
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, errMalformed
		}
		i = skipSpace(b, i+1)
		k := skipValue(b, i)
		if k < 0 {
			return nil, errMalformed
		}
		val := b[i:k]
		p := part{key: rawKey, val: val}
		if mr, isArray := resulttext.Member(r, key); mr != resulttext.None {
			var nv []byte
			var err error
			if isArray {
				nv, err = x.arrayOf(val, mr)
			} else {
				nv, err = x.value(val, mr)
			}
			if err != nil {
				return nil, err
			}
			if nv != nil {
				p.val, changed = nv, true
			}
		}
		parts = append(parts, p)
		i = skipSpace(b, k)
		if i >= len(b) {
			return nil, errMalformed
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return nil, errMalformed
		}
		i = skipSpace(b, i+1)
	}
	if !changed {
		return nil, nil
	}
	out := []byte{'{'}
	for n, p := range parts {
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, p.key...)
		out = append(out, ':')
		out = append(out, p.val...)
	}
	return append(out, '}'), nil
}

// arrayOf rewrites b, if it is an array, with each item of role r.
func (x redactor) arrayOf(b []byte, r resulttext.Role) ([]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, nil
	}
	return x.array(b[i:], r)
}

// array rewrites the array b (from its '[') with each item of role r.
func (x redactor) array(b []byte, r resulttext.Role) ([]byte, error) {
	var items [][]byte
	changed := false
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		return nil, nil
	}
	for {
		k := skipValue(b, i)
		if k < 0 {
			return nil, errMalformed
		}
		item := b[i:k]
		nv, err := x.value(item, r)
		if err != nil {
			return nil, err
		}
		if nv != nil {
			item, changed = nv, true
		}
		items = append(items, item)
		i = skipSpace(b, k)
		if i >= len(b) {
			return nil, errMalformed
		}
		if b[i] == ']' {
			break
		}
		if b[i] != ',' {
			return nil, errMalformed
		}
		i = skipSpace(b, i+1)
	}
	if !changed {
		return nil, nil
	}
	return append(append([]byte{'['}, bytes.Join(items, []byte{','})...), ']'), nil
}
