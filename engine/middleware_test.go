package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// recorder is middleware that notes the requests and results passing it.
type recorder struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (r recorder) mw(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		r.mu.Lock()
		*r.log = append(*r.log, r.name+">"+req.Method)
		r.mu.Unlock()
		res, err := next(ctx, req)
		r.mu.Lock()
		*r.log = append(*r.log, "<"+r.name)
		r.mu.Unlock()
		return res, err
	}
}

func TestMiddlewareChainOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	rec := func(name string) engine.Middleware { return recorder{name, &mu, &log}.mw }
	r, c := startOne(t, "normal", "", &engine.Options{Middleware: []engine.Middleware{rec("a"), nil, rec("b")}})
	// The handshake and the engine's own housekeeping do not pass the chain.
	mu.Lock()
	if len(log) != 0 {
		t.Errorf("before any request the chain saw %v", log)
	}
	mu.Unlock()

	if got := call(t, c, "echo", map[string]any{"text": "hi"}); got != "hi" {
		t.Fatalf("echo = %q", got)
	}
	r.Use(rec("c"))
	if err := c.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"a>tools/call", "b>tools/call", "<b", "<a", "a>ping", "b>ping", "c>ping", "<c", "<b", "<a"}
	if !slices.Equal(log, want) {
		t.Errorf("chain order\n got %v\nwant %v", log, want)
	}
}

func TestMiddlewareRequest(t *testing.T) {
	type seen struct {
		server, method, name string
		caller               engine.Identity
	}
	var mu sync.Mutex
	var got []seen
	mw := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			mu.Lock()
			got = append(got, seen{req.Server, req.Method, req.Name(), req.Caller})
			mu.Unlock()
			switch req.Name() {
			case "whoami": // route to the other server's env tool
				r := *req
				r.Server = "b"
				r.Params = json.RawMessage(`{"name":"env","arguments":{"name":"WHO"}}`)
				return next(ctx, &r)
			case "answered":
				return json.RawMessage(`{"content":[{"type":"text","text":"from the middleware"}]}`), nil
			case "forbidden":
				return nil, &engine.DeniedError{By: "test", Server: req.Server, Method: req.Method, Name: req.Name(), Reason: "not for you"}
			case "test://static":
				return nil, &engine.HookError{Hook: "policy.js", Phase: "request", Err: context.DeadlineExceeded}
			}
			return next(ctx, req)
		}
	}
	servers := map[string]string{}
	for _, n := range []string{"a", "b"} {
		servers[n] = "{" + testserver.ConfigJSON("normal", map[string]string{"WHO": n}) + "}"
	}
	r := newRunner(t, servers, &engine.Options{Middleware: []engine.Middleware{mw}})
	if err := r.StartAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	a, err := r.Client("a")
	if err != nil {
		t.Fatal(err)
	}
	if got := call(t, a, "whoami", nil); got != "b" {
		t.Errorf("routed call = %q, want b", got)
	}
	if got := call(t, a, "answered", nil); got != "from the middleware" {
		t.Errorf("answered call = %q", got)
	}
	alice := engine.WithIdentity(ctx(t), engine.Identity{Token: "alice", Session: "s1", Transport: "sse"})
	_, err = a.CallTool(alice, "forbidden", nil)
	var de *engine.DeniedError
	if !errors.As(err, &de) || !errors.Is(err, engine.ErrDenied) ||
		err.Error() != `denied: tools/call "forbidden" on server "a" by test: not for you` {
		t.Errorf("denied call: %v", err)
	}
	_, err = a.ReadResource(ctx(t), "test://static")
	var he *engine.HookError
	if !errors.As(err, &he) || !errors.Is(err, engine.ErrHook) || !errors.Is(err, context.DeadlineExceeded) ||
		err.Error() != "hook policy.js: request failed: context deadline exceeded" {
		t.Errorf("hook error: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []seen{
		{"a", "tools/call", "whoami", engine.Identity{Transport: "go"}},
		{"a", "tools/call", "answered", engine.Identity{Transport: "go"}},
		{"a", "tools/call", "forbidden", engine.Identity{Token: "alice", Session: "s1", Transport: "sse"}},
		{"a", "resources/read", "test://static", engine.Identity{Transport: "go"}},
	}
	if len(got) != len(want) {
		t.Fatalf("middleware saw %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].server != want[i].server || got[i].method != want[i].method || got[i].name != want[i].name ||
			got[i].caller.Token != want[i].caller.Token || got[i].caller.Session != want[i].caller.Session || got[i].caller.Transport != want[i].caller.Transport {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMiddlewareErrors(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&engine.DeniedError{Server: "a", Method: "tools/list"}, `denied: tools/list on server "a"`},
		{&engine.DeniedError{By: "p.js", Server: "a", Method: "resources/read", Name: "file:///x", Reason: "private"}, `denied: resources/read "file:///x" on server "a" by p.js: private`},
		{&engine.HookError{Hook: "p.js", Phase: "toolCall", Err: errors.New("TypeError: x")}, "hook p.js: toolCall failed: TypeError: x"},
	}
	for _, tc := range cases {
		if tc.err.Error() != tc.want {
			t.Errorf("%#v: %q, want %q", tc.err, tc.err.Error(), tc.want)
		}
		wrapped := fmt.Errorf("calling: %w", tc.err)
		_, denied := tc.err.(*engine.DeniedError)
		if errors.Is(wrapped, engine.ErrDenied) != denied || errors.Is(wrapped, engine.ErrHook) == denied {
			t.Errorf("%v: Is(ErrDenied) %v, Is(ErrHook) %v", tc.err, errors.Is(wrapped, engine.ErrDenied), errors.Is(wrapped, engine.ErrHook))
		}
	}
	if id := engine.IdentityFrom(context.Background()); id.Transport != "go" || id.Token != "" {
		t.Errorf("default identity %+v", id)
	}
	for _, tc := range []struct{ params, want string }{
		{`{"name":"echo","arguments":{}}`, "echo"},
		{`{"uri":"test://x"}`, "test://x"},
		{`{}`, ""},
		{``, ""},
		{`[1]`, ""},
	} {
		r := &engine.Request{Params: json.RawMessage(tc.params)}
		if got := r.Name(); got != tc.want {
			t.Errorf("Name(%s) = %q, want %q", tc.params, got, tc.want)
		}
	}
}
