package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Fault injection with real processes: children killed under load, a child
// that never answers, floods on its stdout and stderr, a line of 100 MiB,
// clients that go away mid-call. Each test checks that every request gets
// exactly one answer and that goroutines and file descriptors come back to
// their baseline (testenv.NoLeaks).

// countingWriter counts the bytes and lines written to it.
type countingWriter struct {
	bytes, lines atomic.Int64
	mu           sync.Mutex
	last         bytes.Buffer // the last 64 KiB
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	w.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	w.mu.Lock()
	w.last.Write(p)
	if w.last.Len() > 64<<10 {
		b := append([]byte(nil), w.last.Bytes()[w.last.Len()-32<<10:]...)
		w.last.Reset()
		w.last.Write(b)
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *countingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.String()
}

// startFaultProxy starts a proxy without authentication over test servers
// (name → testserver mode and extra server members), logging at info to
// log (or the test's log at warn when nil).
func startFaultProxy(t *testing.T, servers map[string][2]string, proxyExtra string, log io.Writer) *proxyEnv {
	t.Helper()
	var parts []string
	for name, s := range servers {
		member := `{` + testserver.ConfigJSON(s[0], nil) + `, "restart": {"policy": "on-failure", "backoff": "10ms", "minUptime": "10ms", "maxRetries": 100}`
		if s[1] != "" {
			member += ", " + s[1]
		}
		parts = append(parts, fmt.Sprintf("%q: %s}", name, member))
	}
	src := fmt.Sprintf(`{"mcpServers": {%s}, "sseProxy": {"port": 0%s}}`, strings.Join(parts, ","), proxyExtra)
	cfg, err := config.Parse([]byte(src), "faults.json")
	if err != nil {
		t.Fatal(err)
	}
	logger := quietLogger(t)
	if log != nil {
		logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	r, err := engine.New(cfg, &engine.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartAllWithProxy(ctx, r, &Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := r.StopAll(ctx); err != nil {
			t.Errorf("StopAll: %v", err)
		}
	})
	return &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}
}

// callOnStream sends a tools/call with an SSE answer and returns every
// message event of the stream, which ends after the answer.
func callOnStream(ctx context.Context, client *http.Client, url, token, sid string, id int, tool, args string) ([]string, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(headerSessionID, sid)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var msgs []string
	var data []string
	event := ""
	sc := bufioScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "message" {
				msgs = append(msgs, strings.Join(data, "\n"))
			}
			event, data = "", nil
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	return msgs, sc.Err()
}

// answersTo returns the messages that answer id (results or errors).
func answersTo(msgs []string, id int) (answers []wire.Message) {
	for _, m := range msgs {
		pm, perr := wire.Parse([]byte(m))
		if perr == nil && pm.Kind == wire.KindResponse && string(pm.ID) == fmt.Sprint(id) {
			answers = append(answers, *pm)
		}
	}
	return answers
}

// Eight callers call a tool while the child is SIGKILLed 8 times: every
// call gets exactly one answer (a result, or an error for the calls the
// kill hit), none hangs, and the server is back within seconds each time.
func TestKillUnderLoad(t *testing.T) {
	testenv.NoLeaks(t)
	e := startFaultProxy(t, map[string][2]string{"k": {testserver.ModeNormal, ""}}, "", nil)
	url := e.base + "/servers/k/mcp"
	const callers, kills = 8, 8
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	type outcome struct {
		start, end time.Time
		ok         bool
		err        string
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		stop     atomic.Bool
		okCount  atomic.Int64
	)
	var wg sync.WaitGroup
	for c := range callers {
		sid := e.initialize("/servers/k/mcp", "")
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := c*1_000_000 + i
				o := outcome{start: time.Now()}
				msgs, err := callOnStream(context.Background(), client, url, "", sid, id, "slow", `{"steps":1,"delayMs":20}`)
				o.end = time.Now()
				answers := answersTo(msgs, id)
				switch {
				case err != nil:
					t.Errorf("call %d: %v", id, err)
					return
				case len(answers) != 1:
					t.Errorf("call %d: %d answers, want exactly one: %q", id, len(answers), msgs)
					return
				case answers[0].Error != nil:
					o.err = string(answers[0].Error)
				default:
					o.ok = true
					okCount.Add(1)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		})
	}
	var killedAt []time.Time
	for range kills {
		before := okCount.Load()
		testenv.WaitFor(t, func() bool { return okCount.Load() >= before+callers }, "calls to succeed before the next kill")
		st, err := e.r.Status("k")
		if err != nil || st.PID == 0 {
			t.Fatalf("status: %+v %v", st, err)
		}
		killedAt = append(killedAt, time.Now())
		if err := syscall.Kill(-st.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		testenv.WaitFor(t, func() bool { st2, _ := e.r.Status("k"); return st2.PID != st.PID && st2.State == engine.StateRunning }, "the restart")
	}
	before := okCount.Load()
	testenv.WaitFor(t, func() bool { return okCount.Load() >= before+callers }, "calls to succeed after the last kill")
	stop.Store(true)
	wg.Wait()

	// Recovery: from each kill to the end of the first call that started
	// after it and succeeded.
	var worst time.Duration
	failed := 0
	for _, o := range outcomes {
		if !o.ok {
			failed++
		}
	}
	for _, k := range killedAt {
		best := time.Duration(-1)
		for _, o := range outcomes {
			if o.ok && o.start.After(k) && (best < 0 || o.end.Sub(k) < best) {
				best = o.end.Sub(k)
			}
		}
		if best < 0 {
			t.Errorf("no successful call after the kill at %s", k.Format(time.StampMilli))
		}
		worst = max(worst, best)
	}
	t.Logf("%d calls, %d answered with an error (the kills hit them), %d kills, worst recovery %s", len(outcomes), failed, kills, worst)
	if worst > 5*time.Second {
		t.Errorf("recovery took %s, want under 5s", worst)
	}
	if failed > kills*callers {
		t.Errorf("%d failed calls for %d kills of %d callers: more than the kills can explain", failed, kills, callers)
	}
}

// A child that never answers: its callers get timeouts (one each, at about
// its requestTimeout), the other server's callers are not slowed, and the
// aggregate names it in _meta within listWait.
func TestSilentChild(t *testing.T) {
	testenv.NoLeaks(t)
	e := startFaultProxy(t, map[string][2]string{
		"good": {testserver.ModeNormal, ""},
		"mute": {testserver.ModeMute, `"requestTimeout": "700ms"`},
	}, `, "listWait": "1s"`, nil)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	muteSID := e.initialize("/servers/mute/mcp", "")
	goodSID := e.initialize("/servers/good/mcp", "")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			start := time.Now()
			msgs, err := callOnStream(context.Background(), client, e.base+"/servers/mute/mcp", "", muteSID, i, "echo", `{"text":"x"}`)
			a := answersTo(msgs, i)
			if err != nil || len(a) != 1 || !strings.Contains(string(a[0].Error), fmt.Sprint(wire.CodeTimeout)) {
				t.Errorf("mute call %d: %v %q", i, err, msgs)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("mute call %d took %s, want about its 700ms timeout", i, d)
			}
		})
		wg.Go(func() {
			for j := range 5 {
				id := 100 + i*10 + j
				start := time.Now()
				msgs, err := callOnStream(context.Background(), client, e.base+"/servers/good/mcp", "", goodSID, id, "echo", `{"text":"y"}`)
				if a := answersTo(msgs, id); err != nil || len(a) != 1 || a[0].Error != nil {
					t.Errorf("good call %d: %v %q", id, err, msgs)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("good call %d took %s while the other server is mute", id, d)
				}
			}
		})
	}
	wg.Wait()
	sid := e.initialize("/mcp", "")
	start := time.Now()
	res := e.rpc("/mcp", "", sid, "tools/list", "{}")
	meta, _ := json.Marshal(res["result"].(map[string]any)["_meta"])
	if !strings.Contains(string(meta), `"server":"mute"`) || time.Since(start) > 4*time.Second {
		t.Errorf("aggregate tools/list after %s: _meta %s", time.Since(start), meta)
	}
}

