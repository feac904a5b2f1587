package remote

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestParseOutgoing(t *testing.T) {
	tests := []struct {
		line                                string
		kind                                msgKind
		key, method, version, name, cancels string
		bad                                 bool
	}{
		{line: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, kind: kindRequest, key: "n:1", method: "initialize"},
		{line: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, kind: kindNotification, method: "notifications/initialized"},
		{line: `{"jsonrpc":"2.0","id":"s1","result":{}}`, kind: kindResponse, key: "s:s1"},
		{line: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			kind: kindRequest, key: "n:2", method: "tools/call", version: "2026-07-28", name: "echo"},
		{line: `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///a"}}`, kind: kindRequest, key: "n:3", method: "resources/read", name: "file:///a"},
		{line: `{"jsonrpc":"2.0","id":4,"method":"resources/list","params":{"name":"not a name header"}}`, kind: kindRequest, key: "n:4", method: "resources/list"},
		{line: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}`, kind: kindNotification, method: "notifications/cancelled", cancels: "n:5"},
		{line: `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":7}}`, kind: kindRequest, key: "n:6", method: "tools/call"},
		{line: `[{"jsonrpc":"2.0","method":"x"}]`, bad: true},
		{line: `{"jsonrpc":"2.0"}`, bad: true},
		{line: `{"jsonrpc":`, bad: true},
		{line: `"hello"`, bad: true},
	}
	for _, tt := range tests {
		m, err := parseOutgoing([]byte(tt.line))
		if tt.bad {
			if err == nil {
				t.Errorf("%s: no error", tt.line)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.line, err)
			continue
		}
		if m.kind != tt.kind || m.idKey != tt.key || m.method != tt.method || m.version != tt.version || m.name != tt.name || m.cancels != tt.cancels {
			t.Errorf("%s: got %+v", tt.line, m)
		}
	}
}

