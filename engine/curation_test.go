package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/curation"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// curated is the tool curation of the tests' server: a few tools shown,
// one renamed and re-described, one hidden though it matches.
const curated = `"tools": {"include": ["echo", "pid", "t00*", "addtool", "elsewhere"], "exclude": ["t002"],
	"override": {"echo": {"name": "say", "title": "Say", "description": "Says the text back."}}}`

// nameRecorder is a middleware that records the tool names it sees, as a
// hook would: curation must show it the server's own names.
type nameRecorder struct {
	mu    sync.Mutex
	calls []string
	lists [][]string
}

func (n *nameRecorder) mw(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		if req.Method == "tools/call" {
			n.mu.Lock()
			n.calls = append(n.calls, req.Name())
			n.mu.Unlock()
		}
		res, err := next(ctx, req)
		if req.Method == "tools/list" && err == nil {
			var page struct{ Tools []struct{ Name string } }
			_ = json.Unmarshal(res, &page)
			var names []string
			for _, t := range page.Tools {
				names = append(names, t.Name)
			}
			n.mu.Lock()
			n.lists = append(n.lists, names)
			n.mu.Unlock()
		}
		return res, err
	}
}

func toolNames(t *testing.T, c *engine.Client) []string {
	t.Helper()
	tools, err := c.ListTools(testenv.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Name)
	}
	return names
}

