package telemetry

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/telemetry/otlptest"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestFromEnvChoices(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		on    bool
		error string
	}{
		{"nothing set", nil, false, ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, true, ""},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, true, ""},
		{"otlp without endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, ""},
		{"none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, false, ""},
		{"disabled", map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, `OTEL_EXPORTER_OTLP_PROTOCOL "grpc": mcpscript exports OTLP over HTTP`},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, `OTEL_TRACES_EXPORTER "zipkin": mcpscript knows "otlp", "console" and "none"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := fromEnv(context.Background(), func(k string) string { return tc.env[k] }, &bytes.Buffer{}, testenv.Logger(t, 0))
			if tc.error != "" {
				if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("error %v, want %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tp != nil) != tc.on {
				t.Fatalf("provider %v, want on=%v", tp, tc.on)
			}
			if tp != nil {
				_ = tp.Shutdown(context.Background())
			}
		})
	}
}

func TestConsoleExporter(t *testing.T) {
	var stderr bytes.Buffer
	tp, err := fromEnv(context.Background(), func(k string) string { return map[string]string{"OTEL_TRACES_EXPORTER": "console"}[k] }, &stderr, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "hello")
	span.End()
	_ = tp.Shutdown(context.Background())
	if !strings.Contains(stderr.String(), `"Name":"hello"`) {
		t.Errorf("console output: %s", stderr.String())
	}
}

// The spans of a call through a Runner reach a real OTLP/HTTP receiver.
func TestExportToAReceiver(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "mcpscript-test")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	tp, err := FromEnv(context.Background(), testenv.Logger(t, 0))
	if err != nil || tp == nil {
		t.Fatal(tp, err)
	}
	r := testenv.NewRunner(t, map[string]string{"ts": testenv.ServerJSON(t, "normal", "")}, &engine.Options{TracerProvider: tp})
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("ts")
	if _, err := c.CallTool(testenv.Ctx(t), "echo", map[string]any{"text": "traced"}); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(testenv.Ctx(t)); err != nil { // sends the batch
		t.Fatal(err)
	}
	if p := rcv.Problems(); len(p) > 0 {
		t.Fatalf("receiver problems: %v", p)
	}
	spans := rcv.Spans()
	var req, cl *otlptest.Span
	for i, s := range spans {
		switch {
		case s.Name == "tools/call echo" && s.Kind == "internal":
			req = &spans[i]
		case s.Name == "tools/call echo" && s.Kind == "client":
			cl = &spans[i]
		}
	}
	if req == nil || cl == nil {
		t.Fatalf("spans %+v", spans)
	}
	if cl.ParentID != req.SpanID || cl.TraceID != req.TraceID || req.ParentID != "" {
		t.Errorf("client span %+v is not the child of %+v", cl, req)
	}
	if req.Service != "mcpscript-test" || req.Scope != "github.com/mcpscript/mcpscript/engine" ||
		req.Attrs["gen_ai.tool.name"] != "echo" || req.Attrs["mcpscript.server"] != "ts" {
		t.Errorf("request span %+v", req)
	}
}
