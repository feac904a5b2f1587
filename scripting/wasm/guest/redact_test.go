package guest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	hide := func(s string) string { return strings.ReplaceAll(s, "sk-secret", "[REDACTED]") }
	for _, tc := range []struct{ name, in, want string }{
		{"text content", `{"content":[{"type":"text","text":"a sk-secret b"},{"type":"image","data":"sk-secret"}], "isError": false}`,
			`{"content":[{"type":"text","text":"a [REDACTED] b"},{"type":"image","data":"sk-secret"}],"isError":false}`},
		{"embedded resource", `{"content":[{"type":"resource","resource":{"uri":"sk-secret","text":"x sk-secret"}}]}`,
			`{"content":[{"type":"resource","resource":{"uri":"sk-secret","text":"x [REDACTED]"}}]}`},
		{"blob", `{"content":[{"type":"resource","resource":{"uri":"u","blob":"c2stc2VjcmV0"}}]}`, ""},
		{"structured content", `{"structuredContent":{"sk-secret":["sk-secret",{"deep":"<sk-secret>"},1.50,true,null],"n":12345678901234567890}}`,
			`{"structuredContent":{"sk-secret":["[REDACTED]",{"deep":"<[REDACTED]>"},1.50,true,null],"n":12345678901234567890}}`},
		{"escaped", `{"content":[{"type":"text","te\u0078t":"sk\u002dsecret"}]}`, `{"content":[{"type":"text","te\u0078t":"[REDACTED]"}]}`},
		{"names in another case", `{"Content":[{"type":"text","TEXT":"sk-secret"}],"StructuredContent":{"a":"sk-secret"}}`,
			`{"Content":[{"type":"text","TEXT":"[REDACTED]"}],"StructuredContent":{"a":"[REDACTED]"}}`},
		{"resources/read", `{"contents":[{"uri":"a","text":"sk-secret"},{"uri":"b","blob":"AA=="}]}`, `{"contents":[{"uri":"a","text":"[REDACTED]"},{"uri":"b","blob":"AA=="}]}`},
		{"prompts/get", `{"messages":[{"role":"user","content":{"type":"text","text":"sk-secret"}},{"role":"user","content":{"type":"resource","resource":{"uri":"u","text":"sk-secret"}}}]}`,
			`{"messages":[{"role":"user","content":{"type":"text","text":"[REDACTED]"}},{"role":"user","content":{"type":"resource","resource":{"uri":"u","text":"[REDACTED]"}}}]}`},
		{"clean", `{ "content": [ {"type": "text", "text": "fine"} ] }`, ""},
		{"deep", `{"structuredContent":` + strings.Repeat("[", 3000) + `"sk-secret"` + strings.Repeat("]", 3000) + `}`,
			`{"structuredContent":` + strings.Repeat("[", 3000) + `"[REDACTED]"` + strings.Repeat("]", 3000) + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := Redact(json.RawMessage(tc.in), hide)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if changed != (tc.want != "") || string(out) != want {
				t.Errorf("changed %v\n got %s\nwant %s", changed, out, want)
			}
			if !json.Valid(out) {
				t.Errorf("not valid JSON: %s", out)
			}
		})
	}
	if _, _, err := Redact(json.RawMessage(`{"content":[{"text":"sk-secret"`), hide); err == nil {
		t.Error("malformed: no error")
	}
	d, err := RedactResult(&Input{Result: json.RawMessage(`{"content":[{"type":"text","text":"sk-secret"}]}`)}, hide)
	if err != nil || string(d.Result) != `{"content":[{"type":"text","text":"[REDACTED]"}]}` {
		t.Errorf("RedactResult: %+v, %v", d, err)
	}
	if d, err := RedactResult(&Input{Result: json.RawMessage(`{"content":[]}`)}, hide); err != nil || d.Result != nil {
		t.Errorf("RedactResult, clean: %+v, %v", d, err)
	}
}

// FuzzRedact checks that Redact never breaks valid JSON and leaves no
// secret in structured content, whatever the input.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{`{"content":[{"type":"text","text":"SECRET"}],"structuredContent":{"a":["SECRET"]}}`,
		`{"contents":[{"text":"SECRETSECRET"}]}`, `{"messages":[{"content":{"resource":{"text":"xSECRET"}}}]}`} {
		f.Add(s)
	}
	hide := func(s string) string {
		if strings.Contains(s, "SECRET") {
			return "x"
		}
		return s
	}
	f.Fuzz(func(t *testing.T, data string) {
		if !json.Valid([]byte(data)) {
			return
		}
		out, _, err := Redact(json.RawMessage(data), hide)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s → invalid %s", data, out)
		}
		var v struct {
			StructuredContent any `json:"structuredContent"`
		}
		if json.Unmarshal(out, &v) != nil {
			return
		}
		var walk func(any) bool
		walk = func(x any) bool {
			switch x := x.(type) {
			case string:
				return strings.Contains(x, "SECRET")
			case []any:
				for _, e := range x {
					if walk(e) {
						return true
					}
				}
			case map[string]any:
				for _, e := range x {
					if walk(e) {
						return true
					}
				}
			}
			return false
		}
		if walk(v.StructuredContent) {
			t.Fatalf("%s → a secret left in structuredContent: %s", data, out)
		}
	})
}
