package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
)

// startObserved starts the proxy of cfg with an audit trail, hook
// statistics and, when tp is set, tracing.
func startObserved(t testing.TB, cfg *config.Config, tp trace.TracerProvider, stats func() []engine.MiddlewareStats) (*proxyEnv, *audit.Trail) {
	t.Helper()
	logger := quietLogger(t)
	trail := audit.New(nil, audit.Options{Logger: logger})
	r, err := engine.New(cfg, &engine.Options{Logger: logger, Observers: []engine.Middleware{trail.Observer()}, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartAllWithProxy(ctx, r, &Options{Logger: logger, Audit: trail, HookStats: stats, TracerProvider: tp})
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
		trail.Close()
	})
	return &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}, trail
}

func TestConsolePage(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(e.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Errorf("GET /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, tc := range []struct {
		path, ctype, contains string
		status                int
	}{
		{"/console/", "text/html; charset=utf-8", "<script type=\"module\"", 200},
		{"/console/app.js", "text/javascript; charset=utf-8", "import", 200},
		{"/console/style.css", "text/css; charset=utf-8", "body", 200},
		{"/console/nope.js", "", "", 404},
		{"/console/../go.mod", "", "", 404},
		{"/console/.hidden", "", "", 404},
	} {
		resp, body := e.do("GET", tc.path, "", nil, "") // no token: the page asks for it
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d: %.200s", tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tc.ctype || !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: %s, %.100s", tc.path, ct, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
	// The API needs the token like every route.
	if resp, _ := e.do("GET", "/api/hooks", "", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/hooks without a token: %d", resp.StatusCode)
	}
	// A foreign Host is refused on the page too (DNS rebinding).
	if resp, _ := e.do("GET", "/console/", "", map[string]string{"Host": "evil.example"}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /console/ with a foreign Host: %d", resp.StatusCode)
	}

	off := startProxy(t, proxyConfig(t, `"console": false`))
	for _, p := range []string{"/", "/console/", "/api/events", "/api/hooks"} {
		if resp, _ := off.do("GET", p, tokAll, nil, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("console off: GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := off.do("GET", "/api/servers", tokAll, nil, ""); resp.StatusCode != 200 {
		t.Errorf("console off: GET /api/servers: %d", resp.StatusCode)
	}
}

// apiStream opens an API event stream.
func (e *proxyEnv) apiStream(path, token string) *sseStream {
	e.t.Helper()
	return readSSE(e.t, request(e.t, "GET", e.base+path, token, nil, ""))
}

func TestAPIServerControl(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))
	ci := e.apiStream("/api/events", tokB)
	ev := ci.nextNamed(t, "servers")
	var snap struct {
		Servers []apiServer `json:"servers"`
	}
	if err := json.Unmarshal([]byte(ev.data), &snap); err != nil || len(snap.Servers) != 1 || snap.Servers[0].Name != "b" || snap.Servers[0].State != "running" {
		t.Fatalf("ci's snapshot: %v %s", err, ev.data)
	}
	all := e.apiStream("/api/events", tokAll)
	if ev := all.nextNamed(t, "servers"); !strings.Contains(ev.data, `"name":"a"`) || !strings.Contains(ev.data, `"name":"b"`) || strings.Contains(ev.data, `"name":"c"`) {
		t.Errorf("default's snapshot (c is not allowed): %s", ev.data)
	}

	control := func(token, server, action string, status int) apiServer {
		t.Helper()
		resp, body := e.do("POST", "/api/servers/"+server+"/"+action, token, nil, "")
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d, want %d: %s", action, server, resp.StatusCode, status, body)
		}
		var out struct {
			Server apiServer `json:"server"`
		}
		_ = json.Unmarshal([]byte(body), &out)
		return out.Server
	}
	control(tokB, "a", "stop", http.StatusNotFound) // not ci's server
	control(tokAll, "c", "stop", http.StatusNotFound)
	control(tokAll, "zz", "stop", http.StatusNotFound)
	control(tokAll, "b", "explode", http.StatusNotFound)
	if resp, _ := e.do("POST", "/api/servers/b/stop", "", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stop without a token: %d", resp.StatusCode)
	}

	before, _ := e.r.Status("b")
	if st := control(tokB, "b", "stop", 200); st.State != "stopped" {
		t.Errorf("after stop: %+v", st)
	}
	control(tokB, "b", "stop", http.StatusConflict)
	var states []string
	for len(states) == 0 || states[len(states)-1] != "stopped" {
		var st apiServer
		if err := json.Unmarshal([]byte(ci.nextNamed(t, "status").data), &st); err != nil || st.Name != "b" {
			t.Fatalf("status event: %v %+v", err, st)
		}
		states = append(states, st.State)
	}
	if st := control(tokB, "b", "start", 200); st.State != "running" || st.PID == 0 || st.PID == before.PID {
		t.Errorf("after start: %+v (pid before %d)", st, before.PID)
	}
	control(tokB, "b", "start", http.StatusConflict)
	started, _ := e.r.Status("b")
	if st := control(tokB, "b", "restart", 200); st.State != "running" || st.PID == started.PID {
		t.Errorf("after restart: %+v (pid before %d)", st, started.PID)
	}
	if ev := ci.nextNamed(t, "status"); !strings.Contains(ev.data, `"name":"b"`) {
		t.Errorf("status event %s", ev.data)
	}
	// The stream of ci never shows a.
	control(tokAll, "a", "restart", 200)
	if ev := all.nextNamed(t, "status"); !strings.Contains(ev.data, `"name":`) {
		t.Errorf("default's status event %s", ev.data)
	}
	for {
		select {
		case ev := <-ci.events:
			if strings.Contains(ev.data, `"name":"a"`) {
				t.Fatalf("ci saw server a: %s", ev.data)
			}
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
}

func TestAPIAuditStream(t *testing.T) {
	e, _ := startObserved(t, proxyConfig(t, ""), nil, nil)
	for _, server := range []string{"a", "b"} {
		sid := e.initialize("/servers/"+server+"/mcp", tokAll)
		e.rpc("/servers/"+server+"/mcp", tokAll, sid, "tools/call", `{"name":"echo","arguments":{"text":"to `+server+`"}}`)
	}
	ci := e.apiStream("/api/audit/stream", tokB)
	rec := ci.nextNamed(t, "record")
	var r map[string]any
	if err := json.Unmarshal([]byte(rec.data), &r); err != nil {
		t.Fatal(err)
	}
	caller, _ := r["caller"].(map[string]any)
	if r["server"] != "b" || r["tool"] != "echo" || r["outcome"] != "ok" || caller["transport"] != "streamable-http" || caller["token"] != "default" {
		t.Errorf("ci's first record %s", rec.data)
	}
	// Live records, filtered.
	filtered := e.apiStream("/api/audit/stream?tool=big&outcome=isError", tokAll)
	sid := e.initialize("/mcp", tokAll)
	e.rpc("/mcp", tokAll, sid, "tools/call", `{"name":"a__echo","arguments":{"text":"x"}}`)
	e.rpc("/mcp", tokAll, sid, "tools/call", `{"name":"a__big","arguments":{"bytes":-1}}`)
	got := filtered.nextNamed(t, "record")
	if !strings.Contains(got.data, `"tool":"big"`) || !strings.Contains(got.data, `"outcome":"isError"`) {
		t.Errorf("filtered record %s", got.data)
	}
	select {
	case ev := <-ci.events:
		if ev.name == "record" && !strings.Contains(ev.data, `"server":"b"`) {
			t.Errorf("ci saw %s", ev.data)
		}
	case <-time.After(200 * time.Millisecond):
	}

	plain := startProxy(t, proxyConfig(t, ""))
	if resp, body := plain.do("GET", "/api/audit/stream", tokAll, nil, ""); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no audit trail") {
		t.Errorf("no trail: %d %s", resp.StatusCode, body)
	}
}

func TestAPIHooks(t *testing.T) {
	m := engine.NewMeter("policy.js", "hook")
	stats := func() []engine.MiddlewareStats { return []engine.MiddlewareStats{m.Stats()} }
	e, _ := startObserved(t, proxyConfig(t, ""), nil, stats)
	resp, body := e.do("GET", "/api/hooks", tokAll, nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"policy.js"`) || !strings.Contains(body, `"measured":true`) || !strings.Contains(body, `"p50Ms":0`) {
		t.Errorf("GET /api/hooks: %d %s", resp.StatusCode, body)
	}
	plain := startProxy(t, proxyConfig(t, ""))
	if _, body := plain.do("GET", "/api/hooks", tokAll, nil, ""); body != `{"hooks":[],"measured":false}` {
		t.Errorf("without statistics: %s", body)
	}
}

func TestHTTPRequestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	e, trail := startObserved(t, proxyConfig(t, ""), tp, nil)

	// Legacy SSE: the POST's traceparent header is the parent of the
	// HTTP span, whose child is the gateway's request.
	stream := readSSE(t, request(t, "GET", e.base+"/servers/b/sse", tokAll, nil, ""))
	endpoint := stream.nextNamed(t, "endpoint").data
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	hdr := map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01"}
	expectStatus(t, post(t, e.base+endpoint, tokAll, nil, initBody), http.StatusAccepted)
	stream.nextNamed(t, "message")
	expectStatus(t, post(t, e.base+endpoint, tokAll, hdr, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`), http.StatusAccepted)
	if msg := stream.nextNamed(t, "message"); !strings.Contains(msg.data, `"hi"`) {
		t.Fatalf("answer %s", msg.data)
	}

	var httpSpan, reqSpan, clientSpan sdktrace.ReadOnlySpan
	waitFor(t, "the spans", func() bool {
		httpSpan, reqSpan, clientSpan = nil, nil, nil
		for _, s := range rec.Ended() {
			switch {
			case s.Name() == "POST /servers/:name/messages" && s.Parent().TraceID().String() == traceID:
				httpSpan = s
			case s.Name() == "tools/call echo" && s.SpanKind() == trace.SpanKindServer:
				reqSpan = s
			case s.Name() == "tools/call echo" && s.SpanKind() == trace.SpanKindClient:
				clientSpan = s
			}
		}
		return httpSpan != nil && reqSpan != nil && clientSpan != nil
	})
	if httpSpan.Parent().SpanID().String() != parentID || !httpSpan.Parent().IsRemote() {
		t.Errorf("HTTP span parent %v", httpSpan.Parent())
	}
	if reqSpan.Parent().SpanID() != httpSpan.SpanContext().SpanID() || reqSpan.SpanContext().TraceID().String() != traceID {
		t.Errorf("the request span is not the HTTP span's child: parent %v", reqSpan.Parent())
	}
	if clientSpan.Parent().SpanID() != reqSpan.SpanContext().SpanID() {
		t.Errorf("the client span is not the request span's child")
	}
	a := map[string]string{}
	for _, kv := range httpSpan.Attributes() {
		a[string(kv.Key)] = kv.Value.String()
	}
	if a["http.request.method"] != "POST" || a["http.route"] != "/servers/:name/messages" || a["mcpscript.server"] != "b" || a["http.response.status_code"] != "202" {
		t.Errorf("HTTP span attributes %v", a)
	}
	// A 2026-07-28 request (served statelessly, its call running past the
	// request when it waits for input): the gateway's request is still the
	// HTTP span's child, in the caller's trace.
	const modernTrace = "5bf92f3577b34da6a3ce929d0e0e4737"
	mhdr := map[string]string{"traceparent": "00-" + modernTrace + "-" + parentID + "-01", "Accept": "application/json, text/event-stream",
		"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
	body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"modern"},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	if out := expectStatus(t, post(t, e.base+"/servers/b/mcp", tokAll, mhdr, body), http.StatusOK); !strings.Contains(out, `"modern"`) {
		t.Fatalf("modern answer %s", out)
	}
	var mHTTP, mReq sdktrace.ReadOnlySpan
	waitFor(t, "the modern request's spans", func() bool {
		mHTTP, mReq = nil, nil
		for _, s := range rec.Ended() {
			switch {
			case s.Name() == "POST /servers/:name/mcp" && s.SpanContext().TraceID().String() == modernTrace:
				mHTTP = s
			case s.Name() == "tools/call echo" && s.SpanKind() == trace.SpanKindServer && s.SpanContext().TraceID().String() == modernTrace:
				mReq = s
			}
		}
		return mHTTP != nil && mReq != nil
	})
	if mReq.Parent().SpanID() != mHTTP.SpanContext().SpanID() {
		t.Errorf("the modern request span is not the HTTP span's child: parent %v", mReq.Parent())
	}

	// The audit record carries the trace id.
	waitFor(t, "an audit record with the trace id", func() bool {
		backlog, sub := trail.Subscribe(1)
		sub.Close()
		for _, r := range backlog {
			if r.Tool == "echo" && r.TraceID == traceID && r.SpanID == reqSpan.SpanContext().SpanID().String() {
				return true
			}
		}
		return false
	})
}
