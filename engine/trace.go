package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// Tracing, when Options.TracerProvider is set. A request through the
// Runner (Do, Through) gets a span named "{method} {tool or prompt}", a
// server span when it came over HTTP and an internal one otherwise; its
// parent is the traceparent in the request's params._meta when there is
// one (MCP 2026-07-28 carries trace context there), else the span of ctx.
// Each hook opens a child span (StartHookSpan), and each call to a server
// a client span, whose context replaces _meta.traceparent and tracestate in
// the params the server gets; a call that waits for a restarting server
// has a span for the wait. Attribute names follow OpenTelemetry's MCP
// semantic conventions (mcp.*, gen_ai.*, still in development), and ours
// are mcpscript.*.

// tracerName is the instrumentation scope of the engine's spans.
const tracerName = "github.com/mcpscript/mcpscript/engine"

// Span attributes.
const (
	attrMethod    = attribute.Key("mcp.method.name")
	attrSession   = attribute.Key("mcp.session.id")
	attrProtocol  = attribute.Key("mcp.protocol.version")
	attrResource  = attribute.Key("mcp.resource.uri")
	attrTool      = attribute.Key("gen_ai.tool.name")
	attrPrompt    = attribute.Key("gen_ai.prompt.name")
	attrOperation = attribute.Key("gen_ai.operation.name")
	attrErrorType = attribute.Key("error.type")
	attrRPCCode   = attribute.Key("rpc.response.status_code")
	attrServer    = attribute.Key("mcpscript.server")
	attrTransport = attribute.Key("mcpscript.caller.transport")
	attrToken     = attribute.Key("mcpscript.caller.token")
	attrHook      = attribute.Key("mcpscript.hook")
	attrPhase     = attribute.Key("mcpscript.hook.phase")
)

// traceContext reads and writes W3C trace context (traceparent, tracestate).
var traceContext = propagation.TraceContext{}

// traced runs h for req inside the request's span.
func (r *Runner) traced(ctx context.Context, req *Request, h Handler) (json.RawMessage, error) {
	name, attrs := spanTarget(req.Method, req.Params)
	kind := trace.SpanKindInternal
	switch req.Caller.Transport {
	case "streamable-http", "sse", "reference-sse":
		kind = trace.SpanKindServer
	}
	attrs = append(attrs, attrServer.String(req.Server), attrTransport.String(req.Caller.Transport))
	if req.Caller.Session != "" {
		attrs = append(attrs, attrSession.String(req.Caller.Session))
	}
	if req.Caller.Token != "" {
		attrs = append(attrs, attrToken.String(req.Caller.Token))
	}
	if req.Caller.Protocol != "" {
		attrs = append(attrs, attrProtocol.String(req.Caller.Protocol))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(kind), trace.WithAttributes(attrs...)}
	if pctx, ok := metaParent(ctx, req.Params); ok {
		// The request's own context wins over the transport's (an HTTP
		// request's span), which stays linked.
		if cur := trace.SpanContextFromContext(ctx); cur.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: cur}))
		}
		ctx = pctx
	}
	ctx, span := r.tracer.Start(ctx, name, opts...)
	defer span.End()
	res, err := h(ctx, req)
	endSpan(span, req.Method, res, err)
	return res, err
}

// sendTraced is sendUntimed inside a client span, with the span's context
// in the params the server gets.
func (c *Client) sendTraced(ctx context.Context, method string, raw json.RawMessage, progress func(json.RawMessage)) (json.RawMessage, error) {
	name, attrs := spanTarget(method, raw)
	attrs = append(attrs, attrServer.String(c.name))
	ctx, span := c.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	raw = injectMeta(ctx, raw)
	sess := c.liveSession()
	var err error
	if sess == nil {
		wctx, wait := c.tracer.Start(ctx, "wait for server "+c.name, trace.WithAttributes(attrServer.String(c.name)))
		sess, err = c.session(wctx)
		if err != nil {
			wait.SetStatus(codes.Error, err.Error())
		}
		wait.End()
	}
	var res json.RawMessage
	if err == nil {
		res, err = c.sendOn(ctx, sess, method, raw, progress)
	}
	endSpan(span, method, res, err)
	return res, err
}

// liveSession returns the session when one is up, without waiting.
func (c *Client) liveSession() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || c.sess.conn.isClosed() {
		return nil
	}
	return c.sess
}

