package rawjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Member is one member of a JSON object: its key as written (quotes and
// escapes included) and its value's bytes.
type Member struct {
	Key   []byte
	Value []byte
}

// Name returns the member's key unescaped.
func (m Member) Name() string { return unquoteKey(m.Key) }

// Is reports whether the member's key, unescaped, is name.
func (m Member) Is(name string) bool { return keyIs(m.Key, name) }

// Members returns the members of the JSON object obj, in order, duplicates
// included, after validating it. Empty input and null are an empty object.
func Members(obj []byte) ([]Member, error) {
	var out []Member
	err := Each(obj, func(m Member) { out = append(out, m) })
	return out, err
}

// Each validates the JSON object obj and calls fn for each of its members
// in order. Empty input and null are an empty object.
func Each(obj []byte, fn func(Member)) error {
	i := skipSpace(obj, 0)
	if i == len(obj) || isNull(obj[i:]) {
		return nil
	}
	if obj[i] != '{' {
		return ErrNotObject
	}
	end, err := walkObject(obj, i, 1, func(k, v []byte) { fn(Member{Key: k, Value: v}) })
	if err != nil {
		return err
	}
	if skipSpace(obj, end) != len(obj) {
		return syntaxErr(end, "unexpected data after the object")
	}
	return nil
}

func isNull(b []byte) bool {
	return len(b) >= 4 && string(b[:4]) == "null" && skipSpace(b, 4) == len(b)
}

// Get returns the value of key in the JSON object obj (the last one when
// the key repeats), and whether it is there.
func Get(obj []byte, key string) (value []byte, ok bool, err error) {
	err = Each(obj, func(m Member) {
		if m.Is(key) {
			value, ok = m.Value, true
		}
	})
	if err != nil {
		return nil, false, err
	}
	return value, ok, nil
}

// GetString returns the string value of key in obj. ok is false when the
// key is missing or its value is not a string.
func GetString(obj []byte, key string) (s string, ok bool) {
	v, found, err := Get(obj, key)
	if err != nil || !found || len(v) == 0 || v[0] != '"' {
		return "", false
	}
	return Unquote(v)
}

// Present reports whether raw holds a value other than null.
func Present(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

// Edit is a change to an object: members to set (replacing every
// occurrence of the key) and keys to delete.
type Edit struct {
	Set    []Field
	Delete []string
}

// Field is a member to set: a key and its value as JSON.
type Field struct {
	Key   string
	Value []byte
}

// Apply returns obj edited: a set key takes the place of its last
// occurrence (earlier duplicates are dropped) or is appended, in the order
// given, when missing; deleted keys are dropped; every other member keeps
// its place and its bytes. obj itself is not modified. Empty input and
// null are an empty object.
func Apply(obj []byte, e Edit) ([]byte, error) {
	ms, err := Members(obj)
	if err != nil {
		return nil, err
	}
	return apply(ms, len(obj), e), nil
}

// ApplyValid is Apply for an object already known to be valid (see
// EachValid): it does not validate obj again.
func ApplyValid(obj []byte, e Edit) []byte {
	var ms []Member
	EachValid(obj, func(m Member) { ms = append(ms, m) })
	return apply(ms, len(obj), e)
}

func apply(ms []Member, size int, e Edit) []byte {
	last := make([]int, len(e.Set)) // index in ms of each set key's last occurrence
	for i := range last {
		last[i] = -1
	}
	for i, m := range ms {
		for j, f := range e.Set {
			if m.Is(f.Key) {
				last[j] = i
			}
		}
	}
	size += 2
	for _, f := range e.Set {
		size += len(f.Key) + len(f.Value) + 4
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
	first := true
	put := func(key, val []byte) {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, key...)
		out = append(out, ':')
		out = append(out, val...)
	}
members:
	for i, m := range ms {
		for _, d := range e.Delete {
			if m.Is(d) {
				continue members
			}
		}
		for j, f := range e.Set {
			if m.Is(f.Key) {
				if last[j] == i {
					put(m.Key, f.Value)
				}
				continue members
			}
		}
		put(m.Key, m.Value)
	}
	for j, f := range e.Set {
		if last[j] < 0 {
			put(Quote(f.Key), f.Value)
		}
	}
	return append(out, '}')
}

// Set returns obj with key set to value; see Apply.
func Set(obj []byte, key string, value []byte) ([]byte, error) {
	return Apply(obj, Edit{Set: []Field{{key, value}}})
}

// SetPath returns obj with the member at path (keys of nested objects) set
// to value, creating the objects on the way that are missing or null. A
// member on the way that is not an object is an error.
func SetPath(obj []byte, path []string, value []byte) ([]byte, error) {
	if len(path) == 0 {
		return value, nil
	}
	inner, ok, err := Get(obj, path[0])
	if err != nil {
		return nil, err
	}
	if len(path) > 1 {
		if !ok || !Present(inner) {
			inner = nil
		}
		v, err := SetPath(inner, path[1:], value)
		if err != nil {
			return nil, err
		}
		value = v
	}
	return Set(obj, path[0], value)
}

// SetPathValid is SetPath for an object already known to be valid (see
// EachValid). A member on the way that is not an object is replaced.
func SetPathValid(obj []byte, path []string, value []byte) []byte {
	if len(path) == 0 {
		return value
	}
	if len(path) > 1 {
		inner, ok := GetValid(obj, path[0])
		if !ok || len(inner) == 0 || inner[0] != '{' {
			inner = nil
		}
		value = SetPathValid(inner, path[1:], value)
	}
	return ApplyValid(obj, Edit{Set: []Field{{path[0], value}}})
}

// Quote returns s as a JSON string.
func Quote(s string) []byte { return AppendQuote(nil, s) }

// AppendQuote appends s as a JSON string to dst. Invalid UTF-8 becomes
// U+FFFD and U+2028/U+2029 are escaped, as encoding/json does; HTML
// characters are not escaped.
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			switch r {
			case utf8.RuneError:
				dst = append(dst, `\ufffd`...)
			default:
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigit[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigit = "0123456789abcdef"

// Unquote decodes a JSON string. ok is false when s is not one.
func Unquote(s []byte) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	inner := s[1 : len(s)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		for _, c := range inner {
			if c < 0x20 || c == '"' {
				return "", false
			}
		}
		return string(inner), true
	}
	var out string
	if json.Unmarshal(s, &out) != nil {
		return "", false
	}
	return out, true
}

// keyIs compares a raw key (quotes included) with name.
func keyIs(raw []byte, name string) bool {
	if len(raw) == len(name)+2 && string(raw[1:len(raw)-1]) == name {
		return true
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return false
	}
	return unquoteKey(raw) == name // escapes, or invalid UTF-8 (read as U+FFFD)
}

func unquoteKey(raw []byte) string {
	s, _ := Unquote(raw)
	return s
}

// Int appends n as JSON.
func Int(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// Flatten replaces the line breaks of valid JSON with spaces, in place. In
// valid JSON a line break can only be whitespace between tokens (strings
// must escape them), so the value is unchanged, and it fits on one line of
// a newline-delimited stream.
func Flatten(b []byte) {
	for _, c := range [...]byte{'\n', '\r'} {
		for rest := b; ; {
			i := bytes.IndexByte(rest, c)
			if i < 0 {
				break
			}
			rest[i] = ' '
			rest = rest[i+1:]
		}
	}
}
