package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// newTracing returns a tracer provider that keeps every span in memory.
func newTracing(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// spanNamed returns the one ended span of that name and kind.
func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name && s.SpanKind() == kind {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name()+"/"+s.SpanKind().String())
		}
		t.Fatalf("%d spans %q of kind %v; spans: %v", len(found), name, kind, names)
	}
	return found[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

func TestTraceOfACall(t *testing.T) {
	tp, rec := newTracing(t)
	hook := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			hctx, end := engine.StartHookSpan(ctx, "policy.js", "toolCall")
			_ = hctx
			end(nil)
			if req.Name() == "secret" {
				return nil, &engine.DeniedError{By: "policy.js", Server: req.Server, Method: req.Method, Reason: "no"}
			}
			return next(ctx, req)
		}
	}
	_, c := startOne(t, "normal", "", &engine.Options{TracerProvider: tp, Middleware: []engine.Middleware{hook}})
	caller := engine.WithIdentity(ctx(t), engine.Identity{Transport: "streamable-http", Session: "s1", Token: "ci", Protocol: "2025-11-25"})
	if _, err := c.CallTool(caller, "echo", map[string]any{"text": "hi"}); err != nil {
		t.Fatal(err)
	}

	req := spanNamed(t, rec, "tools/call echo", trace.SpanKindServer)
	hk := spanNamed(t, rec, "hook toolCall policy.js", trace.SpanKindInternal)
	cl := spanNamed(t, rec, "tools/call echo", trace.SpanKindClient)
	if req.Parent().IsValid() {
		t.Errorf("the request span has a parent: %v", req.Parent())
	}
	for _, child := range []sdktrace.ReadOnlySpan{hk, cl} {
		if child.Parent().SpanID() != req.SpanContext().SpanID() || child.SpanContext().TraceID() != req.SpanContext().TraceID() {
			t.Errorf("span %q is not a child of the request span", child.Name())
		}
	}
	want := map[attribute.Key]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
		"mcpscript.server": "ts", "mcpscript.caller.transport": "streamable-http", "mcp.session.id": "s1",
		"mcpscript.caller.token": "ci", "mcp.protocol.version": "2025-11-25",
	}
	got := attrs(req)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("request span %s = %q, want %q", k, got[k], v)
		}
	}
	if a := attrs(cl); a["mcpscript.server"] != "ts" || a["gen_ai.tool.name"] != "echo" {
		t.Errorf("client span attributes %v", a)
	}
	if a := attrs(hk); a["mcpscript.hook"] != "policy.js" || a["mcpscript.hook.phase"] != "toolCall" {
		t.Errorf("hook span attributes %v", a)
	}

	// A denied call: the request span is an error, no client span.
	rec.Reset()
	if _, err := c.CallTool(ctx(t), "secret", nil); !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("secret: %v", err)
	}
	den := spanNamed(t, rec, "tools/call secret", trace.SpanKindInternal)
	if den.Status().Code != codes.Error || attrs(den)["error.type"] != "denied" || attrs(den)["rpc.response.status_code"] != "-32003" {
		t.Errorf("denied span: status %v, attributes %v", den.Status(), attrs(den))
	}
	if len(rec.Ended()) != 2 { // the request and its hook
		t.Errorf("%d spans for a denied call, want 2", len(rec.Ended()))
	}
}

func TestTraceParentFromMeta(t *testing.T) {
	tp, rec := newTracing(t)
	_, c := startOne(t, "normal", "", &engine.Options{TracerProvider: tp})
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	params := `{"name":"echo","arguments":{"text":"x"},"_meta":{"traceparent":"00-` + traceID + `-` + parentID + `-01","tracestate":"vendor=1"}}`
	if _, err := c.Call(ctx(t), "tools/call", json.RawMessage(params)); err != nil {
		t.Fatal(err)
	}
	req := spanNamed(t, rec, "tools/call echo", trace.SpanKindInternal)
	if req.SpanContext().TraceID().String() != traceID || req.Parent().SpanID().String() != parentID || !req.Parent().IsRemote() {
		t.Errorf("request span trace %s parent %s (remote %v), want %s %s",
			req.SpanContext().TraceID(), req.Parent().SpanID(), req.Parent().IsRemote(), traceID, parentID)
	}
	if req.SpanContext().TraceState().Get("vendor") != "1" {
		t.Errorf("tracestate lost: %q", req.SpanContext().TraceState().String())
	}

	// Without a TracerProvider nothing is traced and _meta goes through as it is.
	_, plain := startOne(t, "normal", "", nil)
	if _, err := plain.Call(ctx(t), "tools/call", json.RawMessage(params)); err != nil {
		t.Fatal(err)
	}
}

