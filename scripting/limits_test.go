package scripting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/testenv"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/hostproc"
)

// limitsJS runs, in toolCall, the code its arguments name; any other
// tool is a plain allow.
const limitsJS = `
const RUNAWAY = {
  "fill-3e8": () => new Array(3e8).fill(1),
  "fill-2e7": () => new Array(2e7).fill(1),
  "repeat-1GiB": () => "x".repeat(2 ** 30),
  "push-loop": () => { const a = []; for (;;) a.push({ n: a.length }) },
  "busy-loop": () => { for (;;) {} },
  "recursion": () => { const f = (n) => f(n + 1) + 1; return f(0) },
  "stringify": () => { const s = "x".repeat(1 << 20); const a = []; for (let i = 0; i < 2000; i++) a.push(s); return JSON.stringify(a).length },
}
export function toolCall({ tool, arguments: args }) {
  if (tool === "runaway") RUNAWAY[args.what]()
  return { arguments: { ok: true } }
}
`

// An outcome a runaway call may have: which limit stopped it.
const (
	byTimeout = "timeout"
	byMemory  = "memory"
	byStack   = "stack"
)

// TestHookLimits runs hooks that would take a whole process down (memory
// without end, a built-in function that ignores the interrupt, a loop,
// deep recursion) in host processes, at the default timeout and at 30s,
// and checks for each that the call fails in time with the error of the
// limit it hit, that another runtime of the same script serves calls
// meanwhile, that this process's memory stays put, and that the next call
// works.
func TestHookLimits(t *testing.T) {
	slack := 5 * time.Second
	if raceEnabled {
		slack = 20 * time.Second
	}
	for _, tc := range []struct {
		what    string
		timeout time.Duration
		want    []string // the acceptable outcomes (which limit hits first depends on the machine)
		open    bool     // fail-open: the request goes through
	}{
		{"fill-3e8", time.Second, []string{byTimeout, byMemory}, false},
		{"fill-3e8", 30 * time.Second, []string{byMemory}, false},
		{"fill-2e7", time.Second, []string{byTimeout, byMemory}, false},
		{"fill-2e7", 30 * time.Second, []string{byMemory}, false},
		{"repeat-1GiB", time.Second, []string{byMemory}, false},
		{"repeat-1GiB", 30 * time.Second, []string{byMemory}, true},
		{"push-loop", time.Second, []string{byTimeout, byMemory}, false},
		{"push-loop", 30 * time.Second, []string{byMemory}, false},
		{"busy-loop", time.Second, []string{byTimeout}, true},
		{"busy-loop", 30 * time.Second, []string{byTimeout}, false},
		{"recursion", time.Second, []string{byStack}, false},
		{"recursion", 30 * time.Second, []string{byStack}, false},
		{"stringify", time.Second, []string{byTimeout, byMemory}, false},
		{"stringify", 30 * time.Second, []string{byMemory}, false},
	} {
		name := fmt.Sprintf("%s/%v", tc.what, tc.timeout)
		if tc.open {
			name += "/fail-open"
		}
		t.Run(name, func(t *testing.T) {
			if tc.what == "busy-loop" && tc.timeout > time.Second && testing.Short() {
				t.Skip("spins for 30s")
			}
			t.Parallel()
			s := loadJS(t, "runaway.js", limitsJS, ScriptOptions{Pool: 2, Isolation: IsolationProcess})
			var passed atomic.Bool
			h := Middleware(s, Options{Timeout: tc.timeout, FailOpen: tc.open, Logger: testLogger(t)})(func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
				passed.Store(true)
				return json.RawMessage(`{"content":[]}`), nil
			})
			call := func(tool, what string) error {
				_, err := h(testCtx(t), &engine.Request{Server: "a", Method: "tools/call",
					Params: json.RawMessage(`{"name":"` + tool + `","arguments":{"what":"` + what + `"}}`)})
				return err
			}
			if err := call("echo", ""); err != nil {
				t.Fatalf("first call: %v", err)
			}
			rss0 := testenv.RSS()
			var peak atomic.Int64
			stopWatch := testenv.WatchRSS(&peak)

			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- call("runaway", tc.what) }()
			// Meanwhile the script's other runtime serves calls.
			served := 0
			var err error
		wait:
			for {
				select {
				case err = <-done:
					break wait
				default:
				}
				if err := call("echo", ""); err != nil {
					t.Errorf("a call while %s runs: %v", tc.what, err)
					break
				}
				served++
				time.Sleep(20 * time.Millisecond)
			}
			took := time.Since(start)
			stopWatch()

			if tc.open {
				if err != nil || !passed.Load() {
					t.Errorf("fail-open: %v (passed %v), want the request through", err, passed.Load())
				}
			} else {
				got := outcome(err)
				if !slicesContains(tc.want, got) {
					t.Errorf("outcome %q (%v), want one of %v", got, err, tc.want)
				}
				if !errors.Is(err, engine.ErrHook) || !strings.Contains(err.Error(), "hook runaway.js: toolCall failed: ") {
					t.Errorf("error %v does not name the hook and the phase", err)
				}
			}
			if bound := tc.timeout + killGrace + slack; took > bound {
				t.Errorf("the call took %v, more than %v", took, bound)
			}
			if served == 0 && took > time.Second {
				t.Errorf("no call served in %v while %s ran", took, tc.what)
			}
			if grew := peak.Load() - rss0; grew > 100<<20 {
				t.Errorf("this process grew by %d MiB while %s ran", grew>>20, tc.what)
			}
			if err := call("echo", ""); err != nil {
				t.Errorf("the next call: %v", err)
			}
			t.Logf("%s: %v after %v, %d calls served meanwhile, this process's RSS +%d MiB", tc.what, err, took.Round(time.Millisecond), served, (peak.Load()-rss0)>>20)
		})
	}
}

