package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/remote"
)

var (
	fixtureOnce sync.Once
	fixtureBin  string
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// fixture starts the go-sdk conformance fixture (everything-server) over
// HTTP on a free loopback port and returns its URL. It is built from the
// go-sdk version in go.mod.
func fixture(t *testing.T, stateless bool) string {
	t.Helper()
	url, _ := fixtureProc(t, stateless)
	return url
}

// fixtureProc is fixture that also returns a function that kills the
// fixture's process.
func fixtureProc(t *testing.T, stateless bool) (url string, kill func()) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "remote-fixture-")
		if fixtureErr != nil {
			return
		}
		fixtureBin = filepath.Join(fixtureDir, "everything-server")
		out, err := exec.Command("go", "build", "-o", fixtureBin,
			"github.com/modelcontextprotocol/go-sdk/conformance/everything-server").CombinedOutput()
		if err != nil {
			fixtureErr = fmt.Errorf("building the go-sdk conformance fixture: %v\n%s", err, out)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	for attempt := 0; attempt < 5; attempt++ {
		addr := freeAddr(t)
		cmd := exec.Command(fixtureBin, "-http", addr, fmt.Sprintf("-stateless=%v", stateless))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		kill = func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		t.Cleanup(kill)
		ok := within(10*time.Second, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				return true
			}
			return false
		})
		select {
		case <-exited:
			continue // lost the port to someone else: try another
		default:
		}
		if !ok {
			t.Fatal("the fixture did not listen within 10s")
		}
		return "http://" + addr, kill
	}
	t.Fatal("the fixture could not start")
	return "", nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFixtureLegacy drives the go-sdk conformance fixture in stateful mode
// (MCP 2025-11-25 over Streamable HTTP) through the engine over a link:
// progress, logging, sampling and elicitation round trips, resource
// subscriptions and their updates on the standalone stream.
func TestFixtureLegacy(t *testing.T) {
	checkGoroutines(t)
	url := fixture(t, false)
	var asked atomic.Int32
	link, cl := connect(t, remote.Options{URL: url}, &engine.ClientOptions{OnRequest: samplingHandler(&asked)})
	if link.Transport() != remote.TransportStreamableHTTP || link.SessionID() == "" {
		t.Fatalf("transport %q, session %q", link.Transport(), link.SessionID())
	}
	if v := cl.InitializeResult().ProtocolVersion; v != engine.LatestProtocolVersion {
		t.Errorf("negotiated %q", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("progress", func(t *testing.T) {
		var got []float64
		var mu sync.Mutex
		pctx := engine.WithProgress(ctx, func(p *mcp.ProgressNotificationParams) {
			mu.Lock()
			got = append(got, p.Progress)
			mu.Unlock()
		})
		if _, err := cl.CallTool(pctx, "test_tool_with_progress", nil); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != "[0 50 100]" {
			t.Errorf("progress %v", got)
		}
	})
	t.Run("logging", func(t *testing.T) {
		if err := cl.SetLogLevel(ctx, "info"); err != nil {
			t.Fatal(err)
		}
		var lines atomic.Int32
		remove := cl.OnNotification("notifications/message", func(string, string, json.RawMessage) { lines.Add(1) })
		defer remove()
		if _, err := cl.CallTool(ctx, "test_tool_with_logging", nil); err != nil {
			t.Fatal(err)
		}
		// The log lines come on the call's own stream, before its answer.
		if lines.Load() != 3 {
			t.Errorf("%d log notifications, want 3", lines.Load())
		}
	})
	t.Run("sampling", func(t *testing.T) {
		res, err := cl.CallTool(ctx, "test_sampling", map[string]any{"prompt": "2+2?"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resultText(t, res); got != "LLM response: a reply" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("elicitation", func(t *testing.T) {
		res, err := cl.CallTool(ctx, "test_elicitation", map[string]any{"message": "who?"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resultText(t, res); !strings.Contains(got, "action=accept") || !strings.Contains(got, "tester") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("subscription", func(t *testing.T) {
		updated := make(chan string, 4)
		remove := cl.OnNotification("notifications/resources/updated", func(_, _ string, params json.RawMessage) {
			var p mcp.ResourceUpdatedNotificationParams
			_ = json.Unmarshal(params, &p)
			select {
			case updated <- p.URI:
			default:
			}
		})
		defer remove()
		if err := cl.Subscribe(ctx, "test://watched-resource"); err != nil {
			t.Fatal(err)
		}
		// The fixture updates the resource every 3s, on the standalone stream.
		select {
		case uri := <-updated:
			if uri != "test://watched-resource" {
				t.Errorf("updated %q", uri)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no notifications/resources/updated within 10s")
		}
		if err := cl.Unsubscribe(ctx, "test://watched-resource"); err != nil {
			t.Fatal(err)
		}
	})
	if asked.Load() != 2 {
		t.Errorf("%d server→client requests answered, want 2", asked.Load())
	}
}
