package scripting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
)

// fakeHook is a Hook written in Go: a function per phase.
type fakeHook struct {
	fns map[Phase]func(ctx context.Context, in *Input) (*Decision, error)

	mu   sync.Mutex
	seen []Input
}

func (f *fakeHook) Name() string     { return "fake.js" }
func (f *fakeHook) Has(p Phase) bool { return f.fns[p] != nil }
func (f *fakeHook) Call(ctx context.Context, in *Input) (*Decision, error) {
	f.mu.Lock()
	f.seen = append(f.seen, *in)
	f.mu.Unlock()
	return f.fns[in.Hook](ctx, in)
}

// decide returns a hook function that always returns d.
func decide(d *Decision) func(context.Context, *Input) (*Decision, error) {
	return func(context.Context, *Input) (*Decision, error) { return d, nil }
}

// fails returns a hook function that always fails with err.
func fails(err error) func(context.Context, *Input) (*Decision, error) {
	return func(context.Context, *Input) (*Decision, error) { return nil, err }
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

// The outcomes of a request through Middleware.
const (
	outResult    = iota // the request went on (or was answered): want is the result
	outDenied           // a *engine.DeniedError whose message contains want
	outHook             // a *engine.HookError whose message contains want
	outServerErr        // the server's own error, containing want
)

func TestMiddlewareDecisions(t *testing.T) {
	const callParams = `{"name":"echo","arguments":{"text":"hi"}}`
	const callResult = `{"content":[{"type":"text","text":"hi"}]}`
	const toolsPage = `{"tools":[{"name":"echo"},{"name":"rm"}],"nextCursor":"c2"}`
	type fn = func(context.Context, *Input) (*Decision, error)
	cases := []struct {
		name     string
		method   string
		params   string
		hooks    map[Phase]fn
		failOpen bool
		next     string // the server's answer
		nextErr  error

		out        int
		want       string
		wantNext   string // the params the server got; "" means it was not called
		wantServer string // the server it was sent to; default "a"
		wantLog    string // in the warning log (fail-open)
	}{
		{name: "continue", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(nil), PhaseToolResult: decide(&Decision{})},
			next:  callResult, want: callResult, wantNext: callParams},
		{name: "no phase implemented", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseListTools: decide(&Decision{Deny: raw(`"no"`)})},
			next:  callResult, want: callResult, wantNext: callParams},
		{name: "modified arguments", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Arguments: raw(`{"text":"HI"}`)})},
			next:  callResult, want: callResult, wantNext: `{"name":"echo","arguments":{"text":"HI"}}`},
		{name: "route to another tool", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Tool: "say"})},
			next:  callResult, want: callResult, wantNext: `{"name":"say","arguments":{"text":"hi"}}`},
		{name: "route to another server", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Server: "b", Tool: "echo"})},
			next:  callResult, want: callResult, wantNext: callParams, wantServer: "b"},
		{name: "deny with a reason", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Deny: raw(`"not today"`)})},
			out:   outDenied, want: `denied: tools/call "echo" on server "a" by fake.js: not today`},
		{name: "deny true", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Deny: raw(`true`)})},
			out:   outDenied, want: `denied: tools/call "echo" on server "a" by fake.js`},
		{name: "deny false", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Deny: raw(`false`)})},
			next:  callResult, want: callResult, wantNext: callParams},
		{name: "deny null", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Deny: raw(`null`)})},
			next:  callResult, want: callResult, wantNext: callParams},
		{name: "deny a number, fail-closed", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Deny: raw(`1`)})},
			out:   outHook, want: "hook fake.js: toolCall failed: deny must be a string (the reason) or true, not 1"},
		{name: "deny a number, fail-open", method: "tools/call", params: callParams, failOpen: true,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Deny: raw(`1`)})},
			next:  callResult, want: callResult, wantNext: callParams, wantLog: "deny must be a string"},
		{name: "answer without the server", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Result: raw(`{"content":[]}`)})},
			want:  `{"content":[]}`},
		{name: "answer not an object, fail-closed", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Result: raw(`"text"`)})},
			out:   outHook, want: `result must be an object, not "text"`},
		{name: "answer not an object, fail-open", method: "tools/call", params: callParams, failOpen: true,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Result: raw(`[1]`)})},
			next:  callResult, want: callResult, wantNext: callParams, wantLog: "result must be an object"},
		{name: "arguments not an object, fail-closed", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Arguments: raw(`[1]`)})},
			out:   outHook, want: "arguments must be an object, not [1]"},
		{name: "arguments not an object, fail-open", method: "tools/call", params: callParams, failOpen: true,
			hooks: map[Phase]fn{PhaseToolCall: decide(&Decision{Arguments: raw(`7`), Tool: "say"})},
			next:  callResult, want: callResult, wantNext: `{"name":"say","arguments":{"text":"hi"}}`, wantLog: "arguments must be an object"},
		{name: "toolResult replaces", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolResult: decide(&Decision{Result: raw(`{"content":[{"type":"text","text":"[REDACTED]"}]}`)})},
			next:  callResult, want: `{"content":[{"type":"text","text":"[REDACTED]"}]}`, wantNext: callParams},
		{name: "toolResult denies", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolResult: decide(&Decision{Deny: raw(`"leaks"`)})},
			next:  callResult, out: outDenied, want: `denied: tools/call "echo" on server "a" by fake.js: leaks`, wantNext: callParams},
		{name: "toolResult result not an object", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolResult: decide(&Decision{Result: raw(`true`)})},
			next:  callResult, out: outHook, want: "hook fake.js: toolResult failed: result must be an object, not true", wantNext: callParams},
		{name: "server error skips toolResult", method: "tools/call", params: callParams,
			hooks:   map[Phase]fn{PhaseToolResult: decide(&Decision{Deny: raw(`"x"`)})},
			nextErr: errors.New("server down"), out: outServerErr, want: "server down", wantNext: callParams},
		{name: "list filtered and renamed", method: "tools/list", params: `{}`,
			hooks: map[Phase]fn{PhaseListTools: decide(&Decision{Items: raw(`[{"name":"say"}]`)})},
			next:  toolsPage, want: `{"tools":[{"name":"say"}],"nextCursor":"c2"}`, wantNext: `{}`},
		{name: "list unchanged", method: "tools/list", params: `{}`,
			hooks: map[Phase]fn{PhaseListTools: decide(nil)},
			next:  toolsPage, want: toolsPage, wantNext: `{}`},
		{name: "list denied", method: "tools/list", params: `{}`,
			hooks: map[Phase]fn{PhaseListTools: decide(&Decision{Deny: raw(`"no lists"`)})},
			next:  toolsPage, out: outDenied, want: `denied: tools/list on server "a" by fake.js: no lists`, wantNext: `{}`},
		{name: "list items not an array, fail-closed", method: "tools/list", params: `{}`,
			hooks: map[Phase]fn{PhaseListTools: decide(&Decision{Items: raw(`{}`)})},
			next:  toolsPage, out: outHook, want: "items must be an array, not {}", wantNext: `{}`},
		{name: "list items not an array, fail-open", method: "tools/list", params: `{}`, failOpen: true,
			hooks: map[Phase]fn{PhaseListTools: decide(&Decision{Items: raw(`"x"`)})},
			next:  toolsPage, want: toolsPage, wantNext: `{}`, wantLog: "items must be an array"},
		{name: "prompts list through its own phase", method: "prompts/list", params: `{}`,
			hooks: map[Phase]fn{PhaseListTools: decide(&Decision{Items: raw(`[]`)}), PhaseListPrompts: decide(&Decision{Items: raw(`[{"name":"p"}]`)})},
			next:  `{"prompts":[{"name":"greet"}]}`, want: `{"prompts":[{"name":"p"}]}`, wantNext: `{}`},
		{name: "request denied, named by its uri", method: "resources/read", params: `{"uri":"test://secret"}`,
			hooks: map[Phase]fn{PhaseRequest: decide(&Decision{Deny: raw(`"private"`)})},
			out:   outDenied, want: `denied: resources/read "test://secret" on server "a" by fake.js: private`},
		{name: "request params rewritten and routed", method: "resources/read", params: `{"uri":"test://a"}`,
			hooks: map[Phase]fn{PhaseRequest: decide(&Decision{Params: raw(`{"uri":"test://b"}`), Server: "b"})},
			next:  `{"contents":[]}`, want: `{"contents":[]}`, wantNext: `{"uri":"test://b"}`, wantServer: "b"},
		{name: "request params not an object, fail-closed", method: "resources/read", params: `{"uri":"test://a"}`,
			hooks: map[Phase]fn{PhaseRequest: decide(&Decision{Params: raw(`"x"`)})},
			out:   outHook, want: `params must be an object, not "x"`},
		{name: "request answered", method: "prompts/get", params: `{"name":"greet"}`,
			hooks: map[Phase]fn{PhaseRequest: decide(&Decision{Result: raw(`{"messages":[]}`)})},
			want:  `{"messages":[]}`},
		{name: "response replaced", method: "resources/read", params: `{"uri":"test://a"}`,
			hooks: map[Phase]fn{PhaseResponse: decide(&Decision{Result: raw(`{"contents":[{"uri":"test://a","text":"x"}]}`)})},
			next:  `{"contents":[]}`, want: `{"contents":[{"uri":"test://a","text":"x"}]}`, wantNext: `{"uri":"test://a"}`},
		{name: "response denied", method: "resources/read", params: `{"uri":"test://a"}`,
			hooks: map[Phase]fn{PhaseResponse: decide(&Decision{Deny: raw(`true`)})},
			next:  `{"contents":[]}`, out: outDenied, want: `denied: resources/read "test://a" on server "a" by fake.js`, wantNext: `{"uri":"test://a"}`},
		{name: "hook fails, fail-closed", method: "tools/call", params: callParams,
			hooks: map[Phase]fn{PhaseToolCall: fails(errors.New("boom"))},
			out:   outHook, want: "hook fake.js: toolCall failed: boom"},
		{name: "hook fails, fail-open", method: "tools/call", params: callParams, failOpen: true,
			hooks: map[Phase]fn{PhaseToolCall: fails(errors.New("boom"))},
			next:  callResult, want: callResult, wantNext: callParams, wantLog: "boom"},
		{name: "list hook fails, fail-closed", method: "tools/list", params: `{}`,
			hooks: map[Phase]fn{PhaseListTools: fails(errors.New("boom"))},
			next:  toolsPage, out: outHook, want: "hook fake.js: listTools failed: boom", wantNext: `{}`},
		{name: "response hook fails, fail-open", method: "resources/read", params: `{"uri":"test://a"}`, failOpen: true,
			hooks: map[Phase]fn{PhaseResponse: fails(errors.New("boom"))},
			next:  `{"contents":[]}`, want: `{"contents":[]}`, wantNext: `{"uri":"test://a"}`, wantLog: "boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			h := &fakeHook{fns: tc.hooks}
			mw := Middleware(h, Options{FailOpen: tc.failOpen, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			var got *engine.Request
			next := func(_ context.Context, req *engine.Request) (json.RawMessage, error) {
				got = req
				return raw(tc.next), tc.nextErr
			}
			req := &engine.Request{Server: "a", Method: tc.method, Params: raw(tc.params), Caller: engine.Identity{Token: "ci", Transport: "go"}}
			res, err := mw(next)(context.Background(), req)
			switch tc.out {
			case outResult:
				if err != nil {
					t.Fatalf("error %v, want result %s", err, tc.want)
				}
				if !jsonEqual(string(res), tc.want) {
					t.Errorf("result %s, want %s", res, tc.want)
				}
			case outDenied:
				var de *engine.DeniedError
				if !errors.As(err, &de) || !errors.Is(err, engine.ErrDenied) || err.Error() != tc.want {
					t.Errorf("error %v, want DeniedError %q", err, tc.want)
				}
			case outHook:
				var he *engine.HookError
				if !errors.As(err, &he) || !errors.Is(err, engine.ErrHook) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want HookError containing %q", err, tc.want)
				}
			default:
				if err == nil || errors.Is(err, engine.ErrHook) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want the server's %q", err, tc.want)
				}
			}
			switch {
			case tc.wantNext == "" && got != nil:
				t.Errorf("the server was called with %s", got.Params)
			case tc.wantNext != "" && got == nil:
				t.Errorf("the server was not called")
			case got != nil:
				if !jsonEqual(string(got.Params), tc.wantNext) {
					t.Errorf("server got params %s, want %s", got.Params, tc.wantNext)
				}
				want := tc.wantServer
				if want == "" {
					want = "a"
				}
				if got.Server != want || got.Method != tc.method || got.Caller.Token != "ci" {
					t.Errorf("server got %+v, want server %q", got, want)
				}
			}
			if req.Server != "a" || string(req.Params) != tc.params {
				t.Errorf("the caller's request was changed: %+v", req)
			}
			wantLog := tc.wantLog
			if tc.out == outHook && !tc.failOpen {
				wantLog = "refusing the request (fail-closed)" // operators see why
			}
			if wantLog != "" && !strings.Contains(log.String(), wantLog) || wantLog == "" && log.Len() > 0 {
				t.Errorf("log %q, want %q", log.String(), wantLog)
			}
		})
	}
}