// outcome names the limit an error reports.
func outcome(err error) string {
	var mle *MemoryLimitError
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &mle) && errors.Is(err, ErrMemoryLimit) && strings.Contains(err.Error(), "exceeded its memory limit of 256 MiB"):
		return byMemory
	case errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "ran past its "):
		return byTimeout
	case strings.Contains(err.Error(), "call stack limit exceeded"):
		return byStack
	}
	return "other"
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hostChildren returns the pids of this process's hook hosts.
func hostChildren(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.HasPrefix(cmd, []byte("mcpscript-"+hostRole)) {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if ppid, _ := strconv.Atoi(f[1]); ppid == self && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHostsClosed checks that Close ends a script's host processes: the
// idle ones at once, the one in a call when the call ends.
func TestHostsClosed(t *testing.T) {
	before := len(hostChildren(t))
	s := loadJS(t, "spin.js", `export function toolCall(c) { if (c.tool === "spin") for (;;) {} }`, ScriptOptions{Pool: 2, Isolation: IsolationProcess})
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := s.Call(ctx, &Input{Hook: PhaseToolCall, Tool: "spin"})
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); len(s.idle) != 0; { // the spinning call holds the first host
		if time.Now().After(deadline) {
			t.Fatal("the spinning call never started")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Call(testCtx(t), &Input{Hook: PhaseToolCall, Tool: "x"}); err != nil {
		t.Fatal(err) // on a second host
	}
	waitHosts := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(hostChildren(t)) != before+want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d hosts, want %d", len(hostChildren(t))-before, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitHosts(2)
	_ = s.Close()
	waitHosts(1) // the busy one stays while its call runs
	select {
	case err := <-done:
		t.Fatalf("the spinning call ended at Close: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the spinning call: %v, want it cancelled", err)
	}
	waitHosts(0)
}

// noHostEnv makes TestMain leave the hook host disabled.
const noHostEnv = "MCPSCRIPT_TEST_NO_HOST"

func newBufLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestNoHost checks a program that did not call RunHostIfRequested: by
// default its scripts run in-process (with a warning), and a script that
// must be isolated fails to load with ErrNoHost. It runs this test binary
// again without the host enabled.
func TestNoHost(t *testing.T) {
	if os.Getenv(noHostEnv) != "" {
		if hostproc.Enabled() {
			t.Fatal("the host is enabled")
		}
		dir := writeFiles(t, map[string]string{"p.js": `export function toolCall() {}`})
		var log bytes.Buffer
		s, err := LoadScript(dir+"/p.js", ScriptOptions{Logger: newBufLogger(&log)})
		if err != nil || s.Isolated() || !strings.Contains(log.String(), "RunHostIfRequested") {
			t.Fatalf("by default: %v, isolated %v, log %q", err, s != nil && s.Isolated(), log.String())
		}
		s.Close()
		_, err = LoadScript(dir+"/p.js", ScriptOptions{Isolation: IsolationProcess})
		if !errors.Is(err, ErrNoHost) || !strings.Contains(err.Error(), "scripting.RunHostIfRequested()") {
			t.Fatalf("isolation process: %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoHost$", "-test.count=1")
	cmd.Env = append(os.Environ(), noHostEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("%v\n%s", err, out)
	}
}
