package guest

import (
	"encoding/json"
	"reflect"
	"testing"
)

var decodeCases = []string{
	`{"hook":"toolCall","server":"fs","method":"tools/call","caller":{"token":"","session":"","transport":"go"},"tool":"read_file","arguments":{"path":"/a"}}`,
	`{"hook":"toolResult","server":"s","method":"tools/call","caller":{"token":"alice","session":"s-1","transport":"streamable-http"},"tool":"t","arguments":{},"result":{"content":[{"type":"text","text":"a \"}{][ b\\\\"}],"isError":false}}`,
	` { "hook" : "listTools" , "server":"x", "method":"tools/list", "caller": { "transport" : "cli" } , "params":null, "items":[{"name":"a"},{"name":"b","inputSchema":{"type":"object"}}] } `,
	`{"hook":"request","server":"s","method":"resources/read","caller":{},"params":{"uri":"file:///a b"},"unknown":[1,{"x":"}"}],"extra":-1.5e3}`,
	`{"hook":"toolCall","server":"\u00e9t\u00e9 \"quoted\" \\ \n","method":"tools/call","caller":{"token":"\u2028"},"tool":"emoji 😀","arguments":{"n":12345678901234567890,"b":true,"z":null}}`,
	`{"hook":"toolCall","hook":"toolResult","server":null,"method":"m","caller":null}`,
	`{}`,
	// Not what the host sends: encoding/json decides.
	`{"hook":1}`,
	`{"h\u006fok":"toolCall"}`,
	`{"hook":"toolCall"`,
	`{"hook":"toolCall"} x`,
	`[]`,
	``,
	`{"hook":"toolCall",}`,
	`{"caller":{"token":5}}`,
	`{"caller":{"scopes":["a","b"],"claims":{"x":[1]},"client":{"name":"n","version":"v"},"auth":"jwt"}}`,
	`{"caller":{"scopes":"a"}}`,
	`{"caller":{"client":{"name":1}}}`,
	`{"caller":{"scopes":null,"claims":null}}`,
	`{"caller":{"scopes":[],"claims":{},"client":{"name":"","version":""}}}`,
	`{"caller":{"client":{"name":"a\u00e9","Version":"2","x":[1]}}}`,
	`{"caller":{"client":null}}`,
	`{"caller":{"client":[]}}`,
	`{"caller":{"scopes":[ ]}}`,
}

func TestDecodeInput(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, []byte(c))
	}
	// Inputs as the host writes them.
	in := Input{Hook: ToolResult, Server: "ünïcode <&>", Method: "tools/call", Caller: Caller{Token: "t\"ok", Transport: "sse",
		Auth: "jwt", Subject: "alice", ClientID: "app", Scopes: []string{"mcp:read"}, Claims: json.RawMessage(`{"sub":"alice","tier":"gold"}`),
		Client: ClientInfo{Name: "claude", Version: "1.2"}, Protocol: "2026-07-28"},
		Tool: "x\u2029y", Arguments: json.RawMessage(`{"a":[1,2,{"b":"}"}]}`), Result: json.RawMessage(`{"content":[]}`)}
	b, _ := json.Marshal(in)
	checkDecode(t, b)
	var got Input
	if err := decodeInput(b, &got); err != nil || !reflect.DeepEqual(got, in) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
}

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	var want, got Input
	werr := json.Unmarshal(b, &want)
	gerr := decodeInput(b, &got)
	if (werr == nil) != (gerr == nil) {
		t.Errorf("%s: encoding/json says %v, decodeInput says %v", b, werr, gerr)
		return
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", b, got, want)
	}
}

func FuzzDecodeInput(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got Input
		if json.Unmarshal(b, &want) != nil {
			_ = decodeInput(b, &got) // must not panic
			return
		}
		if err := decodeInput(b, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %+v (%v)\nwant %+v", b, got, err, want)
		}
	})
}
