package proxy

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/internal/telemetry"
	"github.com/mcpscript/mcpscript/internal/telemetry/otlptest"
)

// A forwarded call's spans, exported over OTLP/HTTP to a real receiver
// as `mcpscript serve` exports them (the OTEL_* variables), form one
// trace: the client's traceparent, the HTTP request, the gateway's MCP
// request, the call to the child. Run with -v to see the tree.
func TestTraceExportedOverOTLP(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "mcpscript")
	tp, err := telemetry.FromEnv(context.Background(), quietLogger(t))
	if err != nil || tp == nil {
		t.Fatal(tp, err)
	}
	e, _ := startObserved(t, proxyConfig(t, ""), tp, nil)

	stream := readSSE(t, request(t, "GET", e.base+"/servers/b/sse", tokAll, nil, ""))
	endpoint := stream.nextNamed(t, "endpoint").data
	expectStatus(t, post(t, e.base+endpoint, tokAll, nil, initBody), http.StatusAccepted)
	stream.nextNamed(t, "message")
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	hdr := map[string]string{"traceparent": "00-" + traceID + "-b7ad6b7169203331-01"}
	expectStatus(t, post(t, e.base+endpoint, tokAll, hdr, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"traced"}}}`), http.StatusAccepted)
	stream.nextNamed(t, "message")
	if err := tp.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if p := rcv.Problems(); len(p) > 0 {
		t.Fatalf("receiver: %v", p)
	}
	var trace []otlptest.Span
	for _, s := range rcv.Spans() {
		if s.TraceID == traceID {
			trace = append(trace, s)
		}
	}
	byID := map[string]otlptest.Span{}
	for _, s := range trace {
		byID[s.SpanID] = s
	}
	var lines []string
	var depth func(s otlptest.Span) int
	depth = func(s otlptest.Span) int {
		if p, ok := byID[s.ParentID]; ok {
			return 1 + depth(p)
		}
		return 0
	}
	sort.Slice(trace, func(i, j int) bool { return depth(trace[i]) < depth(trace[j]) })
	for _, s := range trace {
		var attrs []string
		for k, v := range s.Attrs {
			attrs = append(attrs, k+"="+v)
		}
		sort.Strings(attrs)
		lines = append(lines, fmt.Sprintf("%s%s [%s, %s, parent %s] %s", strings.Repeat("  ", depth(s)), s.Name, s.Kind, s.Scope, s.ParentID, strings.Join(attrs, " ")))
	}
	t.Logf("trace %s (service %s):\n%s", traceID, trace[0].Service, strings.Join(lines, "\n"))
	want := []struct{ name, kind string }{
		{"POST /servers/:name/messages", "server"},
		{"tools/call echo", "server"},
		{"tools/call echo", "client"},
	}
	if len(trace) != len(want) {
		t.Fatalf("%d spans in the trace, want %d", len(trace), len(want))
	}
	for i, w := range want {
		if trace[i].Name != w.name || trace[i].Kind != w.kind || depth(trace[i]) != i || trace[i].Service != "mcpscript" {
			t.Errorf("span %d: %s %s at depth %d, want %s %s at %d", i, trace[i].Name, trace[i].Kind, depth(trace[i]), w.name, w.kind, i)
		}
	}
}
