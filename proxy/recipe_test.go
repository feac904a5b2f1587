package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
)

// These tests cover what a web page needs of the proxy: a stream that is
// noticed closed as soon as its connection closes (connwatch.go), and the
// reference's tokenless streams with their binding rule (reference.go).

// logBuffer collects log lines, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   testing.TB
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Log(strings.TrimRight(string(p), "\n"))
	return b.buf.Write(p)
}

// lines returns the logged lines that contain every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// startProxyLogged is startProxy with the proxy's log (info and above) in
// the returned buffer.
func startProxyLogged(t testing.TB, cfg *config.Config) (*proxyEnv, *logBuffer) {
	t.Helper()
	logs := &logBuffer{t: t}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := engine.New(cfg, &engine.Options{Logger: quietLogger(t)})
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
	return &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}, logs
}

// rawConn is one client TCP connection speaking HTTP/1.1 by hand, so that
// a test decides when it closes and what it pipelines.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	host string
}

func dialRaw(t testing.TB, base string) *rawConn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, conn: conn, br: bufio.NewReader(conn), host: host}
}

// requestText is an HTTP/1.1 request; headers are "Key: value" lines.
func (rc *rawConn) requestText(method, path, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, rc.host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// send writes requests (several at once: pipelining).
func (rc *rawConn) send(requests ...string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.conn, strings.Join(requests, "")); err != nil {
		rc.t.Fatal(err)
	}
}

// response reads the next response's head; its body is read by the caller
// (or readAll) before the next response.
func (rc *rawConn) response(method string) *http.Response {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("reading a response: %v", err)
	}
	return resp
}

// sessionsOf counts the open sessions of a legacy SSE transport.
func sessionsOf(l *legacySSE) int { return len(l.sessions.all(nil)) }