// fakeServer answers initialize and tools/call on the server side of a
// pipe pair and hands over the params of each tools/call.
func fakeServer(t *testing.T, in io.Reader, out io.Writer, calls chan<- json.RawMessage) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.ID == nil {
			continue
		}
		var result string
		switch m.Method {
		case "initialize":
			result = `{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}`
		case "tools/call":
			calls <- m.Params
			result = `{"content":[]}`
		default:
			continue
		}
		if _, err := io.WriteString(out, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":`+result+"}\n"); err != nil {
			return
		}
	}
}

func TestTraceContextGoesToTheServer(t *testing.T) {
	tp, rec := newTracing(t)
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	calls := make(chan json.RawMessage, 4)
	go fakeServer(t, sr, sw, calls)
	c, err := engine.Connect(ctx(t), cr, cw, &engine.ClientOptions{Name: "fake", TracerProvider: tp, Logger: testenv.Logger(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); sw.Close() })

	for _, tc := range []struct{ name, params string }{
		{"no _meta", `{"name":"x"}`},
		{"a caller's trace context", `{"name":"x","_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"a=b","progressToken":7}}`},
	} {
		rec.Reset()
		if _, err := c.Call(ctx(t), "tools/call", json.RawMessage(tc.params)); err != nil {
			t.Fatal(err)
		}
		got := <-calls
		cl := spanNamed(t, rec, "tools/call x", trace.SpanKindClient)
		var p struct {
			Name string         `json:"name"`
			Meta map[string]any `json:"_meta"`
		}
		if err := json.Unmarshal(got, &p); err != nil {
			t.Fatal(err)
		}
		want := "00-" + cl.SpanContext().TraceID().String() + "-" + cl.SpanContext().SpanID().String() + "-01"
		if p.Name != "x" || p.Meta["traceparent"] != want {
			t.Errorf("%s: the server got %s, want _meta.traceparent %s", tc.name, got, want)
		}
		if _, ok := p.Meta["tracestate"]; ok && !strings.Contains(tc.params, "tracestate") {
			t.Errorf("%s: a tracestate appeared: %s", tc.name, got)
		}
		if strings.Contains(tc.params, "progressToken") && p.Meta["progressToken"] != float64(7) {
			t.Errorf("%s: the rest of _meta was lost: %s", tc.name, got)
		}
	}
}

func TestTraceOfAWaitForARestart(t *testing.T) {
	tp, rec := newTracing(t)
	server := "{" + testserver.ConfigJSON("normal", nil) + `, "restart": {"policy": "on-failure", "backoff": "300ms"}}`
	r := newRunner(t, map[string]string{"ts": server}, &engine.Options{TracerProvider: tp})
	if err := r.StartServer(ctx(t), "ts"); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("ts")
	if _, err := c.CallTool(ctx(t), "crash", map[string]any{"code": 3}); err == nil {
		t.Fatal("crash returned no error")
	}
	testenv.WaitFor(t, func() bool { st, _ := r.Status("ts"); return st.State == engine.StateRestarting }, "the server restarting")
	if got := call(t, c, "echo", map[string]any{"text": "back"}); got != "back" {
		t.Fatalf("echo after the restart = %q", got)
	}
	var wait sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "wait for server ts" {
			wait = s
		}
	}
	if wait == nil {
		t.Fatal("no span for the wait")
	}
	cl := spanNamed(t, rec, "tools/call echo", trace.SpanKindClient)
	if wait.Parent().SpanID() != cl.SpanContext().SpanID() {
		t.Error("the wait is not a child of the call's client span")
	}
	if d := wait.EndTime().Sub(wait.StartTime()); d < 50*time.Millisecond {
		t.Errorf("the wait took %v; the backoff is 300ms", d)
	}
}
