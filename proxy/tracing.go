package proxy

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the proxy's spans.
const tracerName = "github.com/mcpscript/mcpscript/proxy"

// traceKey is the fiber Locals key of the HTTP request's span context.
const traceKey = "mcpscript.trace"

// HTTP span attributes (OpenTelemetry's HTTP semantic conventions).
const (
	attrHTTPMethod = attribute.Key("http.request.method")
	attrHTTPRoute  = attribute.Key("http.route")
	attrHTTPStatus = attribute.Key("http.response.status_code")
	attrURLPath    = attribute.Key("url.path")
	attrServerName = attribute.Key("mcpscript.server")
)

// headerCarrier reads trace context from a request's headers.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return h.c.Get(key) }
func (headerCarrier) Set(string, string)      {}
func (h headerCarrier) Keys() []string        { return []string{"traceparent", "tracestate"} }

// traceMiddleware gives each HTTP request a server span, whose parent is
// the request's traceparent header when it has one. The span covers the
// handler: for an answer streamed as events, until the stream is set up;
// the MCP requests it carries are its children (see traceContext) and
// may end later.
func (s *Server) traceMiddleware(c *fiber.Ctx) error {
	ctx := propagation.TraceContext{}.Extract(context.Background(), headerCarrier{c})
	route, server := classifyPath(c.Path())
	method := c.Method()
	attrs := []attribute.KeyValue{attrHTTPMethod.String(method), attrHTTPRoute.String(route), attrURLPath.String(c.Path())}
	if server != "" {
		attrs = append(attrs, attrServerName.String(server))
	}
	ctx, span := s.tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	defer span.End()
	c.Locals(traceKey, trace.SpanContextFromContext(ctx))
	err := c.Next()
	status := c.Response().StatusCode()
	var (
		he *httpError
		fe *fiber.Error
	)
	switch {
	case errors.As(err, &he):
		status = he.status
	case errors.As(err, &fe):
		status = fe.Code
	case err != nil:
		status = fiber.StatusInternalServerError
	}
	span.SetAttributes(attrHTTPStatus.Int(status))
	if status >= 500 {
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(status))
	}
	return err
}

// traceContext returns ctx carrying the span of the HTTP request c, when
// the request is traced, so that the gateway's requests (and their spans)
// become its children although they run in the session's context. A
// transport passes it to the gateway in place of its session context:
//
//	resp := s.t.opts.handle(traceContext(c, s.ctx), s.gs, m)
func traceContext(c *fiber.Ctx, ctx context.Context) context.Context {
	sc, ok := c.Locals(traceKey).(trace.SpanContext)
	if !ok || !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}
