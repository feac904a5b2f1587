package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file turns JSON text into a tree of nodes that remember where they
// are in the text, and turns syntax errors into problems a user can act on.

// kind is the JSON type of a node.
type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// node is one JSON value.
type node struct {
	kind    kind
	off     int    // byte offset of the value's first character
	end     int    // byte offset just after the value's last character
	text    string // string value, or the literal of a number
	boolean bool
	elems   []*node  // array elements
	members []member // object members, in source order (duplicates kept)
}

// member is one key-value pair of an object.
type member struct {
	key    string
	keyOff int
	value  *node
}

// describe names the type of n for messages: "a string", "an object", ...
func (n *node) describe() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	default:
		return "an object"
	}
}

// parseJSON parses data into a tree, or returns a single syntax problem.
func parseJSON(data []byte) (*node, *Problem) {
	text := data
	if bytes.HasPrefix(text, []byte("\xEF\xBB\xBF")) {
		// Tolerate a UTF-8 byte order mark (some Windows editors add one)
		// without moving any offsets.
		text = append([]byte("   "), text[3:]...)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, &Problem{Line: 1, Col: 1, Message: "the file is empty",
			Hint: `a config looks like {"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}}`}
	}
	// encoding/json's validity check gives exact offsets for syntax errors;
	// once it passes, the token stream below cannot fail.
	if err := json.Unmarshal(text, new(json.RawMessage)); err != nil {
		return nil, syntaxProblem(data, text, err)
	}
	b := &treeBuilder{text: text, dec: json.NewDecoder(bytes.NewReader(text))}
	b.dec.UseNumber()
	root, err := b.value()
	if err != nil {
		// Not expected after the validity check; report it anyway.
		p := Problem{Message: "invalid JSON: " + err.Error()}
		p.Line, p.Col = position(data, int(b.dec.InputOffset()))
		return nil, &p
	}
	return root, nil
}

type treeBuilder struct {
	text []byte
	dec  *json.Decoder
}

// start returns the offset of the next token: InputOffset is the end of
// the previous token, which may be followed by space, ',' and ':'.
func (b *treeBuilder) start() int {
	i := int(b.dec.InputOffset())
	for i < len(b.text) {
		switch b.text[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		}
		break
	}
	return i
}

func (b *treeBuilder) value() (*node, error) {
	off := b.start()
	tok, err := b.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{off: off}
	switch t := tok.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.boolean = kindBool, t
	case json.Number:
		n.kind, n.text = kindNumber, string(t)
	case string:
		n.kind, n.text = kindString, t
	case json.Delim:
		if t == '[' {
			n.kind = kindArray
			for b.dec.More() {
				e, err := b.value()
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
		} else {
			n.kind = kindObject
			for b.dec.More() {
				keyOff := b.start()
				k, err := b.dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := k.(string)
				if !ok {
					return nil, fmt.Errorf("expected a key, found %v", k)
				}
				v, err := b.value()
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: key, keyOff: keyOff, value: v})
			}
		}
		if _, err := b.dec.Token(); err != nil { // the closing ']' or '}'
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unexpected token %v", tok)
	}
	n.end = int(b.dec.InputOffset())
	return n, nil
}

