// Sampling, elicitation and roots are deprecated only from MCP 2026-07-28
// on; the tests exercise them as the versions the engine speaks define them.
//lint:file-ignore SA1019 see above

package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/remote"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/proxy"
)

// upstreamToken guards the upstream proxies of these tests.
const upstreamToken = "upstream-secret-0123456789abcdef"

// upstream is the test server behind mcpscript's own proxy on loopback:
// a real remote MCP server (Streamable HTTP and legacy SSE), with a bearer
// token. It can be stopped and started again on the same address.
type upstream struct {
	t    *testing.T
	addr string
	r    *engine.Runner
	p    *proxy.Server
}

func startUpstream(t *testing.T, addr string) *upstream {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cfg, err := config.Parse([]byte(`{"mcpServers": {"ts": `+testenv.ServerJSON(t, testserver.ModeNormal, "")+`},
		"sseProxy": {"authenticate": {"bearer": {"token": "`+upstreamToken+`"}}}}`), "upstream.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: testenv.Logger(t, slog.LevelError)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(r, &proxy.Options{Listen: addr, Logger: testenv.Logger(t, slog.LevelError)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	u := &upstream{t: t, addr: p.Addr(), r: r, p: p}
	t.Cleanup(u.stop)
	return u
}

// stop shuts the proxy and its server down (again is a no-op).
func (u *upstream) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = u.p.Shutdown(ctx)
	_ = u.r.StopAll(ctx)
}

func (u *upstream) url() string { return "http://" + u.addr + "/servers/ts/mcp" }

// remoteRunner builds a runner from servers (a config's mcpServers
// members), expanding ${URL}, ${SSE_URL}, ${TOKEN} and friends from vars.
func remoteRunner(t *testing.T, servers string, vars map[string]string, opts *engine.Options) *engine.Runner {
	t.Helper()
	cfg, err := config.ParseWithOptions([]byte(`{"mcpServers": {`+servers+`}}`), "remote.json", config.Options{
		LookupEnv: func(name string) (string, bool) { v, ok := vars[name]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	var o engine.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = testenv.Logger(t, slog.LevelError)
	}
	r, err := engine.New(cfg, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.StopAll(ctx)
	})
	return r
}

// quickRestart is a restart policy that retries fast and long enough for
// a test to bring a remote back.
const quickRestart = `"restart": {"policy": "on-failure", "backoff": "20ms", "maxBackoff": "200ms", "maxRetries": 200, "minUptime": "500ms"}`

// answerer answers sampling and elicitation like a model and a user would,
// counting what it was asked.
func answerer(asked *atomic.Int32) engine.RequestHandler {
	return func(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
		asked.Add(1)
		switch method {
		case "sampling/createMessage":
			return &mcp.CreateMessageResult{Model: "test", Role: "assistant", Content: &mcp.TextContent{Text: "four"}}, nil
		case "elicitation/create":
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "tester", "email": "t@example.com"}}, nil
		}
		return nil, fmt.Errorf("unexpected %s from %s", method, server)
	}
}