// TestStreamCloseNoticed: with heartbeats 15 s apart, a stream whose client
// closes its connection is dropped within a fraction of a second, on both
// transports: the legacy session closes, a Streamable HTTP stream detaches
// (so a new GET is not refused with 409).
func TestStreamCloseNoticed(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))
	auth := "Authorization: Bearer " + tokAll
	const limit = time.Second // what we assert; what we measure is logged (typically well under 100 ms)

	for _, tc := range []struct {
		name, path string
		l          func() *legacySSE
	}{
		{"reference /sse", "/sse", func() *legacySSE { return e.s.reference }},
		{"legacy /servers/a/sse", "/servers/a/sse", func() *legacySSE { return e.s.servers().transports["a"].sse }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, e.base)
			rc.send(rc.requestText("GET", tc.path, "", auth, "Accept: text/event-stream"))
			s := readSSE(t, rc.response("GET"))
			t.Cleanup(func() { rc.conn.Close() })
			s.nextNamed(t, "endpoint")
			if n := sessionsOf(tc.l()); n != 1 {
				t.Fatalf("%d sessions open, want 1", n)
			}
			start := time.Now()
			rc.conn.Close()
			for sessionsOf(tc.l()) != 0 {
				if time.Since(start) > limit {
					t.Fatalf("the session is still open %v after its client closed the connection", limit)
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("closed stream noticed after %v", time.Since(start))
		})
	}

	t.Run("Streamable HTTP GET and POST streams", func(t *testing.T) {
		sid := e.initialize("/mcp", tokAll)
		session := func() *smSession {
			s, ok := e.s.aggregate.sessions.lookup(sid, config.DefaultTokenName)
			if !ok {
				t.Fatal("session gone")
			}
			return s
		}
		get := func() *rawConn {
			rc := dialRaw(t, e.base)
			rc.send(rc.requestText("GET", "/mcp", "", auth, "Accept: text/event-stream", "Mcp-Session-Id: "+sid))
			resp := rc.response("GET")
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("GET: %d %s", resp.StatusCode, b)
			}
			readSSE(t, resp).next(t) // priming
			t.Cleanup(func() { rc.conn.Close() })
			return rc
		}
		first := get()
		start := time.Now()
		first.conn.Close()
		for {
			session().standalone.mu.Lock()
			attached := session().standalone.att != nil
			session().standalone.mu.Unlock()
			if !attached {
				break
			}
			if time.Since(start) > limit {
				t.Fatalf("the GET stream is still attached %v after its client closed the connection", limit)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("closed GET stream noticed after %v", time.Since(start))
		get() // a reload's new GET: not 409

		// A request's stream: the call goes on (MCP 2025-11-25), the
		// stream detaches at once.
		rc := dialRaw(t, e.base)
		rc.send(rc.requestText("POST", "/mcp", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"a__hang","arguments":{}}}`,
			auth, "Accept: text/event-stream", "Mcp-Session-Id: "+sid))
		readSSE(t, rc.response("POST")).next(t) // priming
		t.Cleanup(func() { rc.conn.Close() })
		st := session().stream(1)
		if st == nil {
			t.Fatal("no stream 1")
		}
		start = time.Now()
		rc.conn.Close()
		for {
			st.mu.Lock()
			attached := st.att != nil
			st.mu.Unlock()
			if !attached {
				break
			}
			if time.Since(start) > limit {
				t.Fatalf("the POST stream is still attached %v after its client closed the connection", limit)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("closed POST stream noticed after %v", time.Since(start))
		if session().stream(1) == nil {
			t.Error("the request's stream was dropped while its call runs: it should stay resumable")
		}
	})
}

// TestStreamConnectionReuse: watching a stream's connection neither breaks
// keep-alive after the stream nor pipelined requests sent while it runs.
func TestStreamConnectionReuse(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))
	auth := "Authorization: Bearer " + tokAll
	sid := e.initialize("/servers/a/mcp", tokAll)
	streamCall := func(rc *rawConn, id int, args string) string {
		return rc.requestText("POST", "/servers/a/mcp",
			fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"slow","arguments":%s,"_meta":{"progressToken":"p"}}}`, id, args),
			auth, "Accept: text/event-stream", "Mcp-Session-Id: "+sid)
	}
	// readCall reads a streamed call to its end and returns the response event.
	readCall := func(rc *rawConn, id int) {
		t.Helper()
		resp := rc.response("POST")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("call %d: %d %s", id, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		body, err := io.ReadAll(resp.Body) // the stream ends after the response
		if err != nil {
			t.Fatalf("call %d: reading the stream: %v", id, err)
		}
		if !strings.Contains(string(body), fmt.Sprintf(`"id":%d,"result"`, id)) || !strings.Contains(string(body), "done") {
			t.Fatalf("call %d: stream without its response: %s", id, body)
		}
	}
	healthz := func(rc *rawConn) {
		t.Helper()
		resp := rc.response("GET")
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz on the same connection: %d %s", resp.StatusCode, b)
		}
	}

	t.Run("keep-alive", func(t *testing.T) {
		rc := dialRaw(t, e.base)
		for i := range 3 {
			rc.send(streamCall(rc, 10+i, `{"steps":2,"delayMs":20}`))
			readCall(rc, 10+i)
		}
		rc.send(rc.requestText("GET", "/healthz", ""))
		healthz(rc)
	})
	t.Run("pipelined with the request", func(t *testing.T) {
		rc := dialRaw(t, e.base)
		rc.send(streamCall(rc, 20, `{"steps":3,"delayMs":50}`), rc.requestText("GET", "/healthz", ""))
		readCall(rc, 20)
		healthz(rc)
	})
	t.Run("pipelined while the stream runs", func(t *testing.T) {
		rc := dialRaw(t, e.base)
		rc.send(streamCall(rc, 30, `{"steps":4,"delayMs":100}`))
		resp := rc.response("POST")
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "id: ") {
			t.Fatalf("priming event: %q %v", line, err)
		}
		// The watcher is waiting on the connection now: bytes arrive.
		rc.send(rc.requestText("GET", "/healthz", ""))
		rest, err := io.ReadAll(br)
		if err != nil || !strings.Contains(string(rest), `"id":30,"result"`) {
			t.Fatalf("the stream did not complete after a pipelined request: %v %s", err, rest)
		}
		healthz(rc)
	})
}

// tokenlessConfig is proxyConfig with tokenless streams on.
func tokenlessConfig(t testing.TB) *config.Config {
	return proxyConfig(t, `"authenticate": {"bearer": {"token": "`+tokAll+`", "tokens": [{"name": "ci", "token": "`+tokB+`", "servers": ["b"]}]}, "tokenlessStreams": true}`)
}

