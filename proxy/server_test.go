package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// These tests run the whole proxy (New, Start) on 127.0.0.1:0 over a real
// Runner whose servers are the test server (internal/testserver, this test
// binary re-executed; TestMain is in transport_test.go).

// Tokens of proxyConfig.
const (
	tokAll = "secret-all" // "default": every server
	tokB   = "secret-b"   // "ci": limited to server b
)

// proxyConfig is the config of servers a, b and c with an sseProxy of port
// 0, allowedServers a and b, CORS for http://app.example, the tokens tokAll
// ("default") and tokB ("ci", limited to b) unless extra has its own
// "authenticate", and the members in extra.
func proxyConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	server := `{` + testserver.ConfigJSON(testserver.ModeNormal, nil) + `, "restart": {"policy": "on-failure", "backoff": "10ms"}}`
	proxy := `"port": 0, "allowedServers": ["a", "b"], "cors": {"allowedOrigins": ["http://app.example"]}`
	if !strings.Contains(extra, `"authenticate"`) {
		proxy += `, "authenticate": {"bearer": {"token": "` + tokAll + `", "tokens": [{"name": "ci", "token": "` + tokB + `", "servers": ["b"]}]}}`
	}
	if extra != "" {
		proxy += ", " + extra
	}
	src := fmt.Sprintf(`{"mcpServers": {"a": %s, "b": %s, "c": %s}, "sseProxy": {%s}}`, server, server, server, proxy)
	cfg, err := config.Parse([]byte(src), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// quietLogger logs warnings and errors to t.Log.
func quietLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// proxyEnv is a started proxy.
type proxyEnv struct {
	t    testing.TB
	r    *engine.Runner
	s    *Server
	base string
}

// startProxy starts the servers and the proxy of cfg, stopped at cleanup.
func startProxy(t testing.TB, cfg *config.Config) *proxyEnv {
	t.Helper()
	logger := quietLogger(t)
	r, err := engine.New(cfg, &engine.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartAllWithProxy(ctx, r, &Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := r.StopAll(ctx); err != nil {
			t.Errorf("StopAll: %v", err)
		}
	})
	return &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}
}

// do sends a request; headers may set "Host"; "token" sets the bearer.
func (e *proxyEnv) do(method, path, token string, headers map[string]string, body string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(e.t), method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp, "" // the caller reads the stream
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// initialize opens a Streamable HTTP session at path and returns its id.
func (e *proxyEnv) initialize(path, token string) string {
	e.t.Helper()
	resp, body := e.do("POST", path, token, map[string]string{"Accept": "application/json"}, initBody)
	if resp.StatusCode != 200 {
		e.t.Fatalf("initialize %s: %d %s", path, resp.StatusCode, body)
	}
	return resp.Header.Get("Mcp-Session-Id")
}

// rpc sends one request in session sid and returns the JSON response.
func (e *proxyEnv) rpc(path, token, sid, method, params string) map[string]any {
	e.t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":%q,"params":%s}`, method, params)
	resp, text := e.do("POST", path, token, map[string]string{"Accept": "application/json", "Mcp-Session-Id": sid}, body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, text)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		e.t.Fatalf("%s: %v: %s", method, err, text)
	}
	return m
}

