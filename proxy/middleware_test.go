package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

// policy is a Go middleware as a user would write one: token "ci" may not
// call "pid" and does not see it listed; every caller it saw is recorded.
type policy struct {
	mu   sync.Mutex
	seen []engine.Identity
}

func (p *policy) middleware(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		p.mu.Lock()
		p.seen = append(p.seen, req.Caller)
		p.mu.Unlock()
		switch req.Method {
		case "tools/call":
			if req.Caller.Token == "ci" && req.Name() == "pid" {
				return nil, &engine.DeniedError{By: "policy", Server: req.Server, Method: req.Method, Name: "pid", Reason: "ci may not see pids"}
			}
		case "tools/list":
			res, err := next(ctx, req)
			if err != nil || req.Caller.Token != "ci" {
				return res, err
			}
			var page struct {
				Tools []map[string]any `json:"tools"`
			}
			if err := json.Unmarshal(res, &page); err != nil {
				return nil, err
			}
			kept := page.Tools[:0]
			for _, t := range page.Tools {
				if t["name"] != "pid" {
					kept = append(kept, t)
				}
			}
			page.Tools = kept
			return json.Marshal(page)
		}
		return next(ctx, req)
	}
}

func (p *policy) transports(token string) map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for _, id := range p.seen {
		if id.Token == token {
			out[id.Transport] = true
		}
	}
	return out
}

// TestMiddlewareEveryTransport shows that middleware sees every request of
// every proxy transport, with the caller's token and transport, and that a
// denial and a filtered list reach each kind of client.
func TestMiddlewareEveryTransport(t *testing.T) {
	cfg := proxyConfig(t, "")
	p := &policy{}
	logger := quietLogger(t)
	r, err := engine.New(cfg, &engine.Options{Logger: logger, Middleware: []engine.Middleware{p.middleware}})
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
		_ = s.Shutdown(ctx)
		_ = r.StopAll(ctx)
	})
	e := &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}

	// Streamable HTTP, aggregate view: names are namespaced, the hook saw the server's own.
	sid := e.initialize("/mcp", tokB)
	list, _ := json.Marshal(e.rpc("/mcp", tokB, sid, "tools/list", `{}`)["result"])
	if !strings.Contains(string(list), `"b__echo"`) || strings.Contains(string(list), `"b__pid"`) {
		t.Errorf("aggregate tools/list for ci: has b__echo %v, has b__pid %v", strings.Contains(string(list), `"b__echo"`), strings.Contains(string(list), `"b__pid"`))
	}
	res := e.rpc("/mcp", tokB, sid, "tools/call", `{"name": "b__pid", "arguments": {}}`)
	errObj, _ := res["error"].(map[string]any)
	if errObj == nil || errObj["code"] != float64(engine.CodeDenied) || !strings.Contains(fmt.Sprint(errObj["message"]), "ci may not see pids") {
		t.Errorf("denied call over Streamable HTTP: %v", res)
	}
	// The default token is not limited by the policy.
	sidAll := e.initialize("/mcp", tokAll)
	if res := e.rpc("/mcp", tokAll, sidAll, "tools/call", `{"name": "a__pid", "arguments": {}}`); res["error"] != nil {
		t.Errorf("default token's call: %v", res)
	}

	// Streamable HTTP, one server's view, through the go-sdk client.
	gc := connect(t, e.base+"/servers/b/mcp", tokB)
	tools, err := gc.cs.ListTools(testCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if tool.Name == "pid" {
			t.Errorf("server view lists pid to ci")
		}
	}
	_, err = gc.cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: "pid"})
	if err == nil || !strings.Contains(err.Error(), "ci may not see pids") {
		t.Errorf("denied call on the server view: %v", err)
	}

	// Legacy SSE through the go-sdk client.
	sse := connect(t, e.base+"/servers/b/sse", tokB)
	if _, err := sse.cs.CallTool(testCtx(t), &mcp.CallToolParams{Name: "pid"}); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("denied call over legacy SSE: %v", err)
	}
	if got := sse.call(t, "echo", map[string]any{"text": "through"}, nil); got != "through" {
		t.Errorf("allowed call over legacy SSE: %q", got)
	}

	// The reference's /sse + /sse/messages with {server, tool, arguments}.
	stream := readSSE(t, request(t, "GET", e.base+"/sse", tokB, map[string]string{"Accept": "text/event-stream"}, ""))
	stream.nextNamed(t, "endpoint")
	expectStatus(t, post(t, e.base+"/sse/messages", tokB, nil,
		`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"server":"b","tool":"pid","arguments":{}}}`), 202)
	if msg := stream.nextNamed(t, "message"); !strings.Contains(msg.data, `"id":9`) || !strings.Contains(msg.data, "ci may not see pids") {
		t.Errorf("reference flow: %s", msg.data)
	}

	want := []string{transportStreamable, transportSSE, transportReferenceSSE}
	got := p.transports("ci")
	for _, tr := range want {
		if !got[tr] {
			t.Errorf("the middleware never saw token ci over %s (saw %v)", tr, got)
		}
	}

	// The Go API passes the same chain, as transport "go".
	c, err := r.Client("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CallTool(engine.WithIdentity(testCtx(t), engine.Identity{Token: "ci", Transport: "go"}), "pid", nil); !errors.Is(err, engine.ErrDenied) {
		t.Errorf("Go API call as ci: %v", err)
	}
	if !p.transports("ci")["go"] {
		t.Errorf("the middleware did not see the Go API call")
	}
}
