package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/wire"
)

// hostileCase is one hostile HTTP request against a running proxy and what
// it must get: the HTTP status and, when the body is a JSON-RPC error, its
// code (0: not checked).
type hostileCase struct {
	name    string
	method  string
	path    string
	token   string            // bearer token ("" none)
	headers map[string]string // "{sid}" and "{sidB}" in values: a live session of tokAll, of tokB
	add     [][2]string       // headers added after the others (duplicates)
	body    string
	raw     string // if set, sent as it is on a TCP connection instead ("{host}" is replaced)
	status  int
	code    int64
	// lead marks a case where main deviates from the spec: the lead fixes
	// it in streamable.go. It is skipped (with the deviation logged) while
	// the deviation lasts, and fails once it is fixed, to be unmarked.
	lead bool
}

// Bodies of the hostile cases.
const (
	hostileCall  = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	hostileNotif = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

// hostileCases are the cases; see TestHostileHTTP.
func hostileCases() []hostileCase {
	js := map[string]string{"Accept": "application/json", "Content-Type": "application/json"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	sess := with(js, headerSessionID, "{sid}")
	init := func(body string) string { return body }
	req := func(id, rest string) string { return `{"jsonrpc":"2.0","id":` + id + rest + `}` }
	const ir = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"h","version":"1"}}}`
	return []hostileCase{
		// Authentication.
		{name: "no Authorization", method: "POST", path: "/mcp", headers: js, body: ir, status: 401, code: wire.CodeInvalidRequest},
		{name: "Bearer without a token", method: "POST", path: "/mcp", headers: with(js, "Authorization", "Bearer"), body: ir, status: 401, code: wire.CodeInvalidRequest},
		{name: "Basic scheme", method: "POST", path: "/mcp", headers: with(js, "Authorization", "Basic YTpi"), body: ir, status: 401, code: wire.CodeInvalidRequest},
		{name: "wrong token", method: "POST", path: "/mcp", token: "secret-nope", headers: js, body: ir, status: 401, code: wire.CodeInvalidRequest},
		{name: "token with a trailing NUL", raw: "GET /api/servers HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer " + tokAll + "\x00\r\nConnection: close\r\n\r\n", status: 400},
		{name: "lower-case scheme", method: "GET", path: "/api/servers", headers: with(nil, "Authorization", "bearer "+tokAll), status: 200},
		{name: "two Authorization headers, good first", method: "GET", path: "/api/servers", token: tokAll, add: [][2]string{{"Authorization", "Bearer nope"}}, status: 400, code: wire.CodeInvalidRequest},
		{name: "two Authorization headers, bad first", method: "GET", path: "/api/servers", headers: with(nil, "Authorization", "Bearer nope"), add: [][2]string{{"Authorization", "Bearer " + tokAll}}, status: 400, code: wire.CodeInvalidRequest},
		{name: "query token on a route that takes none", method: "GET", path: "/api/servers?access_token=x", status: 401},
		{name: "real secret as a query token", method: "GET", path: "/sse?access_token=" + tokAll, status: 401},
		{name: "query token and bearer: the bearer counts", method: "GET", path: "/api/servers?access_token=bogus", token: tokAll, status: 200},
		{name: "auth/token with a query token", method: "POST", path: "/auth/token?access_token=bogus", status: 401},

		// Host and Origin (DNS rebinding).
		{name: "evil Host", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Host", "evil.example"), body: ir, status: 403, code: wire.CodeInvalidRequest},
		{name: "evil Origin", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Origin", "http://evil.example"), body: ir, status: 403, code: wire.CodeInvalidRequest},
		{name: "Origin null", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Origin", "null"), body: ir, status: 403},
		{name: "Origin that is no URL", method: "GET", path: "/api/servers", token: tokAll, headers: with(nil, "Origin", "::::"), status: 403},
		{name: "Origin of a file", method: "GET", path: "/api/servers", token: tokAll, headers: with(nil, "Origin", "file://"), status: 403},
		{name: "HTTP/1.0 without Host", raw: "GET /api/servers HTTP/1.0\r\nAuthorization: Bearer " + tokAll + "\r\n\r\n", status: 403},
		{name: "two Host headers", raw: "GET /api/servers HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\nAuthorization: Bearer " + tokAll + "\r\nConnection: close\r\n\r\n", status: 400},

		// Content-Type.
		{name: "text/plain", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", "text/plain"), body: ir, status: 415, code: wire.CodeInvalidRequest},
		{name: "form body", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", "application/x-www-form-urlencoded"), body: ir, status: 415},
		{name: "multipart body", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", "multipart/form-data; boundary=x"), body: ir, status: 400},
		{name: "malformed Content-Type", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", ";;;"), body: ir, status: 415},
		{name: "JSON with charset", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", "application/json; charset=utf-8"), body: ir, status: 200},
		{name: "a +json type", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", "application/vnd.x+json"), body: ir, status: 200},
		{name: "missing Content-Type", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Content-Type", ""), body: ir, status: 415, code: wire.CodeInvalidRequest},
		{name: "legacy POST as text/plain", method: "POST", path: "/servers/a/messages?sessionId=x", token: tokAll, headers: with(js, "Content-Type", "text/plain"), body: hostileCall, status: 415},

		// Accept.
		{name: "Accept text/html", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Accept", "text/html"), body: ir, status: 406, code: wire.CodeInvalidRequest},
		{name: "Accept JSON with q=0", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Accept", "application/json;q=0"), body: ir, status: 406},
		{name: "Accept */*", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Accept", "*/*"), body: ir, status: 200},
		{name: "no Accept", method: "POST", path: "/mcp", token: tokAll, headers: with(js, "Accept", ""), body: ir, status: 200},
		{name: "GET without event-stream", method: "GET", path: "/mcp", token: tokAll, headers: with(sess, "Accept", "application/json"), status: 406, code: wire.CodeInvalidRequest},

		// Bodies.
		{name: "oversized body", method: "POST", path: "/mcp", token: tokAll, headers: js, body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`, status: 413, code: wire.CodeInvalidRequest},
		{name: "empty body", method: "POST", path: "/mcp", token: tokAll, headers: js, status: 400, code: wire.CodeParseError},
		{name: "truncated JSON", method: "POST", path: "/mcp", token: tokAll, headers: js, body: `{"jsonrpc":"2.0","id":1,`, status: 400, code: wire.CodeParseError},
		{name: "trailing garbage", method: "POST", path: "/mcp", token: tokAll, headers: js, body: ir + " x", status: 400, code: wire.CodeParseError},
		{name: "two messages", method: "POST", path: "/mcp", token: tokAll, headers: js, body: ir + ir, status: 400, code: wire.CodeParseError},
		{name: "binary body", method: "POST", path: "/mcp", token: tokAll, headers: js, body: "\x00\x01\x02\xff", status: 400, code: wire.CodeParseError},
		{name: "invalid UTF-8 in a string", method: "POST", path: "/mcp", token: tokAll, headers: js, body: `{"jsonrpc":"2.0","id":1,"method":"ini` + "\xff" + `"}`, status: 400},
		{name: "deeply nested params", method: "POST", path: "/mcp", token: tokAll, headers: sess, body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":` + strings.Repeat("[", 1900) + strings.Repeat("]", 1900) + `}`, status: 200},
		{name: "unbalanced nesting", method: "POST", path: "/mcp", token: tokAll, headers: sess, body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":` + strings.Repeat("[", 1900) + `}`, status: 400, code: wire.CodeParseError},
		{name: "batch", method: "POST", path: "/mcp", token: tokAll, headers: js, body: "[" + ir + "]", status: 400, code: wire.CodeInvalidRequest},
		{name: "empty batch", method: "POST", path: "/mcp", token: tokAll, headers: js, body: "[]", status: 400, code: wire.CodeInvalidRequest},
		{name: "a JSON string", method: "POST", path: "/mcp", token: tokAll, headers: js, body: `"initialize"`, status: 400, code: wire.CodeInvalidRequest},
		{name: "JSON-RPC 1.0", method: "POST", path: "/mcp", token: tokAll, headers: js, body: strings.Replace(ir, `"2.0"`, `"1.0"`, 1), status: 400, code: wire.CodeInvalidRequest},
		{name: "no jsonrpc member", method: "POST", path: "/mcp", token: tokAll, headers: js, body: `{"id":1,"method":"initialize"}`, status: 400, code: wire.CodeInvalidRequest},
		{name: "object id", method: "POST", path: "/mcp", token: tokAll, headers: js, body: init(req(`{"a":1}`, `,"method":"initialize"`)), status: 400, code: wire.CodeInvalidRequest},
		{name: "array id", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`[1]`, `,"method":"initialize"`), status: 400, code: wire.CodeInvalidRequest},
		{name: "boolean id", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`true`, `,"method":"initialize"`), status: 400, code: wire.CodeInvalidRequest},
		{name: "null id", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`null`, `,"method":"initialize"`), status: 400, code: wire.CodeInvalidRequest},
		{name: "method not a string", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`1`, `,"method":7`), status: 400, code: wire.CodeInvalidRequest},
		{name: "empty method", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`1`, `,"method":""`), status: 400, code: wire.CodeInvalidRequest},
		{name: "neither method nor result", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`1`, ``), status: 400, code: wire.CodeInvalidRequest},
		{name: "initialize with string params", method: "POST", path: "/mcp", token: tokAll, headers: js, body: req(`1`, `,"method":"initialize","params":"x"`), status: 200, code: wire.CodeInvalidParams},

		// Sessions.
		{name: "request without a session", method: "POST", path: "/mcp", token: tokAll, headers: js, body: hostileCall, status: 400, code: wire.CodeInvalidRequest},
		{name: "notification without a session", method: "POST", path: "/mcp", token: tokAll, headers: js, body: hostileNotif, status: 400, code: wire.CodeInvalidRequest},
		{name: "unknown session", method: "POST", path: "/mcp", token: tokAll, headers: with(js, headerSessionID, "00000000000000000000000000000000"), body: hostileCall, status: 404, code: wire.CodeSessionNotFound},
		{name: "another token's session", method: "POST", path: "/mcp", token: tokAll, headers: with(js, headerSessionID, "{sidB}"), body: hostileCall, status: 404, code: wire.CodeSessionNotFound},
		{name: "another token's session, DELETE", method: "DELETE", path: "/mcp", token: tokAll, headers: with(nil, headerSessionID, "{sidB}"), status: 404, code: wire.CodeSessionNotFound},
		{name: "another token's session, GET", method: "GET", path: "/mcp", token: tokAll, headers: with(nil, headerSessionID, "{sidB}", "Accept", "text/event-stream"), status: 404},
		{name: "session id with a space", method: "POST", path: "/mcp", token: tokAll, headers: with(js, headerSessionID, "{sid} x"), body: hostileCall, status: 404},
		{name: "session id of 8 KiB", method: "POST", path: "/mcp", token: tokAll, headers: with(js, headerSessionID, strings.Repeat("a", 8<<10)), body: hostileCall, status: 404},
		{name: "session of another view", method: "POST", path: "/servers/a/mcp", token: tokAll, headers: sess, body: hostileCall, status: 404, code: wire.CodeSessionNotFound},
		{name: "two session ids", method: "POST", path: "/mcp", token: tokAll, headers: sess, add: [][2]string{{headerSessionID, "00000000000000000000000000000000"}}, body: hostileCall, status: 400, code: wire.CodeInvalidRequest},
		// Without a session, GET and DELETE are modern (2026-07-28) requests: POST only.
		{name: "DELETE without a session", method: "DELETE", path: "/mcp", token: tokAll, status: 405, code: wire.CodeInvalidRequest},
		{name: "GET without a session", method: "GET", path: "/mcp", token: tokAll, headers: with(nil, "Accept", "text/event-stream"), status: 405},
		{name: "Last-Event-ID not ours", method: "GET", path: "/mcp", token: tokAll, headers: with(sess, "Accept", "text/event-stream", headerLastEventID, "abc"), status: 400, code: wire.CodeInvalidRequest},
		{name: "Last-Event-ID negative", method: "GET", path: "/mcp", token: tokAll, headers: with(sess, "Accept", "text/event-stream", headerLastEventID, "-1-5"), status: 400},
		{name: "Last-Event-ID overflowing", method: "GET", path: "/mcp", token: tokAll, headers: with(sess, "Accept", "text/event-stream", headerLastEventID, "99999999999999999999-1"), status: 400},
		{name: "Last-Event-ID of an unknown stream", method: "GET", path: "/mcp", token: tokAll, headers: with(sess, "Accept", "text/event-stream", headerLastEventID, "77-1"), status: 400},
		{name: "unsupported protocol version", method: "POST", path: "/mcp", token: tokAll, headers: with(sess, headerProtocolVersion, "1999-01-01"), body: hostileCall, status: 400, code: wire.CodeInvalidRequest},
		{name: "protocol version with a newline", method: "POST", path: "/mcp", token: tokAll, headers: with(sess, headerProtocolVersion, "2025-11-25 x"), body: hostileCall, status: 400},
		{name: "second initialize in a live session", method: "POST", path: "/mcp", token: tokAll, headers: sess, body: ir, status: 200, code: wire.CodeInvalidRequest},
		{name: "response to nothing", method: "POST", path: "/mcp", token: tokAll, headers: sess, body: `{"jsonrpc":"2.0","id":"nope","result":{}}`, status: 202},
		{name: "legacy POST without sessionId", method: "POST", path: "/servers/a/messages", token: tokAll, headers: js, body: hostileCall, status: 400, code: wire.CodeInvalidRequest},
		{name: "legacy POST to an unknown session", method: "POST", path: "/servers/a/messages?sessionId=x", token: tokAll, headers: js, body: hostileCall, status: 404, code: wire.CodeSessionNotFound},
		{name: "reference POST, no stream open", method: "POST", path: "/sse/messages", token: tokB, headers: js, body: hostileCall, status: 400, code: wire.CodeInvalidRequest},

		// Routes and methods.
		{name: "PUT /mcp", method: "PUT", path: "/mcp", token: tokAll, headers: js, body: ir, status: 405},
		{name: "PATCH /sse", method: "PATCH", path: "/sse", token: tokAll, status: 405},
		{name: "unknown route", method: "GET", path: "/admin", token: tokAll, status: 404, code: wire.CodeInvalidRequest},
		{name: "dot-dot server", method: "POST", path: "/servers/%2e%2e/mcp", token: tokAll, headers: js, body: ir, status: 404},
		{name: "encoded slash in a server", method: "POST", path: "/servers/a%2F..%2Fc/mcp", token: tokAll, headers: js, body: ir, status: 404},
		{name: "traversal to a hidden server", method: "POST", path: "/servers/b/../c/mcp", token: tokAll, headers: js, body: ir, status: 404},
		{name: "empty server name", method: "POST", path: "/servers//mcp", token: tokAll, headers: js, body: ir, status: 404},
		{name: "server name in another case", method: "POST", path: "/servers/A/mcp", token: tokAll, headers: js, body: ir, status: 404},
		{name: "server name with NUL", method: "POST", path: "/servers/a%00/mcp", token: tokAll, headers: js, body: ir, status: 404},
		{name: "extra path element", method: "POST", path: "/servers/a/mcp/x", token: tokAll, headers: js, body: ir, status: 404},
		{name: "hidden server by a limited token", method: "GET", path: "/servers/a/sse", token: tokB, status: 404, code: wire.CodeInvalidRequest},

		// The HTTP layer.
		{name: "header of 32 KiB", method: "GET", path: "/api/servers", token: tokAll, headers: with(nil, "X-Pad", strings.Repeat("p", 32<<10)), status: 431},
		{name: "URL of 64 KiB", raw: "GET /api/servers?x=" + strings.Repeat("q", 64<<10) + " HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", status: 431},
		{name: "garbage request line", raw: "HELLO\r\n\r\n", status: 400},
		{name: "bad chunked body", raw: "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer " + tokAll + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n", status: 400},
		{name: "Content-Length and chunked", raw: "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer " + tokAll + "\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", status: 400},
		{name: "negative Content-Length", raw: "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer " + tokAll + "\r\nContent-Length: -1\r\nConnection: close\r\n\r\n", status: 400},
	}
}

