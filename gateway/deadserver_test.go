package gateway_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// A server that answers its handshake and then nothing (testserver's mute
// mode) must not serialise the aggregate's callers behind it: each waits
// at most ListWait, gets the other servers' lists and the dead one's name
// in _meta; calls to the other servers' tools do not wait for it at all;
// a call to its own tool waits for its own timeout only.
func TestDeadServerDoesNotSerialiseTheAggregate(t *testing.T) {
	const listWait = time.Second
	const requestTimeout = 2 * time.Second
	r := testenv.NewRunner(t, map[string]string{
		"good": testenv.ServerJSON(t, "normal", ""),
		"dead": testenv.ServerJSON(t, "mute", `"requestTimeout": "2s"`),
	}, nil)
	g := gateway.New(r, &gateway.Options{ListWait: listWait, Logger: testenv.Logger(t, slog.LevelError)})
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}

	const callers = 8
	peers := make([]*peer, callers)
	for i := range peers {
		peers[i] = openPeer(t, g, "", engine.Identity{Session: "s" + string(rune('0'+i))})
		peers[i].initialize("2025-06-18", nil)
	}
	type outcome struct {
		took  time.Duration
		tools int
		meta  string
		err   *rpcError
	}
	run := func(method string, params any) []outcome {
		out := make([]outcome, callers)
		var wg sync.WaitGroup
		for i, p := range peers {
			wg.Go(func() {
				start := time.Now()
				res := p.request(method, params)
				out[i].took, out[i].err = time.Since(start), res.Error
				if res.Error == nil {
					var l struct {
						Tools []json.RawMessage `json:"tools"`
						Meta  json.RawMessage   `json:"_meta"`
					}
					json.Unmarshal(res.Result, &l)
					out[i].tools, out[i].meta = len(l.Tools), string(l.Meta)
				}
			})
		}
		wg.Wait()
		return out
	}

	// The good server's list is cached once (its first fetch, 4 pages, may
	// itself take a while on a loaded machine).
	testenv.WaitFor(t, func() bool {
		var l struct{ Tools []json.RawMessage }
		json.Unmarshal(peers[0].result("tools/list", nil), &l)
		return len(l.Tools) > 10
	}, "the good server's tools in the aggregate")

	// Concurrent lists: each within the bound (plus slack for a loaded
	// machine), not k × requestTimeout.
	for i, o := range run("tools/list", nil) {
		if o.err != nil {
			t.Fatalf("caller %d: tools/list failed: %d %s", i, o.err.Code, o.err.Message)
		}
		if o.took > listWait+time.Second {
			t.Errorf("caller %d: tools/list took %s, want about %s", i, o.took, listWait)
		}
		if o.tools < 10 || !strings.Contains(o.meta, `"mcpscript/unavailable":[{"server":"dead","reason":`) || strings.Contains(o.meta, "good") {
			t.Errorf("caller %d: %d tools, _meta %s; want good's tools and dead named", i, o.tools, o.meta)
		}
	}

	// An unknown name is answered within the bound too.
	for i, o := range run("tools/call", map[string]any{"name": "nope", "arguments": map[string]any{}}) {
		if o.err == nil || o.err.Code != wire.CodeInvalidParams || o.took > listWait+time.Second {
			t.Errorf("caller %d: unknown tool: %+v after %s, want invalid params within %s", i, o.err, o.took, listWait)
		}
	}

	// The good server's tools do not wait for the dead one.
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() {
			start := time.Now()
			if got := p.call("good__echo", map[string]any{"text": "hi"}); got != "hi" {
				t.Errorf("caller %d: echo = %q", i, got)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("caller %d: good__echo took %s", i, d)
			}
		})
	}
	wg.Wait()

	// The dead server's own tool: one shared list fetch, so every caller
	// times out once, at about requestTimeout, not k × requestTimeout.
	for i, o := range run("tools/call", map[string]any{"name": "dead__echo", "arguments": map[string]any{}}) {
		if o.err == nil || o.took > requestTimeout+2*time.Second {
			t.Errorf("caller %d: dead__echo: %+v after %s, want an error within about %s", i, o.err, o.took, requestTimeout)
		}
	}
	// The failure is remembered for a moment: the next caller learns it at
	// once (the call before makes sure a failure has just happened).
	peers[0].fail("tools/call", map[string]any{"name": "dead__echo", "arguments": map[string]any{}})
	start := time.Now()
	if e := peers[0].fail("tools/call", map[string]any{"name": "dead__echo", "arguments": map[string]any{}}); e.Code != wire.CodeTimeout {
		t.Errorf("dead__echo again: %d %s, want the timeout", e.Code, e.Message)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("dead__echo again took %s, want the remembered failure at once", d)
	}
}
