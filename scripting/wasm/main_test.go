package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/procman"
	"github.com/mcpscript/mcpscript/scripting"
)

// Built once by TestMain: the test guest (testdata/guest) and the example
// filter (examples/filters/redact), and a compilation cache shared by the
// tests so that each module is compiled once per run.
var (
	guestWasm  string
	redactWasm string
	testCache  string
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	if testserver.Requested() {
		testserver.Main()
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mcpscript-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	guestWasm = filepath.Join(dir, "guest.wasm")
	redactWasm = filepath.Join(dir, "redact.wasm")
	testCache = filepath.Join(dir, "cache")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range []struct{ pkg, out string }{
		{"./testdata/guest", guestWasm},
		{"../../examples/filters/redact", redactWasm},
	} {
		wg.Go(func() { errs[i] = buildGuest(b.pkg, b.out) })
	}
	wg.Wait()
	// Compile both into the test cache side by side (slow under -race).
	for i, path := range []string{guestWasm, redactWasm} {
		if errs[i] != nil {
			continue
		}
		wg.Go(func() {
			f, err := Load(context.Background(), path, Options{CacheDir: testCache, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				errs[i] = err
				return
			}
			f.Close(context.Background())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// buildGuest builds a Go filter as a WASI reactor.
func buildGuest(pkg, out string) error {
	cmd := exec.Command("go", "build", "-buildvcs=false", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// testLogger sends the filter's log lines to t.Log and, when buf is not
// nil, to buf as text.
func testLogger(t testing.TB, buf *syncBuffer) *slog.Logger {
	var w interface{ Write([]byte) (int, error) } = testWriter{t}
	if buf != nil {
		w = buf
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// load loads path with the test cache and logger, closing it at the end.
func load(t testing.TB, path string, opts Options) *Filter {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = testCache
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t, nil)
	}
	f, err := Load(testCtx(t), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// writeModule writes wasm bytes to a file named name in a temp folder.
func writeModule(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// toolCall is the Input of a toolCall phase for tool.
func toolCall(tool string, args any) *scripting.Input {
	a, _ := json.Marshal(args)
	return &scripting.Input{Hook: scripting.PhaseToolCall, Server: "ts", Method: "tools/call",
		Caller: scripting.Caller{Transport: "go"}, Tool: tool, Arguments: a}
}

// chain is the filter as middleware in front of a fake server whose
// tools/call answers {"content": [{"type": "text", "text": TEXT}]} with
// the text argument (or "from the server").
func chain(f *Filter, timeout time.Duration) engine.Handler {
	next := func(_ context.Context, req *engine.Request) (json.RawMessage, error) {
		var p struct {
			Arguments struct {
				Text string `json:"text"`
			} `json:"arguments"`
		}
		_ = json.Unmarshal(req.Params, &p)
		if p.Arguments.Text == "" {
			p.Arguments.Text = "from the server"
		}
		return json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": p.Arguments.Text}}})
	}
	return scripting.Middleware(f, scripting.Options{Timeout: timeout})(next)
}

// callTool sends a tools/call through h.
func callTool(ctx context.Context, h engine.Handler, tool string, args any) (json.RawMessage, error) {
	params, _ := json.Marshal(map[string]any{"name": tool, "arguments": args})
	return h(ctx, &engine.Request{Server: "ts", Method: "tools/call", Params: params, Caller: engine.Identity{Transport: "go"}})
}

// resultText is the text of a CallToolResult's first content.
func resultText(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Content) == 0 {
		t.Fatalf("not a tool result: %s (%v)", raw, err)
	}
	return r.Content[0].Text
}
