package scripting

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// jsonToJS turns JSON text into plain JavaScript values of vm (objects,
// arrays, strings, numbers, booleans, null), as JSON.parse would, keys in
// their order. It is about twice as fast as calling the realm's JSON.parse
// (which goes through encoding/json's token stream) and faster than
// json.Unmarshal followed by building the objects, which would also lose
// the order of keys; see BenchmarkConvert.
func jsonToJS(vm *goja.Runtime, data []byte) (goja.Value, error) {
	p := jsonParser{vm: vm, data: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.data) {
		return nil, p.errorf("unexpected %q after the value", p.data[p.i])
	}
	return v, nil
}

// maxJSONDepth bounds nesting, as encoding/json does.
const maxJSONDepth = 10000

type jsonParser struct {
	vm   *goja.Runtime
	data []byte
	i    int
}

var errJSONEnd = errors.New("unexpected end of JSON input")

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (goja.Value, error) {
	if p.i >= len(p.data) {
		return nil, errJSONEnd
	}
	if depth > maxJSONDepth {
		return nil, p.errorf("nested too deeply")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return p.vm.ToValue(s), nil
	case c == 't':
		return p.literal("true", p.vm.ToValue(true))
	case c == 'f':
		return p.literal("false", p.vm.ToValue(false))
	case c == 'n':
		return p.literal("null", goja.Null())
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *jsonParser) literal(word string, v goja.Value) (goja.Value, error) {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return nil, p.errorf("expected %s", word)
	}
	p.i += len(word)
	return v, nil
}

func (p *jsonParser) object(depth int) (goja.Value, error) {
	o := p.vm.NewObject()
	p.i++ // {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return o, nil
	}
	for {
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		if p.data[p.i] != '"' {
			return nil, p.errorf("expected a key")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if key == "__proto__" {
			// An own property, as JSON.parse makes it, not the prototype.
			err = o.DefineDataProperty(key, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		} else {
			err = o.Set(key, v)
		}
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return o, nil
		default:
			return nil, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) array(depth int) (goja.Value, error) {
	p.i++ // [
	var vals []any
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return p.vm.NewArray(), nil
	}
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return p.vm.NewArray(vals...), nil
		default:
			return nil, p.errorf("expected ',' or ']'")
		}
	}
}

// str reads a string; one without escapes is sliced, the others are left
// to encoding/json.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++ // "
	escaped, ascii := false, true
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			if !escaped && (ascii || utf8.Valid(p.data[start+1:p.i-1])) {
				return string(p.data[start+1 : p.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(p.data[start:p.i], &s); err != nil {
				p.i = start
				return "", p.errorf("bad string: %v", err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return "", p.errorf("control character in a string")
		case c >= 0x80:
			ascii = false
			p.i++
		default:
			p.i++
		}
	}
	return "", errJSONEnd
}

func (p *jsonParser) number() (goja.Value, error) {
	start := p.i
	integer := true
	for p.i < len(p.data) {
		c := p.data[p.i]
		if c >= '0' && c <= '9' || c == '-' {
			p.i++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' {
			integer = false
			p.i++
			continue
		}
		break
	}
	text := string(p.data[start:p.i])
	if integer && len(text) < 16 && !leadingZero(text) {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil && !(n == 0 && text[0] == '-') {
			return p.vm.ToValue(n), nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || !json.Valid(p.data[start:p.i]) {
		p.i = start
		return nil, p.errorf("bad number %q", text)
	}
	return p.vm.ToValue(f), nil
}

// leadingZero reports an integer JSON does not allow, such as 01 or -012.
func leadingZero(text string) bool {
	if text != "" && text[0] == '-' {
		text = text[1:]
	}
	return len(text) > 1 && text[0] == '0'
}