// openStream opens GET path on a connection of its own with headers
// ("Key: value") and returns it and its session id (from the endpoint event).
func openStream(t testing.TB, base, path string, headers ...string) (*rawConn, *sseStream, string) {
	t.Helper()
	rc := dialRaw(t, base)
	rc.send(rc.requestText("GET", path, "", append(headers, "Accept: text/event-stream")...))
	resp := rc.response("GET")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	s := readSSE(t, resp)
	t.Cleanup(func() { rc.conn.Close() }) // before readSSE's cleanup, which would drain the stream
	ep := s.nextNamed(t, "endpoint")
	_, id, _ := strings.Cut(ep.data, "sessionId=")
	return rc, s, id
}

// noEvent fails if s gets an event within d.
func noEvent(t testing.TB, s *sseStream, d time.Duration, who string) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if ok {
			t.Errorf("%s got an event it did not ask for: %+v", who, ev)
		}
	case <-time.After(d):
	}
}

// answer waits for the message event of request id on s.
func answer(t testing.TB, s *sseStream, id int) string {
	t.Helper()
	for {
		ev := s.nextNamed(t, "message")
		if strings.Contains(ev.data, fmt.Sprintf(`"id":%d,`, id)) {
			return ev.data
		}
	}
}

func TestTokenlessStreams(t *testing.T) {
	call := func(id int, text string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"server":"a","tool":"echo","arguments":{"text":%q}}}`, id, text)
	}
	const page = "http://app.example" // in proxyConfig's CORS origins
	origin := map[string]string{"Origin": page}

	t.Run("off: a stream without a token gets 401 saying how to authenticate", func(t *testing.T) {
		e, logs := startProxyLogged(t, proxyConfig(t, ""))
		resp, body := e.do("GET", "/sse", "", map[string]string{"Origin": page, "Accept": "text/event-stream"}, "")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "/auth/token") ||
			!strings.Contains(body, "access_token") || !strings.Contains(body, "sseProxy.authenticate.queryTokens") ||
			!strings.Contains(body, "sseProxy.authenticate.tokenlessStreams") {
			t.Errorf("GET /sse without a token: %d %s", resp.StatusCode, body)
		}
		if l := logs.lines("level=WARN", "origin="+page, "tokenlessStreams", "/auth/token"); len(l) != 1 {
			t.Errorf("want one warning naming the origin and what to set, got %q", l)
		}
		for range 20 { // a page retrying does not flood the log
			e.do("GET", "/sse", "", origin, "")
		}
		if l := logs.lines("level=WARN", "refused a stream without a token"); len(l) != 1 {
			t.Errorf("the warning is not rate-limited: %d lines", len(l))
		}
		// Other stream routes name query tokens only.
		if resp, body := e.do("GET", "/servers/a/sse", "", nil, ""); resp.StatusCode != 401 ||
			!strings.Contains(body, "access_token") || strings.Contains(body, "tokenlessStreams") {
			t.Errorf("GET /servers/a/sse: %d %s", resp.StatusCode, body)
		}
	})

	e, logs := startProxyLogged(t, tokenlessConfig(t))
	if l := logs.lines("level=WARN", "tokenlessStreams is on"); len(l) != 1 {
		t.Errorf("no warning at start about tokenlessStreams: %q", l)
	}
	post := func(path, token string, headers map[string]string, body string) (int, string) {
		resp, text := e.do("POST", path, token, headers, body)
		return resp.StatusCode, text
	}

	t.Run("the reference recipe: bound by the first POST naming no session", func(t *testing.T) {
		_, s, _ := openStream(t, e.base, "/sse", "Origin: "+page)
		if code, body := post("/sse/messages", tokAll, origin, call(1, "first")); code != 202 {
			t.Fatalf("POST: %d %s", code, body)
		}
		if a := answer(t, s, 1); !strings.Contains(a, "first") {
			t.Errorf("answer %s", a)
		}
		if code, body := post("/sse/messages", tokAll, origin, call(2, "second")); code != 202 {
			t.Fatalf("second POST: %d %s", code, body)
		}
		answer(t, s, 2)
		// The stream is the token's now: another token does not reach it.
		if code, body := post("/sse/messages", tokB, origin, call(3, "hostile")); code != 400 || !strings.Contains(body, "no open SSE stream") {
			t.Errorf("another token's bare POST: %d %s", code, body)
		}
		noEvent(t, s, 100*time.Millisecond, "the bound stream")
		if l := logs.lines("level=INFO", "bound to the caller of its first POST", "token=default"); len(l) != 1 {
			t.Errorf("binding not logged: %q", l)
		}
	})
	waitFor(t, "streams closed", func() bool { return sessionsOf(e.s.reference) == 0 })

	t.Run("a page reload: the old stream is gone at once", func(t *testing.T) {
		for i := range 3 {
			rc, s, _ := openStream(t, e.base, "/sse", "Origin: "+page)
			if code, body := post("/sse/messages", tokAll, origin, call(10+i, "reload")); code != 202 {
				t.Fatalf("load %d: POST %d %s", i, code, body)
			}
			answer(t, s, 10+i)
			rc.conn.Close() // the page reloads
		}
	})
	waitFor(t, "streams closed", func() bool { return sessionsOf(e.s.reference) == 0 })

	t.Run("bound by the first POST naming it; others cannot use it", func(t *testing.T) {
		_, s, id := openStream(t, e.base, "/sse")
		if code, body := post("/sse/messages?sessionId="+id, tokB, nil, call(20, "ci")); code != 202 {
			t.Fatalf("POST naming it: %d %s", code, body)
		}
		answer(t, s, 20)
		// Hostile: another caller names it.
		if code, body := post("/sse/messages?sessionId="+id, tokAll, nil, call(21, "steal")); code != 404 {
			t.Errorf("another token naming the bound stream: %d %s", code, body)
		}
		noEvent(t, s, 100*time.Millisecond, "the stream of ci")
		// The binding token's limit applies: ci may use b only.
		if code, _ := post("/sse/messages?sessionId="+id, tokB, nil, call(22, "limited")); code != 202 {
			t.Fatalf("POST: %d", code)
		}
		if a := answer(t, s, 22); !strings.Contains(a, `"error"`) {
			t.Errorf("ci called server a: %s", a)
		}
	})
	waitFor(t, "streams closed", func() bool { return sessionsOf(e.s.reference) == 0 })

	t.Run("hostile: two unbound streams of one origin, a bare POST binds neither", func(t *testing.T) {
		_, s1, id1 := openStream(t, e.base, "/sse", "Origin: "+page)
		_, s2, _ := openStream(t, e.base, "/sse", "Origin: "+page)
		code, body := post("/sse/messages", tokAll, origin, call(30, "which"))
		if code != 400 || !strings.Contains(body, "cannot tell which") || !strings.Contains(body, "sessionId=") {
			t.Errorf("ambiguous POST: %d %s", code, body)
		}
		noEvent(t, s1, 100*time.Millisecond, "stream 1")
		noEvent(t, s2, 10*time.Millisecond, "stream 2")
		// Naming one works (mcpscript's own recipe).
		if code, body := post("/sse/messages?sessionId="+id1, tokAll, origin, call(31, "named")); code != 202 {
			t.Fatalf("named POST: %d %s", code, body)
		}
		answer(t, s1, 31)
		noEvent(t, s2, 100*time.Millisecond, "stream 2")
		// Now one stream is the token's and one unbound from its origin:
		// still ambiguous for a bare POST.
		if code, body := post("/sse/messages", tokAll, origin, call(32, "which")); code != 400 {
			t.Errorf("bare POST with a bound and an unbound stream: %d %s", code, body)
		}
		noEvent(t, s2, 100*time.Millisecond, "stream 2")
	})
	waitFor(t, "streams closed", func() bool { return sessionsOf(e.s.reference) == 0 })

	t.Run("hostile: a stream of another origin is never bound by a bare POST", func(t *testing.T) {
		_, s, _ := openStream(t, e.base, "/sse", "Origin: http://localhost:5555")
		code, body := post("/sse/messages", tokAll, origin, call(40, "mine"))
		if code != 400 || !strings.Contains(body, "no open SSE stream") {
			t.Errorf("POST from %s: %d %s", page, code, body)
		}
		noEvent(t, s, 100*time.Millisecond, "the other origin's stream")
	})

	t.Run("unbound streams get nothing, and POSTs still need a token", func(t *testing.T) {
		_, s, id := openStream(t, e.base, "/sse")
		ctx := testCtx(t)
		if err := e.r.StopServer(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if err := e.r.StartServer(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		noEvent(t, s, 100*time.Millisecond, "an unbound stream (server-status)")
		if code, body := post("/sse/messages?sessionId="+id, "", nil, call(50, "x")); code != 401 {
			t.Errorf("POST without a token: %d %s", code, body)
		}
		if resp, body := e.do("GET", "/servers/a/sse", "", nil, ""); resp.StatusCode != 401 {
			t.Errorf("tokenless stream on /servers/a/sse: %d %s", resp.StatusCode, body)
		}
		if resp, body := e.do("GET", "/mcp", "", map[string]string{"Accept": "text/event-stream"}, ""); resp.StatusCode != 401 {
			t.Errorf("tokenless GET /mcp: %d %s", resp.StatusCode, body)
		}
	})
}

// TestBrowserRefusalsLogged: what browsers refuse or are refused is logged
// at warn, with the origin and the key to set, once per origin a minute.
func TestBrowserRefusalsLogged(t *testing.T) {
	e, logs := startProxyLogged(t, proxyConfig(t, ""))
	const local = "http://localhost:5173" // passes the Origin check (loopback), not in CORS
	preflight := map[string]string{"Origin": local, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
	for range 10 {
		resp, body := e.do("OPTIONS", "/sse/messages", "", preflight, "")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sseProxy.cors.allowedOrigins") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("refused preflight: %d %s %v", resp.StatusCode, body, resp.Header)
		}
	}
	if l := logs.lines("level=WARN", "CORS preflight", "origin="+local, "sseProxy.cors.allowedOrigins"); len(l) != 1 {
		t.Errorf("want one warning about the preflight, got %q", l)
	}
	// A simple request the browser sends without preflight: answered, but
	// its page cannot read it; logged.
	e.do("GET", "/api/servers", tokAll, map[string]string{"Origin": local}, "")
	if l := logs.lines("level=WARN", "will not let it read the answer", "origin="+local); len(l) != 1 {
		t.Errorf("want one warning about the unreadable answer, got %q", l)
	}
	// An Origin the guard refuses.
	resp, _ := e.do("GET", "/api/servers", tokAll, map[string]string{"Origin": "http://evil.example"}, "")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %d", resp.StatusCode)
	}
	if l := logs.lines("level=WARN", "origin=http://evil.example", "sseProxy.cors.allowedOrigins"); len(l) != 1 {
		t.Errorf("want one warning about the refused origin, got %q", l)
	}
	// The allowed origin is answered and not logged.
	resp, _ = e.do("OPTIONS", "/sse/messages", "", map[string]string{"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("allowed preflight: %d", resp.StatusCode)
	}
	if l := logs.lines("origin=http://app.example"); len(l) != 0 {
		t.Errorf("allowed origin logged: %q", l)
	}
}

func TestWarnLimiter(t *testing.T) {
	logs := &logBuffer{t: t}
	w := newWarnLimiter(slog.New(slog.NewTextHandler(logs, nil)))
	now := time.Unix(1000, 0)
	w.now = func() time.Time { return now }
	for range 5 {
		w.warn("a", "about a")
	}
	w.warn("b", "about b")
	now = now.Add(warnEvery)
	w.warn("a", "about a")
	if got := logs.lines("about a"); len(got) != 2 || !strings.Contains(got[1], "suppressed=4") {
		t.Errorf("key a: %q", got)
	}
	if got := logs.lines("about b"); len(got) != 1 {
		t.Errorf("key b: %q", got)
	}
	// The burst bounds distinct keys too.
	now = now.Add(warnEvery)
	for i := range 3 * warnBurst {
		w.warn(fmt.Sprint("k", i), "flood")
	}
	if got := logs.lines("flood"); len(got) != warnBurst {
		t.Errorf("%d flood lines, want %d", len(got), warnBurst)
	}
}
