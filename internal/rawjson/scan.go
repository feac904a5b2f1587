// Package rawjson reads and edits JSON without decoding it: it validates a
// value in one pass, finds the members of an object as byte ranges, and
// builds edited objects in which every member that was not edited keeps its
// original bytes. The gateway forwards messages this way, so a forwarded
// message costs about what a copy costs, and fields that no Go type knows
// about survive untouched.
//
// Keys are compared exactly, after unescaping, and the last occurrence of a
// duplicated key wins, as it does for JavaScript's JSON.parse and for
// encoding/json decoding into a map: what this package reads is what the
// servers behind the gateway read.
package rawjson

import (
	"errors"
	"fmt"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// SyntaxError is malformed JSON, with the byte offset where it was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// ErrNotObject means a value that had to be a JSON object is something else.
var ErrNotObject = errors.New("not a JSON object")

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Valid reports whether b holds exactly one JSON value, with optional
// surrounding whitespace. Like encoding/json, it does not check that
// strings are valid UTF-8.
func Valid(b []byte) bool {
	i := skipSpace(b, 0)
	end, err := skipValue(b, i, 0)
	if err != nil {
		return false
	}
	return skipSpace(b, end) == len(b)
}

// Check is Valid with an error that says what is wrong and where.
func Check(b []byte) error {
	i := skipSpace(b, 0)
	if i == len(b) {
		return syntaxErr(i, "no JSON value")
	}
	end, err := skipValue(b, i, 0)
	if err != nil {
		return err
	}
	if j := skipSpace(b, end); j != len(b) {
		return syntaxErr(j, "unexpected %q after the JSON value", b[j])
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the offset just past the value that starts at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	default:
		return i, syntaxErr(i, "unexpected %q", c)
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, syntaxErr(i, "invalid literal (expected %s)", lit)
	}
	return i + len(lit), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return start, syntaxErr(i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return start, syntaxErr(i, "invalid number: digits must follow the decimal point")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return start, syntaxErr(i, "invalid number: digits must follow the exponent")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// plain marks the bytes a string may hold without a closer look: not the
// quote, not the backslash, not a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString returns the offset past the string whose quote is at b[i].
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		for j < len(b) && plain[b[j]] {
			j++
		}
		if j >= len(b) {
			return i, syntaxErr(i, "unterminated string")
		}
		switch c := b[j]; c {
		case '"':
			return j + 1, nil
		case '\\':
			if j+1 >= len(b) {
				return i, syntaxErr(j, "unterminated string")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if len(b)-j < 6 || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return i, syntaxErr(j, `invalid \u escape`)
				}
				j += 6
			default:
				return i, syntaxErr(j, "invalid escape %q", b[j+1])
			}
		default:
			return i, syntaxErr(j, "control character %#02x in string", c)
		}
	}
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i, "nested too deeply")
	}
	j := skipSpace(b, i+1)
	if j < len(b) && b[j] == ']' {
		return j + 1, nil
	}
	for {
		end, err := skipValue(b, j, depth)
		if err != nil {
			return i, err
		}
		j = skipSpace(b, end)
		if j >= len(b) {
			return i, syntaxErr(j, "unterminated array")
		}
		switch b[j] {
		case ',':
			j = skipSpace(b, j+1)
		case ']':
			return j + 1, nil
		default:
			return i, syntaxErr(j, "expected , or ] in array, found %q", b[j])
		}
	}
}

func skipObject(b []byte, i, depth int) (int, error) {
	return walkObject(b, i, depth, nil)
}

// walkObject validates the object whose brace is at b[i], calls fn (when
// not nil) with each member's raw key (quotes included) and raw value, and
// returns the offset just past the closing brace.
func walkObject(b []byte, i, depth int, fn func(key, val []byte)) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i, "nested too deeply")
	}
	j := skipSpace(b, i+1)
	if j < len(b) && b[j] == '}' {
		return j + 1, nil
	}
	for {
		if j >= len(b) || b[j] != '"' {
			if j >= len(b) {
				return i, syntaxErr(j, "unterminated object")
			}
			return i, syntaxErr(j, "expected a string key in object, found %q", b[j])
		}
		kEnd, err := skipString(b, j)
		if err != nil {
			return i, err
		}
		key := b[j:kEnd]
		j = skipSpace(b, kEnd)
		if j >= len(b) || b[j] != ':' {
			return i, syntaxErr(j, "expected : after object key")
		}
		j = skipSpace(b, j+1)
		vStart := j
		vEnd, err := skipValue(b, j, depth)
		if err != nil {
			return i, err
		}
		if fn != nil {
			fn(key, b[vStart:vEnd])
		}
		j = skipSpace(b, vEnd)
		if j >= len(b) {
			return i, syntaxErr(j, "unterminated object")
		}
		switch b[j] {
		case ',':
			j = skipSpace(b, j+1)
		case '}':
			return j + 1, nil
		default:
			return i, syntaxErr(j, "expected , or } in object, found %q", b[j])
		}
	}
}
