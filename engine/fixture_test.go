// Sampling and elicitation are deprecated only from MCP 2026-07-28 on.
//lint:file-ignore SA1019 see above

package engine_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

// buildFixture builds the go-sdk's conformance fixture (everything-server)
// from the go-sdk version in go.mod, into the test's temporary folder.
func buildFixture(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "everything-server")
	out, err := exec.Command("go", "build", "-o", bin,
		"github.com/modelcontextprotocol/go-sdk/conformance/everything-server").CombinedOutput()
	if err != nil {
		t.Fatalf("building the go-sdk conformance fixture: %v\n%s", err, out)
	}
	return bin
}

// runFixture starts the fixture in stateful HTTP mode on addr (a free
// loopback port when empty) and returns its address and a function that
// kills it (also run when the test ends).
func runFixture(t *testing.T, bin, addr string) (string, func()) {
	t.Helper()
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	cmd := exec.Command(bin, "-http", addr, "-stateless=false")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr, kill
		}
		select {
		case <-exited:
			t.Fatalf("the fixture exited before listening on %s", addr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fixture did not listen on %s within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRemoteConformanceFixture drives the go-sdk's conformance fixture as
// a remote server of a Runner: tools, progress, sampling and elicitation,
// subscriptions; then the fixture is killed and started again, and the
// server reconnects per its restart policy.
func TestRemoteConformanceFixture(t *testing.T) {
	bin := buildFixture(t)
	addr, kill := runFixture(t, bin, "")
	var asked atomic.Int32
	r := remoteRunner(t, `"conf": {"type": "http", "url": "http://${ADDR}", `+quickRestart+`}`,
		map[string]string{"ADDR": addr}, &engine.Options{OnRequest: answerer(&asked)})
	ctx := testenv.Ctx(t)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := r.Client("conf")
	tools, err := c.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tl := range tools {
		names[tl.Name] = true
	}
	for _, want := range []string{"test_tool_with_progress", "test_sampling", "test_elicitation"} {
		if !names[want] {
			t.Errorf("the fixture lists no %s", want)
		}
	}

	var mu sync.Mutex
	var steps []float64
	pctx := engine.WithProgress(ctx, func(p *mcp.ProgressNotificationParams) {
		mu.Lock()
		steps = append(steps, p.Progress)
		mu.Unlock()
	})
	if _, err := c.CallTool(pctx, "test_tool_with_progress", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if fmt.Sprint(steps) != "[0 50 100]" {
		t.Errorf("progress %v", steps)
	}
	mu.Unlock()
	if res, err := c.CallTool(ctx, "test_sampling", map[string]any{"prompt": "2+2?"}); err != nil || text(t, res) != "LLM response: four" {
		t.Errorf("sampling: %v %v", res, err)
	}
	if res, err := c.CallTool(ctx, "test_elicitation", map[string]any{"message": "who?"}); err != nil || !strings.Contains(text(t, res), "tester") {
		t.Errorf("elicitation: %v %v", res, err)
	}
	if asked.Load() != 2 {
		t.Errorf("%d server→client requests answered, want 2", asked.Load())
	}

	updated := make(chan string, 4)
	remove := c.OnNotification("notifications/resources/updated", func(_, _ string, params json.RawMessage) {
		var p mcp.ResourceUpdatedNotificationParams
		_ = json.Unmarshal(params, &p)
		select {
		case updated <- p.URI:
		default:
		}
	})
	defer remove()
	if err := c.Subscribe(ctx, "test://watched-resource"); err != nil {
		t.Fatal(err)
	}
	select { // the fixture updates it every 3s, on the standalone stream
	case uri := <-updated:
		if uri != "test://watched-resource" {
			t.Errorf("updated %q", uri)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notifications/resources/updated within 10s")
	}

	kill()
	runFixture(t, bin, addr)
	// The link finds the new fixture knows nothing of its session (or,
	// first, that nothing listens): the server starts a new session.
	waitLong(t, "a call after the fixture restarted", func() bool {
		res, err := c.CallTool(ctx, "test_simple_text", nil)
		return err == nil && !res.IsError
	})
	st, _ := r.Status("conf")
	if st.State != engine.StateRunning || st.Restarts < 1 || st.Transport != "http" {
		t.Errorf("status after the fixture restarted: %+v", st)
	}
}
