package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/demoserver"
)

// echoServer is an MCP server whose echo tool answers with reply(text).
func echoServer(reply func(string) string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1"}, nil)
	type args struct {
		Text string `json:"text"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a args) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: reply(a.Text)}}}, nil, nil
	})
	return s
}

// TestDrive runs short loads against the demo server over each transport and
// session model, and checks that the window counted calls and latencies.
func TestDrive(t *testing.T) {
	newServer := func(*http.Request) *mcp.Server { return demoserver.New() }
	streamable := httptest.NewServer(mcp.NewStreamableHTTPHandler(newServer, nil))
	defer streamable.Close()
	sse := httptest.NewServer(mcp.NewSSEHandler(newServer, nil))
	defer sse.Close()
	hc := newHTTPClient(4, "")
	defer closeIdle(hc)

	tests := []struct {
		name     string
		connect  func() (mcp.Transport, error)
		sessions sessionModel
		payload  int
	}{
		{"stdio shared", stdioTransport(testServerCmd(t), nil), shared, 100},
		{"streamable per caller", httpTransport(kindStreamable, streamable.URL, hc), perCaller, 100},
		{"streamable 8KiB", httpTransport(kindStreamable, streamable.URL, hc), perCaller, 8 << 10},
		{"sse per caller", httpTransport(kindSSE, sse.URL, hc), perCaller, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			spec := loadSpec{callers: 3, payload: tt.payload, warmup: 50 * time.Millisecond, duration: 500 * time.Millisecond}
			ep := endpoint{connect: tt.connect, tool: "echo", sessions: tt.sessions}
			n := sessionsFor(ep, spec)
			if want := map[sessionModel]int{shared: 1, perCaller: 3}[tt.sessions]; n != want {
				t.Fatalf("sessionsFor = %d, want %d", n, want)
			}
			sessions, err := openSessions(ctx, ep, n, echoCheck("echo", spec.callers))
			if err != nil {
				t.Fatal(err)
			}
			defer closeSessions(sessions)
			marks := 0
			w := drive(ctx, sessions, spec, echoCallers("echo", spec.payload, spec.callers), func(begin bool) {
				if begin != (marks == 0) {
					t.Errorf("mark(%v) as call %d", begin, marks+1)
				}
				marks++
			})
			if marks != 2 {
				t.Errorf("mark called %d times, want 2", marks)
			}
			if w.calls == 0 || w.errors != 0 || w.firstErr != nil {
				t.Fatalf("window: %d calls, %d errors (%v)", w.calls, w.errors, w.firstErr)
			}
			if w.elapsed < spec.duration || w.warmup < spec.warmup {
				t.Errorf("window %s after warmup %s, want at least %s after %s", w.elapsed, w.warmup, spec.duration, spec.warmup)
			}
			if p50, p99 := w.percentile(50), w.percentile(99); p50 <= 0 || p99 < p50 {
				t.Errorf("p50 %s, p99 %s", p50, p99)
			}
		})
	}
}

// TestOpenSessionsCatchesWrongAnswers: a proxy that hands sessions each
// other's answers, or changes the text, fails before any load.
func TestOpenSessionsCatchesWrongAnswers(t *testing.T) {
	tests := []struct {
		name  string
		reply func(string) string
		want  string
	}{
		{"another caller's answer", func(string) string { return payloadText(checkPayload, 0) }, "echo mismatch"},
		{"a cut text", func(s string) string { return s[:10] }, "echo mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return echoServer(tt.reply) }, nil))
			defer srv.Close()
			hc := newHTTPClient(2, "")
			defer closeIdle(hc)
			ep := endpoint{connect: httpTransport(kindStreamable, srv.URL, hc), tool: "echo", sessions: perCaller}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := openSessions(ctx, ep, 2, echoCheck("echo", 2))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestPayloadText: exact sizes, a caller's own text, nothing to escape.
func TestPayloadText(t *testing.T) {
	for _, n := range []int{1, 5, 100, 64 << 10, 1 << 20} {
		a, b := payloadText(n, 0), payloadText(n, 1)
		if len(a) != n || len(b) != n {
			t.Errorf("len(payloadText(%d)) = %d, %d", n, len(a), len(b))
		}
		if n >= 10 && a == b {
			t.Errorf("payloadText(%d) is the same for two callers", n)
		}
		if strings.ContainsAny(a, "\"\\\n") {
			t.Errorf("payloadText(%d) needs escaping", n)
		}
	}
}
