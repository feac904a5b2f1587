package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/state"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// newPolicy parses a config whose sections are sections and builds its policy.
func newPolicy(t *testing.T, sections string) *Policy {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"mcpServers": {"a": {"command": "x"}}, `+sections+`}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, testenv.Logger(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// call runs req through p's middleware to a handler that answers {}.
func call(p *Policy, caller engine.Identity, server, method, params string) error {
	h := p.Middleware()(func(context.Context, *engine.Request) (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	_, err := h(context.Background(), &engine.Request{Server: server, Method: method, Params: json.RawMessage(params), Caller: caller})
	return err
}

// count is the value of a counter.
func count(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// limited checks that err is the rate-limit error of rule.
func limited(t *testing.T, err error, rule string) {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeRateLimited {
		t.Fatalf("want a rate-limit error, got %v", err)
	}
	var data struct {
		RetryAfter int64  `json:"retryAfter"`
		Limit      string `json:"limit"`
	}
	if err := json.Unmarshal(we.Data, &data); err != nil || data.Limit != rule || data.RetryAfter < 1 {
		t.Errorf("data %s", we.Data)
	}
}

func TestLimits(t *testing.T) {
	p := newPolicy(t, `"limits": {"rules": [
	  {"name": "per-user", "per": ["subject"], "rate": "2/min"},
	  {"name": "search", "per": ["claim:tenant"], "tools": ["search*"], "quota": "1/day"}]}`)
	alice := engine.Identity{Auth: engine.AuthJWT, Subject: "alice", Claims: map[string]any{"tenant": "acme"}}
	bob := engine.Identity{Auth: engine.AuthJWT, Subject: "bob", Claims: map[string]any{"tenant": "acme"}}
	for i := range 2 {
		if err := call(p, alice, "a", "tools/call", `{"name":"echo"}`); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	limited(t, call(p, alice, "a", "tools/call", `{"name":"echo"}`), "per-user")
	if err := call(p, bob, "a", "tools/call", `{"name":"search_docs"}`); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// The quota is the tenant's: bob used it.
	carol := engine.Identity{Auth: engine.AuthJWT, Subject: "carol", Claims: map[string]any{"tenant": "acme"}}
	limited(t, call(p, carol, "a", "tools/call", `{"name":"search_web"}`), "search")
	if got := count(t, p.refusals.WithLabelValues("per-user", "limited")); got != 1 {
		t.Errorf("per-user refusals %v", got)
	}
	if got := count(t, p.refusals.WithLabelValues("search", "limited")); got != 1 {
		t.Errorf("search refusals %v", got)
	}
	// Without limits there is no middleware.
	if newPolicy(t, `"state": {}`).Middleware() != nil {
		t.Error("a middleware without limits")
	}
}

// TestRedisShared: two policies (two processes' worth) over one Redis share
// each limit, and the state store lives there too, under its own prefix.
func TestRedisShared(t *testing.T) {
	rs := redistest.Start(t)
	sections := fmt.Sprintf(`"redis": {"url": %q, "prefix": "t%d:"}, "state": {}, "limits": {"rules": [{"name": "shared", "per": ["token"], "rate": "3/min"}]}`,
		rs.URL, time.Now().UnixNano())
	p1, p2 := newPolicy(t, sections), newPolicy(t, sections)
	ci := engine.Identity{Auth: engine.AuthBearer, Token: "ci"}
	for i, p := range []*Policy{p1, p2, p1} {
		if err := call(p, ci, "a", "ping", ``); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	limited(t, call(p2, ci, "a", "ping", ``), "shared")
	ctx := context.Background()
	if err := p1.Store().Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := p2.Store().Get(ctx, "k"); err != nil || !ok || string(v) != "v" {
		t.Errorf("state through the other policy: %q %v %v", v, ok, err)
	}
}

// TestRedisDown: with Redis unreachable, limits fail closed with an error
// saying why, or let requests through with onError "open"; the state store
// reports ErrUnavailable.
func TestRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	url := rs.URL
	rs.Stop()
	closed := newPolicy(t, fmt.Sprintf(`"redis": {"url": %q}, "state": {}, "limits": {"rules": [{"name": "r", "rate": "10/s"}]}`, url))
	err := call(closed, engine.Identity{}, "a", "ping", ``)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeInternalError || !strings.Contains(we.Message, "could not be checked") ||
		!strings.Contains(we.Message, "Redis at ") || !strings.Contains(we.Message, `limits.onError is "closed"`) {
		t.Errorf("Redis down: %v", err)
	}
	if got := count(t, closed.refusals.WithLabelValues("", "unavailable")); got != 1 {
		t.Errorf("unavailable refusals %v", got)
	}
	if _, _, err := closed.Store().Get(context.Background(), "k"); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("state with Redis down: %v", err)
	}
	open := newPolicy(t, fmt.Sprintf(`"redis": {"url": %q}, "limits": {"onError": "open", "rules": [{"name": "r", "rate": "10/s"}]}`, url))
	if err := call(open, engine.Identity{}, "a", "ping", ``); err != nil {
		t.Errorf("Redis down, onError open: %v", err)
	}
}

// TestLimiterForHooks: a policy has a limiter for hooks even without
// configured rules, in Redis when the config has it.
func TestLimiterForHooks(t *testing.T) {
	ctx := context.Background()
	l := limits.TokenBucket(1, time.Minute, 1)
	mem := newPolicy(t, `"state": {}`)
	if d, err := mem.Limiter().Take(ctx, "k", l); err != nil || !d.OK {
		t.Fatalf("memory: %+v %v", d, err)
	}
	if d, _ := mem.Limiter().Take(ctx, "k", l); d.OK {
		t.Error("memory: a second take of a bucket of one")
	}
	rs := redistest.Start(t)
	sections := fmt.Sprintf(`"redis": {"url": %q, "prefix": "hooks%d:"}`, rs.URL, time.Now().UnixNano())
	a, b := newPolicy(t, sections), newPolicy(t, sections)
	if d, err := a.Limiter().Take(ctx, "k", l); err != nil || !d.OK {
		t.Fatalf("redis: %+v %v", d, err)
	}
	if d, err := b.Limiter().Take(ctx, "k", l); err != nil || d.OK {
		t.Errorf("redis, through another policy: %+v %v", d, err)
	}
}
