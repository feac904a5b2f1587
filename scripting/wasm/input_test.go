package wasm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/scripting"
	"github.com/mcpscript/mcpscript/scripting/wasm/guest"
)

// encodeInput writes what encoding/json would, but for whitespace and HTML
// escapes within the raw fields, which it keeps.
func TestEncodeInput(t *testing.T) {
	for _, in := range []*scripting.Input{
		{},
		{Hook: scripting.PhaseToolCall, Server: "fs", Method: "tools/call", Caller: scripting.Caller{Token: "alice", Session: "s-1", Transport: "go",
			Auth: "jwt", Subject: "alice@example.com", ClientID: "app", Scopes: []string{"mcp:tools", "a\"b"},
			Claims: json.RawMessage(`{"sub":"alice@example.com","tier":"gold"}`), Client: scripting.ClientInfo{Name: "claude-code", Version: "2.1"}, Protocol: "2026-07-28"},
			Tool: "read_file", Arguments: json.RawMessage(`{"path": "/a", "n": 1.50}`)},
		{Hook: scripting.PhaseToolResult, Server: "s \"q\" \\ \n é \u2028 <&>", Method: "tools/call", Tool: "t\x01",
			Arguments: json.RawMessage(`{}`), Result: json.RawMessage(" {\"content\": [{\"type\": \"text\", \"text\": \"<b>&\"}]}\n")},
		{Hook: scripting.PhaseListTools, Method: "tools/list", Params: json.RawMessage(`null`), Items: json.RawMessage(`[{"name":"a"}]`)},
		{Hook: scripting.PhaseResponse, Method: "x", Server: string([]byte{0xff, 'a'}), Result: json.RawMessage(`{"a":[1,2,{"b":null}]}`)},
	} {
		got, err := encodeInput(in)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(in)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %s", got)
		}
		var g, w any // the same values, whatever the bytes
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("encodeInput:\n%s\nencoding/json:\n%s", got, want)
		}
		if in.Result != nil && !bytes.Contains(got, in.Result) {
			t.Errorf("the result was not copied as it is: %s", got)
		}
	}
	for _, field := range []string{"arguments", "params", "result", "items"} {
		in := &scripting.Input{Hook: scripting.PhaseToolCall}
		bad := json.RawMessage(`{"a":1},"hook":"x"`)
		reflect.ValueOf(in).Elem().FieldByName(strings.ToUpper(field[:1]) + field[1:]).Set(reflect.ValueOf(bad))
		if _, err := encodeInput(in); err == nil || !strings.Contains(err.Error(), field+" is not valid JSON") {
			t.Errorf("%s: err %v", field, err)
		}
	}
}

func TestOneValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`{}`, true}, {` [1, {"a": "}]"}] `, true}, {`"a \" b \\"`, true}, {`12.5e3`, true}, {`null`, true},
		{``, false}, {` `, false}, {`{`, false}, {`}`, false}, {`{]`, false}, {`[}`, false}, {`{} {}`, false},
		{`1 2`, false}, {`1,"hook":"x"`, false}, {`"a"1`, false}, {`1"a"`, false}, {`{"a":1},"hook":"x"`, false},
		{`"open`, false}, {`"a\"`, false}, {"1\x01", false}, {`a:b`, false},
	} {
		if got := oneValue([]byte(c.in)); got != c.want {
			t.Errorf("oneValue(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// oneValue accepts all valid JSON, and whatever it accepts stays one
// member's value inside an object.
func FuzzOneValue(f *testing.F) {
	for _, s := range []string{`{}`, `[1,"a"]`, `"x"`, `1 2`, `{"a":1},"b":2`, `"\\"`, `tru`, `[{]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := oneValue([]byte(s))
		if json.Valid([]byte(s)) && !ok {
			t.Fatalf("oneValue(%q) = false for valid JSON", s)
		}
		if !ok {
			return
		}
		obj := `{"a":` + s + `,"b":1}`
		members, err := guest.Members(json.RawMessage(obj))
		if err != nil || len(members) != 2 || members[0].Key != "a" || members[1].Key != "b" || string(members[1].Value) != "1" {
			t.Fatalf("oneValue(%q) = true, but %s splits into %q (%v)", s, obj, members, err)
		}
	})
}