// StartHookSpan starts the span of one hook or filter call, a child of
// the request's span in ctx: a hook runner calls it around each phase it
// runs (hook is the script or filter name, phase the hook function) and
// calls end with the call's failure, or nil when it returned a decision,
// whatever the decision. When ctx has no recording span (tracing is off,
// or the request was not sampled) it returns ctx and an end that does
// nothing, without allocating.
func StartHookSpan(ctx context.Context, hook, phase string) (_ context.Context, end func(err error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noEnd
	}
	ctx, span := parent.TracerProvider().Tracer(tracerName, trace.WithInstrumentationVersion(Version)).Start(ctx,
		"hook "+phase+" "+hook, trace.WithAttributes(attrHook.String(hook), attrPhase.String(phase)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

func noEnd(error) {}

// spanTarget returns a request's span name, "{method} {tool or prompt}"
// as the conventions have it (resource URIs are attributes only: they
// are not few), and its attributes.
func spanTarget(method string, params json.RawMessage) (string, []attribute.KeyValue) {
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs, attrMethod.String(method))
	name := method
	switch method {
	case "tools/call":
		if tool, ok := stringMember(params, "name"); ok {
			name += " " + tool
			attrs = append(attrs, attrTool.String(tool), attrOperation.String("execute_tool"))
		}
	case "prompts/get":
		if prompt, ok := stringMember(params, "name"); ok {
			name += " " + prompt
			attrs = append(attrs, attrPrompt.String(prompt))
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		if uri, ok := stringMember(params, "uri"); ok {
			attrs = append(attrs, attrResource.String(uri))
		}
	}
	return name, attrs
}

// stringMember returns the string member key of a params object.
func stringMember(params json.RawMessage, key string) (string, bool) {
	if len(params) == 0 || params[0] != '{' {
		return "", false
	}
	v, ok := rawjson.GetValid(params, key)
	if !ok {
		return "", false
	}
	return rawjson.Unquote(v)
}

// endSpan records a request's outcome on its span: a failed request, or a
// tool result with isError, is an error.
func endSpan(span trace.Span, method string, res json.RawMessage, err error) {
	if err != nil {
		code := ErrorCode(err)
		span.SetAttributes(attrRPCCode.String(strconv.FormatInt(code, 10)), attrErrorType.String(errorType(err, code)))
		span.SetStatus(codes.Error, err.Error())
		return
	}
	if method == "tools/call" && IsToolError(res) {
		span.SetAttributes(attrErrorType.String("tool_error"))
		span.SetStatus(codes.Error, "the tool reported an error (isError)")
	}
}

// errorType names the class of a failure for error.type: the JSON-RPC
// code of a server's error, else what the engine knows of it.
func errorType(err error, code int64) string {
	var re *RPCError
	switch {
	case errors.Is(err, ErrDenied):
		return "denied"
	case errors.Is(err, ErrHook):
		return "hook_failed"
	case errors.As(err, &re):
		return strconv.FormatInt(code, 10)
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, ErrNotRunning):
		return "not_running"
	case errors.Is(err, ErrCommunication):
		return "communication"
	case errors.Is(err, ErrServerNotFound):
		return "server_not_found"
	}
	return "_OTHER"
}

// IsToolError reports whether a tools/call result says isError: true.
// res must be valid JSON, as results through the engine are.
func IsToolError(res json.RawMessage) bool {
	if len(res) == 0 || res[0] != '{' {
		return false
	}
	v, ok := rawjson.GetValid(res, "isError")
	return ok && string(v) == "true"
}

// metaParent returns ctx with the remote span context of the request's
// params._meta (traceparent, tracestate), when it has a valid one.
func metaParent(ctx context.Context, params json.RawMessage) (context.Context, bool) {
	if len(params) == 0 || params[0] != '{' {
		return ctx, false
	}
	meta, ok := rawjson.GetValid(params, "_meta")
	if !ok || len(meta) == 0 || meta[0] != '{' {
		return ctx, false
	}
	tp, ok := stringMember(meta, "traceparent")
	if !ok {
		return ctx, false
	}
	carrier := propagation.MapCarrier{"traceparent": tp}
	if ts, ok := stringMember(meta, "tracestate"); ok {
		carrier["tracestate"] = ts
	}
	out := traceContext.Extract(ctx, carrier)
	sc := trace.SpanContextFromContext(out)
	return out, sc.IsValid() && sc.IsRemote()
}

// injectMeta returns params with the span context of ctx as
// _meta.traceparent (and tracestate when there is one), replacing any the
// params had; params is not modified.
func injectMeta(ctx context.Context, params json.RawMessage) json.RawMessage {
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	tp := carrier.Get("traceparent")
	if tp == "" {
		return params
	}
	set := []rawjson.Field{{Key: "traceparent", Value: rawjson.Quote(tp)}}
	var del []string
	if ts := carrier.Get("tracestate"); ts != "" {
		set = append(set, rawjson.Field{Key: "tracestate", Value: rawjson.Quote(ts)})
	} else {
		del = []string{"tracestate"} // it belonged to the caller's traceparent
	}
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	meta, ok := rawjson.GetValid(params, "_meta")
	if !ok || len(meta) == 0 || meta[0] != '{' {
		meta = nil
	}
	meta = rawjson.ApplyValid(meta, rawjson.Edit{Set: set, Delete: del})
	return rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "_meta", Value: meta}}})
}
