package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// reroute sends a tools/call of echo with text "route:X" to server X's pid
// tool, as a routing hook would.
func reroute(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		var p struct {
			Arguments struct{ Text string } `json:"arguments"`
		}
		_ = json.Unmarshal(req.Params, &p)
		if target, ok := strings.CutPrefix(p.Arguments.Text, "route:"); ok && req.Method == "tools/call" {
			r := *req
			r.Server, r.Params = target, json.RawMessage(`{"name":"pid"}`)
			return next(ctx, &r)
		}
		return next(ctx, req)
	}
}

// TestMiddlewareRoutingThroughGateway: a request a hook routes elsewhere
// goes only to servers the caller may use, and to a per-session server's
// child of the caller's own session, from the aggregate and from a view.
func TestMiddlewareRoutingThroughGateway(t *testing.T) {
	r := testenv.NewRunner(t, map[string]string{
		"ps":    testenv.ServerJSON(t, "normal", `"childModel": "per-session"`),
		"sh":    testenv.ServerJSON(t, "normal", ""),
		"other": testenv.ServerJSON(t, "normal", ""),
	}, &engine.Options{Middleware: []engine.Middleware{reroute}})
	g := gateway.New(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	id := engine.Identity{Token: "lim", Transport: "go", Servers: []string{"ps", "sh"}}

	agg := openPeer(t, g, "", id)
	own := pidOf(t, agg, "ps__pid")
	if got := agg.call("sh__echo", map[string]any{"text": "route:ps"}); got != itoa(own) {
		t.Errorf("routed to ps from the aggregate: pid %s, want the session's own child %d", got, own)
	}
	e := agg.fail("tools/call", map[string]any{"name": "sh__echo", "arguments": map[string]any{"text": "route:other"}})
	if !strings.Contains(e.Message, `server "other" is not available`) {
		t.Errorf("routing beyond the token's servers: %+v", e)
	}
	e = agg.fail("tools/call", map[string]any{"name": "sh__echo", "arguments": map[string]any{"text": "route:nope"}})
	if !strings.Contains(e.Message, `server "nope" is not available`) || strings.Contains(e.Message, "other") {
		t.Errorf("routing to an unknown server: %+v", e)
	}

	view := openPeer(t, g, "sh", id)
	first := view.call("echo", map[string]any{"text": "route:ps"})
	if first == "" || first == itoa(own) {
		t.Errorf("routed to ps from the sh view: pid %q (the aggregate session's child is %d)", first, own)
	}
	if again := view.call("echo", map[string]any{"text": "route:ps"}); again != first {
		t.Errorf("the view session's ps child changed: %s then %s", first, again)
	}
	if got := view.call("echo", map[string]any{"text": "plain"}); got != "plain" {
		t.Errorf("unrouted call: %q", got)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestMiddlewareDecidesSubscriptions: a session's resources/subscribe asks
// the middleware, which may refuse it, in the aggregate and in a view.
func TestMiddlewareDecidesSubscriptions(t *testing.T) {
	deny := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			if req.Method == "resources/subscribe" && req.Caller.Token == "guest" {
				return nil, &engine.DeniedError{By: "test", Server: req.Server, Method: req.Method, Name: req.Name(), Reason: "guests do not subscribe"}
			}
			return next(ctx, req)
		}
	}
	r := testenv.NewRunner(t, map[string]string{"a": testenv.ServerJSON(t, "normal", "")}, &engine.Options{Middleware: []engine.Middleware{deny}})
	g := gateway.New(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, view := range []string{"", "a"} {
		guest := openPeer(t, g, view, engine.Identity{Token: "guest"})
		if e := guest.fail("resources/subscribe", map[string]any{"uri": "test://static"}); e.Code != engine.CodeDenied || !strings.Contains(e.Message, "guests do not subscribe") {
			t.Errorf("view %q: guest's subscribe: %+v", view, e)
		}
		member := openPeer(t, g, view, engine.Identity{Token: "member"})
		member.result("resources/subscribe", map[string]any{"uri": "test://static"})
		member.result("resources/unsubscribe", map[string]any{"uri": "test://static"})
	}
}

// TestHookErrorOnTheWire: a remote caller gets the hook's failure in one
// line, without the script's stack.
func TestHookErrorOnTheWire(t *testing.T) {
	broken := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			if req.Method == "tools/call" {
				return nil, &engine.HookError{Hook: "policy.js", Phase: "toolCall", Err: errors.New("TypeError: x is undefined\n\tat toolCall (policy.js:3:5(12))")}
			}
			return next(ctx, req)
		}
	}
	r := testenv.NewRunner(t, map[string]string{"a": testenv.ServerJSON(t, "normal", "")}, &engine.Options{Middleware: []engine.Middleware{broken}})
	g := gateway.New(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	e := openPeer(t, g, "a", engine.Identity{}).fail("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "x"}})
	if e.Message != "hook policy.js: toolCall failed: TypeError: x is undefined" {
		t.Errorf("wire error %q", e.Message)
	}
}

// TestMiddlewareThroughGateway checks the proxy's side: the session's
// identity reaches the chain, aggregate lists pass it per server under the
// servers' own names, a tool renamed in the list reaches it under its new
// name, and a denial becomes JSON-RPC error CodeDenied.
func TestMiddlewareThroughGateway(t *testing.T) {
	var mu sync.Mutex
	callers := map[string]bool{}
	mw := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			mu.Lock()
			callers[req.Caller.Token+"/"+req.Caller.Transport] = true
			mu.Unlock()
			switch req.Method {
			case "tools/list":
				res, err := next(ctx, req)
				if err != nil || req.Caller.Token != "ci" {
					return res, err
				}
				var page map[string]json.RawMessage
				var tools []map[string]any
				if err := json.Unmarshal(res, &page); err != nil {
					return nil, err
				}
				if err := json.Unmarshal(page["tools"], &tools); err != nil {
					return nil, err
				}
				var kept []map[string]any
				for _, tl := range tools {
					switch tl["name"] {
					case "echo":
						tl["name"] = "say"
						kept = append(kept, tl)
					case "pid":
						kept = append(kept, tl)
					}
				}
				page["tools"], _ = json.Marshal(kept)
				return json.Marshal(page)
			case "tools/call":
				if req.Caller.Token != "ci" {
					return next(ctx, req)
				}
				switch req.Name() {
				case "say":
					r := *req
					var p map[string]any
					_ = json.Unmarshal(req.Params, &p)
					p["name"] = "echo"
					r.Params, _ = json.Marshal(p)
					return next(ctx, &r)
				case "pid":
					return next(ctx, req)
				}
				return nil, &engine.DeniedError{By: "allow-list", Server: req.Server, Method: req.Method, Name: req.Name(), Reason: "not on ci's list"}
			}
			return next(ctx, req)
		}
	}
	r := testenv.NewRunner(t, map[string]string{"a": testenv.ServerJSON(t, "normal", ""), "b": testenv.ServerJSON(t, "normal", "")}, &engine.Options{Middleware: []engine.Middleware{mw}})
	g := gateway.New(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	ci := openPeer(t, g, "", engine.Identity{Token: "ci", Transport: "streamable-http"})
	ci.initialize(engine.LatestProtocolVersion, nil)
	var list struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(ci.result("tools/list", nil), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if want := []string{"a__pid", "a__say", "b__pid", "b__say"}; !slices.Equal(names, want) {
		t.Errorf("ci's tools %v, want %v", names, want)
	}
	if got := ci.call("b__say", map[string]any{"text": "renamed"}); got != "renamed" {
		t.Errorf("b__say = %q", got)
	}
	e := ci.fail("tools/call", map[string]any{"name": "a__env", "arguments": map[string]any{"name": "X"}})
	if e.Code != engine.CodeDenied || !strings.Contains(e.Message, "not on ci's list") || !strings.Contains(string(e.Data), `"by":"allow-list"`) {
		t.Errorf("denied call: %+v", e)
	}

	admin := openPeer(t, g, "a", engine.Identity{Token: "admin", Transport: "sse"})
	admin.initialize(engine.LatestProtocolVersion, nil)
	if got := admin.call("echo", map[string]any{"text": "hi"}); got != "hi" {
		t.Errorf("admin echo = %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"ci/streamable-http", "admin/sse"} {
		if !callers[want] {
			t.Errorf("the chain never saw caller %s (saw %v)", want, callers)
		}
	}
}
