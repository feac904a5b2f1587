package wasm

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/scripting"
)

// encodeInput writes in as the JSON the guest reads (docs/wasm-abi.md,
// "The input"), with the fields of scripting.Input's JSON tags. The raw
// fields (arguments, params, result, items) are copied as they are:
// encoding/json would validate, compact and HTML-escape them, which took
// longer than the whole guest call on a 1 MiB result, for a guest that
// decodes the same values either way. They come from messages the engine
// has validated; oneValue only makes sure that each is one value, so that
// a malformed one cannot change the input's other members.
func encodeInput(in *scripting.Input) (_ []byte, err error) {
	raws := []struct {
		name string
		raw  []byte
	}{{"arguments", in.Arguments}, {"params", in.Params}, {"result", in.Result}, {"items", in.Items}, {"state", in.State}}
	c := &in.Caller
	size := 256 + len(c.Claims) + 2*(len(in.Hook)+len(in.Server)+len(in.Method)+len(in.Tool)+
		len(c.Token)+len(c.Session)+len(c.Transport)+len(c.Subject)+len(c.ClientID)+len(c.Client.Name)+len(c.Client.Version))
	for _, r := range raws {
		size += len(r.name) + len(r.raw) + 4
	}
	b := make([]byte, 0, size)
	b = append(b, `{"hook":`...)
	b = rawjson.AppendQuote(b, string(in.Hook))
	b = append(b, `,"server":`...)
	b = rawjson.AppendQuote(b, in.Server)
	b = append(b, `,"method":`...)
	b = rawjson.AppendQuote(b, in.Method)
	if b, err = appendCaller(b, &in.Caller); err != nil {
		return nil, err
	}
	if in.Tool != "" {
		b = append(b, `,"tool":`...)
		b = rawjson.AppendQuote(b, in.Tool)
	}
	for _, r := range raws {
		if len(r.raw) == 0 {
			continue // omitempty, as encoding/json
		}
		if !oneValue(r.raw) {
			return nil, fmt.Errorf("%s is not valid JSON", r.name)
		}
		b = append(b, ',', '"')
		b = append(b, r.name...)
		b = append(b, '"', ':')
		b = append(b, r.raw...)
	}
	return append(b, '}'), nil
}

// appendCaller writes c as scripting.Caller's JSON tags name it: nil
// scopes and claims are null, as encoding/json writes them.
func appendCaller(b []byte, c *scripting.Caller) ([]byte, error) {
	str := func(name, v string) {
		b = append(b, name...)
		b = rawjson.AppendQuote(b, v)
	}
	str(`,"caller":{"token":`, c.Token)
	str(`,"session":`, c.Session)
	str(`,"transport":`, c.Transport)
	str(`,"auth":`, c.Auth)
	str(`,"subject":`, c.Subject)
	str(`,"clientId":`, c.ClientID)
	b = append(b, `,"scopes":`...)
	if c.Scopes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, sc := range c.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = rawjson.AppendQuote(b, sc)
		}
		b = append(b, ']')
	}
	b = append(b, `,"claims":`...)
	if len(c.Claims) == 0 {
		b = append(b, "null"...)
	} else {
		// Claims are small and may come from a Go program's own Caller:
		// checked whole, not only for structure.
		if !json.Valid(c.Claims) {
			return nil, fmt.Errorf("the caller's claims are not valid JSON")
		}
		b = append(b, c.Claims...)
	}
	str(`,"client":{"name":`, c.Client.Name)
	str(`,"version":`, c.Client.Version)
	str(`},"protocol":`, c.Protocol)
	return append(b, '}'), nil
}

// oneValue reports whether b holds one JSON value as far as its structure
// goes: strings closed, brackets balanced and matched, no comma or colon
// outside them, nothing but whitespace around it. It does not check
// what is inside strings, numbers and literals; it skips strings with
// bytes.IndexByte, so that a long text costs about what a copy costs.
func oneValue(b []byte) bool {
	var stack []byte // the open brackets
	values := 0      // the values begun outside any bracket
	scalar := false  // the last byte was part of a number or literal outside any bracket
	for i := 0; i < len(b); i++ {
		c := b[i]
		outside := len(stack) == 0
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			scalar = false
			continue
		case c == '"':
			j := stringEnd(b, i)
			if j < 0 {
				return false
			}
			i = j
		case c == '{' || c == '[':
			stack = append(stack, c)
		case c == '}' || c == ']':
			if outside || stack[len(stack)-1] != c-2 { // '{'+2 is '}', '['+2 is ']'
				return false
			}
			stack = stack[:len(stack)-1]
		case c == ',' || c == ':':
			if outside {
				return false
			}
		case c < 0x20:
			return false
		default: // a number's or literal's byte
			if outside && scalar {
				continue
			}
			if outside {
				values++
				scalar = true
			}
			continue
		}
		if outside {
			values++
		}
		scalar = false
	}
	return len(stack) == 0 && values == 1
}

// stringEnd returns the index of the quote that closes the string whose
// opening quote is b[i], or -1: a quote closes it unless an odd number of
// backslashes precede it.
func stringEnd(b []byte, i int) int {
	for i++; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		k := i
		for b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i
		}
	}
}
