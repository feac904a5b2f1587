package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// startGateway starts test servers by name and a gateway over them. The
// gateway is created before the servers start, as the proxy does.
func startGateway(t *testing.T, names []string, opts *gateway.Options) *gateway.Gateway {
	t.Helper()
	servers := map[string]string{}
	for _, n := range names {
		servers[n] = testenv.ServerJSON(t, "normal", "")
	}
	r := testenv.NewRunner(t, servers, nil)
	g := gateway.New(r, opts)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	return g
}

// peer is a downstream client of a gateway session: it records everything
// the session sends it outside responses.
type peer struct {
	t    *testing.T
	s    *gateway.Session
	next atomic.Int64

	mu     sync.Mutex
	got    []outMsg
	signal chan struct{}
}

// outMsg is one message sent to a peer through Outbound.
type outMsg struct {
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Related string          `json:"-"`
	Raw     string          `json:"-"`
}

func openPeer(t *testing.T, g *gateway.Gateway, view string, id engine.Identity) *peer {
	t.Helper()
	p := &peer{t: t, signal: make(chan struct{}, 1)}
	s, err := g.Open(view, id, func(msg, related json.RawMessage) {
		var m outMsg
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Errorf("outbound message is not JSON: %s", msg)
			return
		}
		m.Related, m.Raw = string(related), string(msg)
		p.mu.Lock()
		p.got = append(p.got, m)
		p.mu.Unlock()
		select {
		case p.signal <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	p.s = s
	return p
}

// response is a decoded JSON-RPC response.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcError       `json:"error"`
}

type rpcError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (p *peer) handle(c context.Context, msg string) *response {
	p.t.Helper()
	out := p.s.Handle(c, json.RawMessage(msg))
	if out == nil {
		return nil
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil || r.JSONRPC != "2.0" {
		p.t.Fatalf("response %s: %v", out, err)
	}
	return &r
}

// request sends a request with a fresh numeric id and checks the id of the
// response.
func (p *peer) request(method string, params any) *response {
	p.t.Helper()
	id := p.next.Add(1)
	r := p.requestID(testenv.Ctx(p.t), fmt.Sprint(id), method, params)
	return r
}

func (p *peer) requestID(c context.Context, id, method string, params any) *response {
	p.t.Helper()
	msg := map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(id), "method": method}
	if params != nil {
		msg["params"] = params
	}
	b, _ := json.Marshal(msg)
	r := p.handle(c, string(b))
	if r == nil {
		p.t.Fatalf("%s: no response", method)
	}
	if string(r.ID) != id {
		p.t.Fatalf("%s: response id %s, want %s", method, r.ID, id)
	}
	return r
}

// result sends a request and fails the test on an error response.
func (p *peer) result(method string, params any) json.RawMessage {
	p.t.Helper()
	r := p.request(method, params)
	if r.Error != nil {
		p.t.Fatalf("%s: error %d %s", method, r.Error.Code, r.Error.Message)
	}
	return r.Result
}

// fail sends a request and returns its error, failing the test on success.
func (p *peer) fail(method string, params any) *rpcError {
	p.t.Helper()
	r := p.request(method, params)
	if r.Error == nil {
		p.t.Fatalf("%s: want an error, got %s", method, r.Result)
	}
	return r.Error
}

func (p *peer) notify(method string, params any) {
	p.t.Helper()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	if r := p.handle(testenv.Ctx(p.t), string(b)); r != nil {
		p.t.Fatalf("notification %s got a response", method)
	}
}

func (p *peer) initialize(version string, caps map[string]any) json.RawMessage {
	p.t.Helper()
	if caps == nil {
		caps = map[string]any{}
	}
	res := p.result("initialize", map[string]any{
		"protocolVersion": version, "capabilities": caps,
		"clientInfo": map[string]any{"name": "gateway-test", "version": "1"},
	})
	p.notify("notifications/initialized", map[string]any{})
	return res
}

// toolText calls a tool and returns its text, failing on any error.
func toolText(t *testing.T, res json.RawMessage) string {
	t.Helper()
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		t.Fatalf("tool result %s: %v", res, err)
	}
	var b strings.Builder
	for _, c := range r.Content {
		b.WriteString(c.Text)
	}
	if r.IsError {
		t.Fatalf("tool error: %s", b.String())
	}
	return b.String()
}