func TestIDKey(t *testing.T) {
	for raw, want := range map[string]string{`7`: "n:7", `7.0`: "n:7", ` 7 `: "n:7", `"7"`: "s:7", `null`: "", ``: "", `1e400`: "x:1e400"} {
		if got := idKey(json.RawMessage(raw)); got != want {
			t.Errorf("idKey(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestParseIncoming(t *testing.T) {
	in, err := parseIncoming([]byte("{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 3,\n  \"result\": {\"text\": \"a\\nb\"}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(in.line); got != `{"jsonrpc":"2.0","id":3,"result":{"text":"a\nb"}}`+"\n" {
		t.Errorf("line %q", got)
	}
	if len(in.response) != 1 || in.response[0] != "n:3" {
		t.Errorf("responses %v", in.response)
	}
	in, err = parseIncoming([]byte(`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"method":"ping"}]`))
	if err != nil || len(in.response) != 1 || in.response[0] != "n:1" {
		t.Errorf("batch: %v %v", in, err)
	}
	for _, bad := range []string{`{"a":`, `42`, ``} {
		if _, err := parseIncoming([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMessageHeaders(t *testing.T) {
	tests := []struct {
		line, negotiated       string
		version, method, named string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, "", "", "", ""},
		{`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}}`, "2025-11-25", "2025-11-25", "", ""},
		{`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			"", "2026-07-28", "tools/call", "echo"},
		{`{"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"grüße","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			"", "2026-07-28", "prompts/get", "=?base64?Z3LDvMOfZQ==?="},
		{`{"jsonrpc":"2.0","method":"notifications/progress","params":{}}`, "2026-07-28", "2026-07-28", "notifications/progress", ""},
		{`{"jsonrpc":"2.0","id":5,"result":{}}`, "2026-07-28", "2026-07-28", "", ""},
	}
	for _, tt := range tests {
		m, err := parseOutgoing([]byte(tt.line))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		setMessageHeaders(h, m, tt.negotiated)
		if h.Get("Mcp-Protocol-Version") != tt.version || h.Get("Mcp-Method") != tt.method || h.Get("Mcp-Name") != tt.named {
			t.Errorf("%s: headers %v", tt.line, h)
		}
	}
}

func TestEncodeHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"echo":            "echo",
		"file:///a b":     "file:///a b",
		" lead":           "=?base64?IGxlYWQ=?=",
		"tab\t":           "=?base64?dGFiCQ==?=",
		"é":               "=?base64?w6k=?=",
		"=?base64?abc?=":  "=?base64?PT9iYXNlNjQ/YWJjPz0=?=",
		"line\nbreak":     "=?base64?bGluZQpicmVhaw==?=",
		"":                "",
		"a~!#$%&'*+-.^_`": "a~!#$%&'*+-.^_`",
	} {
		if got := encodeHeaderValue(in); got != want {
			t.Errorf("encodeHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	u, _ := url.Parse("https://user:pass@mcp.example:8443/v1/mcp?api_key=abc&x=1#frag")
	got := redactURL(u)
	if strings.Contains(got, "user") || strings.Contains(got, "pass") || strings.Contains(got, "abc") || strings.Contains(got, "frag") {
		t.Errorf("redacted %q", got)
	}
	if !strings.HasPrefix(got, "https://mcp.example:8443/v1/mcp?") {
		t.Errorf("redacted %q", got)
	}
}

func TestOptionsResolve(t *testing.T) {
	hdr := func(k, v string) http.Header { return http.Header{k: {v}} }
	tests := []struct {
		name string
		o    Options
		want string // substring of the error; "" for none
	}{
		{"ok", Options{URL: "http://127.0.0.1:1/mcp"}, ""},
		{"no URL", Options{}, "no URL"},
		{"bad scheme", Options{URL: "ftp://x/"}, "scheme must be http or https"},
		{"no host", Options{URL: "http:///mcp"}, "has no host"},
		{"unknown transport", Options{URL: "http://x/", Transport: "websocket"}, `unknown transport "websocket"`},
		{"reserved header", Options{URL: "http://x/", Headers: hdr("mcp-session-id", "1")}, "set by the transport"},
		{"bad header name", Options{URL: "http://x/", Headers: hdr("Bad Name", "1")}, "not a valid HTTP token"},
		{"header value with newline", Options{URL: "http://x/", Headers: hdr("X-Key", "a\nInjected: 1")}, "line break"},
		{"OAuth without token URL", Options{URL: "http://x/", OAuth: &ClientCredentials{ClientID: "c"}}, "token URL and a client id"},
		{"OAuth and Authorization", Options{URL: "http://x/", Headers: hdr("Authorization", "Bearer a"),
			OAuth: &ClientCredentials{TokenURL: "http://as/token", ClientID: "c"}}, "keep one"},
		{"client with timeout", Options{URL: "http://x/", HTTPClient: &http.Client{Timeout: 1}}, "Timeout"},
		{"query redacted in errors", Options{URL: "ftp://x/?key=s3cret"}, "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.o.resolve()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error with %q", err, tt.want)
			case err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "Injected")):
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func FuzzParseMessages(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"result":{}}`, "{\n\"id\": \"a\",\n\"method\": \"x\"}", `[{"id":1}]`, `{"id":1e9999}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if in, err := parseIncoming([]byte(s)); err == nil {
			if strings.IndexByte(string(in.line), '\n') != len(in.line)-1 {
				t.Fatalf("line %q is not one line", in.line)
			}
		}
		_, _ = parseOutgoing([]byte(s))
	})
}

func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		&Error{Kind: ErrSessionExpired}: true,
		&Error{Kind: ErrStreamClosed}:   true,
		&Error{Kind: ErrUnreachable}:    true,
		&Error{Kind: ErrUnauthorized}:   false,
		&Error{Kind: ErrProtocol}:       false,
		ErrClosed:                       false,
	} {
		if got := Retryable(err); got != want {
			t.Errorf("Retryable(%v) = %v", err, got)
		}
	}
}
