// The proxy bridges sampling (deprecated from MCP 2026-07-28 on) for modern clients.
//lint:file-ignore SA1019 see above

package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// modernProxy starts a proxy over the test server ("ts", dual-era: it
// answers server/discover) and server-everything from npm ("everything",
// legacy-only: TypeScript SDK v1), without auth.
func modernProxy(t *testing.T) *proxyEnv {
	t.Helper()
	everything := testenv.NPMServer(t, "server-everything")
	src := fmt.Sprintf(`{"mcpServers": {"ts": {%s}, "everything": {"command": "node", "args": [%q, "stdio"]}}, "sseProxy": {"port": 0}}`,
		testserver.ConfigJSON(testserver.ModeNormal, nil), everything)
	cfg, err := config.Parse([]byte(src), "modern.json")
	if err != nil {
		t.Fatal(err)
	}
	return startProxy(t, cfg)
}

// modernClient connects a go-sdk client (which probes server/discover
// first) whose elicitation and sampling handlers count their calls.
func modernClient(t *testing.T, url string, elicited, sampled *atomic.Int32) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "modern-test", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			elicited.Add(1)
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			sampled.Add(1)
			return &mcp.CreateMessageResult{Model: "stub", Role: "assistant", Content: &mcp.TextContent{Text: "the sampled answer"}}, nil
		},
	})
	cs, err := client.Connect(testCtx(t), &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("%s: negotiated %q, want 2026-07-28", url, v)
	}
	return cs
}

func toolText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	res, err := cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if res.IsError {
		t.Fatalf("%s: tool error %s", name, b.String())
	}
	return b.String()
}

// TestModernGoSDKClients: a 2026-07-28 go-sdk client through every
// Streamable HTTP endpoint: a dual-era server's own modern process, a
// legacy-only server bridged (its elicitation and sampling requests come
// back to the client as input_required rounds), and the aggregate.
func TestModernGoSDKClients(t *testing.T) {
	e := modernProxy(t)
	for _, tc := range []struct{ path, prefix, server string }{
		{"/servers/ts/mcp", "", "ts"},
		{"/servers/everything/mcp", "", "everything"},
		{"/mcp", "everything__", "everything"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var elicited, sampled atomic.Int32
			cs := modernClient(t, e.base+tc.path, &elicited, &sampled)
			if tc.server == "ts" {
				if got := toolText(t, cs, "echo", map[string]any{"text": "modern"}); got != "modern" {
					t.Errorf("echo %q", got)
				}
				if got := toolText(t, cs, "sample", map[string]any{"prompt": "hi"}); !strings.Contains(got, "the sampled answer") || sampled.Load() != 1 {
					t.Errorf("sample %q after %d samplings", got, sampled.Load())
				}
				return
			}
			if got := toolText(t, cs, tc.prefix+"echo", map[string]any{"message": "bridged"}); !strings.Contains(got, "bridged") {
				t.Errorf("echo %q", got)
			}
			got := toolText(t, cs, tc.prefix+"trigger-elicitation-request", map[string]any{})
			if elicited.Load() != 1 || !strings.Contains(strings.ToLower(got), "decline") {
				t.Errorf("elicitation round trip: %q after %d elicitations", got, elicited.Load())
			}
			got = toolText(t, cs, tc.prefix+"trigger-sampling-request", map[string]any{"prompt": "say hi", "maxTokens": 10})
			if sampled.Load() != 1 || !strings.Contains(got, "the sampled answer") {
				t.Errorf("sampling round trip: %q after %d samplings", got, sampled.Load())
			}
		})
	}
}