func (p *peer) call(tool string, args any) string {
	p.t.Helper()
	return toolText(p.t, p.result("tools/call", map[string]any{"name": tool, "arguments": args}))
}

// messages returns the messages received so far that match.
func (p *peer) messages(match func(outMsg) bool) []outMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []outMsg
	for _, m := range p.got {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// waitMessages waits until n messages match and returns them.
func (p *peer) waitMessages(n int, match func(outMsg) bool) []outMsg {
	p.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if got := p.messages(match); len(got) >= n {
			return got
		}
		select {
		case <-p.signal:
		case <-deadline:
			p.t.Fatalf("waited for %d matching messages, have %d; all: %v", n, len(p.messages(match)), p.messages(func(outMsg) bool { return true }))
		}
	}
}

func method(name string) func(outMsg) bool {
	return func(m outMsg) bool { return m.Method == name }
}

func TestGatewayInitialize(t *testing.T) {
	g := startGateway(t, []string{"a", "b"}, nil)
	for _, tc := range []struct {
		view, ask, want string
	}{
		{"", "2025-03-26", "2025-03-26"},
		{"", "2024-11-05", "2024-11-05"},
		{"", "2099-01-01", engine.LatestProtocolVersion},
		{"a", "2025-06-18", "2025-06-18"},
		{"a", "", engine.LatestProtocolVersion},
	} {
		t.Run(fmt.Sprintf("view=%q,version=%q", tc.view, tc.ask), func(t *testing.T) {
			p := openPeer(t, g, tc.view, engine.Identity{Transport: "go"})
			var res struct {
				ProtocolVersion string `json:"protocolVersion"`
				ServerInfo      struct {
					Name, Version string
				} `json:"serverInfo"`
				Instructions string                     `json:"instructions"`
				Capabilities map[string]json.RawMessage `json:"capabilities"`
			}
			if err := json.Unmarshal(p.initialize(tc.ask, nil), &res); err != nil {
				t.Fatal(err)
			}
			if res.ProtocolVersion != tc.want {
				t.Errorf("protocolVersion = %q, want %q", res.ProtocolVersion, tc.want)
			}
			wantName := "testserver"
			if tc.view == "" {
				wantName = "mcpscript"
				if res.ServerInfo.Version != engine.Version {
					t.Errorf("serverInfo.version = %q", res.ServerInfo.Version)
				}
				for cap, want := range map[string]string{
					"tools":       `{"listChanged":true}`,
					"prompts":     `{"listChanged":true}`,
					"resources":   `{"listChanged":true,"subscribe":true}`,
					"logging":     `{}`,
					"completions": `{}`,
				} {
					if got := string(res.Capabilities[cap]); got != want {
						t.Errorf("capabilities.%s = %s, want %s", cap, got, want)
					}
				}
				if !strings.Contains(res.Instructions, `a (tools and prompts prefixed "a__")`) {
					t.Errorf("instructions = %q", res.Instructions)
				}
			} else if len(res.Capabilities["tools"]) == 0 {
				t.Errorf("capabilities = %v", res.Capabilities)
			}
			if res.ServerInfo.Name != wantName {
				t.Errorf("serverInfo.name = %q, want %q", res.ServerInfo.Name, wantName)
			}
			if !strings.Contains(res.Instructions, "misbehaving") {
				t.Errorf("instructions = %q", res.Instructions)
			}
			if got := p.result("ping", nil); string(got) != "{}" {
				t.Errorf("ping = %s", got)
			}
			// A second initialize in the same session is refused, not forwarded.
			if e := p.fail("initialize", map[string]any{"protocolVersion": tc.ask, "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "x", "version": "1"}}); e.Code != -32600 || !strings.Contains(e.Message, "already initialized") {
				t.Errorf("second initialize: %+v", e)
			}
		})
	}
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type listedTool struct {
	Name string `json:"name"`
	raw  json.RawMessage
}

func listTools(t *testing.T, p *peer) []listedTool {
	t.Helper()
	var res struct {
		Tools      []json.RawMessage `json:"tools"`
		NextCursor string            `json:"nextCursor"`
	}
	if err := json.Unmarshal(p.result("tools/list", nil), &res); err != nil {
		t.Fatal(err)
	}
	if res.NextCursor != "" {
		t.Fatalf("aggregate tools/list has a nextCursor")
	}
	out := make([]listedTool, len(res.Tools))
	for i, raw := range res.Tools {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
		out[i].raw = raw
	}
	return out
}

func TestGatewayAggregate(t *testing.T) {
	const long = "a-server-name-that-is-much-longer-than-the-prefix.budget"
	g := startGateway(t, []string{"a", "b", long}, nil)
	p := openPeer(t, g, "", engine.Identity{Transport: "go"})
	p.initialize(engine.LatestProtocolVersion, nil)

	tools := listTools(t, p)
	const perServer = 19 + 150 // the test server's tools
	if len(tools) != 3*perServer {
		t.Fatalf("aggregate has %d tools, want %d", len(tools), 3*perServer)
	}
	seen := map[string]bool{}
	var longEcho string
	for _, tool := range tools {
		if !validName.MatchString(tool.Name) {
			t.Errorf("invalid aggregate name %q", tool.Name)
		}
		if seen[tool.Name] {
			t.Errorf("duplicate aggregate name %q", tool.Name)
		}
		seen[tool.Name] = true
		if strings.HasSuffix(tool.Name, "__echo") && !strings.HasPrefix(tool.Name, "a__") && !strings.HasPrefix(tool.Name, "b__") {
			longEcho = tool.Name
		}
	}
	for _, n := range []string{"a__echo", "b__echo", "a__t149", "b__slow"} {
		if !seen[n] {
			t.Errorf("aggregate lacks %q", n)
		}
	}
	if !strings.HasPrefix(longEcho, "a-server-name-tha_") || len(longEcho) != 24+2+4 {
		t.Errorf("the long server's echo is %q, want a 24-character prefix with a hash", longEcho)
	}

	// Every field but the name is as the server listed it.
	single := openPeer(t, g, "a", engine.Identity{Transport: "go"})
	var page struct {
		Tools      []json.RawMessage `json:"tools"`
		NextCursor string            `json:"nextCursor"`
	}
	if err := json.Unmarshal(single.result("tools/list", nil), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Tools) != 50 || page.NextCursor == "" {
		t.Fatalf("single view: first page has %d tools, cursor %q; want the server's own pages", len(page.Tools), page.NextCursor)
	}
	var echoRaw json.RawMessage
	for _, raw := range page.Tools {
		if strings.Contains(string(raw), `"name":"echo"`) {
			echoRaw = raw
		}
	}
	for _, tool := range tools {
		if tool.Name == "a__echo" {
			if want := strings.Replace(string(echoRaw), `"name":"echo"`, `"name":"a__echo"`, 1); string(tool.raw) != want {
				t.Errorf("a__echo listed as\n%s\nwant\n%s", tool.raw, want)
			}
		}
	}
	next := single.result("tools/list", map[string]any{"cursor": page.NextCursor})
	if !strings.Contains(string(next), `"tools"`) {
		t.Errorf("single view second page: %s", next)
	}

	// Calls, in both shapes.
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"namespaced", map[string]any{"name": "b__echo", "arguments": map[string]any{"text": "via b"}}, "via b"},
		{"long server", map[string]any{"name": longEcho, "arguments": map[string]any{"text": "via long"}}, "via long"},
		{"reference tool", map[string]any{"server": "a", "tool": "echo", "arguments": map[string]any{"text": "ref tool"}}, "ref tool"},
		{"reference name", map[string]any{"server": long, "name": "echo", "arguments": map[string]any{"text": "ref name"}}, "ref name"},
		{"single view", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.params == nil {
				if got := single.call("echo", map[string]any{"text": "plain"}); got != "plain" {
					t.Errorf("single view echo = %q", got)
				}
				return
			}
			if got := toolText(t, p.result("tools/call", tc.params)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"unknown namespaced", map[string]any{"name": "a__ecoh"}, `unknown tool "a__ecoh" (did you mean "a__echo"?)`},
		{"unknown server prefix", map[string]any{"name": "zz__echo"}, `unknown tool "zz__echo"`},
		{"reference unknown tool", map[string]any{"server": "b", "tool": "ecoh"}, `unknown tool "ecoh" on server "b" (did you mean "echo"?)`},
		{"reference unknown server", map[string]any{"server": "c", "tool": "echo"}, `"c"`},
		{"no name", map[string]any{"arguments": map[string]any{}}, `"name" is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := p.fail("tools/call", tc.params)
			if e.Code != -32602 || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %d %q, want -32602 containing %q", e.Code, e.Message, tc.want)
			}
		})
	}

	// Prompts, completion, resources.
	if !strings.Contains(string(p.result("prompts/list", nil)), `"name":"a__greet"`) {
		t.Error("prompts/list lacks a__greet")
	}
	if got := string(p.result("prompts/get", map[string]any{"name": "b__greet", "arguments": map[string]any{"name": "Ada"}})); !strings.Contains(got, "Please greet Ada.") {
		t.Errorf("prompts/get = %s", got)
	}
	comp := p.result("completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": "a__greet"}, "argument": map[string]any{"name": "name", "value": "al"},
	})
	if !strings.Contains(string(comp), `["alice","albert"]`) {
		t.Errorf("completion = %s", comp)
	}
	if got := strings.Count(string(p.result("resources/list", nil)), `"test://static"`); got != 1 {
		t.Errorf("resources/list lists test://static %d times, want once", got)
	}
	if !strings.Contains(string(p.result("resources/templates/list", nil)), `test://item/{id}`) {
		t.Error("templates lack test://item/{id}")
	}
	for uri, want := range map[string]string{"test://static": "static text", "test://item/7": "item 7"} {
		if got := string(p.result("resources/read", map[string]any{"uri": uri})); !strings.Contains(got, want) {
			t.Errorf("resources/read %s = %s", uri, got)
		}
	}
	if e := p.fail("resources/read", map[string]any{"uri": "nope://x"}); e.Code != -32002 {
		t.Errorf("unknown resource: %d %s", e.Code, e.Message)
	}
	if e := p.fail("tasks/list", nil); e.Code != -32601 {
		t.Errorf("unknown method in the aggregate: %d %s", e.Code, e.Message)
	}
	if e := single.fail("no/such/method", nil); e.Code != -32601 {
		t.Errorf("unknown method in a single view (forwarded): %d %s", e.Code, e.Message)
	}
	if e := p.fail("tools/list", map[string]any{"cursor": "abc"}); e.Code != -32602 {
		t.Errorf("aggregate cursor: %d %s", e.Code, e.Message)
	}

	// list_changed: caches follow, sessions of views that include the server hear it.
	other := openPeer(t, g, "b", engine.Identity{Transport: "go"})
	if got := p.call("a__addtool", map[string]any{"name": "fresh"}); got != "ok" {
		t.Fatalf("addtool = %q", got)
	}
	p.waitMessages(1, method("notifications/tools/list_changed"))
	single.waitMessages(1, method("notifications/tools/list_changed"))
	if n := len(other.messages(method("notifications/tools/list_changed"))); n != 0 {
		t.Errorf("the view of server b got %d list_changed about server a", n)
	}
	if got := p.call("a__fresh", map[string]any{"text": "new"}); got != "new" {
		t.Errorf("a__fresh = %q", got)
	}
	names := map[string]bool{}
	for _, tool := range listTools(t, p) {
		names[tool.Name] = true
	}
	if !names["a__fresh"] || names["b__fresh"] {
		t.Errorf("after addtool: a__fresh %v, b__fresh %v", names["a__fresh"], names["b__fresh"])
	}

	// Tool names that are not valid aggregate names get a hash, and still route.
	longTool := strings.Repeat("x", 70)
	p.call("b__addtool", map[string]any{"name": "dotted.name"})
	p.call("b__addtool", map[string]any{"name": longTool})
	var dotted, long70 string
	testenv.WaitFor(t, func() bool { // the server may send one list_changed for both
		for _, tool := range listTools(t, p) {
			switch {
			case strings.HasPrefix(tool.Name, "b__dotted_name_"):
				dotted = tool.Name
			case strings.HasPrefix(tool.Name, "b__xxxx"):
				long70 = tool.Name
			}
			if !validName.MatchString(tool.Name) {
				t.Errorf("invalid aggregate name %q", tool.Name)
			}
		}
		return dotted != "" && long70 != ""
	}, "both new tools to be listed")
	if len(dotted) != len("b__dotted_name_")+6 || len(long70) != 64 {
		t.Fatalf("altered names: %q, %q", dotted, long70)
	}
	for _, n := range []string{dotted, long70} {
		if got := p.call(n, map[string]any{"text": n}); got != n {
			t.Errorf("%s = %q", n, got)
		}
	}
}

func TestGatewayAllowedServers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *gateway.Options
		id   engine.Identity
	}{
		{"allowedServers", &gateway.Options{AllowedServers: []string{"a"}}, engine.Identity{Transport: "go"}},
		{"token limit", nil, engine.Identity{Token: "web", Transport: "go", Servers: []string{"a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, []string{"a", "b"}, tc.opts)
			if _, err := g.Open("b", tc.id, nil); !errors.Is(err, engine.ErrServerNotFound) {
				t.Errorf("Open(b) = %v, want ErrServerNotFound", err)
			}
			if _, err := g.Open("nope", tc.id, nil); !errors.Is(err, engine.ErrServerNotFound) {
				t.Errorf("Open(nope) = %v, want ErrServerNotFound", err)
			}
			p := openPeer(t, g, "", tc.id)
			p.initialize(engine.LatestProtocolVersion, nil)
			if got := p.s.Identity(); got.Token != tc.id.Token || len(got.Servers) != len(tc.id.Servers) {
				t.Errorf("Identity() = %+v", got)
			}
			for _, tool := range listTools(t, p) {
				if !strings.HasPrefix(tool.Name, "a__") {
					t.Errorf("listed %q from a disallowed server", tool.Name)
				}
			}
			// Refused the same way as unknown names: a limited caller
			// learns nothing of the servers it may not use.
			for _, c := range []struct {
				params map[string]any
				want   string
			}{
				{map[string]any{"name": "b__echo", "arguments": map[string]any{"text": "x"}}, `unknown tool "b__echo"`},
				{map[string]any{"server": "b", "tool": "echo", "arguments": map[string]any{"text": "x"}}, `server "b" is not available`},
				{map[string]any{"server": "zzz", "tool": "echo"}, `server "zzz" is not available`},
			} {
				e := p.fail("tools/call", c.params)
				if e.Code != -32602 || !strings.Contains(e.Message, c.want) || strings.Contains(e.Message, "configured") {
					t.Errorf("call %v: %d %q, want -32602 with %q", c.params, e.Code, e.Message, c.want)
				}
			}
			if got := p.call("a__echo", map[string]any{"text": "ok"}); got != "ok" {
				t.Errorf("a__echo = %q", got)
			}
		})
	}
}

func progressOf(t *testing.T, m outMsg) (token string, progress float64) {
	t.Helper()
	var p struct {
		Token    json.RawMessage `json:"progressToken"`
		Progress float64         `json:"progress"`
	}
	if err := json.Unmarshal(m.Params, &p); err != nil {
		t.Fatal(err)
	}
	return string(p.Token), p.Progress
}

func TestGatewayProgressGoesOnlyToItsRequester(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	peers := []*peer{openPeer(t, g, "", engine.Identity{}), openPeer(t, g, "a", engine.Identity{})}
	var wg sync.WaitGroup
	for i, p := range peers {
		name := []string{"a__slow", "slow"}[i]
		wg.Go(func() {
			// The same request id and the same progress token in both sessions.
			r := p.requestID(testenv.Ctx(t), "1", "tools/call", map[string]any{
				"name": name, "arguments": map[string]any{"steps": 4, "delayMs": 20},
				"_meta": map[string]any{"progressToken": "tok"},
			})
			if r.Error != nil || toolText(t, r.Result) != "done" {
				t.Errorf("slow: %+v", r)
			}
		})
	}
	wg.Wait()
	for i, p := range peers {
		got := p.messages(method("notifications/progress"))
		if len(got) != 4 {
			t.Errorf("session %d got %d progress notifications, want its own 4", i, len(got))
		}
		last := 0.0
		for _, m := range got {
			token, progress := progressOf(t, m)
			if token != `"tok"` || m.Related != "1" || progress <= last {
				t.Errorf("session %d: progress %s related %q", i, m.Raw, m.Related)
			}
			last = progress
		}
	}
}

func TestGatewayIsolation(t *testing.T) {
	const sessions, calls = 32, 50
	g := startGateway(t, []string{"a"}, nil)
	var wg sync.WaitGroup
	for i := range sessions {
		view := ""
		if i%2 == 1 {
			view = "a"
		}
		p := openPeer(t, g, view, engine.Identity{Session: fmt.Sprint(i)})
		tool := map[string]string{"": "a__echo", "a": "echo"}[view]
		for j := range calls {
			wg.Go(func() {
				text := fmt.Sprintf("session %d call %d", i, j)
				id := fmt.Sprint(j) // ids repeat across sessions on purpose
				if j%2 == 1 {
					id = fmt.Sprintf("%q", fmt.Sprintf("s%d-%d", i, j))
				}
				msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(id), "method": "tools/call",
					"params": map[string]any{"name": tool, "arguments": map[string]any{"text": text}}})
				out := p.s.Handle(testenv.Ctx(t), msg)
				var r response
				if err := json.Unmarshal(out, &r); err != nil || r.Error != nil || string(r.ID) != id {
					t.Errorf("session %d call %d: %s", i, j, out)
					return
				}
				if got := toolText(t, r.Result); got != text {
					t.Errorf("session %d call %d got %q", i, j, got)
				}
			})
		}
	}
	wg.Wait()
}

