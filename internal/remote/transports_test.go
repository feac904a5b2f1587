package remote_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// TestTransports runs the same traffic through both transports of a
// go-sdk server, configured and detected: calls, progress, the server's
// sampling request, a resource read, notifications.
func TestTransports(t *testing.T) {
	tests := []struct {
		name      string
		serve     func(t *testing.T) string
		transport string // configured
		want      string // in use after the handshake
		session   bool
	}{
		{"streamable configured", func(t *testing.T) string { return serveStreamable(t, newServer(), nil).URL }, "http", "http", true},
		{"streamable detected", func(t *testing.T) string { return serveStreamable(t, newServer(), nil).URL }, "", "http", true},
		{"streamable JSON answers", func(t *testing.T) string {
			return serveStreamable(t, newServer(), &mcp.StreamableHTTPOptions{JSONResponse: true}).URL
		}, "http", "http", true},
		{"stateless streamable", func(t *testing.T) string {
			return serveStreamable(t, newServer(), &mcp.StreamableHTTPOptions{Stateless: true}).URL
		}, "", "http", false},
		{"sse configured", func(t *testing.T) string { return serveSSE(t, newServer()).URL }, "sse", "sse", false},
		{"sse detected", func(t *testing.T) string { return serveSSE(t, newServer()).URL }, "", "sse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			url := tt.serve(t)
			var sampled atomic.Int32
			link, cl := connect(t, remote.Options{URL: url, Transport: tt.transport},
				&engine.ClientOptions{OnRequest: samplingHandler(&sampled)})
			if got := link.Transport(); got != tt.want {
				t.Errorf("Transport() = %q, want %q", got, tt.want)
			}
			if got := link.SessionID() != ""; got != tt.session {
				t.Errorf("has session id = %v, want %v", got, tt.session)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			tools, err := cl.ListTools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(tools) != 4 {
				t.Errorf("%d tools, want 4", len(tools))
			}
			res, err := cl.CallTool(ctx, "echo", map[string]any{"text": "héllo"})
			if err != nil {
				t.Fatal(err)
			}
			if got := resultText(t, res); got != "héllo" {
				t.Errorf("echo = %q", got)
			}

			var steps atomic.Int32
			pctx := engine.WithProgress(ctx, func(*mcp.ProgressNotificationParams) { steps.Add(1) })
			if _, err := cl.CallTool(pctx, "progress", nil); err != nil {
				t.Fatal(err)
			}
			// A server that answers in JSON can only send progress on the
			// standalone stream, racing the answer; the call's own stream
			// carries it in order.
			if steps.Load() != 3 && !strings.Contains(tt.name, "JSON") {
				t.Errorf("%d progress notifications, want 3", steps.Load())
			}

			if tt.want == "http" && !tt.session {
				// A stateless server cannot send requests to the client.
				return
			}
			res, err = cl.CallTool(ctx, "sample", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := resultText(t, res); got != "model said: a reply" || sampled.Load() != 1 {
				t.Errorf("sample = %q after %d sampling requests", got, sampled.Load())
			}
			read, err := cl.ReadResource(ctx, "test://r")
			if err != nil {
				t.Fatal(err)
			}
			if read.Contents[0].Text != "content" {
				t.Errorf("read %+v", read.Contents[0])
			}
		})
	}
}

// TestConcurrentCalls checks that many requests in flight each get their
// own answer, in both transports.
func TestConcurrentCalls(t *testing.T) {
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			checkGoroutines(t)
			var url string
			if transport == "http" {
				url = serveStreamable(t, newServer(), nil).URL
			} else {
				url = serveSSE(t, newServer()).URL
			}
			_, cl := connect(t, remote.Options{URL: url, Transport: transport}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const n = 50
			errs := make(chan error, n)
			for i := range n {
				go func() {
					want := string(rune('a' + i%26))
					res, err := cl.CallTool(ctx, "echo", map[string]any{"text": want})
					if err == nil && resultText(t, res) != want {
						err = context.Canceled
					}
					errs <- err
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestStaticHeaders checks that configured headers reach the server on
// every request of both transports (POSTs, GET streams, DELETE).
func TestStaticHeaders(t *testing.T) {
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			checkGoroutines(t)
			var h http.Handler
			if transport == "http" {
				h = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newServer() }, nil)
			} else {
				h = mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return newServer() }, nil)
			}
			check := &headerCheck{h: h, name: "X-Api-Key", want: "secret-123"}
			ts := httptest.NewServer(check)
			t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })

			hdr := http.Header{}
			hdr.Set("X-Api-Key", "secret-123")
			link, cl := connect(t, remote.Options{URL: ts.URL, Transport: transport, Headers: hdr}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := cl.CallTool(ctx, "echo", map[string]any{"text": "x"}); err != nil {
				t.Fatal(err)
			}
			_ = cl.Close()
			_ = link.Close()
			// initialize, initialized, tools/call, and the GET stream (and DELETE for http)
			if check.with.Load() < 4 || check.not.Load() != 0 {
				t.Errorf("%d requests with the header, %d without", check.with.Load(), check.not.Load())
			}
		})
	}
}
