package curation

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/engine/config"
)

const schemaA = `{"type":"object","properties":{"path":{"type":"string"}}}`

func tools() *config.Tools {
	return &config.Tools{
		Include: []string{"read_*", "list", "a", "b", "shadow", "plain"},
		Exclude: []string{"read_secret"},
		Override: map[string]*config.ToolOverride{
			"read_file": {Name: "cat", Title: "Cat", Description: "Prints a file.", Pin: SchemaHash(json.RawMessage(schemaA))},
			"list":      {Name: "shadow"}, // the server's own "shadow" is shadowed
			"a":         {Name: "b"},      // a swap
			"b":         {Name: "a"},
			"read_dir":  {Pin: SchemaHash(json.RawMessage(`{"type":"object"}`))},
			"plain":     {Description: "Only the description changes."},
		},
	}
}

func TestNames(t *testing.T) {
	c := New(tools())
	for _, tc := range []struct {
		called, orig string
		ok           bool
	}{
		{"cat", "read_file", true},
		{"read_file", "", false}, // renamed away
		{"read_secret", "", false},
		{"write_file", "", false}, // not included
		{"shadow", "list", true},  // the rename wins over the server's own tool
		{"list", "", false},
		{"a", "b", true},
		{"b", "a", true},
		{"read_dir", "read_dir", true},
		{"plain", "plain", true},
	} {
		orig, ok := c.Original(tc.called)
		if orig != tc.orig || ok != tc.ok {
			t.Errorf("Original(%q) = %q, %v; want %q, %v", tc.called, orig, ok, tc.orig, tc.ok)
		}
	}
	for orig, want := range map[string]string{"read_file": "cat", "list": "shadow", "shadow": "", "a": "b", "read_secret": "", "write": "", "plain": "plain"} {
		if got, _ := c.Exposed(orig); got != want {
			t.Errorf("Exposed(%q) = %q, want %q", orig, got, want)
		}
	}
	if New(nil).Pin("x") != "" {
		t.Error("a nil curation pins nothing")
	}
	if o, ok := New(nil).Original("anything"); !ok || o != "anything" {
		t.Error("a nil curation shows everything")
	}
}

func TestList(t *testing.T) {
	c := New(tools())
	page := `{"tools":[
{"name":"read_file","description":"Reads.","inputSchema":` + schemaA + `,"annotations":{"readOnlyHint":true},"x-extra":1},
{"name":"read_secret","inputSchema":{}},
{"name":"write_file","inputSchema":{}},
{"name":"list","inputSchema":{}},
{"name":"shadow","inputSchema":{}},
{"name":"a","inputSchema":{}},{"name":"b","inputSchema":{}},
{"name":"read_dir","inputSchema":{"type":"object","properties":{"new":{}}}},
{"name":"plain","description":"old","inputSchema":{}}],"nextCursor":"c2","_meta":{"k":"v"}}`
	out, dropped, err := c.List(json.RawMessage(page))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Tools      []map[string]any `json:"tools"`
		NextCursor string           `json:"nextCursor"`
		Meta       map[string]any   `json:"_meta"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl["name"].(string))
	}
	if got := strings.Join(names, ","); got != "cat,shadow,b,a,plain" {
		t.Errorf("listed %s", got)
	}
	cat := res.Tools[0]
	if cat["title"] != "Cat" || cat["description"] != "Prints a file." || cat["x-extra"] != float64(1) || cat["annotations"] == nil {
		t.Errorf("cat: %v", cat)
	}
	if res.Tools[4]["description"] != "Only the description changes." {
		t.Errorf("plain: %v", res.Tools[4])
	}
	if res.NextCursor != "c2" || res.Meta["k"] != "v" {
		t.Errorf("the page's other members were lost: %s", out)
	}
	reasons := map[string]string{}
	for _, d := range dropped {
		reasons[d.Tool] = d.Reason
	}
	if reasons["read_secret"] != "hidden" || reasons["write_file"] != "hidden" || reasons["shadow"] != "shadowed" || reasons["read_dir"] != "pin" {
		t.Errorf("dropped %+v", dropped)
	}
	for _, d := range dropped {
		if d.Reason == "pin" && (d.Mismatch == nil || d.Mismatch.Hash == d.Mismatch.Pin || !strings.Contains(d.Mismatch.Error(), "read_dir")) {
			t.Errorf("mismatch %+v", d.Mismatch)
		}
	}
	for _, bad := range []string{`{}`, `{"tools":{}}`, `[]`, `{"tools":[1,}`} {
		if _, _, err := c.List(json.RawMessage(bad)); err == nil {
			t.Errorf("List(%s) accepted", bad)
		}
	}
}

func TestSchemaHash(t *testing.T) {
	a := SchemaHash(json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number","minimum":1.50}}}`))
	b := SchemaHash(json.RawMessage(`{ "properties": { "b": {"minimum": 1.50, "type": "number"}, "a": {"type":"string"} }, "type": "object" }`))
	if a != b {
		t.Errorf("key order or space changed the hash: %s %s", a, b)
	}
	if !strings.HasPrefix(a, config.PinPrefix) || len(a) != len(config.PinPrefix)+64 {
		t.Errorf("hash %q", a)
	}
	for _, other := range []string{
		`{"type":"object","properties":{"a":{"type":"string"}}}`,
		`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number","minimum":1.5}}}`, // numbers as written
		`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number","minimum":1.50}},"required":["a"]}`,
	} {
		if SchemaHash(json.RawMessage(other)) == a {
			t.Errorf("%s hashes like the original", other)
		}
	}
	if SchemaHash(nil) != SchemaHash(json.RawMessage("null")) || SchemaHash(json.RawMessage("{bad")) != SchemaHash(nil) {
		t.Error("missing and unreadable schemas hash as null")
	}
	got, err := Schemas(json.RawMessage(`{"tools":[{"name":"x","inputSchema":{"type":"object"}}]}`))
	if err != nil || got["x"] != SchemaHash(json.RawMessage(`{"type": "object"}`)) {
		t.Errorf("Schemas = %v, %v", got, err)
	}
}
