package remote_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// TestFixtureStatelessLegacyInitialize shows what a legacy client meets at
// a dual-era stateless remote (the go-sdk fixture's default HTTP mode): the
// remote serves initialize with legacy semantics and answers later legacy
// requests statelessly, without a session or a standalone stream; requests
// from the server to the client are impossible there.
func TestFixtureStatelessLegacyInitialize(t *testing.T) {
	checkGoroutines(t)
	url := fixture(t, true)
	var asked atomic.Int32
	link, cl := connect(t, remote.Options{URL: url}, &engine.ClientOptions{OnRequest: samplingHandler(&asked)})
	if link.Transport() != remote.TransportStreamableHTTP || link.SessionID() != "" {
		t.Errorf("transport %q, session %q; want http without a session", link.Transport(), link.SessionID())
	}
	if v := cl.InitializeResult().ProtocolVersion; v != engine.LatestProtocolVersion {
		t.Errorf("negotiated %q, want %q", v, engine.LatestProtocolVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cl.CallTool(ctx, "test_simple_text", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultText(t, res); got == "" {
		t.Error("empty answer")
	}
	var steps atomic.Int32
	if _, err := cl.CallTool(engine.WithProgress(ctx, func(*mcp.ProgressNotificationParams) { steps.Add(1) }),
		"test_tool_with_progress", nil); err != nil {
		t.Fatal(err)
	}
	if steps.Load() != 3 {
		t.Errorf("%d progress notifications, want 3", steps.Load())
	}
	res, err = cl.CallTool(ctx, "test_sampling", map[string]any{"prompt": "x"})
	if err == nil && !res.IsError {
		t.Errorf("sampling through a stateless remote worked: %+v", res)
	}
	if asked.Load() != 0 {
		t.Errorf("the stateless remote sent %d requests", asked.Load())
	}
	if res != nil && res.IsError {
		t.Logf("sampling at a stateless remote: %s", resultText(t, res))
	}
}

// modernMeta is the _meta a 2026-07-28 request carries.
const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// rawExchange writes request lines to the link and reads one answer line
// per request, in any order, keyed by id.
func rawExchange(t *testing.T, link *remote.Link, lines ...string) map[string]json.RawMessage {
	t.Helper()
	for _, l := range lines {
		if _, err := fmt.Fprintln(link.Writer(), l); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]json.RawMessage{}
	done := make(chan error, 1)
	go func() {
		br := bufio.NewReader(link.Reader())
		for len(got) < len(lines) {
			line, err := br.ReadBytes('\n')
			if err != nil {
				done <- err
				return
			}
			var env struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			if err := json.Unmarshal(line, &env); err != nil {
				done <- fmt.Errorf("bad line %q: %v", line, err)
				return
			}
			if env.Method == "" {
				got[string(env.ID)] = line
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answers within 20s")
	}
	return got
}

// TestModernRequests sends 2026-07-28 requests (no initialize, version in
// _meta) through a link: the link sets MCP-Protocol-Version, Mcp-Method and
// Mcp-Name from each message, which the go-sdk fixture checks against the
// body.
func TestModernRequests(t *testing.T) {
	checkGoroutines(t)
	url := fixture(t, true)
	link, err := remote.Dial(context.Background(), remote.Options{URL: url, Transport: "http", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = link.Close() })
	got := rawExchange(t, link,
		`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{`+modernMeta+`}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text","arguments":{},`+modernMeta+`}}`,
		`{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"test://static-text",`+modernMeta+`}}`,
		`{"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"test_simple_prompt",`+modernMeta+`}}`,
	)
	for id, want := range map[string]string{"1": "supportedVersions", "2": "content", "3": "contents", "4": "messages"} {
		if !strings.Contains(string(got[id]), `"result"`) || !strings.Contains(string(got[id]), want) {
			t.Errorf("answer %s: %s", id, got[id])
		}
	}
}
