package gateway_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// startPerSession starts a gateway over "ps" (per-session, with extra config)
// and "sh" (shared).
func startPerSession(t *testing.T, extra string) *gateway.Gateway {
	t.Helper()
	ps := `"childModel": "per-session"`
	if extra != "" {
		ps += ", " + extra
	}
	r := testenv.NewRunner(t, map[string]string{
		"ps": testenv.ServerJSON(t, "normal", ps),
		"sh": testenv.ServerJSON(t, "normal", ""),
	}, nil)
	g := gateway.New(r, nil)
	t.Cleanup(g.Close)
	if err := r.StartAll(testenv.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status("ps"); st.State != engine.StateStopped || st.Err != nil {
		t.Fatalf("per-session server status = %+v, want stopped", st)
	}
	return g
}

func pidOf(t *testing.T, p *peer, tool string) int {
	t.Helper()
	pid, err := strconv.Atoi(p.call(tool, nil))
	if err != nil || pid <= 0 {
		t.Fatalf("pid: %v", err)
	}
	return pid
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for testenv.Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGatewayPerSessionChildren(t *testing.T) {
	g := startPerSession(t, "")
	a := openPeer(t, g, "ps", engine.Identity{})
	a.initialize(engine.LatestProtocolVersion, nil)
	b := openPeer(t, g, "ps", engine.Identity{})
	b.initialize(engine.LatestProtocolVersion, nil)
	pa, pb := pidOf(t, a, "pid"), pidOf(t, b, "pid")
	if pa == pb {
		t.Fatalf("two sessions share pid %d", pa)
	}
	if again := pidOf(t, a, "pid"); again != pa {
		t.Fatalf("one session's calls got pids %d and %d", pa, again)
	}

	// The aggregate view gets private children too, and shares "sh".
	x := openPeer(t, g, "", engine.Identity{})
	x.initialize(engine.LatestProtocolVersion, nil)
	y := openPeer(t, g, "", engine.Identity{})
	var names []string
	for _, tl := range listTools(t, x) {
		names = append(names, tl.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "ps__pid") {
		t.Fatalf("aggregate tools %v lack ps__pid", names)
	}
	px, py := pidOf(t, x, "ps__pid"), pidOf(t, y, "ps__pid")
	if px == py || px == pa || px == pb {
		t.Fatalf("aggregate per-session pids %d %d (views: %d %d)", px, py, pa, pb)
	}
	if sx, sy := pidOf(t, x, "sh__pid"), pidOf(t, y, "sh__pid"); sx != sy {
		t.Fatalf("shared server pids differ: %d %d", sx, sy)
	}

	// Closing a session stops its child only.
	a.s.Close()
	waitGone(t, pa)
	if !testenv.Alive(pb) {
		t.Fatal("closing one session stopped another's child")
	}
	if again := pidOf(t, b, "pid"); again != pb {
		t.Fatalf("b's pid changed: %d -> %d", pb, again)
	}
}

func TestGatewayPerSessionIdleTimeout(t *testing.T) {
	g := startPerSession(t, `"sessionIdleTimeout": "300ms"`)
	a := openPeer(t, g, "ps", engine.Identity{})
	a.initialize(engine.LatestProtocolVersion, nil)
	pid := pidOf(t, a, "pid")
	waitGone(t, pid)
	if again := pidOf(t, a, "pid"); again == pid {
		t.Fatalf("after idling the same pid %d", pid)
	}
}

func TestGatewayPerSessionCap(t *testing.T) {
	g := startPerSession(t, `"maxSessions": 1`)
	a := openPeer(t, g, "ps", engine.Identity{})
	pid := pidOf(t, a, "pid")
	b := openPeer(t, g, "ps", engine.Identity{})
	e := b.fail("tools/call", map[string]any{"name": "pid"})
	if e.Code != -32603 || !strings.Contains(e.Message, `"ps"`) || !strings.Contains(e.Message, "cap of 1") {
		t.Fatalf("error = %d %s", e.Code, e.Message)
	}
	// In the aggregate, the capped server's calls name the cap too.
	x := openPeer(t, g, "", engine.Identity{})
	x.call("sh__pid", nil)
	if e := x.fail("tools/call", map[string]any{"name": "ps__pid"}); !strings.Contains(e.Message, "cap of 1") {
		t.Fatalf("aggregate error = %d %s", e.Code, e.Message)
	}
	a.s.Close()
	waitGone(t, pid)
	// The slot is freed once the child has stopped.
	var got int
	testenv.WaitFor(t, func() bool {
		r := b.request("tools/call", map[string]any{"name": "pid"})
		if r.Error != nil {
			return false
		}
		got, _ = strconv.Atoi(toolText(t, r.Result))
		return true
	}, "a slot after the first session closed")
	if got == pid || got == 0 {
		t.Fatalf("second session pid %d (first %d)", got, pid)
	}
}

func TestGatewayPerSessionConcurrentFirstUse(t *testing.T) {
	g := startPerSession(t, "")
	a := openPeer(t, g, "ps", engine.Identity{})
	var wg sync.WaitGroup
	pids := make([]int, 4)
	for i := range pids {
		wg.Go(func() {
			r := a.requestID(context.Background(), strconv.Itoa(100+i), "tools/call", map[string]any{"name": "pid"})
			if r.Error == nil {
				pids[i], _ = strconv.Atoi(toolText(t, r.Result))
			}
		})
	}
	wg.Wait()
	for _, p := range pids {
		if p != pids[0] || p == 0 {
			t.Fatalf("pids %v", pids)
		}
	}
}

// A private child's requests and notifications go to its own session, even
// while another session has requests in flight to the same server.
func TestGatewayPerSessionRouting(t *testing.T) {
	g := startPerSession(t, "")
	caps := map[string]any{"sampling": map[string]any{}}
	a := openPeer(t, g, "ps", engine.Identity{})
	a.initialize(engine.LatestProtocolVersion, caps)
	b := openPeer(t, g, "ps", engine.Identity{})
	b.initialize(engine.LatestProtocolVersion, caps)
	b.result("logging/setLevel", map[string]any{"level": "debug"})
	a.result("logging/setLevel", map[string]any{"level": "debug"})

	hang := make(chan *response, 1)
	go func() {
		hang <- b.requestID(testenv.Ctx(t), "77", "tools/call", map[string]any{"name": "hang", "_meta": map[string]any{"progressToken": 1}})
	}()
	b.waitMessages(1, method("notifications/progress"))

	done := make(chan *response, 1)
	go func() {
		done <- a.requestID(testenv.Ctx(t), `"s1"`, "tools/call", map[string]any{"name": "sample", "arguments": map[string]any{"prompt": "hi"}})
	}()
	req := a.waitMessages(1, method("sampling/createMessage"))[0]
	if req.Related != `"s1"` {
		t.Fatalf("sampling related to %s", req.Related)
	}
	a.handle(testenv.Ctx(t), `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"result":{"role":"assistant","model":"m","content":{"type":"text","text":"mine"}}}`)
	if r := <-done; r.Error != nil || toolText(t, r.Result) != "mine" {
		t.Fatalf("sample = %+v", r)
	}
	b.notify("notifications/cancelled", map[string]any{"requestId": 77})
	<-hang

	// Lists and list_changed are the session's own.
	a.call("addtool", map[string]any{"name": "only_a"})
	a.waitMessages(1, method("notifications/tools/list_changed"))
	a.call("log", map[string]any{"level": "info", "message": "from a"})
	a.waitMessages(1, method("notifications/message"))
	has := func(p *peer) bool {
		return strings.Contains(string(p.result("tools/list", nil)), `"only_a"`)
	}
	if !has(a) || has(b) {
		t.Fatalf("only_a listed: a %v b %v", has(a), has(b))
	}
	if n := len(b.messages(func(m outMsg) bool {
		return m.Method != "notifications/progress" && m.Method != "notifications/cancelled"
	})); n != 0 {
		t.Fatalf("b got %d messages of a's child: %v", n, b.messages(func(outMsg) bool { return true }))
	}
}
