package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// swappable serves through a handler that can be replaced, as a server
// that restarts and forgets its sessions would.
type swappable struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swappable) set(h http.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func handlerFor(transport string) http.Handler {
	srv := newServer()
	if transport == "sse" {
		return mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	}
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
}

func httpServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

func waitDone(t *testing.T, link *remote.Link) error {
	t.Helper()
	select {
	case <-link.Done():
		return link.Err()
	case <-time.After(20 * time.Second):
		t.Fatal("the link did not end within 20s")
		return nil
	}
}

// TestSessionExpired restarts the server under a live session: the next
// request gets 404, the link ends with ErrSessionExpired, and the engine's
// call fails with it.
func TestSessionExpired(t *testing.T) {
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			checkGoroutines(t)
			sw := &swappable{h: handlerFor(transport)}
			ts := httpServer(t, sw)
			link, cl := connect(t, remote.Options{URL: ts.URL, Transport: transport}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := cl.CallTool(ctx, "echo", map[string]any{"text": "x"}); err != nil {
				t.Fatal(err)
			}
			sw.set(handlerFor(transport)) // a restarted server: no sessions
			_, err := cl.CallTool(ctx, "echo", map[string]any{"text": "x"})
			if !errors.Is(err, remote.ErrSessionExpired) || !errors.Is(err, engine.ErrCommunication) {
				t.Fatalf("call after restart: %v", err)
			}
			if err := waitDone(t, link); !errors.Is(err, remote.ErrSessionExpired) {
				t.Errorf("link ended with %v", err)
			}
			if !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), ts.URL) {
				t.Errorf("error lacks the status or URL: %v", err)
			}
		})
	}
}

// TestSessionTimeout lets the server expire an idle session: the standalone
// stream ends, reopening it gets 404, and the link ends by itself.
func TestSessionTimeout(t *testing.T) {
	checkGoroutines(t)
	srv := newServer()
	ts := httpServer(t, mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{SessionTimeout: 300 * time.Millisecond}))
	link, _ := connect(t, remote.Options{URL: ts.URL, ReconnectDelay: 20 * time.Millisecond}, nil)
	if err := waitDone(t, link); !errors.Is(err, remote.ErrSessionExpired) {
		t.Errorf("link ended with %v, want ErrSessionExpired", err)
	}
}