// TestRemoteThroughProxy reaches the test server through mcpscript's own
// proxy, over both HTTP transports: tools, progress, sampling and
// elicitation round trips, subscriptions, status, with the bearer token
// from the config's headers.
func TestRemoteThroughProxy(t *testing.T) {
	up := startUpstream(t, "")
	var asked atomic.Int32
	r := remoteRunner(t, `
		"http": {"type": "streamable-http", "url": "${URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
		"sse": {"type": "sse", "url": "${SSE_URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
		"detected": {"url": "${URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}}`,
		map[string]string{"URL": up.url(), "SSE_URL": "http://" + up.addr + "/servers/ts/sse", "TOKEN": upstreamToken},
		&engine.Options{OnRequest: answerer(&asked)})
	ctx := testenv.Ctx(t)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, transport, url string }{
		{"http", "http", up.url()},
		{"sse", "sse", "http://" + up.addr + "/servers/ts/sse"},
		{"detected", "http", up.url()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := r.Status(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != engine.StateRunning || st.Transport != tc.transport || st.URL != tc.url || st.PID != 0 ||
				st.ServerInfo == nil || st.ServerInfo.Name != testserver.ServerName {
				t.Errorf("status %+v", st)
			}
			c, _ := r.Client(tc.name)
			tools, err := c.ListTools(ctx)
			if err != nil || len(tools) < testserver.ExtraTools {
				t.Fatalf("%d tools, %v", len(tools), err)
			}
			res, err := c.CallTool(ctx, "echo", map[string]any{"text": "hi " + tc.name})
			if err != nil || text(t, res) != "hi "+tc.name {
				t.Fatalf("echo: %v %v", res, err)
			}
			var mu sync.Mutex
			var steps []float64
			pctx := engine.WithProgress(ctx, func(p *mcp.ProgressNotificationParams) {
				mu.Lock()
				steps = append(steps, p.Progress)
				mu.Unlock()
			})
			if res, err := c.CallTool(pctx, "slow", map[string]any{"steps": 3, "delayMs": 1}); err != nil || text(t, res) != "done" {
				t.Fatalf("slow: %v %v", res, err)
			}
			mu.Lock()
			if len(steps) != 3 {
				t.Errorf("progress %v, want 3 steps", steps)
			}
			mu.Unlock()
			before := asked.Load()
			if res, err := c.CallTool(ctx, "sample", map[string]any{"prompt": "2+2?"}); err != nil || text(t, res) != "four" {
				t.Fatalf("sample: %v %v", res, err)
			}
			res, err = c.CallTool(ctx, "elicit", map[string]any{"message": "who?"})
			if err != nil || !strings.Contains(text(t, res), "tester") {
				t.Fatalf("elicit: %v %v", res, err)
			}
			if asked.Load()-before != 2 {
				t.Errorf("%d server→client requests answered, want 2", asked.Load()-before)
			}
			updated := make(chan string, 8)
			remove := c.OnNotification("notifications/resources/updated", func(_, _ string, params json.RawMessage) {
				var p mcp.ResourceUpdatedNotificationParams
				_ = json.Unmarshal(params, &p)
				updated <- p.URI
			})
			defer remove()
			if err := c.Subscribe(ctx, "test://static"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CallTool(ctx, "touch", map[string]any{"uri": "test://static"}); err != nil {
				t.Fatal(err)
			}
			select {
			case uri := <-updated:
				if uri != "test://static" {
					t.Errorf("updated %q", uri)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no notifications/resources/updated")
			}
			if err := c.Unsubscribe(ctx, "test://static"); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A proxy over these servers says how each is reached.
	p, err := proxy.New(r, &proxy.Options{Listen: "127.0.0.1:0", Logger: testenv.Logger(t, slog.LevelError)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	resp, err := http.Get(p.BaseURL() + "/api/servers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var api struct {
		Servers []struct{ Name, State, Transport, URL string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&api); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sv := range api.Servers {
		got[sv.Name] = sv.State + " " + sv.Transport + " " + sv.URL
	}
	if got["sse"] != "running sse http://"+up.addr+"/servers/ts/sse" || got["http"] != "running http "+up.url() {
		t.Errorf("/api/servers: %v", got)
	}
}

// TestRemoteRestartsWithItsRemote kills the remote and brings it back on
// the same address: calls in flight fail at once, the server restarts per
// its policy (a new session) and serves again; a local server next to it
// is never affected.
func TestRemoteRestartsWithItsRemote(t *testing.T) {
	up := startUpstream(t, "")
	addr := up.addr
	r := remoteRunner(t, `
		"rem": {"url": "${URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}, `+quickRestart+`},
		"local": `+testenv.ServerJSON(t, testserver.ModeNormal, ""),
		map[string]string{"URL": up.url(), "TOKEN": upstreamToken}, nil)
	ctx := testenv.Ctx(t)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := r.Subscribe(64)
	defer unsubscribe()
	rem, _ := r.Client("rem")
	local, _ := r.Client("local")

	inflight := make(chan error, 1)
	go func() {
		_, err := rem.CallTool(ctx, "hang", nil)
		inflight <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the call reach the remote
	up.stop()
	select {
	case err := <-inflight:
		if err == nil {
			t.Error("the call in flight succeeded")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the call in flight did not fail when its remote went away")
	}
	// A request finds the remote gone (an idle link would notice when its
	// event stream cannot be reopened, which takes longer).
	if _, err := rem.CallTool(ctx, "echo", nil); !errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("a call while the remote is down: %v", err)
	}
	waitLong(t, "rem restarting", func() bool {
		st, _ := r.Status("rem")
		return st.State == engine.StateRestarting
	})
	if res, err := local.CallTool(ctx, "echo", map[string]any{"text": "still here"}); err != nil || text(t, res) != "still here" {
		t.Fatalf("the local server was affected: %v %v", res, err)
	}

	startUpstream(t, addr)
	res, err := rem.CallTool(ctx, "echo", map[string]any{"text": "back"}) // waits for the reconnection
	if err != nil || text(t, res) != "back" {
		t.Fatalf("after the remote came back: %v %v", res, err)
	}
	st, _ := r.Status("rem")
	if st.State != engine.StateRunning || st.Restarts < 1 {
		t.Errorf("status after the restart: %+v", st)
	}
	sawRestarting := false
	for len(events) > 0 {
		if ev := <-events; ev.Server == "rem" && ev.State == engine.StateRestarting && ev.Err != nil {
			sawRestarting = errors.Is(ev.Err, remote.ErrUnreachable) || errors.Is(ev.Err, remote.ErrSessionExpired) || sawRestarting
		}
	}
	if !sawRestarting {
		t.Error("no restarting event saying the remote was unreachable")
	}
}

// TestRemoteGivesUp: a remote that stays away fails the server after
// maxRetries short runs, with the remote's error; under "never" at once.
func TestRemoteGivesUp(t *testing.T) {
	for _, tc := range []struct{ name, restart, reason string }{
		{"retries", `"restart": {"backoff": "10ms", "maxBackoff": "20ms", "maxRetries": 2}`, "failed 3 times in a row"},
		{"never", `"restart": "never"`, `its restart policy is "never"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, "")
			r := remoteRunner(t, `"rem": {"url": "${URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}, `+tc.restart+`}`,
				map[string]string{"URL": up.url(), "TOKEN": upstreamToken}, nil)
			if err := r.StartAll(testenv.Ctx(t)); err != nil {
				t.Fatal(err)
			}
			up.stop()
			c, _ := r.Client("rem")
			_, _ = c.CallTool(testenv.Ctx(t), "echo", nil) // finds the remote gone
			waitLong(t, "rem failed", func() bool {
				st, _ := r.Status("rem")
				return st.State == engine.StateFailed
			})
			st, _ := r.Status("rem")
			if !errors.Is(st.Err, remote.ErrUnreachable) || !strings.Contains(st.Err.Error(), tc.reason) {
				t.Errorf("error %v, want unreachable and %q", st.Err, tc.reason)
			}
			if _, err := c.CallTool(testenv.Ctx(t), "echo", nil); !errors.Is(err, engine.ErrNotRunning) || !errors.Is(err, remote.ErrUnreachable) {
				t.Errorf("a call to the failed server: %v", err)
			}
		})
	}
}

// waitLong polls cond for up to 30 s.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expirer is an HTTP front that makes the remote forget sessions: while
// armed, it answers 404 to the next tools/call of a session, as a remote
// that restarted does.
type expirer struct {
	h     http.Handler
	armed atomic.Bool
	hits  atomic.Int32
}

func (e *expirer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !bytes.Contains(body, []byte(`"tools/call"`)) {
			e.h.ServeHTTP(w, r)
			return
		}
	}
	if e.armed.Load() && r.Header.Get("Mcp-Session-Id") != "" && r.Method == http.MethodPost {
		e.armed.Store(false)
		e.hits.Add(1)
		http.Error(w, "session not found", http.StatusNotFound)
		return
	}
	e.h.ServeHTTP(w, r)
}

// TestRemoteSessionExpired: when the remote forgets the session, the
// server initializes a new one at once and calls carry on.
func TestRemoteSessionExpired(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "expiring", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in struct {
		Text string `json:"text"`
	}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	front := &expirer{h: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)}
	ts := httptest.NewServer(front)
	t.Cleanup(ts.Close)
	r := remoteRunner(t, `"rem": {"type": "http", "url": "${URL}", `+quickRestart+`}`, map[string]string{"URL": ts.URL}, nil)
	ctx := testenv.Ctx(t)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("rem")
	front.armed.Store(true)
	// The first call meets the 404: it fails (it is not known to be
	// idempotent, so it is not retried); the server re-initializes.
	_, err := c.CallTool(ctx, "echo", map[string]any{"text": "lost"})
	if !errors.Is(err, remote.ErrSessionExpired) {
		t.Errorf("the call that met the expiry: %v", err)
	}
	res, err := c.CallTool(ctx, "echo", map[string]any{"text": "again"})
	if err != nil || text(t, res) != "again" {
		t.Fatalf("after the expiry: %v %v", res, err)
	}
	if st, _ := r.Status("rem"); st.State != engine.StateRunning || st.Restarts != 1 || front.hits.Load() != 1 {
		t.Errorf("status %+v, %d expiries", st, front.hits.Load())
	}
}

// TestRemoteStartFailures: an unreachable remote, a refused token and an
// endpoint that is no MCP server fail the start at once with what
// happened, while the other servers start; nothing is retried.
func TestRemoteStartFailures(t *testing.T) {
	up := startUpstream(t, "")
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String() + "/mcp"
	}()
	notMCP := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notMCP.Close)
	r := remoteRunner(t, `
		"down": {"url": "${DOWN}"},
		"badtoken": {"url": "${URL}", "headers": {"Authorization": "Bearer wrong-token-0123456789"}},
		"notmcp": {"url": "${NOTMCP}"},
		"ok": {"url": "${URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
		"local": `+testenv.ServerJSON(t, testserver.ModeNormal, ""),
		map[string]string{"DOWN": closed, "URL": up.url(), "NOTMCP": notMCP.URL + "/mcp", "TOKEN": upstreamToken}, nil)
	err := r.StartAll(testenv.Ctx(t))
	for _, tc := range []struct {
		server string
		is     error
		words  string
	}{
		{"down", remote.ErrUnreachable, closed},
		{"badtoken", remote.ErrUnauthorized, "HTTP 401"},
		{"notmcp", remote.ErrProtocol, "not found"},
	} {
		st, _ := r.Status(tc.server)
		if st.State != engine.StateFailed || !errors.Is(st.Err, tc.is) || !strings.Contains(st.Err.Error(), tc.words) {
			t.Errorf("%s: %s %v", tc.server, st.State, st.Err)
		}
		if !strings.Contains(err.Error(), `start server "`+tc.server+`"`) {
			t.Errorf("StartAll's error does not name %s: %v", tc.server, err)
		}
		if strings.Contains(st.Err.Error(), "wrong-token") {
			t.Errorf("a header value leaked into the error: %v", st.Err)
		}
	}
	for _, name := range []string{"ok", "local"} {
		c, _ := r.Client(name)
		if res, err := c.CallTool(testenv.Ctx(t), "echo", map[string]any{"text": name}); err != nil || text(t, res) != name {
			t.Errorf("%s was affected by the others: %v %v", name, res, err)
		}
	}

	// Through a gateway, the failed remotes leave only their own tools out.
	g := gateway.New(r, &gateway.Options{Logger: testenv.Logger(t, slog.LevelError)})
	t.Cleanup(g.Close)
	agg := openSession(t, g, "")
	servers := map[string]int{}
	for _, n := range agg.tools() {
		prefix, _, _ := strings.Cut(n, "__")
		servers[prefix]++
	}
	if servers["ok"] == 0 || servers["local"] == 0 || servers["down"]+servers["badtoken"]+servers["notmcp"] != 0 {
		t.Errorf("aggregate tools per server: %v", servers)
	}
	if got, msg := agg.call("ok__echo", "via gateway"); got != "via gateway" {
		t.Errorf("ok__echo: %q %s", got, msg)
	}
	if _, msg := agg.call("down__echo", "x"); !strings.Contains(msg, `server "down" is failed`) {
		t.Errorf("down__echo: %q", msg)
	}
	view := openSession(t, g, "down")
	if _, msg := view.call("echo", "x"); !strings.Contains(msg, `start server "down"`) || !strings.Contains(msg, "remote MCP server unreachable") {
		t.Errorf("the failed remote's own view: %q", msg)
	}
}

// sessionCounter is an HTTP front that records the MCP sessions the
// remote sees: the ids of requests, and those ended with DELETE.
type sessionCounter struct {
	h       http.Handler
	mu      sync.Mutex
	seen    map[string]bool
	deleted map[string]bool
}

func (c *sessionCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get("Mcp-Session-Id"); id != "" {
		c.mu.Lock()
		c.seen[id] = true
		if r.Method == http.MethodDelete {
			c.deleted[id] = true
		}
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

func (c *sessionCounter) counts() (seen, deleted int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen), len(c.deleted)
}

// TestRemotePerSession: a url server with "childModel": "per-session"
// gives each gateway session a remote MCP session of its own, ended when
// the gateway session closes.
func TestRemotePerSession(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "sessions", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in struct {
		Text string `json:"text"`
	}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	front := &sessionCounter{h: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil),
		seen: map[string]bool{}, deleted: map[string]bool{}}
	ts := httptest.NewServer(front)
	t.Cleanup(ts.Close)
	r := remoteRunner(t, `"rem": {"type": "http", "url": "${URL}", "childModel": "per-session"}`, map[string]string{"URL": ts.URL}, nil)
	g := gateway.New(r, &gateway.Options{Logger: testenv.Logger(t, slog.LevelError)})
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	if seen, _ := front.counts(); seen != 0 {
		t.Errorf("%d remote sessions before any gateway session used the server", seen)
	}
	a, b := openSession(t, g, "rem"), openSession(t, g, "")
	if got, msg := a.call("echo", "a"); got != "a" {
		t.Fatalf("a: %q %s", got, msg)
	}
	if got, msg := b.call("rem__echo", "b"); got != "b" {
		t.Fatalf("b: %q %s", got, msg)
	}
	if seen, _ := front.counts(); seen != 2 {
		t.Errorf("%d remote sessions for 2 gateway sessions", seen)
	}
	a.s.Close()
	testenv.WaitFor(t, func() bool { _, deleted := front.counts(); return deleted == 1 }, "the closed session's remote session to end")
	if got, msg := b.call("rem__echo", "still"); got != "still" {
		t.Errorf("the other session: %q %s", got, msg)
	}
}