// TestHostileHTTP sends each hostile case to a running proxy and checks its
// status and JSON-RPC error code. Nothing may crash, hang or leak.
func TestHostileHTTP(t *testing.T) {
	e := startProxy(t, proxyConfig(t, `"maxBodyBytes": 4096, "authenticate": {"queryTokens": true, "bearer": {"token": "`+tokAll+
		`", "tokens": [{"name": "ci", "token": "`+tokB+`", "servers": ["b"]}]}}`))
	sid := e.initialize("/mcp", tokAll)
	sidB := e.initialize("/mcp", tokB)
	host := strings.TrimPrefix(e.base, "http://")
	cases := hostileCases()
	if len(cases) < 60 {
		t.Fatalf("%d cases, want at least 60", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fill := func(s string) string {
				return strings.NewReplacer("{sidB}", sidB, "{sid}", sid, "{host}", host).Replace(s)
			}
			var status int
			var body string
			if tc.raw != "" {
				status, body = rawHTTP(t, host, fill(tc.raw))
			} else {
				status, body = hostileDo(t, e.base, tc, fill)
			}
			code := int64(0)
			if tc.code != 0 && strings.HasPrefix(strings.TrimSpace(body), "{") {
				code, _, _ = rpcErr(t, body)
			}
			ok := status == tc.status && (tc.code == 0 || code == tc.code)
			switch {
			case tc.lead && ok:
				t.Errorf("fixed on main: %d (code %d) as wanted; remove the lead mark", status, code)
			case tc.lead:
				t.Skipf("known deviation for the lead (streamable.go): got %d (code %d), want %d (code %d): %.200s", status, code, tc.status, tc.code, body)
			case !ok:
				t.Errorf("got %d (code %d), want %d (code %d): %.200s", status, code, tc.status, tc.code, body)
			}
		})
	}
	// The proxy still serves.
	if m := e.rpc("/mcp", tokAll, sid, "tools/list", "{}"); m["result"] == nil {
		t.Errorf("after the hostile cases: %v", m)
	}
}

