// Sampling is deprecated from MCP 2026-07-28 on; the tests exercise it as
// the legacy versions the engine speaks define it.
//lint:file-ignore SA1019 see above

package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// quietLogger keeps expected warnings out of the test output.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// checkGoroutines fails the test if goroutines of the link, the engine or
// the HTTP client's connections outlive it. Register it first: cleanups
// run last-in first-out, so it runs after everything else was closed.
func checkGoroutines(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := linkGoroutines()
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutine(s) outlived the test:\n%s", len(left), strings.Join(left, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// linkGoroutines returns the stacks of goroutines running code of this
// package (not its tests), of the engine, or of client-side connections.
func linkGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "mcpscript/internal/remote.") ||
			strings.Contains(g, "mcpscript/engine.") ||
			strings.Contains(g, "net/http.(*persistConn)") {
			out = append(out, g)
		}
	}
	return out
}

// newServer is a go-sdk MCP server with tools that exercise every kind of
// traffic: plain answers, progress, logging, sampling, slow calls.
func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "remote-test", Version: "1.0.0"}, &mcp.ServerOptions{
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	type echoIn struct {
		Text string `json:"text"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return text(in.Text), nil, nil
	})
	type sleepIn struct {
		Millis int `json:"ms"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "sleep"}, func(ctx context.Context, req *mcp.CallToolRequest, in sleepIn) (*mcp.CallToolResult, any, error) {
		select {
		case <-time.After(time.Duration(in.Millis) * time.Millisecond):
			return text("slept"), nil, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	})
	mcp.AddTool(s, &mcp.Tool{Name: "progress"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		for i := 1; i <= 3; i++ {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
				ProgressToken: req.Params.GetProgressToken(), Progress: float64(i), Total: 3})
		}
		return text("done"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "sample"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
			MaxTokens: 10,
			Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}},
		})
		if err != nil {
			return nil, nil, err
		}
		return text("model said: " + res.Content.(*mcp.TextContent).Text), nil, nil
	})
	s.AddResource(&mcp.Resource{Name: "r", URI: "test://r", MIMEType: "text/plain"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "content"}}}, nil
		})
	return s
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// resultText returns the text of a tool result's first content item.
func resultText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) == 0 {
		t.Fatalf("empty result")
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("first content is %T", res.Content[0])
	}
	return tc.Text
}

// headerCheck wraps h and counts the requests that carried header name
// with value want, and those that did not.
type headerCheck struct {
	h          http.Handler
	name, want string
	with, not  atomic.Int32
}

func (c *headerCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(c.name) == c.want {
		c.with.Add(1)
	} else {
		c.not.Add(1)
	}
	c.h.ServeHTTP(w, r)
}

// serveStreamable serves s by Streamable HTTP on a loopback test server.
func serveStreamable(t testing.TB, s *mcp.Server, opts *mcp.StreamableHTTPOptions) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts))
	t.Cleanup(ts.Close)
	return ts
}

// serveSSE serves s by legacy HTTP+SSE on a loopback test server.
func serveSSE(t testing.TB, s *mcp.Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

// connect dials opts and runs the MCP handshake over the link with the
// engine's client. Both are closed when the test ends.
func connect(t *testing.T, opts remote.Options, copts *engine.ClientOptions) (*remote.Link, *engine.Client) {
	t.Helper()
	link, cl, err := tryConnect(t, opts, copts)
	if err != nil {
		t.Fatal(err)
	}
	return link, cl
}

func tryConnect(t *testing.T, opts remote.Options, copts *engine.ClientOptions) (*remote.Link, *engine.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	link, err := remote.Dial(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = link.Close() })
	var co engine.ClientOptions
	if copts != nil {
		co = *copts
	}
	if co.Name == "" {
		co.Name = "remote"
	}
	if co.Logger == nil {
		co.Logger = quietLogger
	}
	cl, err := engine.Connect(ctx, link.Reader(), link.Writer(), &co)
	if err != nil {
		return link, nil, err
	}
	t.Cleanup(func() { _ = cl.Close() })
	return link, cl, nil
}

// samplingHandler answers sampling/createMessage like a model would.
func samplingHandler(calls *atomic.Int32) engine.RequestHandler {
	return func(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
		calls.Add(1)
		switch method {
		case "sampling/createMessage":
			return &mcp.CreateMessageResult{Model: "test", Role: "assistant", Content: &mcp.TextContent{Text: "a reply"}}, nil
		case "elicitation/create":
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "tester", "email": "t@example.com"}}, nil
		}
		return nil, fmt.Errorf("unexpected %s", method)
	}
}

// within waits up to d for cond.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}