// syntaxProblem turns an error from encoding/json into a problem saying
// where the syntax error is, what was found, what was expected, and, for
// the usual mistakes, how to fix it. data is the original input (for
// positions), text the input as given to the decoder.
func syntaxProblem(data, text []byte, err error) *Problem {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &Problem{Line: 1, Col: 1, Message: "invalid JSON: " + err.Error()}
	}
	msg := se.Error()
	at := func(off int, msg, hint string) *Problem {
		p := &Problem{Message: msg, Hint: hint}
		p.Line, p.Col = position(data, off)
		return p
	}
	if msg == "unexpected end of JSON input" {
		return endOfInputProblem(data, text)
	}
	off := int(se.Offset) - 1 // the offending character
	if off < 0 || off >= len(text) || !strings.HasPrefix(msg, "invalid character ") {
		if strings.Contains(msg, "max depth") {
			return at(max(off, 0), "the JSON is nested too deeply", "")
		}
		return at(max(off, 0), "invalid JSON: "+msg, "")
	}
	r, _ := utf8.DecodeRune(text[off:])
	found := describeChar(r)
	prev := prevNonSpace(text, off)
	context := scannerContext(msg)

	// Hints that apply wherever the character turns up.
	var hint string
	switch {
	case r == '/' || r == '#':
		hint = `comments are not allowed in JSON; remove "//" and "/* */" comments`
	case r == '\'':
		hint = `JSON strings and keys use double quotes ("), not single quotes (')`
	}

	switch {
	case (r == '}' || r == ']') && prev >= 0 && text[prev] == ',' &&
		(context == "looking for beginning of object key string" || context == "looking for beginning of value"):
		return at(prev, fmt.Sprintf("trailing comma before '%c'", r),
			"JSON does not allow a comma after the last item; remove it")

	case context == "looking for beginning of value":
		if hint == "" {
			hint = valueHint(text, off)
		}
		return at(off, "unexpected "+found+"; expected a value", hint)

	case context == "looking for beginning of object key string":
		if hint == "" && isWordStart(r) {
			hint = `keys must be in double quotes, e.g. "command"`
		}
		return at(off, "unexpected "+found+"; expected a key in double quotes", hint)

	case context == "after object key":
		if hint == "" && r == '=' {
			hint = `use ':' between a key and its value`
		}
		return at(off, "unexpected "+found+"; expected ':' after the key", hint)

	case context == "after object key:value pair":
		if hint == "" && (r == '"' || isWordStart(r)) {
			hint = "missing ',' between members?"
		}
		return at(off, "unexpected "+found+"; expected ',' or '}' after the value", hint)

	case context == "after array element":
		if hint == "" && (r == '"' || r == '{' || r == '[' || isWordStart(r) || r >= '0' && r <= '9') {
			hint = "missing ',' between elements?"
		}
		return at(off, "unexpected "+found+"; expected ',' or ']' after the element", hint)

	case context == "after top-level value":
		if hint == "" {
			hint = "the file must hold exactly one JSON object; is there an extra '}' or a second object?"
		}
		return at(off, "unexpected "+found+" after the end of the top-level object", hint)

	case context == "in string literal":
		if r == '\n' || r == '\r' {
			return at(off, "line break inside a string", `close the string with " or write \n for a newline`)
		}
		return at(off, fmt.Sprintf("control character %U is not allowed inside a string", r), `escape it, e.g. \t for a tab`)

	case context == "in string escape code":
		return at(off-1, fmt.Sprintf(`invalid escape sequence "\%c" in a string`, r),
			`write \\ for a backslash, e.g. "C:\\Users\\me"; valid escapes are \" \\ \/ \b \f \n \r \t \uXXXX`)

	case strings.Contains(context, "hexadecimal character escape"):
		return at(off, `invalid \u escape: expected 4 hexadecimal digits`, `write \\ for a backslash`)

	case strings.Contains(context, "numeric literal"):
		return at(off, "unexpected "+found+" in a number", "numbers look like 42, -1, 0.5 or 1e3; quote other values")

	case strings.HasPrefix(context, "in literal "):
		word := strings.Fields(strings.TrimPrefix(context, "in literal "))[0]
		return at(off, "unexpected "+found+"; expected the literal "+word,
			"strings must be in double quotes; true, false and null are lowercase")
	}
	return at(off, "invalid JSON: "+msg, hint)
}

// endOfInputProblem explains an input that ends too early: which string,
// object or array is left open.
func endOfInputProblem(data, text []byte) *Problem {
	type open struct {
		c   byte
		off int
	}
	var stack []open
	inString, escaped, stringStart := false, false, 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString, stringStart = true, i
		case c == '{' || c == '[':
			stack = append(stack, open{c, i})
		case (c == '}' || c == ']') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	p := &Problem{}
	p.Line, p.Col = position(data, len(data))
	switch {
	case inString:
		l, c := position(data, stringStart)
		p.Message = fmt.Sprintf("unexpected end of file inside the string that starts at %d:%d", l, c)
		p.Hint = `close it with "`
	case len(stack) > 0:
		o := stack[len(stack)-1]
		closer := byte('}')
		if o.c == '[' {
			closer = ']'
		}
		l, c := position(data, o.off)
		p.Message = fmt.Sprintf("unexpected end of file; expected '%c' to close the '%c' at %d:%d", closer, o.c, l, c)
	default:
		p.Message = "unexpected end of file; expected a value"
	}
	return p
}

// valueHint explains common non-values: unquoted strings and capitalised
// literals.
func valueHint(text []byte, off int) string {
	end := off
	for end < len(text) && (isWordStart(rune(text[end])) || text[end] >= '0' && text[end] <= '9') {
		end++
	}
	word := string(text[off:end])
	switch lower := strings.ToLower(word); {
	case word == "":
		return ""
	case lower == "true" || lower == "false" || lower == "null":
		return "JSON literals are lowercase: " + lower
	case lower == "undefined" || lower == "none" || lower == "nil":
		return "use null, or leave the key out"
	}
	return fmt.Sprintf("strings must be in double quotes, e.g. %q", word)
}

func isWordStart(r rune) bool { return r == '_' || r < utf8.RuneSelf && unicode.IsLetter(r) }

// describeChar names a character for a message: '}' or U+00A0.
func describeChar(r rune) string {
	switch {
	case r == '\'':
		return "single quote"
	case r == utf8.RuneError:
		return "invalid UTF-8"
	case unicode.IsPrint(r) && r != ' ':
		return fmt.Sprintf("'%c'", r)
	}
	return fmt.Sprintf("character %U", r)
}

// prevNonSpace returns the offset of the last non-space byte before off, or -1.
func prevNonSpace(text []byte, off int) int {
	for i := off - 1; i >= 0; i-- {
		switch text[i] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return i
	}
	return -1
}

// scannerContext returns what follows the quoted character in one of
// encoding/json's "invalid character 'x' <context>" messages.
func scannerContext(msg string) string {
	rest := strings.TrimPrefix(msg, "invalid character ")
	if strings.HasPrefix(rest, `'\''`) {
		return strings.TrimSpace(rest[4:])
	}
	if i := strings.Index(rest[min(1, len(rest)):], "' "); i >= 0 {
		return strings.TrimSpace(rest[i+3:])
	}
	return ""
}
