package jsrt_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// TestRedact checks the global redact on every shape of result that
// carries text: each string is transformed, nothing else, and the result
// is the same object when nothing changed.
func TestRedact(t *testing.T) {
	dir := write(t, map[string]string{"r.js": `
const fn = (s) => s.replace(/sk-[a-z0-9]+/g, "[REDACTED]")
export function apply(json) {
  const result = JSON.parse(json)
  const out = redact(result, fn)
  return JSON.stringify({ same: out === result, out })
}
export function throws() { return redact({ content: [{ type: "text", text: "x" }] }, () => { throw new Error("no") }) }
export function notString() { return redact({ content: [{ type: "text", text: "x" }] }, () => 3) }
export function notFn() { return redact({}, "x") }
`})
	path := filepath.Join(dir, "r.js")
	for _, tc := range []struct{ name, in, want string }{
		{"text content", `{"content":[{"type":"text","text":"key sk-abc1 and sk-def2"},{"type":"image","data":"sk-abc1","mimeType":"image/png"}],"isError":false}`,
			`{"content":[{"type":"text","text":"key [REDACTED] and [REDACTED]"},{"type":"image","data":"sk-abc1","mimeType":"image/png"}],"isError":false}`},
		{"embedded resource", `{"content":[{"type":"resource","resource":{"uri":"file:///sk-abc1","mimeType":"text/plain","text":"sk-abc1"}}]}`,
			`{"content":[{"type":"resource","resource":{"uri":"file:///sk-abc1","mimeType":"text/plain","text":"[REDACTED]"}}]}`},
		{"blob resource", `{"content":[{"type":"resource","resource":{"uri":"file:///x","blob":"c2stYWJjMQ=="}}]}`, ""},
		{"structured content", `{"content":[{"type":"text","text":"{\"k\":\"sk-abc1\"}"}],"structuredContent":{"sk-key1":"sk-abc1","n":1,"deep":{"list":["a","sk-x9",[{"v":"sk-y8"}]],"t":true,"z":null}}}`,
			`{"content":[{"type":"text","text":"{\"k\":\"[REDACTED]\"}"}],"structuredContent":{"sk-key1":"[REDACTED]","n":1,"deep":{"list":["a","[REDACTED]",[{"v":"[REDACTED]"}]],"t":true,"z":null}}}`},
		{"resources/read", `{"contents":[{"uri":"file:///a","mimeType":"text/plain","text":"token sk-abc1"},{"uri":"file:///b","blob":"AAAA"}]}`,
			`{"contents":[{"uri":"file:///a","mimeType":"text/plain","text":"token [REDACTED]"},{"uri":"file:///b","blob":"AAAA"}]}`},
		{"prompts/get", `{"description":"d","messages":[{"role":"user","content":{"type":"text","text":"sk-abc1"}},{"role":"user","content":{"type":"resource","resource":{"uri":"u","text":"sk-q1"}}}]}`,
			`{"description":"d","messages":[{"role":"user","content":{"type":"text","text":"[REDACTED]"}},{"role":"user","content":{"type":"resource","resource":{"uri":"u","text":"[REDACTED]"}}}]}`},
		{"names in another case", `{"Content":[{"type":"text","TEXT":"sk-abc1"}],"StructuredContent":{"a":"sk-abc1"},"ſtructuredContent":["sk-abc1"]}`,
			`{"Content":[{"type":"text","TEXT":"[REDACTED]"}],"StructuredContent":{"a":"[REDACTED]"},"ſtructuredContent":["[REDACTED]"]}`},
		{"nothing to redact", `{"content":[{"type":"text","text":"clean"}],"structuredContent":{"a":["b"]}}`, ""},
		{"not a result", `[1,"sk-abc1"]`, ""},
		{"deep nesting", strings.Repeat(`{"structuredContent":`, 1) + strings.Repeat(`[`, 5000) + `"sk-abc1"` + strings.Repeat(`]`, 5000) + `}`,
			`{"structuredContent":` + strings.Repeat(`[`, 5000) + `"[REDACTED]"` + strings.Repeat(`]`, 5000) + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := run(t, path, jsrt.Options{}, "apply", tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Same bool
				Out  json.RawMessage
			}
			if err := json.Unmarshal([]byte(v.String()), &got); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.in
				if !got.Same {
					t.Error("nothing changed, but a new object came back")
				}
			} else if got.Same {
				t.Error("changed, but the same object came back")
			}
			if string(got.Out) != want {
				t.Errorf("got  %s\nwant %s", got.Out, want)
			}
		})
	}
	for fn, want := range map[string]string{
		"throws":    "Error: no",
		"notString": "TypeError: redact: fn must return a string, not a number",
		"notFn":     "TypeError: redact(result, fn): fn must be a function",
	} {
		if _, err := run(t, path, jsrt.Options{}, fn); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", fn, err, want)
		}
	}
}