func TestGatewayCancellation(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	p := openPeer(t, g, "", engine.Identity{})
	done := make(chan *response, 1)
	go func() {
		done <- p.requestID(testenv.Ctx(t), "7", "tools/call", map[string]any{
			"name": "a__hang", "_meta": map[string]any{"progressToken": 99},
		})
	}()
	p.waitMessages(1, method("notifications/progress")) // the call is in flight at the server
	p.notify("notifications/cancelled", map[string]any{"requestId": 7, "reason": "user stop"})
	select {
	case r := <-done:
		if r.Error == nil || r.Error.Code != -32800 {
			t.Errorf("cancelled call answered %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled call did not end")
	}

	// Handle's ctx ending cancels too.
	c, cancel := context.WithCancel(testenv.Ctx(t))
	go func() {
		done <- p.requestID(c, `"h2"`, "tools/call", map[string]any{
			"name": "a__hang", "_meta": map[string]any{"progressToken": "p2"},
		})
	}()
	p.waitMessages(2, method("notifications/progress"))
	cancel()
	if r := <-done; r.Error == nil || r.Error.Code != -32800 {
		t.Errorf("call whose ctx ended answered %+v", r)
	}
	testenv.WaitFor(t, func() bool { return p.call("a__cancelled", nil) == "2" }, "the server to count 2 cancelled hang calls")
}

func TestGatewaySubscriptions(t *testing.T) {
	g := startGateway(t, []string{"a", "b"}, nil)
	agg := openPeer(t, g, "", engine.Identity{})
	one := openPeer(t, g, "a", engine.Identity{})
	bystander := openPeer(t, g, "", engine.Identity{})
	upstream := func() string { return bystander.call("a__subscriptions", nil) }
	updated := func(uri string) func(outMsg) bool {
		return func(m outMsg) bool {
			return m.Method == "notifications/resources/updated" && strings.Contains(string(m.Params), uri)
		}
	}

	agg.result("resources/subscribe", map[string]any{"uri": "test://static"})
	agg.result("resources/subscribe", map[string]any{"uri": "test://static"}) // twice: still one subscription
	one.result("resources/subscribe", map[string]any{"uri": "test://static"})
	if got := upstream(); got != `["test://static"]` {
		t.Fatalf("upstream subscriptions = %s", got)
	}
	if got := bystander.call("b__subscriptions", nil); got != `[]` {
		t.Errorf("server b subscriptions = %s (the URI belongs to a, the first owner)", got)
	}
	bystander.call("a__touch", map[string]any{"uri": "test://static"})
	agg.waitMessages(1, updated("test://static"))
	one.waitMessages(1, updated("test://static"))
	if n := len(bystander.messages(updated("test://static"))); n != 0 {
		t.Errorf("an unsubscribed session got %d resources/updated", n)
	}
	if n := len(agg.messages(updated("test://static"))); n != 1 {
		t.Errorf("a session subscribed twice got %d resources/updated, want 1", n)
	}

	agg.result("resources/unsubscribe", map[string]any{"uri": "test://static"})
	if got := upstream(); got != `["test://static"]` {
		t.Fatalf("after one of two unsubscribed: upstream subscriptions = %s", got)
	}
	bystander.call("a__touch", map[string]any{"uri": "test://static"})
	one.waitMessages(2, updated("test://static"))
	if n := len(agg.messages(updated("test://static"))); n != 1 {
		t.Errorf("an unsubscribed session got %d resources/updated, want 1 (from before)", n)
	}

	// A template URI, then closing the last subscriber releases both.
	one.result("resources/subscribe", map[string]any{"uri": "test://item/3"})
	if got := upstream(); got != `["test://item/3","test://static"]` {
		t.Fatalf("upstream subscriptions = %s", got)
	}
	one.s.Close()
	testenv.WaitFor(t, func() bool { return upstream() == `[]` }, "the upstream subscriptions to go when the last subscriber closed")
}

func TestGatewayLogLevels(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	quiet := openPeer(t, g, "", engine.Identity{})
	loud := openPeer(t, g, "a", engine.Identity{})
	silent := openPeer(t, g, "", engine.Identity{})
	quiet.result("logging/setLevel", map[string]any{"level": "error"})
	loud.result("logging/setLevel", map[string]any{"level": "debug"})
	if e := loud.fail("logging/setLevel", map[string]any{"level": "loud"}); e.Code != -32602 {
		t.Errorf("bad level: %d %s", e.Code, e.Message)
	}
	logged := func(text string) func(outMsg) bool {
		return func(m outMsg) bool {
			return m.Method == "notifications/message" && strings.Contains(string(m.Params), text)
		}
	}
	silent.call("a__log", map[string]any{"level": "warning", "message": "w1"})
	silent.call("a__log", map[string]any{"level": "critical", "message": "c1"})
	loud.waitMessages(1, logged("c1"))
	quiet.waitMessages(1, logged("c1"))
	for _, tc := range []struct {
		name string
		p    *peer
		text string
		want int
	}{
		{"debug gets warning", loud, "w1", 1},
		{"error does not get warning", quiet, "w1", 0},
		{"error gets critical", quiet, "c1", 1},
		{"no level gets nothing", silent, "c1", 0},
		{"no level gets nothing", silent, "w1", 0},
	} {
		if n := len(tc.p.messages(logged(tc.text))); n != tc.want {
			t.Errorf("%s: %d messages with %q, want %d", tc.name, n, tc.text, tc.want)
		}
	}
}

func TestGatewaySampling(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	asker := openPeer(t, g, "", engine.Identity{})
	asker.initialize(engine.LatestProtocolVersion, map[string]any{"sampling": map[string]any{}})
	other := openPeer(t, g, "a", engine.Identity{})
	other.initialize(engine.LatestProtocolVersion, map[string]any{"sampling": map[string]any{}})

	done := make(chan *response, 1)
	go func() {
		done <- asker.requestID(testenv.Ctx(t), `"call-1"`, "tools/call", map[string]any{"name": "a__sample", "arguments": map[string]any{"prompt": "hi"}})
	}()
	req := asker.waitMessages(1, method("sampling/createMessage"))[0]
	if req.Related != `"call-1"` || len(req.ID) == 0 || !strings.Contains(string(req.Params), `"hi"`) {
		t.Fatalf("sampling request %s related %s", req.Raw, req.Related)
	}
	answer := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"role":"assistant","model":"m","content":{"type":"text","text":"sampled by the asker"}}}`, req.ID)
	if r := asker.handle(testenv.Ctx(t), answer); r != nil {
		t.Fatalf("a response got a response: %+v", r)
	}
	r := <-done
	if r.Error != nil || toolText(t, r.Result) != "sampled by the asker" {
		t.Fatalf("sample = %+v", r)
	}
	if n := len(other.messages(func(outMsg) bool { return true })); n != 0 {
		t.Errorf("the other session got %d messages", n)
	}

	// With requests of two sessions in flight, the server's request cannot be attributed.
	hang := make(chan *response, 1)
	go func() {
		hang <- other.requestID(testenv.Ctx(t), "5", "tools/call", map[string]any{"name": "hang", "_meta": map[string]any{"progressToken": 1}})
	}()
	other.waitMessages(1, method("notifications/progress"))
	res := asker.result("tools/call", map[string]any{"name": "a__sample", "arguments": map[string]any{"prompt": "who?"}})
	if !strings.Contains(string(res), "cannot tell which client") {
		t.Errorf("ambiguous sampling: %s", res)
	}
	other.notify("notifications/cancelled", map[string]any{"requestId": 5})
	<-hang

	// The cancelled call may still run on the server and ask on its own
	// behalf: the asker must not receive what might be the other's request.
	res = asker.result("tools/call", map[string]any{"name": "a__sample", "arguments": map[string]any{"prompt": "whose?"}})
	if !strings.Contains(string(res), "cannot tell which client") {
		t.Errorf("sampling while another session's cancelled call may run: %s", res)
	}
}

func TestGatewaySamplingNeedsTheCapability(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	plain := openPeer(t, g, "a", engine.Identity{})
	plain.initialize(engine.LatestProtocolVersion, nil)
	res := plain.result("tools/call", map[string]any{"name": "sample", "arguments": map[string]any{"prompt": "x"}})
	if !strings.Contains(string(res), "did not declare the sampling capability") {
		t.Errorf("sampling a client without the capability: %s", res)
	}
}

func TestGatewayProtocolErrors(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	for _, view := range []string{"", "a"} {
		p := openPeer(t, g, view, engine.Identity{})
		for _, tc := range []struct {
			msg, id string
			code    int64
		}{
			{`{"jsonrpc":"2.0","id":1,"method":`, "null", -32700},
			{`not json`, "null", -32700},
			{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, "null", -32600},
			{`"ping"`, "null", -32600},
			{`{"jsonrpc":"1.0","id":1,"method":"ping"}`, "1", -32600},
			{`{"id":"x","method":"ping"}`, `"x"`, -32600},
			{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, "null", -32600},
			{`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, "null", -32600},
			{`{"jsonrpc":"2.0","id":3,"method":7}`, "3", -32600},
			{`{"jsonrpc":"2.0","id":"abc","method":"ping"}`, `"abc"`, 0},
			{`{"jsonrpc":"2.0","id":"12","method":"ping"}`, `"12"`, 0},
			{`{"jsonrpc":"2.0","id":12,"method":"ping"}`, `12`, 0},
			{`{"jsonrpc":"2.0","id":"x-1","method":"tools/list"}`, `"x-1"`, 0},
		} {
			r := p.handle(testenv.Ctx(t), tc.msg)
			if r == nil {
				t.Errorf("view %q: %s: no response", view, tc.msg)
				continue
			}
			if string(r.ID) != tc.id {
				t.Errorf("view %q: %s: id %s, want %s", view, tc.msg, r.ID, tc.id)
			}
			switch {
			case tc.code == 0 && r.Error != nil:
				t.Errorf("view %q: %s: error %+v", view, tc.msg, r.Error)
			case tc.code != 0 && (r.Error == nil || r.Error.Code != tc.code):
				t.Errorf("view %q: %s: got %+v, want code %d", view, tc.msg, r.Error, tc.code)
			}
		}
		for _, msg := range []string{
			`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			`{"jsonrpc":"2.0","method":"notifications/whatever","params":{}}`,
			`{"jsonrpc":"2.0","id":99,"result":{}}`, // a response to nothing
		} {
			if r := p.handle(testenv.Ctx(t), msg); r != nil {
				t.Errorf("view %q: %s got a response %+v", view, msg, r)
			}
		}
	}
}

func TestGatewayServerRestart(t *testing.T) {
	g := startGateway(t, []string{"a"}, nil)
	p := openPeer(t, g, "", engine.Identity{})
	listTools(t, p)
	p.result("resources/subscribe", map[string]any{"uri": "test://static"})
	p.result("logging/setLevel", map[string]any{"level": "info"})
	pid := p.call("a__pid", nil)
	if r := p.request("tools/call", map[string]any{"name": "a__crash", "arguments": map[string]any{"code": 1}}); r.Error == nil {
		t.Fatalf("crash answered %s", r.Result)
	}
	// The restarted server gets the subscription back; the session hears the lists may have changed.
	testenv.WaitFor(t, func() bool {
		r := p.request("tools/call", map[string]any{"name": "a__subscriptions"})
		return r.Error == nil && toolText(t, r.Result) == `["test://static"]`
	}, "the subscription to be restored")
	if p.call("a__pid", nil) == pid {
		t.Fatal("the server did not restart")
	}
	p.waitMessages(1, method("notifications/tools/list_changed"))
	p.call("a__touch", map[string]any{"uri": "test://static"})
	p.waitMessages(1, method("notifications/resources/updated"))
	p.call("a__log", map[string]any{"level": "info", "message": "after restart"})
	p.waitMessages(1, method("notifications/message"))
}
