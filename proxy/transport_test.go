// Sampling is deprecated only from MCP 2026-07-28 on; the proxy speaks 2025-11-25.
//lint:file-ignore SA1019 see above

package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/internal/wire"
	"github.com/mcpscript/mcpscript/procman"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	if testserver.Requested() {
		testserver.Main()
	}
	os.Exit(m.Run())
}

// testEnv is a fiber app with the transports mounted over a real Runner and
// Gateway whose servers are the test server (internal/testserver), on
// 127.0.0.1:0:
//
//	/mcp, /sse + /sse/messages (reference extras on)    the aggregate
//	/servers/NAME/mcp, /servers/NAME/sse + .../messages  each server
//
// A test auth middleware turns "Authorization: Bearer NAME" into the
// identity {Token: NAME}, and "Bearer NAME:a,b" into one limited to servers a
// and b.
type testEnv struct {
	base     string
	runner   *engine.Runner
	gw       *gateway.Gateway
	sm       *streamable
	ref      *legacySSE
	sessions atomic.Int64 // the OnSession count
}

// newEnv starts servers (all the test server in normal mode) and the proxy.
func newEnv(t testing.TB, opts transportOptions, servers ...string) *testEnv {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var parts []string
	for _, name := range servers {
		parts = append(parts, fmt.Sprintf(`%q: {%s}`, name, testserver.ConfigJSON(testserver.ModeNormal, nil)))
	}
	cfg, err := config.Parse([]byte(`{"mcpServers": {`+strings.Join(parts, ",")+`}}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.StopAll(ctx); err != nil {
			t.Errorf("StopAll: %v", err)
		}
	})
	gw := gateway.New(r, &gateway.Options{Logger: logger})
	t.Cleanup(gw.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}

	e := &testEnv{runner: r, gw: gw}
	if opts.Logger == nil {
		opts.Logger = logger
	}
	opts.OnSession = func(d int) { e.sessions.Add(int64(d)) }
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: renderRefusal})
	app.Use(func(c *fiber.Ctx) error {
		if tok, ok := strings.CutPrefix(c.Get("Authorization"), "Bearer "); ok {
			name, limit, limited := strings.Cut(tok, ":")
			id := engine.Identity{Token: name}
			if limited {
				id.Servers = strings.Split(limit, ",")
			}
			c.Locals(identityKey, id)
		}
		return c.Next()
	})
	var closers []func()
	mountStreamable := func(path, view string) *streamable {
		s := newStreamable(gw, view, opts)
		app.Post(path, s.Post)
		app.Get(path, s.Get)
		app.Delete(path, s.Delete)
		closers = append(closers, s.Close)
		return s
	}
	mountSSE := func(path, postPath, view string) *legacySSE {
		l := newLegacySSE(gw, view, postPath, opts)
		app.Get(path, l.Stream)
		app.Post(postPath, l.Post)
		closers = append(closers, l.Close)
		return l
	}
	e.sm = mountStreamable("/mcp", "")
	events, stop := r.Subscribe(64)
	t.Cleanup(stop)
	e.ref = mountSSE("/sse", "/sse/messages", "").withReference(events)
	for _, name := range append(servers, "nope") {
		mountStreamable("/servers/"+name+"/mcp", name)
		mountSSE("/servers/"+name+"/sse", "/servers/"+name+"/messages", name)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	e.base = "http://" + ln.Addr().String()
	return e
}

// testWriter sends logs to t.Log so that they show only for failing tests.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// bearer is an http.RoundTripper adding an Authorization header.
type bearer struct{ token string }

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func httpClient(token string) *http.Client { return &http.Client{Transport: bearer{token}} }

// goClient is a go-sdk client session plus what its handlers saw.
type goClient struct {
	cs       *mcp.ClientSession
	mu       sync.Mutex
	progress []*mcp.ProgressNotificationParams
}

// connect connects a go-sdk client to url (…/mcp: Streamable HTTP, else
// legacy SSE). Its sampling handler answers "sampled: <prompt>".
func connect(t testing.TB, url, token string) *goClient {
	t.Helper()
	gc, err := dial(testCtx(t), url, token)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { gc.cs.Close() })
	return gc
}

// dial is connect for other goroutines than the test's: the caller closes gc.cs.
func dial(ctx context.Context, url, token string) (*goClient, error) {
	gc := &goClient{}
	client := mcp.NewClient(&mcp.Implementation{Name: "go-test", Version: "1.0.0"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			prompt := req.Params.Messages[0].Content.(*mcp.TextContent).Text
			return &mcp.CreateMessageResult{Model: "go-stub", Role: "assistant", Content: &mcp.TextContent{Text: "sampled: " + prompt}}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			gc.mu.Lock()
			gc.progress = append(gc.progress, req.Params)
			gc.mu.Unlock()
		},
	})
	var transport mcp.Transport
	if strings.HasSuffix(url, "/mcp") {
		transport = &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: httpClient(token)}
	} else {
		transport = &mcp.SSEClientTransport{Endpoint: url, HTTPClient: httpClient(token)}
	}
	cs, err := client.Connect(ctx, transport, nil)
	if err != nil {
		return nil, err
	}
	gc.cs = cs
	return gc, nil
}

// call calls a tool and returns its text, failing the test on any error.
func (gc *goClient) call(t testing.TB, name string, args map[string]any, meta mcp.Meta) string {
	t.Helper()
	res, err := gc.cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: name, Arguments: args, Meta: meta})
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
		t.Fatalf("%s: tool error: %s", name, b.String())
	}
	return b.String()
}

func TestGoSDKClients(t *testing.T) {
	e := newEnv(t, transportOptions{}, "ts")
	for _, tc := range []struct{ name, path, prefix string }{
		{"streamable aggregate", "/mcp", "ts__"},
		{"sse aggregate", "/sse", "ts__"},
		{"streamable server", "/servers/ts/mcp", ""},
		{"sse server", "/servers/ts/sse", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gc := connect(t, e.base+tc.path, "alice")
			tools, err := gc.cs.ListTools(testCtx(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(tools.Tools, func(tl *mcp.Tool) bool { return tl.Name == tc.prefix+"echo" }) {
				t.Fatalf("no %secho among %d tools", tc.prefix, len(tools.Tools))
			}
			if got := gc.call(t, tc.prefix+"echo", map[string]any{"text": "hi " + tc.name}, nil); got != "hi "+tc.name {
				t.Errorf("echo = %q", got)
			}
			if got := gc.call(t, tc.prefix+"slow", map[string]any{"steps": 3, "delayMs": 5}, mcp.Meta{"progressToken": "tok-" + tc.name}); got != "done" {
				t.Errorf("slow = %q", got)
			}
			// The go-sdk client handles notifications concurrently with
			// responses: the last progress may be handled after CallTool returns.
			var progress []*mcp.ProgressNotificationParams
			waitFor(t, "3 progress notifications", func() bool {
				gc.mu.Lock()
				defer gc.mu.Unlock()
				progress = slices.Clone(gc.progress)
				return len(progress) >= 3
			})
			time.Sleep(20 * time.Millisecond)
			if gc.mu.Lock(); len(gc.progress) != 3 {
				t.Errorf("got %d progress notifications, want 3", len(gc.progress))
			}
			gc.mu.Unlock()
			for i, p := range progress {
				if p.ProgressToken != "tok-"+tc.name || p.Progress != float64(i+1) {
					t.Errorf("progress %d = %+v", i, p)
				}
			}
			if got := gc.call(t, tc.prefix+"sample", map[string]any{"prompt": "go prompt"}, nil); got != "sampled: go prompt" {
				t.Errorf("sample = %q", got)
			}
		})
	}
	// The per-server view of an unknown server does not exist.
	resp := post(t, e.base+"/servers/nope/mcp", "", nil, initBody)
	expectStatus(t, resp, http.StatusNotFound)
}

func TestTypeScriptSDK(t *testing.T) {
	nodeModules, err := filepath.Abs(filepath.Join("..", "testdata", "npm", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nodeModules, "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		t.Fatalf("the TypeScript SDK is missing: run scripts/npm-fixtures.sh (%v)", err)
	}
	e := newEnv(t, transportOptions{}, "ts")
	for _, tc := range []struct{ name, path, kind, prefix string }{
		{"streamable aggregate", "/mcp", "http", "ts__"},
		{"sse aggregate", "/sse", "sse", "ts__"},
		{"streamable server", "/servers/ts/mcp", "http", ""},
		{"sse server", "/servers/ts/sse", "sse", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(testCtx(t), "node", "testdata/tsclient.mjs", nodeModules, e.base+tc.path, tc.kind, tc.prefix, "bob")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, stderr.String())
			}
			var got struct {
				SessionID       *string
				ProtocolVersion *string
				Tools           []string
				Echo, Slow      string
				Progress        []float64
				Sample          string
				Errors          []string
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !slices.Contains(got.Tools, tc.prefix+"echo") || got.Echo != "hello from ts" || got.Slow != "done" ||
				got.Sample != "ts sampled: ts prompt" {
				t.Errorf("TypeScript client saw %s", out)
			}
			// The SDK handles a notification a microtask after the message
			// that carried it, and a response at once: when the last
			// progress and the response arrive in one read, the response
			// wins, and the progress is reported as "for an unknown token".
			// The proxy flushes each event on its own, which makes this rare.
			late := slices.DeleteFunc(got.Errors, func(e string) bool {
				return strings.Contains(e, "progress notification for an unknown token") && strings.Contains(e, `"progress":3`)
			})
			if !slices.Equal(got.Progress, []float64{1, 2, 3}) && !(len(late) < len(got.Errors) && slices.Equal(got.Progress, []float64{1, 2})) {
				t.Errorf("progress %v", got.Progress)
			}
			got.Errors = late
			if tc.kind == "http" && (got.SessionID == nil || len(*got.SessionID) != 32 || got.ProtocolVersion == nil || *got.ProtocolVersion != engine.LatestProtocolVersion) {
				t.Errorf("session %v, protocol %v", got.SessionID, got.ProtocolVersion)
			}
			if len(got.Errors) > 0 {
				t.Errorf("client errors: %q", got.Errors)
			}
		})
	}
}

// sseEvent as a test client reads it.
type clientEvent struct{ id, name, data string }

// sseStream reads the events of an SSE response in a goroutine; comments
// (heartbeats) are counted.
type sseStream struct {
	resp   *http.Response
	events chan clientEvent
	pings  atomic.Int64
}

func readSSE(t testing.TB, resp *http.Response) *sseStream {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, ct, b)
	}
	s := &sseStream{resp: resp, events: make(chan clientEvent, 1000)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.events)
		br := bufio.NewReader(resp.Body)
		var ev clientEvent
		var data []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				if ev.id != "" || ev.name != "" || data != nil {
					ev.data = strings.Join(data, "\n")
					s.events <- ev
				}
				ev, data = clientEvent{}, nil
			case strings.HasPrefix(line, ":"):
				s.pings.Add(1)
			default:
				k, v, _ := strings.Cut(line, ":")
				v = strings.TrimPrefix(v, " ")
				switch k {
				case "id":
					ev.id = v
				case "event":
					ev.name = v
				case "data":
					data = append(data, v)
				}
			}
		}
	}()
	return s
}

// next returns the next event, failing after 10 s; ok is false at the end of the stream.
func (s *sseStream) next(t testing.TB) (clientEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no SSE event within 10s")
	}
	return clientEvent{}, false
}

// nextMessage returns the data of the next event of that name, skipping others.
func (s *sseStream) nextNamed(t testing.TB, name string) clientEvent {
	t.Helper()
	for {
		ev, ok := s.next(t)
		if !ok {
			t.Fatalf("stream ended while waiting for a %s event", name)
		}
		if ev.name == name {
			return ev
		}
	}
}

// request sends an HTTP request with optional bearer token and headers.
func request(t testing.TB, method, url, token string, headers map[string]string, body string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := httpClient(token).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func post(t testing.TB, url, token string, headers map[string]string, body string) *http.Response {
	t.Helper()
	return request(t, http.MethodPost, url, token, headers, body)
}

// expectStatus checks the status and returns the body.
func expectStatus(t testing.TB, resp *http.Response, status int) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Errorf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, status, b)
	}
	return string(b)
}

// expectRPCError checks status and a JSON-RPC error code in the body.
func expectRPCError(t testing.TB, resp *http.Response, status, code int) {
	t.Helper()
	body := expectStatus(t, resp, status)
	var r struct {
		Error struct{ Code int }
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Error.Code != code {
		t.Errorf("%s %s: body %s, want JSON-RPC error %d", resp.Request.Method, resp.Request.URL, body, code)
	}
}

const initBody = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

var bothAccept = map[string]string{"Accept": "application/json, text/event-stream"}

// initSession initializes a Streamable HTTP session with JSON answers and
// returns its id.
func initSession(t testing.TB, url, token string) string {
	t.Helper()
	resp := post(t, url, token, map[string]string{"Accept": "application/json"}, initBody)
	body := expectStatus(t, resp, http.StatusOK)
	sid := resp.Header.Get(headerSessionID)
	if len(sid) != 32 || !strings.Contains(body, `"protocolVersion":"2025-11-25"`) {
		t.Fatalf("initialize: session %q, body %s", sid, body)
	}
	resp = post(t, url, token, map[string]string{headerSessionID: sid}, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if b := expectStatus(t, resp, http.StatusAccepted); b != "" {
		t.Errorf("notification answered with a body: %s", b)
	}
	return sid
}

func TestStreamableWire(t *testing.T) {
	e := newEnv(t, transportOptions{Heartbeat: 50 * time.Millisecond}, "ts")
	url := e.base + "/mcp"

	// initialize answered as SSE: priming event, then the response, then the end.
	resp := post(t, url, "", bothAccept, initBody)
	sid := resp.Header.Get(headerSessionID)
	s := readSSE(t, resp)
	prime, _ := s.next(t)
	if prime.id == "" || prime.data != "" || prime.name != "" {
		t.Errorf("first event %+v, want a priming event", prime)
	}
	msg, _ := s.next(t)
	if msg.name != "message" || !strings.Contains(msg.data, `"id":0`) || !strings.Contains(msg.data, `"serverInfo"`) || msg.id == prime.id {
		t.Errorf("initialize response event %+v", msg)
	}
	if ev, ok := s.next(t); ok {
		t.Errorf("stream goes on after the response: %+v", ev)
	}
	for _, c := range sid {
		if c < 0x21 || c > 0x7e {
			t.Fatalf("session id %q is not visible ASCII", sid)
		}
	}
	hdr := map[string]string{headerSessionID: sid, headerProtocolVersion: "2025-11-25"}
	expectStatus(t, post(t, url, "", hdr, `{"jsonrpc":"2.0","method":"notifications/initialized"}`), http.StatusAccepted)

	// The GET stream: priming, heartbeats, one per session.
	get := request(t, http.MethodGet, url, "", map[string]string{headerSessionID: sid, "Accept": "text/event-stream"}, "")
	g := readSSE(t, get)
	if ev, _ := g.next(t); ev.id != "0-0" || ev.data != "" {
		t.Errorf("GET priming event %+v", ev)
	}
	expectRPCError(t, request(t, http.MethodGet, url, "", map[string]string{headerSessionID: sid, "Accept": "text/event-stream"}, ""), http.StatusConflict, wire.CodeInvalidRequest)
	time.Sleep(200 * time.Millisecond)
	if g.pings.Load() == 0 {
		t.Error("no heartbeat on the GET stream")
	}

	// A request with progress on its own stream: priming, progress, response.
	h := map[string]string{headerSessionID: sid, "Accept": "text/event-stream, application/json"}
	resp = post(t, url, "", h, `{"jsonrpc":"2.0","id":"s1","method":"tools/call","params":{"name":"ts__slow","arguments":{"steps":3,"delayMs":5},"_meta":{"progressToken":7}}}`)
	s = readSSE(t, resp)
	ids := map[string]bool{}
	var names []string
	for {
		ev, ok := s.next(t)
		if !ok {
			break
		}
		if ids[ev.id] {
			t.Errorf("event id %s repeated", ev.id)
		}
		ids[ev.id] = true
		switch {
		case ev.data == "":
			names = append(names, "prime")
		case strings.Contains(ev.data, "notifications/progress") && strings.Contains(ev.data, `"progressToken":7`):
			names = append(names, "progress")
		case strings.Contains(ev.data, `"id":"s1"`) && strings.Contains(ev.data, "done"):
			names = append(names, "response")
		default:
			names = append(names, ev.data)
		}
	}
	if want := []string{"prime", "progress", "progress", "progress", "response"}; !slices.Equal(names, want) {
		t.Errorf("request stream = %q, want %q", names, want)
	}

	// JSON answers: Accept application/json only, or no Accept at all; the
	// progress then goes to the GET stream.
	for _, accept := range []string{"application/json", ""} {
		resp = post(t, url, "", map[string]string{headerSessionID: sid, "Accept": accept},
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ts__slow","arguments":{"steps":1},"_meta":{"progressToken":"j"}}}`)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Accept %q: Content-Type %q", accept, ct)
		}
		if body := expectStatus(t, resp, http.StatusOK); !strings.Contains(body, `"id":2`) || !strings.Contains(body, "done") {
			t.Errorf("JSON answer %s", body)
		}
		if ev := g.nextNamed(t, "message"); !strings.Contains(ev.data, `"progressToken":"j"`) {
			t.Errorf("GET stream got %+v, want the progress", ev)
		}
	}

	// Unrelated messages (resources/updated) go to the GET stream.
	expectStatus(t, post(t, url, "", h, `{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"test://static"}}`), http.StatusOK)
	expectStatus(t, post(t, url, "", h, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ts__touch","arguments":{"uri":"test://static"}}}`), http.StatusOK)
	if ev := g.nextNamed(t, "message"); !strings.Contains(ev.data, "notifications/resources/updated") {
		t.Errorf("GET stream got %+v, want resources/updated", ev)
	}

	// DELETE ends the session: the GET stream ends, later use gets 404.
	expectStatus(t, request(t, http.MethodDelete, url, "", map[string]string{headerSessionID: sid}, ""), http.StatusNoContent)
	for {
		if _, ok := g.next(t); !ok {
			break
		}
	}
	expectRPCError(t, post(t, url, "", h, `{"jsonrpc":"2.0","id":5,"method":"ping"}`), http.StatusNotFound, wire.CodeSessionNotFound)
	expectStatus(t, request(t, http.MethodDelete, url, "", map[string]string{headerSessionID: sid}, ""), http.StatusNotFound)
	waitFor(t, "session count 0", func() bool { return e.sessions.Load() == 0 })
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestStreamableResume(t *testing.T) {
	e := newEnv(t, transportOptions{}, "ts")
	url := e.base + "/mcp"
	sid := initSession(t, url, "")
	h := map[string]string{headerSessionID: sid, "Accept": "application/json, text/event-stream"}
	resp := post(t, url, "", h, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ts__slow","arguments":{"steps":6,"delayMs":100},"_meta":{"progressToken":"r"}}}`)
	s := readSSE(t, resp)
	s.next(t) // priming
	first, _ := s.next(t)
	if !strings.Contains(first.data, `"progress":1`) {
		t.Fatalf("first event %+v", first)
	}
	resp.Body.Close() // the client goes away; the call goes on

	get := request(t, http.MethodGet, url, "", map[string]string{headerSessionID: sid, "Accept": "text/event-stream", headerLastEventID: first.id}, "")
	s = readSSE(t, get)
	var progress []string
	for {
		ev, ok := s.next(t)
		if !ok {
			t.Fatalf("resumed stream ended without the response; progress %q", progress)
		}
		if strings.Contains(ev.data, "notifications/progress") {
			progress = append(progress, ev.id)
			continue
		}
		if !strings.Contains(ev.data, `"id":1`) || !strings.Contains(ev.data, "done") {
			t.Fatalf("resumed stream got %+v", ev)
		}
		break
	}
	if len(progress) != 5 {
		t.Errorf("resumed stream replayed progress %q, want the 5 after %s", progress, first.id)
	}
	if _, ok := s.next(t); ok {
		t.Error("resumed stream goes on after the response")
	}
	// The completed stream cannot be resumed again; malformed ids are refused.
	hg := map[string]string{headerSessionID: sid, "Accept": "text/event-stream", headerLastEventID: first.id}
	expectStatus(t, request(t, http.MethodGet, url, "", hg, ""), http.StatusBadRequest)
	hg[headerLastEventID] = "garbage"
	expectStatus(t, request(t, http.MethodGet, url, "", hg, ""), http.StatusBadRequest)
}

func TestStreamableNegative(t *testing.T) {
	e := newEnv(t, transportOptions{}, "ts")
	url := e.base + "/mcp"
	sid := initSession(t, url, "alice")
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`

	expectStatus(t, post(t, url, "alice", map[string]string{headerSessionID: sid}, ping), http.StatusOK)
	// No session header, unknown session, another token's session.
	expectRPCError(t, post(t, url, "alice", nil, ping), http.StatusBadRequest, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", map[string]string{headerSessionID: "0123456789abcdef0123456789abcdef"}, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, post(t, url, "mallory", map[string]string{headerSessionID: sid}, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, post(t, url, "", map[string]string{headerSessionID: sid}, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, request(t, http.MethodGet, url, "mallory", map[string]string{headerSessionID: sid, "Accept": "text/event-stream"}, ""), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, request(t, http.MethodDelete, url, "mallory", map[string]string{headerSessionID: sid}, ""), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, request(t, http.MethodGet, url, "alice", map[string]string{"Accept": "text/event-stream"}, ""), http.StatusMethodNotAllowed, wire.CodeInvalidRequest)
	// Bad bodies and headers.
	h := map[string]string{headerSessionID: sid}
	expectRPCError(t, post(t, url, "alice", h, `{"jsonrpc":"2.0","id":1,"method":`), http.StatusBadRequest, wire.CodeParseError)
	expectRPCError(t, post(t, url, "alice", h, `[`+ping+`]`), http.StatusBadRequest, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", h, `{"id":1,"method":"ping"}`), http.StatusBadRequest, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", map[string]string{headerSessionID: sid, "Content-Type": "text/plain"}, ping), http.StatusUnsupportedMediaType, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", map[string]string{headerSessionID: sid, headerProtocolVersion: "1999-01-01"}, ping), http.StatusBadRequest, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", map[string]string{headerSessionID: sid, "Accept": "text/html"}, ping), http.StatusNotAcceptable, wire.CodeInvalidRequest)
	expectRPCError(t, request(t, http.MethodGet, url, "alice", map[string]string{headerSessionID: sid, "Accept": "application/json"}, ""), http.StatusNotAcceptable, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", nil, `{"jsonrpc":"2.0","method":"notifications/initialized"}`), http.StatusBadRequest, wire.CodeInvalidRequest)
	// A failed initialize opens no session.
	resp := post(t, url, "alice", nil, `{"jsonrpc":"2.0","id":9,"method":"initialize","params":"nonsense"}`)
	if body := expectStatus(t, resp, http.StatusOK); !strings.Contains(body, `"error"`) || resp.Header.Get(headerSessionID) != "" {
		t.Errorf("bad initialize: session %q, body %s", resp.Header.Get(headerSessionID), body)
	}
	// DELETE, then 404.
	expectStatus(t, request(t, http.MethodDelete, url, "alice", h, ""), http.StatusNoContent)
	expectRPCError(t, post(t, url, "alice", h, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	waitFor(t, "no sessions", func() bool { return e.sessions.Load() == 0 })
}

func TestLegacyNegative(t *testing.T) {
	// A vanished client is noticed at the next write: heartbeats make one.
	e := newEnv(t, transportOptions{Heartbeat: 100 * time.Millisecond}, "ts")
	get := request(t, http.MethodGet, e.base+"/servers/ts/sse", "alice", map[string]string{"Accept": "text/event-stream"}, "")
	s := readSSE(t, get)
	ep := s.nextNamed(t, "endpoint")
	if !strings.HasPrefix(ep.data, "/servers/ts/messages?sessionId=") {
		t.Fatalf("endpoint %q", ep.data)
	}
	url := e.base + ep.data
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	expectRPCError(t, post(t, url, "mallory", nil, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, post(t, e.base+"/servers/ts/messages?sessionId=nope", "alice", nil, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	expectRPCError(t, post(t, e.base+"/servers/ts/messages", "alice", nil, ping), http.StatusBadRequest, wire.CodeInvalidRequest)
	expectRPCError(t, post(t, url, "alice", nil, `{nope`), http.StatusBadRequest, wire.CodeParseError)
	expectRPCError(t, post(t, url, "alice", nil, `[`+ping+`]`), http.StatusBadRequest, wire.CodeInvalidRequest)
	if body := expectStatus(t, post(t, url, "alice", nil, `{"jsonrpc":"2.0","id":"p","method":"ping"}`), http.StatusAccepted); body != `{"status":"accepted","id":"p"}` {
		t.Errorf("ack %s", body)
	}
	if ev := s.nextNamed(t, "message"); !strings.Contains(ev.data, `"id":"p"`) || !strings.Contains(ev.data, `"result"`) {
		t.Errorf("ping response %+v", ev)
	}
	// The stream ending closes the session.
	get.Body.Close()
	waitFor(t, "the session to close", func() bool { return e.sessions.Load() == 0 })
	expectRPCError(t, post(t, url, "alice", nil, ping), http.StatusNotFound, wire.CodeSessionNotFound)
	// An unknown server's view.
	expectStatus(t, request(t, http.MethodGet, e.base+"/servers/nope/sse", "alice", nil, ""), http.StatusNotFound)
}

// TestReferenceFlow is the reference mcp-runner's JavaScript example done
// with raw HTTP: GET /sse, read the endpoint, POST /sse/messages with the
// reference's {server, tool, arguments}, read the message event; plus the
// server-status events and the POST without a session id.
func TestReferenceFlow(t *testing.T) {
	e := newEnv(t, transportOptions{}, "ts", "aux")
	get := request(t, http.MethodGet, e.base+"/sse", "web", map[string]string{"Accept": "text/event-stream"}, "")
	s := readSSE(t, get)
	ep, _ := s.next(t)
	if ep.name != "endpoint" || !strings.HasPrefix(ep.data, "/sse/messages?sessionId=") {
		t.Fatalf("first event %+v", ep)
	}

	// As the reference's README: no session id in the URL, {server, tool, arguments}.
	resp := post(t, e.base+"/sse/messages", "web", nil,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"server":"ts","tool":"echo","arguments":{"text":"from the web"}}}`)
	if body := expectStatus(t, resp, http.StatusAccepted); body != `{"status":"accepted","id":1}` {
		t.Errorf("ack %s", body)
	}
	msg := s.nextNamed(t, "message")
	var r struct {
		ID     int
		Result mcp.CallToolResult
	}
	if err := json.Unmarshal([]byte(msg.data), &r); err != nil || r.ID != 1 || len(r.Result.Content) != 1 || r.Result.Content[0].(*mcp.TextContent).Text != "from the web" {
		t.Errorf("message event %s (%v)", msg.data, err)
	}
	// With the endpoint's URL and {server, name, arguments}.
	resp = post(t, e.base+ep.data, "web", nil,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"server":"ts","name":"echo","arguments":{"text":"two"}}}`)
	expectStatus(t, resp, http.StatusAccepted)
	if msg := s.nextNamed(t, "message"); !strings.Contains(msg.data, `"id":2`) || !strings.Contains(msg.data, "two") {
		t.Errorf("message event %s", msg.data)
	}

	// server-status events follow a server's restart.
	ctx := testCtx(t)
	if err := e.runner.StopServer(ctx, "aux"); err != nil {
		t.Fatal(err)
	}
	if err := e.runner.StartServer(ctx, "aux"); err != nil {
		t.Fatal(err)
	}
	var states []string
	for !slices.Contains(states, "running") {
		ev := s.nextNamed(t, "server-status")
		var st serverStatus
		if err := json.Unmarshal([]byte(ev.data), &st); err != nil || st.Type != "server-status" || st.ServerName != "aux" || st.ServerID == "" {
			t.Fatalf("server-status %s", ev.data)
		}
		states = append(states, st.Status)
	}
	if !slices.Contains(states, "stopped") {
		t.Errorf("states %q", states)
	}

	// A token limited to ts does not hear about aux.
	lim := readSSE(t, request(t, http.MethodGet, e.base+"/sse", "lim:ts", nil, ""))
	lim.nextNamed(t, "endpoint")
	if err := e.runner.StopServer(ctx, "aux"); err != nil {
		t.Fatal(err)
	}
	s.nextNamed(t, "server-status")
	select {
	case ev := <-lim.events:
		t.Errorf("limited token got %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}

	// Another stream of the same token makes the bare POST ambiguous;
	// a token without a stream cannot use it either.
	second := readSSE(t, request(t, http.MethodGet, e.base+"/sse", "web", nil, ""))
	second.nextNamed(t, "endpoint")
	body := expectStatus(t, post(t, e.base+"/sse/messages", "web", nil, `{"jsonrpc":"2.0","id":3,"method":"ping"}`), http.StatusBadRequest)
	if !strings.Contains(body, "sessionId") {
		t.Errorf("ambiguous POST: %s", body)
	}
	expectStatus(t, post(t, e.base+"/sse/messages", "nobody", nil, `{"jsonrpc":"2.0","id":3,"method":"ping"}`), http.StatusBadRequest)
}

// TestIsolation runs 32 sessions × 200 calls with unique payloads over
// Streamable HTTP against one shared child: every response matches its
// request, and no session sees another's progress.
func TestIsolation(t *testing.T) {
	e := newEnv(t, transportOptions{}, "ts")
	const sessions, calls = 32, 200
	var wg sync.WaitGroup
	errs := make(chan error, sessions*4)
	ctx := testCtx(t)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gc, err := dial(ctx, e.base+"/mcp", fmt.Sprintf("tok%d", i%4))
			if err != nil {
				errs <- fmt.Errorf("session %d: %v", i, err)
				return
			}
			defer gc.cs.Close()
			for j := range calls {
				want := fmt.Sprintf("session %d call %d %x", i, j, i*calls+j)
				params := &mcp.CallToolParams{Name: "ts__echo", Arguments: map[string]any{"text": want}}
				if j%20 == 0 { // now and then a call with progress
					params = &mcp.CallToolParams{Name: "ts__slow", Arguments: map[string]any{"steps": 2}, Meta: mcp.Meta{"progressToken": fmt.Sprintf("s%d-c%d", i, j)}}
					want = "done"
				}
				res, err := gc.cs.CallTool(ctx, params)
				if err != nil {
					errs <- fmt.Errorf("session %d call %d: %v", i, j, err)
					return
				}
				if got := res.Content[0].(*mcp.TextContent).Text; got != want {
					errs <- fmt.Errorf("session %d call %d: got %q, want %q", i, j, got, want)
					return
				}
			}
			time.Sleep(50 * time.Millisecond) // see TestGoSDKClients
			gc.mu.Lock()
			defer gc.mu.Unlock()
			if len(gc.progress) != 2*calls/20 {
				errs <- fmt.Errorf("session %d: %d progress notifications, want %d", i, len(gc.progress), 2*calls/20)
			}
			for _, p := range gc.progress {
				if tok, _ := p.ProgressToken.(string); !strings.HasPrefix(tok, fmt.Sprintf("s%d-", i)) {
					errs <- fmt.Errorf("session %d got progress %v of another session", i, p.ProgressToken)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCancelOnClose checks that DELETE and idle closing cancel a session's
// requests in flight, while a client going away does not.
func TestCancelOnClose(t *testing.T) {
	e := newEnv(t, transportOptions{IdleTimeout: 300 * time.Millisecond}, "ts")
	url := e.base + "/mcp"
	checker := ""
	var cancelled func() string
	cancelled = func() string { // the checker session idles out between uses
		if checker == "" {
			checker = initSession(t, url, "checker")
		}
		resp := post(t, url, "checker", map[string]string{headerSessionID: checker},
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ts__cancelled","arguments":{}}}`)
		if resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			checker = ""
			return cancelled()
		}
		var r struct{ Result mcp.CallToolResult }
		json.Unmarshal([]byte(expectStatus(t, resp, http.StatusOK)), &r)
		return r.Result.Content[0].(*mcp.TextContent).Text
	}
	hang := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ts__hang","arguments":{},"_meta":{"progressToken":1}}}`

	// DELETE cancels.
	sid := initSession(t, url, "")
	s := readSSE(t, post(t, url, "", map[string]string{headerSessionID: sid, "Accept": "text/event-stream"}, hang))
	s.next(t)                 // priming
	s.nextNamed(t, "message") // the progress: the call runs
	expectStatus(t, request(t, http.MethodDelete, url, "", map[string]string{headerSessionID: sid}, ""), http.StatusNoContent)
	waitFor(t, "the hang call to be cancelled", func() bool { return cancelled() == "1" })

	// A client going away does not cancel; the session idles out once the
	// call is over... which a hang call never is, so the session stays.
	sid = initSession(t, url, "")
	resp := post(t, url, "", map[string]string{headerSessionID: sid, "Accept": "text/event-stream"}, hang)
	s = readSSE(t, resp)
	s.next(t)
	s.nextNamed(t, "message")
	resp.Body.Close()
	time.Sleep(time.Second)
	if got := cancelled(); got != "1" {
		t.Errorf("a disconnect cancelled the call (cancelled = %s)", got)
	}
	expectStatus(t, post(t, url, "", map[string]string{headerSessionID: sid}, `{"jsonrpc":"2.0","id":2,"method":"ping"}`), http.StatusOK)

	// An idle session is closed (and nothing was in flight to cancel).
	idle := initSession(t, url, "")
	time.Sleep(time.Second)
	expectRPCError(t, post(t, url, "", map[string]string{headerSessionID: idle}, `{"jsonrpc":"2.0","id":2,"method":"ping"}`), http.StatusNotFound, wire.CodeSessionNotFound)
}

