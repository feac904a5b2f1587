// Package curation applies a server's tool curation (the config's
// "tools": include, exclude, override) to what passes between clients and
// the server: tools/list pages are filtered, renamed, re-described and
// checked against pinned input schemas on their way out, and tools/call
// names are mapped back to the server's own on their way in.
//
// It works on raw JSON and knows nothing of the engine: the engine installs
// it as its outermost middleware (see engine/curation.go), so that hooks see
// the server's own names.
package curation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// Curator is the curation of one server's tools. It is immutable and safe
// for concurrent use.
type Curator struct {
	cfg     *config.Tools
	renamed map[string]string // the server's name -> the name clients see
	byNew   map[string]string // the name clients see -> the server's name, for renamed tools
}

// New returns the curation described by cfg (nil curates nothing).
func New(cfg *config.Tools) *Curator {
	c := &Curator{cfg: cfg, renamed: map[string]string{}, byNew: map[string]string{}}
	if cfg == nil {
		return c
	}
	for name, o := range cfg.Override {
		if o != nil && o.Name != "" && o.Name != name {
			c.renamed[name] = o.Name
			c.byNew[o.Name] = name
		}
	}
	return c
}

// Original returns the server's own name of the tool clients call name, and
// false when clients cannot call such a tool: it is hidden, or it was
// renamed (clients call it by its new name only).
func (c *Curator) Original(name string) (string, bool) {
	if orig, ok := c.byNew[name]; ok {
		return orig, true
	}
	if _, away := c.renamed[name]; away || !c.cfg.Visible(name) {
		return "", false
	}
	return name, true
}

// Exposed returns the name clients see for the server's tool orig, and
// false when they do not see it (hidden by include/exclude, or shadowed by
// another tool renamed to its name).
func (c *Curator) Exposed(orig string) (string, bool) {
	if !c.cfg.Visible(orig) {
		return "", false
	}
	if n, ok := c.renamed[orig]; ok {
		return n, true
	}
	if _, shadowed := c.byNew[orig]; shadowed {
		return "", false
	}
	return orig, true
}

// Pin returns the pinned input schema hash of the server's tool orig, or "".
func (c *Curator) Pin(orig string) string {
	if c.cfg == nil {
		return ""
	}
	if o := c.cfg.Override[orig]; o != nil {
		return o.Pin
	}
	return ""
}

// Mismatch is a tool whose input schema is not the one pinned.
type Mismatch struct {
	Tool string // the server's name
	Pin  string // the pinned hash
	Hash string // the hash of the schema the server lists now
}

func (m Mismatch) Error() string {
	return fmt.Sprintf("the input schema of tool %q changed since it was pinned (pinned %s, now %s)", m.Tool, m.Pin, m.Hash)
}

// Dropped is a tool left out of a list, and why.
type Dropped struct {
	Tool   string // the server's name
	Reason string // "hidden", "shadowed" or "pin"
	// Mismatch is set for Reason "pin".
	Mismatch *Mismatch
}

// List curates one tools/list result page: hidden tools, tools shadowed by
// a rename, and tools whose schema differs from their pin are left out;
// the others get their new name, title and description. Every other byte
// of the page and of each tool is kept. It returns the page and what it
// left out (for logs). A page that is not a tools/list result is an error.
func (c *Curator) List(page json.RawMessage) (json.RawMessage, []Dropped, error) {
	field, ok, err := rawjson.Get(page, "tools")
	if err != nil || !ok || len(field) == 0 || field[0] != '[' {
		return nil, nil, fmt.Errorf("a tools/list result without a \"tools\" array")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(field, &items); err != nil {
		return nil, nil, fmt.Errorf("malformed tools: %w", err)
	}
	var dropped []Dropped
	var b bytes.Buffer
	b.WriteByte('[')
	first := true
	for _, item := range items {
		out, drop := c.tool(item)
		if drop != nil {
			dropped = append(dropped, *drop)
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(out)
	}
	b.WriteByte(']')
	out, err := rawjson.Set(page, "tools", b.Bytes())
	if err != nil {
		return nil, nil, err
	}
	return out, dropped, nil
}

// tool curates one listed tool: its new bytes, or why it is left out.
func (c *Curator) tool(item json.RawMessage) (json.RawMessage, *Dropped) {
	name, ok := rawjson.GetString(item, "name")
	if !ok {
		return item, nil // not a tool this package can judge; the client will
	}
	if !c.cfg.Visible(name) {
		return nil, &Dropped{Tool: name, Reason: "hidden"}
	}
	if _, shadowed := c.byNew[name]; shadowed && c.renamed[name] == "" {
		return nil, &Dropped{Tool: name, Reason: "shadowed"}
	}
	if c.cfg == nil || c.cfg.Override[name] == nil {
		return item, nil
	}
	o := c.cfg.Override[name]
	if o.Pin != "" {
		schema, _ := rawjson.GetValid(item, "inputSchema")
		if h := SchemaHash(schema); h != o.Pin {
			return nil, &Dropped{Tool: name, Reason: "pin", Mismatch: &Mismatch{Tool: name, Pin: o.Pin, Hash: h}}
		}
	}
	var set []rawjson.Field
	if o.Name != "" {
		set = append(set, rawjson.Field{Key: "name", Value: rawjson.Quote(o.Name)})
	}
	if o.Title != "" {
		set = append(set, rawjson.Field{Key: "title", Value: rawjson.Quote(o.Title)})
	}
	if o.Description != "" {
		set = append(set, rawjson.Field{Key: "description", Value: rawjson.Quote(o.Description)})
	}
	if len(set) == 0 {
		return item, nil
	}
	return rawjson.ApplyValid(item, rawjson.Edit{Set: set}), nil
}

// Schemas returns the hash of the input schema of each tool in a
// tools/list result page, by the server's names.
func Schemas(page json.RawMessage) (map[string]string, error) {
	var res struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(page, &res); err != nil {
		return nil, fmt.Errorf("malformed tools/list result: %w", err)
	}
	out := make(map[string]string, len(res.Tools))
	for _, t := range res.Tools {
		out[t.Name] = SchemaHash(t.InputSchema)
	}
	return out, nil
}

// SchemaHash returns config.PinPrefix and the hex SHA-256 of schema in a
// canonical form: object keys sorted, no insignificant space, numbers and
// strings as written. A missing or unreadable schema hashes as null.
func SchemaHash(schema json.RawMessage) string {
	sum := sha256.Sum256(canonical(schema))
	return config.PinPrefix + hex.EncodeToString(sum[:])
}

// canonical re-encodes JSON with sorted keys and no space.
func canonical(raw json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if len(bytes.TrimSpace(raw)) == 0 || dec.Decode(&v) != nil {
		return []byte("null")
	}
	var b bytes.Buffer
	encode(&b, v)
	return b.Bytes()
}

func encode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(rawjson.Quote(k))
			b.WriteByte(':')
			encode(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			encode(b, e)
		}
		b.WriteByte(']')
	case string:
		b.Write(rawjson.Quote(x))
	case json.Number:
		b.WriteString(x.String())
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default:
		b.WriteString("null")
	}
}