// hostileDo sends a case with net/http.
func hostileDo(t *testing.T, base string, tc hostileCase, fill func(string) string) (int, string) {
	t.Helper()
	var rd io.Reader
	if tc.body != "" {
		rd = strings.NewReader(tc.body)
	}
	req, err := http.NewRequestWithContext(testCtx(t), tc.method, base+tc.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tc.token != "" {
		req.Header.Set("Authorization", "Bearer "+tc.token)
	}
	for k, v := range tc.headers {
		switch {
		case k == "Host":
			req.Host = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header[http.CanonicalHeaderKey(k)] = []string{fill(v)}
		}
	}
	for _, kv := range tc.add {
		req.Header.Add(kv[0], fill(kv[1]))
	}
	if tc.body == "" && tc.method == "POST" {
		req.ContentLength = 0
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request: %.200v", err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "" // a stream: the status is the answer
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// rawHTTP writes a request as bytes and reads the status line and body.
func rawHTTP(t *testing.T, host, raw string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, raw) // the server may answer and close before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// A client that sends its body slowly is cut off by ReadTimeout: it holds a
// connection for a bounded time only.
func TestSlowBodyIsBounded(t *testing.T) {
	defer setReadTimeout(time.Second)()
	e := startProxy(t, proxyConfig(t, ""))
	host := strings.TrimPrefix(e.base, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":", host, tokAll)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(conn) // the server answers (408) and closes, or just closes
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the connection was held %s, want about the read timeout (1s)", d)
	}
	if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408") {
		t.Errorf("answer %.100q, want 408 or nothing", b)
	}
}
