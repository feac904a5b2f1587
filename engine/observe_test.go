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
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

func TestObserversAreOutermostAndNotMiddleware(t *testing.T) {
	var mu sync.Mutex
	var log []string
	rec := func(name string) engine.Middleware { return recorder{name, &mu, &log}.mw }
	r, c := startOne(t, "normal", "", &engine.Options{Observers: []engine.Middleware{rec("o1")}})
	if r.HasMiddleware() {
		t.Fatal("HasMiddleware with only an observer")
	}
	r.Use(rec("m"))
	r.Observe(rec("o2"))
	if !r.HasMiddleware() {
		t.Fatal("HasMiddleware false after Use")
	}
	if got := call(t, c, "echo", map[string]any{"text": "hi"}); got != "hi" {
		t.Fatalf("echo = %q", got)
	}
	final := func(context.Context, *engine.Request) (json.RawMessage, error) {
		return json.RawMessage(`{"tools":[]}`), nil
	}
	if _, err := r.Through(ctx(t), &engine.Request{Server: "ts", Method: "tools/list"}, final); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"o1>tools/call", "o2>tools/call", "m>tools/call", "<m", "<o2", "<o1",
		"o1>tools/list", "o2>tools/list", "m>tools/list", "<m", "<o2", "<o1"}
	if !slices.Equal(log, want) {
		t.Errorf("order\n got %v\nwant %v", log, want)
	}
}

func TestCallNotes(t *testing.T) {
	var nilNotes *engine.CallNotes
	nilNotes.AddDecision("a.js", engine.DecisionDenied, "no")
	if err := nilNotes.Add(map[string]any{"k": 1}); err != nil || nilNotes.Decisions() != nil || nilNotes.Dropped() != 0 {
		t.Errorf("nil notes: %v %v", err, nilNotes.Decisions())
	}
	nilNotes.Fields(func(string, json.RawMessage) { t.Error("nil notes have fields") })

	n := engine.NewCallNotes()
	n.AddDecision("a.js", engine.DecisionModified, "")
	n.AddDecision("b.wasm", engine.DecisionDenied, "private")
	if got := n.Decisions(); !slices.Equal(got, []engine.Decision{{By: "a.js", Kind: "modified"}, {By: "b.wasm", Kind: "deny", Reason: "private"}}) {
		t.Errorf("decisions %+v", got)
	}
	if err := n.Add(map[string]any{"user": "ada", "n": 2}); err != nil {
		t.Fatal(err)
	}
	err := n.Add(map[string]any{"n": 3, "bad": func() {}, "huge": strings.Repeat("x", engine.MaxNoteFieldBytes)})
	if err == nil || !strings.Contains(err.Error(), `audit field "bad"`) && !strings.Contains(err.Error(), `audit field "huge"`) {
		t.Errorf("bad fields: %v", err)
	}
	var got []string
	n.Fields(func(k string, v json.RawMessage) { got = append(got, k+"="+string(v)) })
	if want := []string{`n=3`, `user="ada"`}; !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for i := range engine.MaxNoteFields + 3 {
		_ = n.Add(map[string]any{fmt.Sprintf("f%02d", i): i})
	}
	count := 0
	n.Fields(func(string, json.RawMessage) { count++ })
	if count != engine.MaxNoteFields || n.Dropped() != 5 {
		t.Errorf("%d fields, %d dropped; want %d and 5", count, n.Dropped(), engine.MaxNoteFields)
	}
	for range engine.MaxNoteDecisions {
		n.AddDecision("x", engine.DecisionContinue, "")
	}
	if len(n.Decisions()) != engine.MaxNoteDecisions || n.Dropped() != 7 {
		t.Errorf("%d decisions, %d dropped", len(n.Decisions()), n.Dropped())
	}

	// Concurrent writers, as hooks of parallel phases may be.
	c := engine.NewCallNotes()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c.AddDecision(fmt.Sprint(i), engine.DecisionContinue, "")
			_ = c.Add(map[string]any{fmt.Sprint(i): i})
		})
	}
	wg.Wait()
	if len(c.Decisions()) != 8 {
		t.Errorf("%d decisions after 8 concurrent writers", len(c.Decisions()))
	}
}

func TestMeter(t *testing.T) {
	const own = 5 * time.Millisecond
	slowNext := func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		time.Sleep(20 * time.Millisecond) // the rest of the chain: not the middleware's time
		if req.Method == "next-denies" {
			return nil, &engine.DeniedError{By: "later", Reason: "x"}
		}
		return json.RawMessage(`{}`), nil
	}
	mw := func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			time.Sleep(own)
			switch req.Method {
			case "deny":
				return nil, &engine.DeniedError{By: "m", Reason: "no"}
			case "fail":
				return nil, &engine.HookError{Hook: "m", Phase: "request", Err: errors.New("boom")}
			}
			return next(ctx, req)
		}
	}
	m := engine.NewMeter("m.js", "hook")
	h := m.Wrap(mw)(slowNext)
	for _, method := range []string{"ok", "ok", "deny", "fail", "next-denies"} {
		_, _ = h(context.Background(), &engine.Request{Method: method})
	}
	st := m.Stats()
	if st.Name != "m.js" || st.Kind != "hook" || st.Calls != 5 || st.Denied != 1 || st.Failed != 1 {
		t.Errorf("stats %+v, want 5 calls, 1 denied (its own), 1 failed", st)
	}
	if st.P50 < own || st.P50 >= 20*time.Millisecond {
		t.Errorf("p50 %v: want its own time (about %v), not the chain's", st.P50, own)
	}
	if (engine.NewMeter("x", "filter").Stats() != engine.MiddlewareStats{Name: "x", Kind: "filter"}) {
		t.Error("a fresh meter reports something")
	}
}

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want int64
	}{
		{nil, 0},
		{&engine.RPCError{Code: -32602}, -32602},
		{fmt.Errorf("x: %w", &engine.DeniedError{}), wire.CodeDenied},
		{&engine.HookError{Err: errors.New("x")}, wire.CodeInternalError},
		{fmt.Errorf("%w: slow", engine.ErrTimeout), wire.CodeTimeout},
		{context.Canceled, wire.CodeRequestCancelled},
		{wire.Errorf(wire.CodeInvalidParams, "bad"), wire.CodeInvalidParams},
		{errors.New("other"), wire.CodeInternalError},
	}
	for _, tc := range cases {
		if got := engine.ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
