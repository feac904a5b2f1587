package wasm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/scripting"
)

// encodeInput writes what encoding/json would, but for whitespace and HTML
// escapes within the raw fields, which it keeps.
func TestEncodeInput(t *testing.T) {
	for _, in := range []*scripting.Input{
		{},
		{Hook: scripting.PhaseToolCall, Server: "fs", Method: "tools/call", Caller: scripting.Caller{Token: "alice", Session: "s-1", Transport: "go"},
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
