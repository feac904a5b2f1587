package wasm

import (
	"fmt"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/scripting"
)

// encodeInput writes in as the JSON the guest reads (docs/wasm-abi.md,
// "The input"), with the fields of scripting.Input's JSON tags. The raw
// fields (arguments, params, result, items) are checked and copied as they
// are: encoding/json would also compact them and escape HTML characters
// in them, which took several times longer than the whole guest call on a
// 1 MiB result, for a guest that decodes the same values either way.
func encodeInput(in *scripting.Input) ([]byte, error) {
	raws := []struct {
		name string
		raw  []byte
	}{{"arguments", in.Arguments}, {"params", in.Params}, {"result", in.Result}, {"items", in.Items}}
	size := 128 + 2*(len(in.Hook)+len(in.Server)+len(in.Method)+len(in.Tool)+len(in.Caller.Token)+len(in.Caller.Session)+len(in.Caller.Transport))
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
	b = append(b, `,"caller":{"token":`...)
	b = rawjson.AppendQuote(b, in.Caller.Token)
	b = append(b, `,"session":`...)
	b = rawjson.AppendQuote(b, in.Caller.Session)
	b = append(b, `,"transport":`...)
	b = rawjson.AppendQuote(b, in.Caller.Transport)
	b = append(b, '}')
	if in.Tool != "" {
		b = append(b, `,"tool":`...)
		b = rawjson.AppendQuote(b, in.Tool)
	}
	for _, r := range raws {
		if len(r.raw) == 0 {
			continue // omitempty, as encoding/json
		}
		if !rawjson.Valid(r.raw) {
			return nil, fmt.Errorf("%s is not valid JSON", r.name)
		}
		b = append(b, ',', '"')
		b = append(b, r.name...)
		b = append(b, '"', ':')
		b = append(b, r.raw...)
	}
	return append(b, '}'), nil
}