// modernPost sends one 2026-07-28 request with conformant headers (which
// the headers map overrides; "" removes one) and returns the status, the
// Content-Type and the JSON-RPC message (the last event of a stream).
func modernPost(t *testing.T, url, method string, params map[string]any, headers map[string]string) (int, string, map[string]any) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	if _, ok := params["_meta"]; !ok {
		params["_meta"] = map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": map[string]any{}}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 9, "method": method, "params": params})
	h := map[string]string{"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
	if n, ok := params["name"].(string); ok {
		h["Mcp-Name"] = n
	}
	for k, v := range headers {
		h[k] = v
	}
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	resp := post(t, url, "", h, string(body))
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	text := string(raw)
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
		i := strings.LastIndex(text, "data: ")
		text = strings.TrimSpace(text[i+len("data: "):])
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("%s: %d %s: %v", method, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), m
}

func errCode(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

// TestModernWire checks the modern transport's answers, raw.
func TestModernWire(t *testing.T) {
	e := modernProxy(t)
	legacy := e.base + "/servers/everything/mcp"

	status, _, m := modernPost(t, legacy, "server/discover", nil, nil)
	res, _ := m["result"].(map[string]any)
	if status != 200 || res["resultType"] != "complete" || res["cacheScope"] != "public" || res["ttlMs"] != float64(0) {
		t.Errorf("discover of a legacy server: %d %v", status, m)
	}
	if caps, _ := res["capabilities"].(map[string]any); caps["tools"] == nil || caps["tasks"] != nil {
		t.Errorf("discover capabilities %v", res["capabilities"])
	}
	if meta, _ := res["_meta"].(map[string]any); meta["io.modelcontextprotocol/serverInfo"] == nil {
		t.Errorf("discover without serverInfo: %v", res)
	}
	if v, _ := res["supportedVersions"].([]any); len(v) < 2 || v[0] != "2026-07-28" {
		t.Errorf("supportedVersions %v", res["supportedVersions"])
	}

	status, ct, m := modernPost(t, legacy, "tools/list", nil, nil)
	res, _ = m["result"].(map[string]any)
	if status != 200 || ct != "text/event-stream" || res["resultType"] != "complete" || res["ttlMs"] == nil || res["tools"] == nil {
		t.Errorf("tools/list of a legacy server: %d %s %v", status, ct, res["resultType"])
	}

	cases := []struct {
		name    string
		url     string
		method  string
		params  map[string]any
		headers map[string]string
		status  int
		code    float64
		detail  string
	}{
		{"resource not found is invalid params", legacy, "resources/read", map[string]any{"uri": "demo://nope"}, map[string]string{"Mcp-Name": "demo://nope"}, 400, -32602, "demo://nope"},
		{"removed method", legacy, "ping", nil, nil, 404, -32601, "ping"},
		{"unknown version", legacy, "tools/list", map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": "v999.0.0", "io.modelcontextprotocol/clientCapabilities": map[string]any{}}},
			map[string]string{"MCP-Protocol-Version": "v999.0.0"}, 400, -32022, "v999.0.0"},
		{"header and _meta disagree", legacy, "tools/list", nil, map[string]string{"MCP-Protocol-Version": "2026-07-29"}, 400, -32020, "does not match"},
		{"no Mcp-Method", legacy, "tools/list", nil, map[string]string{"Mcp-Method": ""}, 400, -32020, "Mcp-Method"},
		{"wrong Mcp-Name", legacy, "tools/call", map[string]any{"name": "echo"}, map[string]string{"Mcp-Name": "other"}, 400, -32020, "Mcp-Name"},
		{"base64 Mcp-Name", legacy, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"message": "b64"}}, map[string]string{"Mcp-Name": "=?base64?ZWNobw==?="}, 200, 0, ""},
		{"no _meta", legacy, "tools/list", map[string]any{"_meta": nil}, nil, 400, -32602, "_meta"},
		{"no capabilities", legacy, "tools/list", map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}, nil, 400, -32602, "clientCapabilities"},
		{"missing capability", e.base + "/mcp", "tools/call", map[string]any{"name": "everything__trigger-elicitation-request"}, nil, 400, -32021, "elicitation"},
		{"no notifications to listen to", legacy, "subscriptions/listen", nil, nil, 400, -32602, "notifications"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, m := modernPost(t, tc.url, tc.method, tc.params, tc.headers)
			b, _ := json.Marshal(m)
			if status != tc.status || errCode(m) != tc.code || !strings.Contains(string(b), tc.detail) || tc.code != 0 && m["id"] != float64(9) {
				t.Errorf("%d %s; want %d, code %v, %q", status, b, tc.status, tc.code, tc.detail)
			}
		})
	}

	// GET and DELETE take no part in 2026-07-28; a notification is accepted.
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		resp := request(t, method, legacy, "", map[string]string{"Accept": "text/event-stream"}, "")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: %d Allow %q", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
		resp.Body.Close()
	}
	resp := post(t, legacy, "", map[string]string{"MCP-Protocol-Version": "2026-07-28"},
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`)
	expectStatus(t, resp, http.StatusAccepted)
}

// TestModernListen: subscriptions/listen acknowledges what it honours,
// then passes list_changed tagged with the listen's id, on a dual-era
// server's view (its modern process) and on the aggregate (the legacy
// processes).
func TestModernListen(t *testing.T) {
	e := modernProxy(t)
	for _, tc := range []struct{ path, tool string }{
		{"/servers/ts/mcp", "addtool"},
		{"/mcp", "ts__addtool"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			url := e.base + tc.path
			body := `{"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,"promptsListChanged":false},` +
				`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
			resp := post(t, url, "", map[string]string{"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "subscriptions/listen"}, body)
			defer resp.Body.Close()
			s := readSSE(t, resp)
			ack := s.nextNamed(t, "message")
			if !strings.Contains(ack.data, `"notifications/subscriptions/acknowledged"`) || !strings.Contains(ack.data, `"toolsListChanged":true`) ||
				strings.Contains(ack.data, "promptsListChanged") || !strings.Contains(ack.data, `"io.modelcontextprotocol/subscriptionId":"L1"`) {
				t.Fatalf("ack %s", ack.data)
			}
			status, _, m := modernPost(t, url, "tools/call", map[string]any{"name": tc.tool, "arguments": map[string]any{"name": "fresh_" + strings.Trim(tc.path, "/")[:3]}}, nil)
			if status != 200 || m["error"] != nil {
				t.Fatalf("%s: %d %v", tc.tool, status, m)
			}
			ev := s.nextNamed(t, "message")
			if !strings.Contains(ev.data, `"notifications/tools/list_changed"`) || !strings.Contains(ev.data, `"io.modelcontextprotocol/subscriptionId":"L1"`) {
				t.Errorf("notification %s", ev.data)
			}
		})
	}
}

// TestEraIsolation: a modern request or probe, on every endpoint and
// transport, never reaches a shared legacy process as it is: a legacy
// session's results from that process stay byte for byte the same, and
// the process is the same.
func TestEraIsolation(t *testing.T) {
	e := modernProxy(t)
	sid := e.initialize("/servers/ts/mcp", "")
	snapshot := func() string {
		var b strings.Builder
		for _, call := range []struct{ method, params string }{
			{"tools/call", `{"name":"echo","arguments":{"text":"same"}}`},
			{"tools/call", `{"name":"pid","arguments":{}}`},
			{"tools/list", `{}`},
		} {
			m := e.rpc("/servers/ts/mcp", "", sid, call.method, call.params)
			out, _ := json.Marshal(m)
			b.Write(out)
		}
		return b.String()
	}
	before := snapshot()
	modernMeta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	// Era probes on every endpoint: modern requests, and on legacy
	// transports a discover and a request dressed as modern.
	for _, path := range []string{"/servers/ts/mcp", "/mcp"} {
		modernPost(t, e.base+path, "server/discover", nil, nil)
		modernPost(t, e.base+path, "tools/list", nil, nil)
	}
	sid2 := e.initialize("/servers/ts/mcp", "")
	m := e.rpc("/servers/ts/mcp", "", sid2, "server/discover", `{`+modernMeta+`}`)
	if errCode(m) != -32601 {
		t.Errorf("server/discover on a legacy session: %v", m)
	}
	m = e.rpc("/servers/ts/mcp", "", sid2, "tools/call", `{"name":"echo","arguments":{"text":"dressed"},`+modernMeta+`}`)
	if out, _ := json.Marshal(m); strings.Contains(string(out), "resultType") || strings.Contains(string(out), "io.modelcontextprotocol/") {
		t.Errorf("a legacy session's request reached the process as modern: %s", out)
	}
	for _, path := range []string{"/servers/ts/sse", "/sse"} {
		gc := connect(t, e.base+path, "")
		res, err := gc.cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: map[string]string{"/servers/ts/sse": "echo", "/sse": "ts__echo"}[path],
			Arguments: map[string]any{"text": "sse"}, Meta: mcp.Meta{"io.modelcontextprotocol/protocolVersion": "2026-07-28"}})
		if err != nil || res.IsError {
			t.Errorf("%s: %v %v", path, err, res)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("a legacy session's results changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestModernTypeScriptSDK: the TypeScript SDK v2 client, pinned to
// 2026-07-28, through a dual-era server's view and a legacy server's
// bridged view, with an elicitation round trip on the latter.
func TestModernTypeScriptSDK(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "testdata", "tsv2", "modern.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "@modelcontextprotocol", "client")); err != nil {
		t.Fatalf("the TypeScript SDK v2 is not installed: run scripts/npm-fixtures.sh (%v)", err)
	}
	e := modernProxy(t)
	for _, tc := range []struct{ path, tool, args, elicit, want string }{
		{"/servers/ts/mcp", "echo", `{"text":"from v2"}`, "", "from v2"},
		{"/servers/everything/mcp", "echo", `{"message":"from v2"}`, "trigger-elicitation-request", "from v2"},
		{"/mcp", "everything__echo", `{"message":"from v2"}`, "everything__trigger-elicitation-request", "from v2"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			args := []string{script, e.base + tc.path, tc.tool, tc.args}
			if tc.elicit != "" {
				args = append(args, tc.elicit)
			}
			out, err := exec.CommandContext(testCtx(t), "node", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			var r struct {
				Era, Version, Text, ElicitText string
				Tools, Elicitations            int
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if r.Era != "modern" || r.Version != "2026-07-28" || r.Tools == 0 || !strings.Contains(r.Text, tc.want) {
				t.Errorf("%s", out)
			}
			if tc.elicit != "" && (r.Elicitations != 1 || !strings.Contains(strings.ToLower(r.ElicitText), "decline")) {
				t.Errorf("elicitation round trip: %s", out)
			}
		})
	}
}

// TestLegacyClientModernChild: a 2025-11-25 client in front of a server
// the gateway speaks 2026-07-28 to ("protocol": "modern"): the session's
// requests go statelessly, and the server's input_required results come
// back to the client as the elicitation requests it knows.
func TestLegacyClientModernChild(t *testing.T) {
	fixture := testenv.EverythingServer(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`{"mcpServers": {"conf": {"command": %q, "protocol": "modern"}}, "sseProxy": {"port": 0}}`, fixture)), "modern-child.json")
	if err != nil {
		t.Fatal(err)
	}
	e := startProxy(t, cfg)
	var elicited atomic.Int32
	client := mcp.NewClient(&mcp.Implementation{Name: "legacy-test", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			elicited.Add(1)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
		},
	})
	for _, path := range []string{"/servers/conf/mcp", "/servers/conf/sse"} {
		var transport mcp.Transport = &mcp.StreamableClientTransport{Endpoint: e.base + path}
		if strings.HasSuffix(path, "/sse") {
			transport = &mcp.SSEClientTransport{Endpoint: e.base + path}
		}
		cs, err := client.Connect(testCtx(t), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if v := cs.InitializeResult().ProtocolVersion; v != "2025-11-25" {
			t.Errorf("%s negotiated %q", path, v)
		}
		before := elicited.Load()
		if got := toolText(t, cs, "test_input_required_result_elicitation", map[string]any{}); got != "Hello, Ada!" || elicited.Load() != before+1 {
			t.Errorf("%s: %q after %d elicitations", path, got, elicited.Load()-before)
		}
		if got := toolText(t, cs, "test_simple_text", map[string]any{}); !strings.Contains(got, "simple text") {
			t.Errorf("%s: test_simple_text %q", path, got)
		}
		cs.Close()
	}
}