// A child that floods its stdout with lines that are not JSON-RPC and its
// stderr with lines costs a bounded log, and goes on answering.
func TestFloodsAreBounded(t *testing.T) {
	testenv.NoLeaks(t)
	log := &countingWriter{}
	e := startFaultProxy(t, map[string][2]string{"noisy": {testserver.ModeNormal, ""}}, "", log)
	sid := e.initialize("/servers/noisy/mcp", "")
	const lines = 200_000
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	for _, stream := range []string{"stdout", "stderr"} {
		res := e.rpc("/servers/noisy/mcp", "", sid, "tools/call", fmt.Sprintf(`{"name":"flood","arguments":{"lines":%d,"stream":%q}}`, lines, stream))
		if res["error"] != nil {
			t.Fatalf("flood %s: %v", stream, res["error"])
		}
	}
	if res := e.rpc("/servers/noisy/mcp", "", sid, "tools/call", `{"name":"echo","arguments":{"text":"still here"}}`); !strings.Contains(fmt.Sprint(res["result"]), "still here") {
		t.Errorf("echo after the floods: %v", res)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	t.Logf("2 × %d lines of noise: %d log lines (%d bytes), %s of proxy CPU in %s", lines, log.lines.Load(), log.bytes.Load(), cpu, time.Since(start))
	if n := log.bytes.Load(); n > 256<<10 {
		t.Errorf("the floods wrote %d bytes of log, want a bounded amount", n)
	}
}

// A line of 100 MiB on the child's stdout (over maxFrameBytes) ends its
// connection: the call in flight gets an error, the child restarts, the
// next call works; memory stays bounded by maxFrameBytes.
func TestHugeLine(t *testing.T) {
	testenv.NoLeaks(t)
	log := &countingWriter{}
	e := startFaultProxy(t, map[string][2]string{"big": {testserver.ModeNormal, ""}}, "", log)
	sid := e.initialize("/servers/big/mcp", "")
	st0, _ := e.r.Status("big")
	res := e.rpc("/servers/big/mcp", "", sid, "tools/call", `{"name":"hugeline","arguments":{"bytes":104857600}}`)
	if res["error"] == nil {
		t.Fatalf("hugeline: want an error, got %v", res)
	}
	// The call's error can reach the client before the line is logged.
	testenv.WaitFor(t, func() bool { return strings.Contains(log.String(), "larger than 16777216 bytes") }, "the log to say why (larger than 16777216 bytes)")
	testenv.WaitFor(t, func() bool { st, _ := e.r.Status("big"); return st.PID != st0.PID && st.State == engine.StateRunning }, "the restart")
	if res := e.rpc("/servers/big/mcp", "", sid, "tools/call", `{"name":"echo","arguments":{"text":"back"}}`); !strings.Contains(fmt.Sprint(res["result"]), "back") {
		t.Errorf("echo after the restart: %v", res)
	}
}

// A client that goes away mid-call leaves nothing behind: on legacy SSE
// the session ends with its stream and its call is cancelled upstream; on
// Streamable HTTP the call goes on (MCP 2025-11-25) until the session is
// deleted, which cancels it.
func TestClientGoneMidCall(t *testing.T) {
	testenv.NoLeaks(t)
	e := newEnv(t, transportOptions{Heartbeat: 50 * time.Millisecond}, "ts")
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ctl := initSession(t, e.base+"/servers/ts/mcp", "ctl")
	cancelled := func() int {
		resp := post(t, e.base+"/servers/ts/mcp", "ctl", map[string]string{headerSessionID: ctl, "Accept": "application/json"},
			`{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"cancelled","arguments":{}}}`)
		body := expectStatus(t, resp, 200)
		var n int
		fmt.Sscanf(body[strings.Index(body, `"text":"`)+8:], "%d", &n)
		return n
	}
	n0 := cancelled()

	// Legacy SSE: the stream breaks, the session closes, the call is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/servers/ts/sse", nil)
	req.Header.Set("Authorization", "Bearer legacy")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	st := readSSE(t, resp)
	endpoint := st.nextNamed(t, "endpoint").data
	expectStatus(t, post(t, e.base+endpoint, "legacy", nil, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hang","arguments":{}}}`), 202)
	time.Sleep(100 * time.Millisecond) // the call reaches the server
	cancel()
	testenv.WaitFor(t, func() bool { return cancelled() == n0+1 }, "the legacy call to be cancelled upstream")

	// Streamable HTTP: the call survives the disconnect; DELETE cancels it.
	sid := initSession(t, e.base+"/servers/ts/mcp", "sm")
	ctx2, cancel2 := context.WithCancel(context.Background())
	go callOnStream(ctx2, client, e.base+"/servers/ts/mcp", "sm", sid, 2, "hang", `{}`)
	time.Sleep(200 * time.Millisecond) // the call reaches the server
	cancel2()
	time.Sleep(200 * time.Millisecond)
	if n := cancelled(); n != n0+1 {
		t.Errorf("the Streamable HTTP call was cancelled by the disconnect (%d cancellations, want %d)", n, n0+1)
	}
	expectStatus(t, request(t, "DELETE", e.base+"/servers/ts/mcp", "sm", map[string]string{headerSessionID: sid}, ""), 204)
	testenv.WaitFor(t, func() bool { return cancelled() == n0+2 }, "the Streamable HTTP call to be cancelled by DELETE")
}

// bufioScanner reads lines of any length up to 16 MiB.
func bufioScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return sc
}