// TestAuthRefused checks that refused credentials end the handshake with
// a clear error: ErrUnauthorized, the URL without credentials, the status
// and the server's WWW-Authenticate hint, and never the token.
func TestAuthRefused(t *testing.T) {
	verify := func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if token == "good" {
			return &auth.TokenInfo{Expiration: time.Now().Add(time.Hour)}, nil
		}
		return nil, auth.ErrInvalidToken
	}
	const prm = "https://mcp.example/.well-known/oauth-protected-resource"
	for _, transport := range []string{"http", "sse", ""} {
		t.Run("transport="+transport, func(t *testing.T) {
			checkGoroutines(t)
			h := handlerFor(transport)
			ts := httpServer(t, auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: prm})(h))
			u := strings.Replace(ts.URL, "http://", "http://user:pw@", 1) + "/?api_key=hidden"

			hdr := http.Header{"Authorization": {"Bearer bad-secret-token"}}
			_, _, err := tryConnect(t, remote.Options{URL: u, Transport: transport, Headers: hdr}, nil)
			if !errors.Is(err, remote.ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
			msg := err.Error()
			for _, want := range []string{strings.TrimPrefix(ts.URL, "http://"), "401", prm} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			for _, secret := range []string{"bad-secret-token", "pw", "hidden"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks %q: %s", secret, msg)
				}
			}
			var e *remote.Error
			if !errors.As(err, &e) || e.Status != 401 || !strings.Contains(e.WWWAuthenticate, "resource_metadata") {
				t.Errorf("typed error %+v", e)
			}

			hdr = http.Header{"Authorization": {"Bearer good"}}
			_, cl := connect(t, remote.Options{URL: ts.URL, Transport: transport, Headers: hdr}, nil)
			if _, err := cl.ListTools(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// forbidTool answers 403 to calls of one tool, as a gateway enforcing
// per-tool scopes would.
func forbidTool(tool string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(`"name":"`+tool+`"`)) {
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="tools:`+tool+`"`)
				http.Error(w, "insufficient scope", http.StatusForbidden)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// TestForbiddenCall checks that a 403 within a session fails that call
// only, with the server's hint, and the link stays up.
func TestForbiddenCall(t *testing.T) {
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			checkGoroutines(t)
			ts := httpServer(t, forbidTool("sleep", handlerFor(transport)))
			link, cl := connect(t, remote.Options{URL: ts.URL, Transport: transport}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := cl.CallTool(ctx, "sleep", map[string]any{"ms": 1})
			var rpc *engine.RPCError
			if !errors.As(err, &rpc) || !strings.Contains(rpc.Message, "403") || !strings.Contains(rpc.Message, "insufficient_scope") {
				t.Fatalf("forbidden call: %v", err)
			}
			if _, err := cl.CallTool(ctx, "echo", map[string]any{"text": "x"}); err != nil {
				t.Errorf("the link did not survive a 403: %v", err)
			}
			if link.Err() != nil {
				t.Errorf("link ended: %v", link.Err())
			}
		})
	}
}

// TestUnreachable checks the error for a remote that is down, with the
// URL's credentials redacted.
func TestUnreachable(t *testing.T) {
	for _, transport := range []string{"http", "sse", ""} {
		t.Run("transport="+transport, func(t *testing.T) {
			checkGoroutines(t)
			addr := freeAddr(t) // nothing listens there now
			_, _, err := tryConnect(t, remote.Options{URL: "http://me:secret@" + addr + "/mcp?token=secret", Transport: transport}, nil)
			if !errors.Is(err, remote.ErrUnreachable) {
				t.Fatalf("got %v, want ErrUnreachable", err)
			}
			if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error: %v", err)
			}
		})
	}
}

// TestNotMCP checks detection against an endpoint that speaks neither
// transport.
func TestNotMCP(t *testing.T) {
	checkGoroutines(t)
	ts := httpServer(t, http.NotFoundHandler())
	_, _, err := tryConnect(t, remote.Options{URL: ts.URL + "/nothing"}, nil)
	if !errors.Is(err, remote.ErrProtocol) {
		t.Fatalf("got %v, want ErrProtocol", err)
	}
	for _, want := range []string{"POST initialize answered HTTP 404", "GET event stream", "404"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// countingReader counts the responses that pass to the engine, per id.
type countingReader struct {
	r   io.Reader
	mu  sync.Mutex
	buf []byte
	ids map[string]int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p[:n]...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			break
		}
		var env struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(c.buf[:i], &env) == nil && env.Method == "" && len(env.ID) > 0 {
			c.ids[string(env.ID)]++
		}
		c.buf = c.buf[i+1:]
	}
	return n, err
}

func (c *countingReader) maxPerID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	most := 0
	for _, n := range c.ids {
		most = max(most, n)
	}
	return most
}

// inProcess serves h on a loopback listener; kill closes the listener and
// every connection at once, as a crashing server would.
func inProcess(t *testing.T, h http.Handler) (url string, kill func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	kill = func() { _ = srv.Close() }
	t.Cleanup(kill)
	return "http://" + l.Addr().String(), kill
}

// TestRemoteDiesMidCall kills the server while a call waits for its
// answer (the server waits for our answer to its sampling or elicitation
// request): the call fails with a clear error, once, and the link ends.
func TestRemoteDiesMidCall(t *testing.T) {
	tests := []struct {
		name, transport, tool string
		args                  map[string]any
		start                 func(t *testing.T) (string, func())
	}{
		{"fixture process", "http", "test_elicitation", map[string]any{"message": "?"},
			func(t *testing.T) (string, func()) { return fixtureProc(t, false) }},
		{"streamable", "http", "sample", nil, func(t *testing.T) (string, func()) { return inProcess(t, handlerFor("http")) }},
		{"legacy sse", "sse", "sample", nil, func(t *testing.T) (string, func()) { return inProcess(t, handlerFor("sse")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			url, kill := tt.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			link, err := remote.Dial(ctx, remote.Options{URL: url, Transport: tt.transport, Logger: quietLogger, ReconnectDelay: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer link.Close()
			asked := make(chan struct{}, 1)
			blockingHandler := func(ctx context.Context, _, _ string, _ json.RawMessage) (any, error) {
				asked <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			counter := &countingReader{r: link.Reader(), ids: map[string]int{}}
			cl, err := engine.Connect(ctx, counter, link.Writer(),
				&engine.ClientOptions{Name: "dies", Logger: quietLogger, OnRequest: blockingHandler})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()

			outcome := make(chan error, 2)
			go func() {
				res, err := cl.CallTool(ctx, tt.tool, tt.args)
				if err == nil {
					err = fmt.Errorf("unexpected result %+v", res.Content[0])
				}
				outcome <- err
			}()
			select {
			case <-asked: // the call is in flight on the server
			case err := <-outcome:
				t.Fatalf("the call ended early: %v", err)
			}
			kill()

			var callErr error
			select {
			case callErr = <-outcome:
			case <-time.After(15 * time.Second):
				t.Fatal("the call did not fail within 15s of the remote's death")
			}
			if callErr == nil || !strings.Contains(callErr.Error(), url) {
				t.Errorf("call error: %v", callErr)
			}
			t.Logf("call error: %v", callErr)
			err = waitDone(t, link)
			if !errors.Is(err, remote.ErrUnreachable) && !errors.Is(err, remote.ErrStreamClosed) {
				t.Errorf("link ended with %v", err)
			}
			t.Logf("link error: %v", err)
			select {
			case err := <-outcome:
				t.Errorf("a second outcome: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			if n := counter.maxPerID(); n > 1 {
				t.Errorf("a request got %d responses", n)
			}
		})
	}
}

// TestCancelledCall checks that a call abandoned by its caller is cancelled
// on the server and leaves nothing behind.
func TestCancelledCall(t *testing.T) {
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			checkGoroutines(t)
			srv := newServer()
			var ended atomic.Int32
			mcp.AddTool(srv, &mcp.Tool{Name: "block"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
				<-ctx.Done()
				ended.Add(1)
				return nil, nil, ctx.Err()
			})
			var h http.Handler
			if transport == "http" {
				h = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
			} else {
				h = mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil)
			}
			ts := httpServer(t, h)
			_, cl := connect(t, remote.Options{URL: ts.URL, Transport: transport}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := cl.CallTool(ctx, "block", nil)
			if !errors.Is(err, engine.ErrTimeout) {
				t.Fatalf("got %v, want ErrTimeout", err)
			}
			if !within(5*time.Second, func() bool { return ended.Load() == 1 }) {
				t.Error("the server's handler was not cancelled")
			}
			if _, err := cl.CallTool(context.Background(), "echo", map[string]any{"text": "x"}); err != nil {
				t.Errorf("call after a cancellation: %v", err)
			}
		})
	}
}

// TestMessageTooLarge checks the message size limit: an answer over it
// fails its call (the link stays up where the transport allows).
func TestMessageTooLarge(t *testing.T) {
	big := strings.Repeat("x", 5000)
	tests := []struct {
		name      string
		transport string
		opts      *mcp.StreamableHTTPOptions
		linkEnds  bool
	}{
		{"streamable SSE answer", "http", nil, false},
		{"streamable JSON answer", "http", &mcp.StreamableHTTPOptions{JSONResponse: true}, false},
		{"legacy SSE", "sse", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			var url string
			if tt.transport == "sse" {
				url = serveSSE(t, newServer()).URL
			} else {
				url = serveStreamable(t, newServer(), tt.opts).URL
			}
			link, cl := connect(t, remote.Options{URL: url, Transport: tt.transport, MaxMessageBytes: 4000}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := cl.CallTool(ctx, "echo", map[string]any{"text": big})
			if err == nil || !strings.Contains(err.Error(), "larger than 4000 bytes") {
				t.Fatalf("got %v", err)
			}
			if tt.linkEnds {
				if err := waitDone(t, link); !errors.Is(err, remote.ErrProtocol) {
					t.Errorf("link ended with %v", err)
				}
				return
			}
			if _, err := cl.CallTool(ctx, "echo", map[string]any{"text": "small"}); err != nil {
				t.Errorf("call after an oversized answer: %v", err)
			}
		})
	}
}

// TestResumeAnswerStream has the server close a call's event stream before
// the answer (MCP 2025-11-25 polling): the link resumes it with GET and
// Last-Event-ID and the call gets its answer.
func TestResumeAnswerStream(t *testing.T) {
	checkGoroutines(t)
	srv := newServer()
	mcp.AddTool(srv, &mcp.Tool{Name: "polled"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		if req.Extra == nil || req.Extra.CloseSSEStream == nil {
			return nil, nil, errors.New("no CloseSSEStream")
		}
		req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 10 * time.Millisecond})
		time.Sleep(200 * time.Millisecond)
		return text("after the break"), nil, nil
	})
	var gets atomic.Int32
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	ts := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Last-Event-Id") != "" {
			gets.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	_, cl := connect(t, remote.Options{URL: ts.URL, Transport: "http"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cl.CallTool(ctx, "polled", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultText(t, res); got != "after the break" {
		t.Errorf("got %q", got)
	}
	if gets.Load() == 0 {
		t.Error("no GET with Last-Event-ID")
	}
}
