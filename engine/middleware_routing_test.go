package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
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
	r := newRunner(t, map[string]string{
		"ps":    serverJSON(t, "normal", `"childModel": "per-session"`),
		"sh":    serverJSON(t, "normal", ""),
		"other": serverJSON(t, "normal", ""),
	}, &engine.Options{Middleware: []engine.Middleware{reroute}})
	g := engine.NewGateway(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(ctx(t)); err != nil {
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
	r := newRunner(t, map[string]string{"a": serverJSON(t, "normal", "")}, &engine.Options{Middleware: []engine.Middleware{deny}})
	g := engine.NewGateway(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(ctx(t)); err != nil {
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
	r := newRunner(t, map[string]string{"a": serverJSON(t, "normal", "")}, &engine.Options{Middleware: []engine.Middleware{broken}})
	g := engine.NewGateway(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	e := openPeer(t, g, "a", engine.Identity{}).fail("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "x"}})
	if e.Message != "hook policy.js: toolCall failed: TypeError: x is undefined" {
		t.Errorf("wire error %q", e.Message)
	}
}
