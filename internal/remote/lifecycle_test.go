package remote_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// TestCloseEndsSession checks that closing a Streamable HTTP link sends
// DELETE with the session id, and that the remote then forgets it.
func TestCloseEndsSession(t *testing.T) {
	checkGoroutines(t)
	h := handlerFor("http")
	var mu sync.Mutex
	deletes := map[string]int{}
	ts := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			mu.Lock()
			deletes[r.Header.Get("Mcp-Session-Id")]++
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	link, cl := connect(t, remote.Options{URL: ts.URL}, nil)
	session := link.SessionID()
	if _, err := cl.ListTools(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = cl.Close() // closes the link's Writer, which closes the link
	select {
	case <-link.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("closing the client did not close the link")
	}
	if !errors.Is(link.Err(), remote.ErrClosed) {
		t.Errorf("Err() = %v", link.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if session == "" || deletes[session] != 1 || len(deletes) != 1 {
		t.Errorf("DELETEs %v for session %q", deletes, session)
	}
	// The session is gone: a request in it is refused.
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET in the closed session: %d", resp.StatusCode)
	}
}

// TestHungRemote points the link at a server that accepts requests and
// never answers: the handshake ends at its deadline and the link's
// goroutines end with it.
func TestHungRemote(t *testing.T) {
	for _, transport := range []string{"http", "sse", ""} {
		t.Run("transport="+transport, func(t *testing.T) {
			checkGoroutines(t)
			ts := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Reading the body lets the server notice the client leave.
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			link, err := remote.Dial(ctx, remote.Options{URL: ts.URL, Transport: transport, Logger: quietLogger})
			if err != nil {
				// Dialing HTTP+SSE waits for the endpoint event within ctx.
				if transport != "sse" || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Dial: %v", err)
				}
				return
			}
			defer link.Close()
			_, err = engine.Connect(ctx, link.Reader(), link.Writer(), &engine.ClientOptions{Name: "hung", Logger: quietLogger})
			if !errors.Is(err, engine.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Connect: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}