// TestSlowClient checks that a client that does not read its stream gets
// its session closed, without blocking anyone else.
func TestSlowClient(t *testing.T) {
	e := newEnv(t, transportOptions{QueueSize: 2}, "ts")
	get := request(t, http.MethodGet, e.base+"/servers/ts/sse", "", nil, "")
	br := bufio.NewReader(get.Body)
	br.ReadString('\n') // event: endpoint
	line, _ := br.ReadString('\n')
	url := e.base + strings.TrimSpace(strings.TrimPrefix(line, "data: "))
	defer get.Body.Close()
	for i := range 12 { // 12 × 2 MiB, never read: more than the socket buffers hold
		resp := post(t, url, "", nil, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"big","arguments":{"bytes":2097152}}}`, i))
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			break
		}
	}
	waitFor(t, "the slow session to close", func() bool { return e.sessions.Load() == 0 })
	expectStatus(t, post(t, url, "", nil, `{"jsonrpc":"2.0","id":"x","method":"ping"}`), http.StatusNotFound)
	// Others are unaffected.
	gc := connect(t, e.base+"/mcp", "")
	if got := gc.call(t, "ts__echo", map[string]any{"text": "still here"}, nil); got != "still here" {
		t.Errorf("echo = %q", got)
	}
}

func TestEventStream(t *testing.T) {
	o := transportOptions{QueueSize: 3, Replay: 2}.withDefaults()
	var overflows atomic.Int32
	st := newEventStream(1, true, o, func() { overflows.Add(1) })
	for i := range 3 {
		if !st.push("message", []byte{'0' + byte(i)}, false) {
			t.Fatalf("push %d refused", i)
		}
	}
	if st.push("message", []byte("3"), false) {
		t.Error("push over the limit accepted")
	}
	waitFor(t, "overflow", func() bool { return overflows.Load() == 1 })
	if st.push("message", []byte("4"), false) {
		t.Error("push after overflow accepted")
	}

	// A detached stream with dropOldest drops instead.
	st = newEventStream(0, true, o, func() { t.Error("overflow") })
	st.dropOldest = true
	for i := range 5 {
		st.push("message", []byte{'0' + byte(i)}, false)
	}
	a, err := st.attach(0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	batch, _, _ := st.pending(a)
	var got string
	for _, ev := range batch {
		got += string(ev.data)
	}
	if got != "234" {
		t.Errorf("kept %q, want the 3 newest", got)
	}
	if _, err := st.attach(0, false, false); err != errStreamBusy {
		t.Errorf("second attach: %v", err)
	}
	if st.advance(a, batch[len(batch)-1].seq); len(st.events) != 2 {
		t.Errorf("%d events kept after writing, want Replay = 2", len(st.events))
	}
}

// TestAccept: the message parsing itself is internal/wire's (tested there).
func TestAccept(t *testing.T) {
	for h, want := range map[string]acceptance{
		"":                                    {json: true},
		"application/json, text/event-stream": {json: true, sse: true},
		"text/event-stream":                   {sse: true},
		"*/*":                                 {json: true},
		"text/html":                           {},
		"application/json;q=0, text/event-stream": {sse: true},
	} {
		if got := parseAccept(h); got != want {
			t.Errorf("Accept %q: %+v, want %+v", h, got, want)
		}
	}
}