// TestMiddlewareInput checks what each phase is given.
func TestMiddlewareInput(t *testing.T) {
	h := &fakeHook{fns: map[Phase]func(context.Context, *Input) (*Decision, error){}}
	for _, p := range Phases {
		h.fns[p] = decide(nil)
	}
	h.fns[PhaseToolCall] = decide(&Decision{Tool: "say", Server: "b", Arguments: raw(`{"text":"HI"}`)})
	mw := Middleware(h, Options{})
	id := engine.Identity{Token: "ci", Session: "s1", Transport: "sse"}
	next := func(_ context.Context, req *engine.Request) (json.RawMessage, error) {
		if req.Method == "tools/list" {
			return raw(`{"tools":[{"name":"echo"}]}`), nil
		}
		return raw(`{"r":1}`), nil
	}
	for _, r := range []struct{ method, params string }{
		{"tools/call", `{"name":"echo","arguments":{"text":"hi"}}`},
		{"tools/call", `{"name":"pid"}`},
		{"tools/list", `{"cursor":"c"}`},
		{"resources/read", `{"uri":"test://a"}`},
	} {
		if _, err := mw(next)(context.Background(), &engine.Request{Server: "a", Method: r.method, Params: raw(r.params), Caller: id}); err != nil {
			t.Fatal(err)
		}
	}
	caller := Caller{Token: "ci", Session: "s1", Transport: "sse", Auth: "none", Scopes: []string{}, Claims: raw(`{}`)}
	want := []Input{
		{Hook: PhaseToolCall, Server: "a", Method: "tools/call", Caller: caller, Tool: "echo", Arguments: raw(`{"text":"hi"}`)},
		{Hook: PhaseToolResult, Server: "b", Method: "tools/call", Caller: caller, Tool: "say", Arguments: raw(`{"text":"HI"}`), Result: raw(`{"r":1}`)},
		{Hook: PhaseToolCall, Server: "a", Method: "tools/call", Caller: caller, Tool: "pid"},
		{Hook: PhaseToolResult, Server: "b", Method: "tools/call", Caller: caller, Tool: "say", Arguments: raw(`{"text":"HI"}`), Result: raw(`{"r":1}`)},
		{Hook: PhaseListTools, Server: "a", Method: "tools/list", Caller: caller, Params: raw(`{"cursor":"c"}`), Items: raw(`[{"name":"echo"}]`)},
		{Hook: PhaseRequest, Server: "a", Method: "resources/read", Caller: caller, Params: raw(`{"uri":"test://a"}`)},
		{Hook: PhaseResponse, Server: "a", Method: "resources/read", Caller: caller, Params: raw(`{"uri":"test://a"}`), Result: raw(`{"r":1}`)},
	}
	if len(h.seen) != len(want) {
		t.Fatalf("%d hook calls, want %d: %+v", len(h.seen), len(want), h.seen)
	}
	for i := range want {
		g, _ := json.Marshal(h.seen[i])
		w, _ := json.Marshal(want[i])
		if !jsonEqual(string(g), string(w)) {
			t.Errorf("call %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func TestMiddlewareTimeoutAndCancel(t *testing.T) {
	wait := func(ctx context.Context, _ *Input) (*Decision, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	called := false
	next := func(context.Context, *engine.Request) (json.RawMessage, error) {
		called = true
		return raw(`{}`), nil
	}
	req := func() *engine.Request {
		return &engine.Request{Server: "a", Method: "tools/call", Params: raw(`{"name":"echo"}`)}
	}

	// The hook's own deadline: its fault, under its fail mode.
	h := &fakeHook{fns: map[Phase]func(context.Context, *Input) (*Decision, error){PhaseToolCall: wait}}
	_, err := Middleware(h, Options{Timeout: 20 * time.Millisecond})(next)(context.Background(), req())
	var he *engine.HookError
	if !errors.As(err, &he) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ran past its 20ms timeout and was stopped") {
		t.Errorf("timeout: %v, want a HookError saying it timed out", err)
	}
	if called {
		t.Error("the server was called after the hook timed out (fail-closed)")
	}
	var log bytes.Buffer
	_, err = Middleware(h, Options{Timeout: 20 * time.Millisecond, FailOpen: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})(next)(context.Background(), req())
	if err != nil || !called || !strings.Contains(log.String(), "ran past its 20ms timeout and was stopped") {
		t.Errorf("timeout, fail-open: %v, called %v, log %q", err, called, log.String())
	}

	// The caller giving up is not the hook's fault, whatever the fail mode.
	for _, open := range []bool{false, true} {
		called = false
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		h := &fakeHook{fns: map[Phase]func(context.Context, *Input) (*Decision, error){PhaseToolCall: func(ctx context.Context, in *Input) (*Decision, error) {
			close(started)
			return wait(ctx, in)
		}}}
		go func() {
			<-started
			cancel()
		}()
		_, err = Middleware(h, Options{FailOpen: open})(next)(ctx, req())
		if !errors.Is(err, context.Canceled) || errors.Is(err, engine.ErrHook) || called {
			t.Errorf("caller cancelled (fail-open %v): %v, called %v; want context.Canceled, not a hook failure", open, err, called)
		}
	}

	// A caller's deadline shorter than the hook's is the caller's too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = Middleware(h, Options{Timeout: time.Hour})(next)(ctx, req())
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, engine.ErrHook) {
		t.Errorf("caller's deadline: %v, want DeadlineExceeded, not a hook failure", err)
	}
}
