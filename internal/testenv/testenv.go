// Package testenv holds the scaffolding the tests of several packages
// share: the TestMain that lets a test binary act as the process shim and
// the test server, runners over the test server, contexts with deadlines,
// loggers that write to the test's log, and polling with a deadline.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/procman"
)

// Main is a TestMain: the test binary re-executed as procman's shim or as
// the test server becomes that, and otherwise runs the tests.
func Main(m *testing.M) {
	procman.RunShimIfRequested()
	if testserver.Requested() {
		testserver.Main()
	}
	os.Exit(m.Run())
}

// ServerJSON returns the config of one test server in the given mode
// (see testserver.ConfigJSON), restarting quickly on failure; extra is
// spliced into its object (e.g. `"requestTimeout": "1s"`).
func ServerJSON(t testing.TB, mode, extra string) string {
	t.Helper()
	s := `{` + testserver.ConfigJSON(mode, nil) + `, "restart": {"policy": "on-failure", "backoff": "10ms"}`
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

// NewRunner builds a runner from {"mcpServers": {name: servers[name]...}}
// (nothing started), logging at warn to the test's log unless opts has a
// logger, and stops its servers when the test ends.
func NewRunner(t testing.TB, servers map[string]string, opts *engine.Options) *engine.Runner {
	t.Helper()
	var parts []string
	for name, s := range servers {
		parts = append(parts, fmt.Sprintf("%q: %s", name, s))
	}
	cfg, err := config.Parse([]byte(`{"mcpServers": {`+strings.Join(parts, ",")+`}}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	o := engine.Options{}
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = Logger(t, slog.LevelWarn)
	}
	r, err := engine.New(cfg, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.StopAll(ctx); err != nil {
			t.Errorf("StopAll: %v", err)
		}
	})
	return r
}

// Ctx returns a context that ends after a minute or with the test.
func Ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// Logger returns a logger that writes to the test's log (shown only for
// failing tests) at level and above.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(Writer{t}, &slog.HandlerOptions{Level: level}))
}

// Writer sends what is written to t.Log.
type Writer struct{ T testing.TB }

func (w Writer) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor polls cond every 5 ms until it holds, failing the test after 10 s
// with what it waited for.
func WaitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// NoLeaks records how many goroutines run and how many file descriptors
// are open now, and when the test ends (after every cleanup registered
// later: call it first) waits up to 10 s for both to come back to that
// baseline, failing the test with the goroutines' stacks otherwise. A
// slack of a few allows for what the runtime and the standard library
// start once and keep (the first timer, an HTTP client's idle connection).
func NoLeaks(t testing.TB) {
	t.Helper()
	const slack = 2
	g0, f0 := runtime.NumGoroutine(), OpenFDs()
	t.Cleanup(func() {
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), OpenFDs()
			if g <= g0+slack && f <= f0+slack {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: %d goroutines (%d before) and %d open fds (%d before) 10s after the test:\n%s", g, g0, f, f0, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// OpenFDs returns the number of file descriptors the process has open
// (from /proc/self/fd), or -1 where that cannot be read.
func OpenFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries) - 1 // the directory ReadDir itself opened
}

// RSS returns this process's resident memory in bytes (VmRSS), or -1
// when /proc does not say.
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			if f := bytes.Fields(v); len(f) > 0 {
				if n, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	return -1
}

// WatchRSS records this process's largest resident memory into peak,
// read every 10 ms, until the returned function is called.
func WatchRSS(peak *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if r := RSS(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