// TestCurationThroughClient: lists and calls of a Runner's client see the
// curated tools; the middleware after curation (hooks) sees the server's.
func TestCurationThroughClient(t *testing.T) {
	rec := &nameRecorder{}
	r := newRunner(t, map[string]string{"ts": serverJSON(t, testserver.ModeNormal, curated)},
		&engine.Options{Middleware: []engine.Middleware{rec.mw}})
	ctx := testenv.Ctx(t)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("ts")
	tools, err := c.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Name)
		if tl.Name == "say" && (tl.Title != "Say" || tl.Description != "Says the text back." || tl.InputSchema == nil) {
			t.Errorf("say: %+v", tl)
		}
	}
	slices.Sort(names)
	if got := strings.Join(names, ","); got != "addtool,pid,say,t000,t001,t003,t004,t005,t006,t007,t008,t009" {
		t.Errorf("listed %s", got)
	}
	if got := call(t, c, "say", map[string]any{"text": "hi"}); got != "hi" {
		t.Errorf("say = %q", got)
	}
	for _, hidden := range []string{"echo", "t002", "big", "nope"} {
		_, err := c.CallTool(ctx, hidden, map[string]any{"text": "x"})
		var nf *engine.ToolNotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("%s: %v, want ToolNotFoundError", hidden, err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Contains(rec.calls, "echo") || slices.Contains(rec.calls, "say") || slices.Contains(rec.calls, "t002") {
		t.Errorf("the middleware after curation saw calls %v", rec.calls)
	}
	if len(rec.lists) == 0 || !slices.Contains(rec.lists[0], "echo") || !slices.Contains(rec.lists[0], "big") {
		t.Errorf("the middleware after curation saw lists %v", rec.lists)
	}
}

// TestCurationPins: a pinned tool is listed and called while its schema is
// the one pinned, also when it is called before any list; once the server
// changes the schema, it is left out of lists and its calls are refused.
func TestCurationPins(t *testing.T) {
	// The schema of the tool "shape", as pinned: taken from a server
	// without curation.
	plain := newRunner(t, map[string]string{"ts": serverJSON(t, testserver.ModeNormal, "")}, nil)
	ctx := testenv.Ctx(t)
	if err := plain.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	pc, _ := plain.Client("ts")
	call(t, pc, "addtool", map[string]any{"name": "shape"})
	page, err := pc.CallDirect(ctx, "tools/list", map[string]any{"cursor": ""})
	if err != nil {
		t.Fatal(err)
	}
	var pin string
	for p := page; ; {
		hashes, err := curation.Schemas(p)
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := hashes["shape"]; ok {
			pin = h
			break
		}
		var next struct{ NextCursor string }
		_ = json.Unmarshal(p, &next)
		if next.NextCursor == "" {
			t.Fatal("no tool shape")
		}
		if p, err = pc.CallDirect(ctx, "tools/list", map[string]any{"cursor": next.NextCursor}); err != nil {
			t.Fatal(err)
		}
	}

	r := newRunner(t, map[string]string{"ts": serverJSON(t, testserver.ModeNormal,
		fmt.Sprintf(`"tools": {"override": {"shape": {"name": "form", "pin": %q}}}`, pin))}, nil)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("ts")
	call(t, c, "addtool", map[string]any{"name": "shape"})
	// Called before any list: curation fetches the schema itself.
	if got := call(t, c, "form", map[string]any{"text": "ok"}); got != "ok" {
		t.Errorf("form = %q", got)
	}
	if !slices.Contains(toolNames(t, c), "form") {
		t.Error("the pinned tool is not listed while its schema matches")
	}
	// The server changes the schema (and announces it).
	call(t, c, "addtool", map[string]any{"name": "shape", "field": "extra"})
	testenv.WaitFor(t, func() bool {
		_, err := c.CallTool(ctx, "form", map[string]any{"text": "x"})
		return errors.Is(err, engine.ErrDenied)
	}, "the call of a tool whose schema changed to be refused")
	_, err = c.CallTool(ctx, "form", map[string]any{"text": "x"})
	var de *engine.DeniedError
	if !errors.As(err, &de) || de.By != "pin" || !strings.Contains(de.Reason, `input schema of tool "shape" changed`) ||
		!strings.Contains(de.Reason, pin) || !strings.Contains(de.Reason, "mcpscript tools --pins") {
		t.Errorf("refusal: %v", err)
	}
	if slices.Contains(toolNames(t, c), "form") {
		t.Error("the tool whose schema changed is still listed")
	}
}

// peer is a downstream session of a gateway, for these tests.
type peer struct {
	t  *testing.T
	s  *gateway.Session
	id int
}

func openSession(t *testing.T, g *gateway.Gateway, view string) *peer {
	t.Helper()
	s, err := g.Open(view, engine.Identity{Transport: "go"}, func(json.RawMessage, json.RawMessage) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &peer{t: t, s: s}
}

// request sends a request and returns its result, or its error message.
func (p *peer) request(method string, params any) (json.RawMessage, string) {
	p.t.Helper()
	p.id++
	raw, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": p.id, "method": method, "params": params})
	var res struct {
		Result json.RawMessage
		Error  *struct{ Message string }
	}
	if err := json.Unmarshal(p.s.Handle(testenv.Ctx(p.t), raw), &res); err != nil {
		p.t.Fatal(err)
	}
	if res.Error != nil {
		return nil, res.Error.Message
	}
	return res.Result, ""
}

func (p *peer) tools() []string {
	p.t.Helper()
	res, msg := p.request("tools/list", map[string]any{})
	if msg != "" {
		p.t.Fatalf("tools/list: %s", msg)
	}
	var page struct{ Tools []struct{ Name string } }
	_ = json.Unmarshal(res, &page)
	var names []string
	for _, tl := range page.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

func (p *peer) call(name, text string) (string, string) {
	p.t.Helper()
	res, msg := p.request("tools/call", map[string]any{"name": name, "arguments": map[string]any{"text": text}})
	if msg != "" {
		return "", msg
	}
	var r struct{ Content []struct{ Text string } }
	_ = json.Unmarshal(res, &r)
	if len(r.Content) == 0 {
		return "", "empty result"
	}
	return r.Content[0].Text, ""
}

// TestCurationThroughGateway: the aggregate and a server's own view list
// the curated tools under their new names and route calls of those names;
// hidden and renamed-away names are unknown tools; an uncurated server
// next to it is untouched.
func TestCurationThroughGateway(t *testing.T) {
	rec := &nameRecorder{}
	r := newRunner(t, map[string]string{
		"ts":    serverJSON(t, testserver.ModeNormal, curated),
		"other": serverJSON(t, testserver.ModeNormal, ""),
	}, &engine.Options{Middleware: []engine.Middleware{rec.mw}})
	g := gateway.New(r, &gateway.Options{Logger: testenv.Logger(t, 8)})
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}

	agg := openSession(t, g, "")
	var tsTools []string
	otherCount := 0
	for _, n := range agg.tools() {
		if rest, ok := strings.CutPrefix(n, "ts__"); ok {
			tsTools = append(tsTools, rest)
		} else if strings.HasPrefix(n, "other__") {
			otherCount++
		}
	}
	if got := strings.Join(tsTools, ","); got != "addtool,pid,say,t000,t001,t003,t004,t005,t006,t007,t008,t009" {
		t.Errorf("aggregate lists ts's %s", got)
	}
	if otherCount < testserver.ExtraTools {
		t.Errorf("the uncurated server lists %d tools", otherCount)
	}
	if got, msg := agg.call("ts__say", "agg"); got != "agg" {
		t.Errorf("ts__say: %q %s", got, msg)
	}
	if got, msg := agg.call("other__echo", "other"); got != "other" {
		t.Errorf("other__echo: %q %s", got, msg)
	}
	for _, name := range []string{"ts__echo", "ts__t002", "ts__big"} {
		if _, msg := agg.call(name, "x"); !strings.Contains(msg, "unknown tool") {
			t.Errorf("%s: %q, want unknown tool", name, msg)
		}
	}
	// The reference's shape names the server and its (curated) tool.
	res, msg := agg.request("tools/call", map[string]any{"server": "ts", "tool": "say", "arguments": map[string]any{"text": "ref"}})
	if msg != "" || !strings.Contains(string(res), "ref") {
		t.Errorf("reference shape: %s %s", res, msg)
	}

	view := openSession(t, g, "ts")
	if got := strings.Join(view.tools(), ","); got != "addtool,pid,say,t000,t001,t003,t004,t005,t006,t007,t008,t009" {
		t.Errorf("ts's own view lists %s", got)
	}
	if got, msg := view.call("say", "view"); got != "view" {
		t.Errorf("say in the view: %q %s", got, msg)
	}
	if _, msg := view.call("echo", "x"); msg != `unknown tool "echo" (the config renames it "say")` {
		t.Errorf("echo in the view: %q", msg)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if slices.Contains(rec.calls, "say") || !slices.Contains(rec.calls, "echo") {
		t.Errorf("the hooks saw calls %v", rec.calls)
	}
}