func TestServerSecurity(t *testing.T) {
	e := startProxy(t, proxyConfig(t, `"maxBodyBytes": 2048`))
	host := strings.TrimPrefix(e.base, "http://")
	_, port, _ := strings.Cut(host, ":")
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 4096) + `"}}`

	for _, tc := range []struct {
		name         string
		method, path string
		token        string
		headers      map[string]string
		body         string
		status       int
		want         string // in the body
		wantHeader   [2]string
	}{
		{name: "no token", method: "GET", path: "/api/servers", status: 401, want: "send Authorization: Bearer",
			wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="mcpscript"`}},
		{name: "bad token", method: "GET", path: "/api/servers", token: "nope", status: 401, want: "unknown bearer token",
			wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="mcpscript", error="invalid_token"`}},
		{name: "not bearer", method: "GET", path: "/api/servers", headers: map[string]string{"Authorization": "Basic eDp5"}, status: 401},
		{name: "prefix of a token", method: "GET", path: "/api/servers", token: tokAll[:5], status: 401},
		{name: "no token on the stream", method: "GET", path: "/sse", status: 401},
		{name: "no token on mcp", method: "POST", path: "/mcp", body: initBody, status: 401},
		{name: "query token when disabled", method: "GET", path: "/sse?access_token=" + tokAll, status: 401, want: "query tokens are disabled"},
		{name: "token", method: "GET", path: "/api/servers", token: tokAll, status: 200, want: `"name":"a"`},
		{name: "healthz without token", method: "GET", path: "/healthz", status: 200, want: `"ok"`},
		{name: "healthz ignores Host", method: "GET", path: "/healthz", headers: map[string]string{"Host": "evil.example.com"}, status: 200},
		{name: "readyz without token", method: "GET", path: "/readyz", status: 200, want: `"ready":true`},
		{name: "unknown server", method: "POST", path: "/servers/zz/mcp", token: tokAll, body: initBody, status: 404, want: `server \"zz\" is not available (servers: a, b)`},
		// Servers the caller may not use look like servers that do not exist.
		{name: "server outside allowedServers", method: "POST", path: "/servers/c/mcp", token: tokAll, body: initBody, status: 404, want: `server \"c\" is not available (servers: a, b)`},
		{name: "server outside allowedServers, sse", method: "GET", path: "/servers/c/sse", token: tokAll, status: 404},
		{name: "token limited to another server", method: "POST", path: "/servers/a/mcp", token: tokB, body: initBody, status: 404, want: `server \"a\" is not available (servers: b)`},
		{name: "token limited to another server, sse", method: "GET", path: "/servers/a/sse", token: tokB, status: 404},
		{name: "token limited to another server, messages", method: "POST", path: "/servers/a/messages?sessionId=x", token: tokB, body: initBody, status: 404},
		{name: "unknown server, limited token", method: "POST", path: "/servers/zz/mcp", token: tokB, body: initBody, status: 404, want: `server \"zz\" is not available (servers: b)`},
		{name: "token limit allows its server", method: "POST", path: "/servers/b/mcp", token: tokB, body: initBody,
			headers: map[string]string{"Accept": "application/json"}, status: 200, want: `"serverInfo"`},
		{name: "evil Host", method: "POST", path: "/mcp", token: tokAll, body: initBody,
			headers: map[string]string{"Host": "evil.example.com", "Origin": "http://evil.example.com"}, status: 403, want: "Host"},
		{name: "evil Host alone", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Host": "evil.example.com:" + port}, status: 403},
		{name: "evil Host before auth", method: "GET", path: "/api/servers", headers: map[string]string{"Host": "evil.example.com"}, status: 403},
		{name: "localhost Host", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Host": "localhost:" + port}, status: 200},
		{name: "[::1] Host", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Host": "[::1]:" + port}, status: 200},
		{name: "loopback Host on another port", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Host": "localhost:1"}, status: 403},
		{name: "evil Origin", method: "POST", path: "/mcp", token: tokAll, body: initBody,
			headers: map[string]string{"Origin": "http://evil.example.com", "Accept": "application/json"}, status: 403, want: "Origin"},
		{name: "null Origin", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Origin": "null"}, status: 403},
		{name: "same Origin", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Origin": e.base}, status: 200},
		{name: "loopback Origin", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Origin": "http://localhost:5173"}, status: 200},
		{name: "CORS Origin", method: "GET", path: "/api/servers", token: tokAll, headers: map[string]string{"Origin": "http://app.example"}, status: 200,
			wantHeader: [2]string{"Access-Control-Allow-Origin", "http://app.example"}},
		{name: "CORS headers on 401", method: "GET", path: "/api/servers", headers: map[string]string{"Origin": "http://app.example"}, status: 401,
			wantHeader: [2]string{"Access-Control-Expose-Headers", corsExposeHeaders}},
		{name: "preflight before auth", method: "OPTIONS", path: "/mcp",
			headers: map[string]string{"Origin": "http://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type, mcp-session-id"},
			status:  204, wantHeader: [2]string{"Access-Control-Allow-Headers", corsAllowHeaders}},
		{name: "preflight from another origin", method: "OPTIONS", path: "/mcp",
			headers: map[string]string{"Origin": "http://evil.example.com", "Access-Control-Request-Method": "POST"}, status: 403},
		{name: "oversized body", method: "POST", path: "/mcp", token: tokAll, body: big, status: 413,
			want: "request body too large: the limit is 2048 bytes (sseProxy.maxBodyBytes)"},
		{name: "unknown route", method: "GET", path: "/nope", token: tokAll, status: 404, want: "not found: GET /nope"},
		{name: "auth/token when query tokens are off", method: "POST", path: "/auth/token", token: tokAll, status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(tc.method, tc.path, tc.token, tc.headers, tc.body)
			if resp.Body != nil && body == "" {
				resp.Body.Close()
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.want != "" && !strings.Contains(body, tc.want) {
				t.Errorf("body %s, want it to contain %s", body, tc.want)
			}
			if h := tc.wantHeader; h[0] != "" && resp.Header.Get(h[0]) != h[1] {
				t.Errorf("%s: %q, want %q", h[0], resp.Header.Get(h[0]), h[1])
			}
			if resp.StatusCode >= 400 {
				var m struct {
					Error struct {
						Code    int    `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &m); err != nil || m.Error.Message == "" {
					t.Errorf("error body is not a JSON-RPC error: %s", body)
				}
			}
			if resp.StatusCode != 403 && resp.StatusCode != 204 && tc.headers["Origin"] == "" && resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("CORS header without an Origin")
			}
		})
	}

	// Without an allowed origin, no CORS headers at all.
	resp, _ := e.do("GET", "/api/servers", tokAll, map[string]string{"Origin": "http://localhost:5173"}, "")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("Access-Control-Allow-Origin %q for an origin not in cors.allowedOrigins", v)
	}
}

// A token limited to some servers sees and calls only those through the
// aggregate, and cannot use another token's session.
func TestServerTokenLimits(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))
	sid := e.initialize("/mcp", tokB)
	list := e.rpc("/mcp", tokB, sid, "tools/list", `{}`)
	tools, _ := json.Marshal(list["result"])
	if !strings.Contains(string(tools), `"b__echo"`) || strings.Contains(string(tools), `"a__`) {
		t.Errorf("tools of the limited token: %s", tools)
	}
	res := e.rpc("/mcp", tokB, sid, "tools/call", `{"name": "a__echo", "arguments": {"text": "hi"}}`)
	if res["error"] == nil {
		t.Errorf("calling a tool of another server: %v", res)
	}
	res = e.rpc("/mcp", tokB, sid, "tools/call", `{"server": "a", "tool": "echo", "arguments": {"text": "hi"}}`)
	if res["error"] == nil {
		t.Errorf("reference-style call to another server: %v", res)
	}
	res = e.rpc("/mcp", tokB, sid, "tools/call", `{"name": "b__echo", "arguments": {"text": "hi"}}`)
	if b, _ := json.Marshal(res); !strings.Contains(string(b), `"text":"hi"`) {
		t.Errorf("own server: %s", b)
	}
	// The session belongs to token "ci": the default token cannot use it.
	resp, body := e.do("POST", "/mcp", tokAll, map[string]string{"Accept": "application/json", "Mcp-Session-Id": sid},
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if resp.StatusCode != 404 {
		t.Errorf("another token's session: %d %s", resp.StatusCode, body)
	}
	// /api/servers lists only the token's servers.
	_, body = e.do("GET", "/api/servers", tokB, nil, "")
	if !strings.Contains(body, `"name":"b"`) || strings.Contains(body, `"name":"a"`) {
		t.Errorf("api/servers for the limited token: %s", body)
	}
}

func TestServerQueryTokens(t *testing.T) {
	e := startProxy(t, proxyConfig(t, `"authenticate": {"bearer": {"token": "`+tokAll+`", "tokens": [{"name": "ci", "token": "`+tokB+`", "servers": ["b"]}]}, "queryTokens": true}`))
	issue := func(token string) (int, string) {
		resp, body := e.do("POST", "/auth/token", token, nil, "")
		if resp.StatusCode != 200 {
			return resp.StatusCode, body
		}
		var tr tokenResponse
		if err := json.Unmarshal([]byte(body), &tr); err != nil || tr.Token == "" || tr.ExpiresIn != 60 || tr.TokenType != "query" {
			t.Fatalf("token response %s: %v", body, err)
		}
		return 200, tr.Token
	}
	if code, _ := issue(""); code != 401 {
		t.Errorf("POST /auth/token without a bearer: %d", code)
	}
	_, qt := issue(tokAll)

	// EventSource-style: GET /sse with the token in the query, then POST
	// to the endpoint with it.
	resp, _ := e.do("GET", "/sse?access_token="+qt, "", map[string]string{"Accept": "text/event-stream"}, "")
	st := readSSE(t, resp)
	endpoint := st.nextNamed(t, "endpoint").data
	if !strings.HasPrefix(endpoint, "/sse/messages?sessionId=") {
		t.Fatalf("endpoint %q", endpoint)
	}
	resp, body := e.do("POST", endpoint+"&access_token="+qt, "", nil,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"server":"a","tool":"echo","arguments":{"text":"via query"}}}`)
	if resp.StatusCode != 202 {
		t.Fatalf("POST with a query token: %d %s", resp.StatusCode, body)
	}
	if msg := st.nextNamed(t, "message").data; !strings.Contains(msg, "via query") {
		t.Errorf("message %s", msg)
	}
	// The session belongs to the token's name: the bearer token works too.
	resp, body = e.do("POST", endpoint, tokAll, nil, `{"jsonrpc":"2.0","id":4,"method":"ping"}`)
	if resp.StatusCode != 202 {
		t.Errorf("POST with the bearer token of the same identity: %d %s", resp.StatusCode, body)
	}

	// A query token is refused outside the stream and message routes, and
	// cannot renew itself.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/servers"}, {"GET", "/metrics"}, {"POST", "/auth/token"}, {"DELETE", "/mcp"}, {"GET", "/sse/messages"},
	} {
		resp, body := e.do(tc.method, tc.path+"?access_token="+qt, "", nil, "")
		if resp.StatusCode != 401 || !strings.Contains(body, "only on the SSE and MCP routes") {
			t.Errorf("%s %s with a query token: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	// Streamable HTTP GET and POST accept it.
	resp, body = e.do("POST", "/servers/a/mcp?access_token="+qt, "", map[string]string{"Accept": "application/json"}, initBody)
	if resp.StatusCode != 200 {
		t.Errorf("POST /servers/a/mcp with a query token: %d %s", resp.StatusCode, body)
	}
	// The limited token's query token keeps the limit.
	_, qtB := issue(tokB)
	if resp, body := e.do("GET", "/servers/a/sse?access_token="+qtB, "", nil, ""); resp.StatusCode != 404 {
		t.Errorf("limited query token on another server: %d %s", resp.StatusCode, body)
	}
	// Unknown and expired tokens.
	if resp, _ := e.do("GET", "/sse?access_token=bogus", "", nil, ""); resp.StatusCode != 401 {
		t.Errorf("bogus query token: %d", resp.StatusCode)
	}
	e.s.auth.now = func() time.Time { return time.Now().Add(queryTokenTTL + time.Second) }
	resp, body = e.do("GET", "/sse?access_token="+qt, "", nil, "")
	if resp.StatusCode != 401 || !strings.Contains(body, "expired") {
		t.Errorf("expired query token: %d %s", resp.StatusCode, body)
	}
}

func TestServerOps(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))

	// A go-sdk client through the whole stack.
	gc := connect(t, e.base+"/servers/a/mcp", tokAll)
	if got := gc.call(t, "echo", map[string]any{"text": "through"}, nil); got != "through" {
		t.Errorf("echo: %q", got)
	}

	_, body := e.do("GET", "/api/servers", tokAll, nil, "")
	var api struct {
		Servers []apiServer `json:"servers"`
	}
	if err := json.Unmarshal([]byte(body), &api); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(api.Servers) != 2 || api.Servers[0].Name != "a" || api.Servers[1].Name != "b" {
		t.Fatalf("servers %s", body)
	}
	a := api.Servers[0]
	if a.State != "running" || a.PID == 0 || a.ID == "" || a.ServerInfo == nil || a.ServerInfo.Name != testserver.ServerName ||
		a.ProtocolVersion == "" || a.Endpoints.MCP != "/servers/a/mcp" || a.Since == nil {
		t.Errorf("server a: %+v", a)
	}

	// Crash server a: it restarts (the metrics count it), and /readyz is
	// 503 while it is down.
	pid := a.PID
	sid := e.initialize("/servers/a/mcp", tokAll)
	e.rpc("/servers/a/mcp", tokAll, sid, "tools/call", `{"name": "crash", "arguments": {"code": 1}}`)
	waitFor(t, "server a to restart", func() bool {
		st, _ := e.r.Status("a")
		return st.State == engine.StateRunning && st.PID != pid && st.PID != 0
	})
	if err := e.r.StopServer(testCtx(t), "b"); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("GET", "/readyz", "", nil, "")
	if resp.StatusCode != 503 || body != `{"notReady":1,"ready":false}` {
		t.Errorf("readyz without a token: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/readyz", tokAll, nil, "")
	if resp.StatusCode != 503 || !strings.Contains(body, `"notReady":[{"name":"b","state":"stopped"}]`) {
		t.Errorf("readyz with a token: %d %s", resp.StatusCode, body)
	}

	// The restart reaches the metrics through the runner's events.
	waitFor(t, "the restart in the metrics", func() bool {
		resp, body = e.do("GET", "/metrics", tokAll, nil, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return strings.Contains(body, `mcpscript_server_restarts_total{server="a"} 1`)
	})
	for _, want := range []string{
		`mcpscript_http_requests_total{code="200",method="initialize",route="/servers/:name/mcp",server="a"} `,
		`mcpscript_http_requests_total{code="200",method="tools/call",route="/servers/:name/mcp",server="a"} `,
		`mcpscript_http_requests_total{code="200",method="http:GET",route="/api/servers",server=""} 1`,
		`mcpscript_http_request_duration_seconds_count{method="tools/call",route="/servers/:name/mcp",server="a"} `,
		`mcpscript_mcp_request_duration_seconds_count{method="tools/call",server="a",transport="streamable-http"} `,
		`mcpscript_sessions{server="a",transport="streamable-http"} 1`, // the go-sdk client speaks 2026-07-28: no session
		`mcpscript_server_restarts_total{server="a"} 1`,
		`mcpscript_server_restarts_total{server="b"} 0`,
		`mcpscript_server_running{server="a"} 1`,
		`mcpscript_server_running{server="b"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", regexp.MustCompile(`(?m)^(#|go_|process_).*\n`).ReplaceAllString(body, ""))
	}
}

// StartAllWithProxy, then what serve does on SIGTERM: cancel, Shutdown
// (sessions closed, streams ended), StopAll (children gone).
func TestServerGracefulShutdown(t *testing.T) {
	cfg := proxyConfig(t, "")
	r, err := engine.New(cfg, &engine.Options{Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := StartAllWithProxy(ctx, r, &Options{Listen: "127.0.0.1:0", Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}
	if urls := s.URLs(); !slices.Equal(urls, []string{e.base + "/mcp", e.base + "/sse", e.base + "/servers/a/mcp", e.base + "/servers/b/mcp"}) {
		t.Errorf("URLs %q", urls)
	}
	resp, _ := e.do("GET", "/sse", tokAll, nil, "")
	st := readSSE(t, resp)
	st.nextNamed(t, "endpoint")
	var pids []int
	for _, status := range r.Statuses() {
		if status.PID != 0 {
			pids = append(pids, status.PID)
		}
	}
	if len(pids) != 3 {
		t.Fatalf("pids %v", pids)
	}

	cancel() // SIGTERM, as serve sees it
	<-ctx.Done()
	start := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := r.StopAll(sctx); err != nil {
		t.Fatalf("StopAll: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for {
		if _, ok := st.next(t); !ok {
			break // the stream ended
		}
	}
	for _, status := range r.Statuses() {
		if status.State != engine.StateStopped || status.PID != 0 {
			t.Errorf("after StopAll: %+v", status)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still runs", pid)
		}
	}
	if _, err := http.Get(e.base + "/healthz"); err == nil {
		t.Errorf("the proxy still answers after Shutdown")
	}
	if err := s.Shutdown(sctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Without an sseProxy section StartAllWithProxy starts only the servers,
// unless Listen asks for the proxy.
func TestStartAllWithProxyUnconfigured(t *testing.T) {
	cfg := proxyConfig(t, "")
	cfg.Proxy = nil
	r, err := engine.New(cfg, &engine.Options{Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.StopAll(context.Background())
	if IsConfigured(r) {
		t.Errorf("IsConfigured without sseProxy")
	}
	s, err := StartAllWithProxy(testCtx(t), r, nil)
	if s != nil || err != nil {
		t.Fatalf("got %v, %v", s, err)
	}
	if st, _ := r.Status("a"); st.State != engine.StateRunning {
		t.Errorf("a: %s", st.State)
	}
	s, err = StartAllWithProxy(testCtx(t), r, &Options{Listen: "127.0.0.1:0", Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	// No auth, every server, no CORS.
	resp, err := http.Get(s.BaseURL() + "/api/servers")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"c"`) {
		t.Errorf("api/servers: %d %s", resp.StatusCode, b)
	}
	if _, err := New(r, &Options{Listen: "nope"}); err == nil {
		t.Errorf("New accepted a listen address without a port")
	}
}

func TestMessageLabel(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, "tools/call"},
		{` { "params" : {"method": "x", "a": [1, {"method": "y"}], "s": "\"method\":"}, "id": "m", "jsonrpc":"2.0", "method" : "ping" } `, "ping"},
		{`{"jsonrpc":"2.0","id":1,"result":{"method":"tools/call"}}`, "response"},
		{`{"jsonrpc":"2.0","method":"vendor/custom"}`, "other"},
		{`{"jsonrpc":"2.0","method":"tools\/call"}`, "tools/call"},
		{`{"jsonrpc":"2.0","id": 1, "method": 5}`, "invalid"},
		{`[{"jsonrpc":"2.0","method":"ping"}]`, "invalid"},
		{`{"method"`, "invalid"},
		{``, "invalid"},
		{`{"a": 1e5, "b": true, "c": null, "jsonrpc":"2.0","id":1,"method": "initialize"}`, "initialize"},
	} {
		got := "invalid"
		if m, err := wire.Parse([]byte(tc.body)); err == nil {
			got = messageLabel(m)
		}
		if got != tc.want {
			t.Errorf("label of %s = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestClassifyPath(t *testing.T) {
	for _, tc := range []struct{ path, route, server string }{
		{"/mcp", routeMCP, ""}, {"/mcp/", routeMCP, ""}, {"/sse", routeSSE, ""}, {"/sse/messages", routeSSEMessages, ""},
		{"/servers/a.b/mcp", routeServerMCP, "a.b"}, {"/servers/x/sse", routeServerSSE, "x"}, {"/servers/x/messages/", routeServerMessages, "x"},
		{"/servers//mcp", routeOther, ""}, {"/servers/x/y/mcp", routeOther, ""}, {"/", routeOther, ""}, {"/metrics", routeMetrics, ""},
	} {
		if r, s := classifyPath(tc.path); r != tc.route || s != tc.server {
			t.Errorf("classifyPath(%q) = %q, %q; want %q, %q", tc.path, r, s, tc.route, tc.server)
		}
	}
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/sse", true}, {"POST", "/sse", false}, {"POST", "/sse/messages", true}, {"GET", "/mcp", true}, {"POST", "/mcp", true},
		{"DELETE", "/mcp", false}, {"GET", "/servers/a/sse", true}, {"POST", "/servers/a/messages", true}, {"GET", "/servers/a/messages", false},
		{"GET", "/api/servers", false}, {"POST", "/auth/token", false},
	} {
		if got := queryTokenRoute(tc.method, tc.path); got != tc.want {
			t.Errorf("queryTokenRoute(%s %s) = %v", tc.method, tc.path, got)
		}
	}
}

func TestHostGuard(t *testing.T) {
	cors := newCORSPolicy(&config.CORS{AllowedOrigins: []string{"https://App.example"}})
	for _, tc := range []struct {
		listen  string
		allowed []string
		host    string
		want    bool
	}{
		{"127.0.0.1:0", nil, "127.0.0.1:3000", true},
		{"127.0.0.1:0", nil, "LOCALHOST:3000", true},
		{"127.0.0.1:0", nil, "[::1]:3000", true},
		{"127.0.0.1:0", nil, "localhost", false},
		{"127.0.0.1:0", nil, "evil.example.com", false},
		{"127.0.0.1:0", nil, "evil.example.com:3000", false},
		{"127.0.0.1:0", nil, "", false},
		{"127.0.0.1:0", []string{"mcp.example.com"}, "mcp.example.com", true},
		{"127.0.0.1:0", []string{"mcp.example.com"}, "mcp.example.com:8443", true},
		{"127.0.0.1:0", []string{"mcp.example.com:8443"}, "mcp.example.com:8443", true},
		{"127.0.0.1:0", []string{"mcp.example.com:8443"}, "mcp.example.com", false},
		{"127.0.0.1:0", []string{"*"}, "anything", true},
		{"0.0.0.0:0", nil, "10.1.2.3:3000", true},
		{"0.0.0.0:0", nil, "10.1.2.3:3001", false},
		{"0.0.0.0:0", nil, "rebind.example.com:3000", false},
		{"[::]:0", nil, "[fe80::1]:3000", true},
		{"192.0.2.7:0", nil, "192.0.2.7:3000", true},
		{"192.0.2.7:0", nil, "localhost:3000", false},
	} {
		g, err := newHostGuard(tc.listen, 3000, tc.allowed, cors)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.hostOK(tc.host); got != tc.want {
			t.Errorf("listen %s allowed %v: hostOK(%q) = %v", tc.listen, tc.allowed, tc.host, got)
		}
	}
	loop, _ := newHostGuard("127.0.0.1:0", 3000, nil, cors)
	public, _ := newHostGuard("192.0.2.7:0", 3000, nil, cors)
	for _, tc := range []struct {
		g            *hostGuard
		origin, host string
		want         bool
	}{
		{loop, "", "127.0.0.1:3000", true},
		{loop, "http://127.0.0.1:3000", "127.0.0.1:3000", true},
		{loop, "http://localhost:8080", "127.0.0.1:3000", true},
		{loop, "http://127.9.9.9", "127.0.0.1:3000", true},
		{loop, "http://[::1]:1", "127.0.0.1:3000", true},
		{loop, "https://app.example", "127.0.0.1:3000", true},
		{loop, "http://evil.example.com", "127.0.0.1:3000", false},
		{loop, "http://localhost.evil.example.com", "127.0.0.1:3000", false},
		{loop, "null", "127.0.0.1:3000", false},
		{loop, "file://", "127.0.0.1:3000", false},
		{public, "http://192.0.2.7:3000", "192.0.2.7:3000", true},
		{public, "http://localhost:8080", "192.0.2.7:3000", false},
	} {
		if got := tc.g.originOK(tc.origin, tc.host); got != tc.want {
			t.Errorf("originOK(%q, %q) = %v", tc.origin, tc.host, got)
		}
	}
}
