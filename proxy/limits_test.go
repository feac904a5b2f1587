package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// rpcErr decodes the JSON-RPC error of a refusal body.
func rpcErr(t testing.TB, body string) (code int64, msg string, data map[string]any) {
	t.Helper()
	var r struct {
		Error struct {
			Code    int64
			Message string
			Data    map[string]any
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return r.Error.Code, r.Error.Message, r.Error.Data
}

// Sessions are counted over every transport and view: per caller (429) and
// in all (503), each refusal naming its limit and config key, with
// Retry-After; a closed session gives its place back.
func TestSessionLimits(t *testing.T) {
	e := startProxy(t, proxyConfig(t, `"sessions": {"maxPerCaller": 3, "maxTotal": 5}`))
	json := map[string]string{"Accept": "application/json"}
	open := func(path, token string) (*http.Response, string) {
		return e.do("POST", path, token, json, initBody)
	}
	// tokAll: two Streamable HTTP sessions (aggregate and a server's view)
	// and one legacy SSE stream.
	var sids []string
	for _, path := range []string{"/mcp", "/servers/a/mcp"} {
		resp, body := open(path, tokAll)
		if resp.StatusCode != 200 {
			t.Fatalf("open %s: %d %s", path, resp.StatusCode, body)
		}
		sids = append(sids, resp.Header.Get(headerSessionID))
	}
	stream, _ := e.do("GET", "/servers/b/sse", tokAll, nil, "")
	sse := readSSE(t, stream)
	sse.nextNamed(t, "endpoint")

	resp, body := open("/mcp", tokAll)
	code, msg, data := rpcErr(t, body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" || code != wire.CodeRateLimited ||
		!strings.Contains(msg, "sseProxy.sessions.maxPerCaller") || data["limit"] != "maxPerCaller" {
		t.Errorf("4th session of a caller: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, body := e.do("GET", "/sse", tokAll, nil, ""); resp.StatusCode != 429 {
		t.Errorf("4th session of a caller, legacy SSE: %d %s", resp.StatusCode, body)
	}

	// Another caller has its own count, within the total.
	for range 2 {
		if resp, body := open("/servers/b/mcp", tokB); resp.StatusCode != 200 {
			t.Fatalf("tokB: %d %s", resp.StatusCode, body)
		}
	}
	resp, body = open("/servers/b/mcp", tokB)
	code, msg, data = rpcErr(t, body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || code != wire.CodeRateLimited ||
		!strings.Contains(msg, "sseProxy.sessions.maxTotal") || data["configKey"] != "sseProxy.sessions.maxTotal" {
		t.Errorf("6th session in all: %d %s", resp.StatusCode, body)
	}

	// A closed session gives its place back: DELETE, and the end of an
	// SSE stream.
	if resp, body := e.do("DELETE", "/mcp", tokAll, map[string]string{headerSessionID: sids[0]}, ""); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if resp, body := open("/mcp", tokAll); resp.StatusCode != 200 {
		t.Errorf("after DELETE: %d %s", resp.StatusCode, body)
	}
	// A failed initialize takes no place (the limits are full now: it
	// would be refused anyway; free one first).
	if resp, body := e.do("DELETE", "/servers/a/mcp", tokAll, map[string]string{headerSessionID: sids[1]}, ""); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do("POST", "/mcp", tokAll, json, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":"bad"}`); resp.Header.Get(headerSessionID) != "" {
		t.Errorf("a failed initialize opened a session")
	}
	if total, mine := e.s.limits.open(callerKey(engine.Identity{Token: "default"})); total != 4 || mine != 2 {
		t.Errorf("open sessions: %d in all, %d of tokAll; want 4 and 2", total, mine)
	}
}

// The caller is the JWT subject when there is one, else the token's name.
func TestCallerKey(t *testing.T) {
	for _, tc := range []struct {
		id   engine.Identity
		want string
	}{
		{engine.Identity{}, "token:"},
		{engine.Identity{Token: "ci"}, "token:ci"},
		{engine.Identity{Token: "oauth", Subject: "alice"}, "sub:alice"},
		{engine.Identity{Token: "sub:x"}, "token:sub:x"},
	} {
		if got := callerKey(tc.id); got != tc.want {
			t.Errorf("callerKey(%+v) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

// A token limited to some servers learns nothing of the others: not in
// /metrics, /api/servers, /readyz, server-status events nor error messages.
func TestScopeOfALimitedToken(t *testing.T) {
	e := startProxy(t, proxyConfig(t, ""))
	// Traffic on every route kind, so that series of a and b exist.
	for _, path := range []string{"/servers/a/mcp", "/servers/b/mcp", "/mcp"} {
		e.initialize(path, tokAll)
	}
	e.do("POST", "/servers/c/mcp", tokAll, nil, initBody)

	_, all := e.do("GET", "/metrics", tokAll, nil, "")
	_, mine := e.do("GET", "/metrics", tokB, nil, "")
	for _, want := range []string{`server="a"`, `server="b"`, `server="*"`, "go_goroutines"} {
		if !strings.Contains(all, want) {
			t.Errorf("unlimited token's /metrics lacks %s", want)
		}
	}
	for _, leak := range []string{`server="c"`, `server="unknown"`} {
		if strings.Contains(all, leak) {
			t.Errorf("/metrics shows %s, a server outside allowedServers", leak)
		}
	}
	for _, want := range []string{`server="b"`, `server="*"`, "go_goroutines", "mcpscript_server_running"} {
		if !strings.Contains(mine, want) {
			t.Errorf("limited token's /metrics lacks %s", want)
		}
	}
	if strings.Contains(mine, `server="a"`) || strings.Contains(mine, `server="c"`) {
		t.Errorf("limited token's /metrics shows other servers:\n%s", grepLines(mine, `server="a"`, `server="c"`))
	}

	if _, body := e.do("GET", "/api/servers", tokB, nil, ""); strings.Contains(body, `"a"`) || !strings.Contains(body, `"name":"b"`) {
		t.Errorf("/api/servers for the limited token: %s", body)
	}

	// Errors of the aggregate name no server the token may not use.
	sid := e.initialize("/mcp", tokB)
	for _, params := range []string{
		`{"name":"a__echo","arguments":{"text":"x"}}`,
		`{"server":"a","tool":"echo","arguments":{}}`,
		`{"name":"nope","arguments":{}}`,
	} {
		res := e.rpc("/mcp", tokB, sid, "tools/call", params)
		msg := fmt.Sprint(res["error"])
		if res["error"] == nil || strings.Contains(msg, "did you mean \"a") || strings.Contains(msg, "servers: a") ||
			strings.Contains(msg, "a__") && !strings.Contains(params, "a__") {
			t.Errorf("tools/call %s: %s", params, msg)
		}
	}

	// server-status events: only of b.
	resp, _ := e.do("GET", "/sse?serverStatus=1", tokB, nil, "")
	st := readSSE(t, resp)
	st.nextNamed(t, "endpoint")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.r.StopServer(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// /readyz now: a is down; the limited token hears only the count.
	_, ready := e.do("GET", "/readyz", tokB, nil, "")
	if !strings.Contains(ready, `"notReady":[]`) || !strings.Contains(ready, `"notReadyTotal":1`) {
		t.Errorf("/readyz for the limited token: %s", ready)
	}
	if _, ready := e.do("GET", "/readyz", tokAll, nil, ""); !strings.Contains(ready, `"name":"a"`) {
		t.Errorf("/readyz for the unlimited token: %s", ready)
	}
	if err := e.r.StopServer(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	for {
		ev := st.nextNamed(t, "server-status")
		if strings.Contains(ev.data, `"server_name":"a"`) {
			t.Fatalf("the limited token heard of server a: %s", ev.data)
		}
		if strings.Contains(ev.data, `"server_name":"b"`) && strings.Contains(ev.data, `"stopped"`) {
			break
		}
	}
}

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// A stopping proxy refuses new sessions (503) and requests, lets the calls
// in flight finish within drainTimeout, and answers those still running
// with an error on their own stream (or as JSON), on both transports.
func TestGracefulStop(t *testing.T) {
	e := startProxy(t, proxyConfig(t, `"drainTimeout": "3s"`))
	sid := e.initialize("/mcp", tokAll)
	e.rpc("/mcp", tokAll, sid, "tools/list", "{}") // the lists are cached: calls start at once
	call := func(id int, tool, args string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
	}
	headers := func(accept string) map[string]string {
		return map[string]string{"Accept": accept, headerSessionID: sid}
	}
	type answer struct {
		name, body string
	}
	answers := make(chan answer, 4)
	var wg sync.WaitGroup
	// A call that finishes within the drain time, answered as JSON.
	wg.Go(func() {
		_, body := e.do("POST", "/mcp", tokAll, headers("application/json"), call(1, "a__slow", `{"steps":2,"delayMs":200}`))
		answers <- answer{"slow", body}
	})
	// Calls that never finish: one on an SSE stream, one as JSON.
	wg.Go(func() {
		resp, _ := e.do("POST", "/mcp", tokAll, headers("text/event-stream"), call(2, "a__hang", `{}`))
		st := readSSE(t, resp)
		var last string
		for {
			ev, ok := st.next(t)
			if !ok {
				break
			}
			if ev.name == "message" {
				last = ev.data
			}
		}
		answers <- answer{"hang-sse", last}
	})
	wg.Go(func() {
		_, body := e.do("POST", "/mcp", tokAll, headers("application/json"), call(3, "b__hang", `{}`))
		answers <- answer{"hang-json", body}
	})
	// A legacy SSE session with a hung call.
	resp, _ := e.do("GET", "/servers/a/sse", tokAll, nil, "")
	legacy := readSSE(t, resp)
	endpoint := legacy.nextNamed(t, "endpoint").data
	if r, body := e.do("POST", endpoint, tokAll, nil, call(4, "hang", `{}`)); r.StatusCode != 202 {
		t.Fatalf("legacy POST: %d %s", r.StatusCode, body)
	}
	waitFor(t, "4 calls in flight", func() bool { return e.s.calls.inFlight() == 4 })

	stopped := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- e.s.Shutdown(ctx)
	}()
	waitFor(t, "draining", func() bool {
		r, _ := e.do("POST", "/mcp", tokAll, map[string]string{"Accept": "application/json"}, initBody)
		return r.StatusCode == 503
	})
	// A new request in an open session is refused while draining.
	if _, body := e.do("POST", "/mcp", tokAll, headers("application/json"), `{"jsonrpc":"2.0","id":9,"method":"ping"}`); !strings.Contains(body, "takes no new requests") {
		t.Errorf("new request while draining: %s", body)
	}
	// A session the proxy no longer knows is not said to have expired (a
	// client would start a new one on a proxy that is going away): 503.
	gone := map[string]string{"Accept": "application/json", headerSessionID: "0123456789abcdef0123456789abcdef"}
	if r, body := e.do("POST", "/mcp", tokAll, gone, `{"jsonrpc":"2.0","id":10,"method":"ping"}`); r.StatusCode != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("an unknown session while draining: %d %s", r.StatusCode, body)
	}
	// The legacy session's answer comes on its stream.
	ev := legacy.nextNamed(t, "message")
	if !strings.Contains(ev.data, `"id":4`) || !strings.Contains(ev.data, "the proxy is shutting down") {
		t.Errorf("legacy hung call: %s", ev.data)
	}
	wg.Wait()
	close(answers)
	got := map[string]string{}
	for a := range answers {
		got[a.name] = a.body
	}
	if !strings.Contains(got["slow"], `"done"`) {
		t.Errorf("the call that finished in time: %s", got["slow"])
	}
	for _, name := range []string{"hang-sse", "hang-json"} {
		code, msg, _ := rpcErr(t, got[name])
		if code != wire.CodeInternalError || !strings.Contains(msg, "the proxy is shutting down") || !strings.Contains(msg, "sseProxy.drainTimeout") {
			t.Errorf("%s: %s", name, got[name])
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if d := time.Since(start); d < 3*time.Second || d > 10*time.Second {
		t.Errorf("Shutdown took %s, want the drain time (3s) and a little more", d)
	}
}

// setReadTimeout sets the proxy's read timeout for the servers New builds
// next, and returns the function that restores it.
func setReadTimeout(d time.Duration) func() {
	old := readTimeout
	readTimeout = d
	return func() { readTimeout = old }
}
