package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// lines decodes the JSON lines of an audit file.
func lines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestRecordJSON(t *testing.T) {
	r := &audit.Record{
		Seq: 7, Time: time.Date(2026, 12, 3, 10, 0, 0, 1000, time.FixedZone("x", 3600)),
		Caller: audit.Caller{Transport: "streamable-http", Token: "ci", Subject: "ada@example.com", Session: "s1", Protocol: "2025-11-25", ClientName: "cli", ClientVersion: "2.1"},
		Server: "demo", Method: "tools/call", Tool: "echo\u2028\"",
		ArgsBytes: 13, ArgsSHA256: "ab", Arguments: json.RawMessage(`{"text":"hi"}`),
		Decisions: []engine.Decision{{By: "p.js", Kind: engine.DecisionDenied, Reason: "read-only"}, {By: "f", Kind: engine.DecisionContinue}},
		Fields:    []audit.Field{{Key: "user", Value: json.RawMessage(`"ada"`)}, {Key: "n", Value: json.RawMessage(`2`)}},
		Outcome:   audit.OutcomeDenied, Code: -32003, Error: "denied: no", Latency: 1234567 * time.Nanosecond,
		TraceID: "4bf9", SpanID: "00f0",
	}
	want := `{"seq":7,"time":"2026-12-03T09:00:00.000001Z","caller":{"transport":"streamable-http","token":"ci","subject":"ada@example.com","session":"s1","protocol":"2025-11-25","clientName":"cli","clientVersion":"2.1"},` +
		`"server":"demo","method":"tools/call","tool":"echo\u2028\"","argsBytes":13,"argsSha256":"ab","arguments":{"text":"hi"},` +
		`"decisions":[{"by":"p.js","kind":"deny","reason":"read-only"},{"by":"f","kind":"continue"}],"fields":{"user":"ada","n":2},` +
		`"outcome":"denied","code":-32003,"error":"denied: no","latencyMs":1.234,"traceId":"4bf9","spanId":"00f0"}`
	if got := string(r.AppendJSON(nil)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	min := &audit.Record{Seq: 1, Time: time.Unix(0, 0), Caller: audit.Caller{Transport: "go"}, Server: "a", Method: "ping", Outcome: "ok"}
	if got := string(min.AppendJSON(nil)); got != `{"seq":1,"time":"1970-01-01T00:00:00Z","caller":{"transport":"go"},"server":"a","method":"ping","outcome":"ok","latencyMs":0}` {
		t.Errorf("minimal record: %s", got)
	}
	if b, err := json.Marshal(r); err != nil || !json.Valid(b) {
		t.Errorf("json.Marshal: %v %s", err, b)
	}
}

// hooks is middleware standing in for the hook runner: it reports its
// decisions into the request's notes, as scripting does.
func hooks(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		switch req.Name() {
		case "secret":
			req.Notes.AddDecision("policy.js", engine.DecisionDenied, "secrets stay home")
			return nil, &engine.DeniedError{By: "policy.js", Server: req.Server, Method: req.Method, Name: "secret", Reason: "secrets stay home"}
		case "quiet":
			return nil, &engine.DeniedError{By: "quiet.js", Server: req.Server, Method: req.Method, Reason: "not reported"}
		case "broken":
			return nil, &engine.HookError{Hook: "broken.js", Phase: "toolCall", Err: errors.New("TypeError: x is undefined\n    at toolCall (broken.js:3)")}
		}
		req.Notes.AddDecision("policy.js", engine.DecisionContinue, "")
		if err := req.Notes.Add(map[string]any{"user": "ada"}); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func TestTrailRecordsEveryOutcome(t *testing.T) {
	for _, mode := range []string{config.AuditHash, config.AuditFull, config.AuditNone} {
		t.Run(mode, func(t *testing.T) {
			var buf testenv.Buffer
			trail := audit.New(&buf, audit.Options{Arguments: mode})
			tp := sdktrace.NewTracerProvider()
			defer tp.Shutdown(context.Background())
			r := testenv.NewRunner(t, map[string]string{"ts": testenv.ServerJSON(t, "normal", "")},
				&engine.Options{Observers: []engine.Middleware{trail.Observer()}, Middleware: []engine.Middleware{hooks}, TracerProvider: tp})
			if err := r.StartAll(testenv.Ctx(t)); err != nil {
				t.Fatal(err)
			}
			c, _ := r.Client("ts")
			ctx := engine.WithIdentity(testenv.Ctx(t), engine.Identity{Transport: "cli", Token: "ci", Session: "s9",
				Subject: "ada@example.com", ClientName: "claude-code", ClientVersion: "2.1"})
			args := json.RawMessage(`{"text": "hello"}`)
			if _, err := c.Call(ctx, "tools/call", json.RawMessage(`{"name":"echo","arguments":`+string(args)+`}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CallTool(ctx, "secret", nil); !errors.Is(err, engine.ErrDenied) {
				t.Fatalf("secret: %v", err)
			}
			_, _ = c.CallTool(ctx, "quiet", nil)
			_, _ = c.CallTool(ctx, "broken", nil)
			if res, err := c.CallTool(ctx, "big", map[string]any{"bytes": -1}); err != nil || !res.IsError {
				t.Fatalf("big -1: %v %v", res, err)
			}
			if _, err := c.ReadResource(ctx, "test://nope"); err == nil {
				t.Fatal("reading a missing resource worked")
			}
			if err := trail.Close(); err != nil {
				t.Fatal(err)
			}
			recs := lines(t, []byte(buf.String()))
			if len(recs) != 6 {
				t.Fatalf("%d records, want 6:\n%s", len(recs), buf.String())
			}
			echo, secret, quiet, broken, big, read := recs[0], recs[1], recs[2], recs[3], recs[4], recs[5]

			sum := sha256.Sum256(args)
			wantHash := hex.EncodeToString(sum[:])
			if echo["tool"] != "echo" || echo["outcome"] != "ok" || echo["server"] != "ts" || echo["argsBytes"] != float64(len(args)) {
				t.Errorf("echo record %v", echo)
			}
			caller, _ := echo["caller"].(map[string]any)
			if caller["transport"] != "cli" || caller["token"] != "ci" || caller["session"] != "s9" ||
				caller["subject"] != "ada@example.com" || caller["clientName"] != "claude-code" || caller["clientVersion"] != "2.1" {
				t.Errorf("caller %v", caller)
			}
			switch mode {
			case config.AuditHash:
				if echo["argsSha256"] != wantHash || echo["arguments"] != nil {
					t.Errorf("hash mode: %v", echo)
				}
			case config.AuditFull:
				if a, _ := echo["arguments"].(map[string]any); echo["argsSha256"] != wantHash || a["text"] != "hello" {
					t.Errorf("full mode: %v", echo)
				}
			case config.AuditNone:
				if echo["argsSha256"] != nil || echo["arguments"] != nil {
					t.Errorf("none mode: %v", echo)
				}
			}
			if f, _ := echo["fields"].(map[string]any); f["user"] != "ada" {
				t.Errorf("fields %v", echo["fields"])
			}
			if tid, _ := echo["traceId"].(string); len(tid) != 32 || echo["spanId"] == nil {
				t.Errorf("trace id %v", echo["traceId"])
			}
			if l, _ := echo["latencyMs"].(float64); l <= 0 || l > 10000 {
				t.Errorf("latency %v", echo["latencyMs"])
			}
			decision := func(rec map[string]any) map[string]any {
				ds, _ := rec["decisions"].([]any)
				if len(ds) != 1 {
					t.Errorf("%v: decisions %v, want one", rec["tool"], rec["decisions"])
					return nil
				}
				d, _ := ds[0].(map[string]any)
				return d
			}
			for _, tc := range []struct {
				rec            map[string]any
				by, kind, why  string
				outcome        string
				code           float64
				errorSubstring string
			}{
				{secret, "policy.js", "deny", "secrets stay home", "denied", -32003, "secrets stay home"},
				{quiet, "quiet.js", "deny", "not reported", "denied", -32003, "not reported"},
				{broken, "broken.js", "failed", "TypeError: x is undefined", "error", -32603, "TypeError"},
			} {
				d := decision(tc.rec)
				if d["by"] != tc.by || d["kind"] != tc.kind || d["reason"] != tc.why || tc.rec["outcome"] != tc.outcome ||
					tc.rec["code"] != tc.code || !strings.Contains(tc.rec["error"].(string), tc.errorSubstring) {
					t.Errorf("record %v", tc.rec)
				}
				if strings.Contains(tc.rec["error"].(string), "\n") {
					t.Errorf("error keeps a stack: %q", tc.rec["error"])
				}
			}
			if big["outcome"] != "isError" || big["code"] != nil {
				t.Errorf("isError record %v", big)
			}
			if read["outcome"] != "error" || read["uri"] != "test://nope" || read["code"] == nil || read["method"] != "resources/read" {
				t.Errorf("error record %v", read)
			}
			for i, rec := range recs {
				if rec["seq"] != float64(i+1) {
					t.Errorf("record %d has seq %v", i, rec["seq"])
				}
			}
		})
	}
}

func TestTrailReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	trail, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	obs := trail.Observer()(func(context.Context, *engine.Request) (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	call := func(method string) {
		if _, err := obs(context.Background(), &engine.Request{Server: "a", Method: method}); err != nil {
			t.Fatal(err)
		}
	}
	call("one")
	testenv.WaitFor(t, func() bool { return trail.Written() == 1 }, "the first record")
	if err := os.Rename(path, path+".1"); err != nil { // what logrotate does
		t.Fatal(err)
	}
	call("two") // still into the renamed file
	testenv.WaitFor(t, func() bool { return trail.Written() == 2 }, "the second record")
	if err := trail.Reopen(); err != nil {
		t.Fatal(err)
	}
	call("three")
	if err := trail.Close(); err != nil {
		t.Fatal(err)
	}
	if err := trail.Reopen(); err == nil {
		t.Error("Reopen after Close worked")
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if o, c := lines(t, old), lines(t, cur); len(o) != 2 || len(c) != 1 || o[1]["method"] != "two" || c[0]["method"] != "three" {
		t.Errorf("rotated file %s\nnew file %s", old, cur)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, %v", fi.Mode(), err)
	}
	if _, err := audit.Open(filepath.Join(dir, "missing", "a.jsonl"), audit.Options{}); err == nil || !strings.Contains(err.Error(), "folder exists") {
		t.Errorf("open in a missing folder: %v", err)
	}
}

func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.ParseWithOptions([]byte(`{"mcpServers": {"a": {"command": "x"}}, "audit": {"file": "logs.jsonl", "arguments": "none"}}`), "c.json", config.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.FromConfig(cfg, nil)
	if err != nil || trail == nil {
		t.Fatal(trail, err)
	}
	trail.Close()
	if _, err := os.Stat(filepath.Join(dir, "logs.jsonl")); err != nil {
		t.Errorf("the file is not relative to the config: %v", err)
	}
	cfg.Audit = nil
	if trail, err := audit.FromConfig(cfg, nil); trail != nil || err != nil {
		t.Errorf("no audit section: %v %v", trail, err)
	}
}

// gate is a writer that blocks until released.
type gate struct {
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func TestTrailDropsRatherThanBlocks(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	trail := audit.New(g, audit.Options{Queue: 4})
	obs := trail.Observer()(func(context.Context, *engine.Request) (json.RawMessage, error) { return nil, nil })
	const n = 100
	done := make(chan struct{})
	go func() {
		for range n {
			_, _ = obs(context.Background(), &engine.Request{Server: "a", Method: "m"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests waited for a stuck writer")
	}
	if trail.Dropped() == 0 {
		t.Error("nothing dropped with a stuck writer and a queue of 4")
	}
	close(g.open)
	trail.Close()
	if got := trail.Written() + trail.Dropped(); got != n {
		t.Errorf("written %d + dropped %d = %d, want %d", trail.Written(), trail.Dropped(), got, n)
	}
	if recs := lines(t, g.buf.Bytes()); uint64(len(recs)) != trail.Written() {
		t.Errorf("%d lines, %d written", len(recs), trail.Written())
	}
}

func TestSubscribe(t *testing.T) {
	trail := audit.New(nil, audit.Options{Backlog: 3})
	obs := trail.Observer()(func(context.Context, *engine.Request) (json.RawMessage, error) { return nil, nil })
	send := func(method string) { _, _ = obs(context.Background(), &engine.Request{Server: "a", Method: method}) }
	for _, m := range []string{"1", "2", "3", "4"} {
		send(m)
	}
	testenv.WaitFor(t, func() bool { return trail.Written() == 4 }, "4 records")
	backlog, sub := trail.Subscribe(2)
	var got []string
	for _, r := range backlog {
		got = append(got, r.Method)
	}
	if strings.Join(got, ",") != "2,3,4" {
		t.Errorf("backlog %v, want the last 3", got)
	}
	slow, slowSub := trail.Subscribe(1)
	_ = slow
	send("5")
	send("6")
	send("7")
	for _, want := range []string{"5", "6"} {
		select {
		case r := <-sub.C:
			if r.Method != want || r.Seq == 0 {
				t.Errorf("live record %s (seq %d), want %s", r.Method, r.Seq, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no live record")
		}
	}
	testenv.WaitFor(t, func() bool { return trail.Written() == 7 }, "7 records")
	if slowSub.Dropped() == 0 {
		t.Error("a subscriber with room for 1 missed nothing of 3")
	}
	sub.Close()
	sub.Close()
	trail.Close()
	for range slowSub.C { // closed with the trail
	}
	if _, after := trail.Subscribe(1); after != nil {
		if _, ok := <-after.C; ok {
			t.Error("a subscription after Close is open")
		}
	}
}

// A trail without a writer only feeds subscribers; Open("-") writes to
// standard output.
func TestStdout(t *testing.T) {
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	trail, err := audit.Open(config.AuditStdout, audit.Options{})
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	obs := trail.Observer()(func(context.Context, *engine.Request) (json.RawMessage, error) { return nil, nil })
	_, _ = obs(context.Background(), &engine.Request{Server: "a", Method: "ping", Caller: engine.Identity{Transport: "go"}})
	trail.Close()
	w.Close()
	out, _ := io.ReadAll(r)
	if recs := lines(t, out); len(recs) != 1 || recs[0]["method"] != "ping" {
		t.Errorf("stdout: %s", out)
	}
}
