package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	limitspolicy "github.com/mcpscript/mcpscript/internal/policy"
	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// startPolicyProxy starts a proxy of cfg as mcpscript serve does: the
// config's limits as the runner's last middleware, their refusal counter
// on /metrics.
func startPolicyProxy(t testing.TB, cfg *config.Config) *proxyEnv {
	t.Helper()
	logger := quietLogger(t)
	r, err := engine.New(cfg, &engine.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := limitspolicy.New(r.Config(), logger)
	if err != nil {
		t.Fatal(err)
	}
	r.Use(pol.Middleware())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartAllWithProxy(ctx, r, &Options{Logger: logger, Collectors: []prometheus.Collector{pol.Collector()}})
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
		pol.Close()
	})
	return &proxyEnv{t: t, r: r, s: s, base: s.BaseURL()}
}

// echoCall is a Streamable HTTP tools/call of a's echo, answered as JSON.
func echoCall(e *proxyEnv, token, sid string, id int) (*http.Response, string) {
	return e.do("POST", "/servers/a/mcp", token, map[string]string{"Accept": "application/json", "Mcp-Session-Id": sid},
		fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`, id))
}

// TestLimitsShared: two proxies over one redis-server share a limit: the
// caller's fourth call, on either, is refused with 429, Retry-After and
// the JSON-RPC error -32005 naming the limit; on an event stream the
// error alone; the refusal is counted on /metrics.
func TestLimitsShared(t *testing.T) {
	rs := redistest.Start(t)
	limits := fmt.Sprintf(`"redis": {"url": %q, "prefix": "shared%d:"}, "limits": {"rules": [{"name": "per-caller", "per": ["token"], "servers": ["a"], "rate": "3/min"}]}`,
		rs.URL, time.Now().UnixNano())
	cfgJSON := func() *config.Config {
		cfg := proxyConfig(t, "")
		extra, err := config.Parse([]byte(`{"mcpServers": {"x": {"command": "x"}}, `+limits+`}`), "limits.json")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Redis, cfg.Limits = extra.Redis, extra.Limits
		return cfg
	}
	a, b := startPolicyProxy(t, cfgJSON()), startPolicyProxy(t, cfgJSON())
	sa, sb := a.initialize("/servers/a/mcp", tokAll), b.initialize("/servers/a/mcp", tokAll)
	for i, call := range []func() (*http.Response, string){
		func() (*http.Response, string) { return echoCall(a, tokAll, sa, 1) },
		func() (*http.Response, string) { return echoCall(b, tokAll, sb, 2) },
		func() (*http.Response, string) { return echoCall(a, tokAll, sa, 3) },
	} {
		if resp, body := call(); resp.StatusCode != 200 || strings.Contains(body, `"error"`) {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := echoCall(b, tokAll, sb, 4)
	var answer struct {
		ID    int
		Error struct {
			Code int
			Data struct {
				RetryAfter int    `json:"retryAfter"`
				Limit      string `json:"limit"`
			}
		}
	}
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err := json.Unmarshal([]byte(body), &answer); err != nil || resp.StatusCode != http.StatusTooManyRequests ||
		answer.ID != 4 || answer.Error.Code != wire.CodeRateLimited || answer.Error.Data.Limit != "per-caller" ||
		answer.Error.Data.RetryAfter < 1 || retry != answer.Error.Data.RetryAfter {
		t.Fatalf("fourth call: %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Another token has its own counter; server b is not limited.
	if resp, body := a.do("POST", "/servers/b/mcp", tokB, map[string]string{"Accept": "application/json", "Mcp-Session-Id": a.initialize("/servers/b/mcp", tokB)},
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`); resp.StatusCode != 200 || strings.Contains(body, `"error"`) {
		t.Errorf("another token on another server: %d %s", resp.StatusCode, body)
	}
	// On an event stream: 200, and the error as the request's answer.
	resp, _ = a.do("POST", "/servers/a/mcp", tokAll, map[string]string{"Accept": "text/event-stream", "Mcp-Session-Id": sa},
		`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`)
	if resp.StatusCode != 200 {
		t.Errorf("streamed call: %d", resp.StatusCode)
	}
	s := readSSE(t, resp)
	for {
		ev := s.nextNamed(t, "message")
		if strings.Contains(ev.data, `"id":6`) {
			if !strings.Contains(ev.data, fmt.Sprint(wire.CodeRateLimited)) {
				t.Errorf("streamed answer %s", ev.data)
			}
			break
		}
	}
	for _, e := range []*proxyEnv{a, b} { // one refusal each: b's JSON answer, a's streamed one
		_, m := e.do("GET", "/metrics", tokAll, nil, "")
		if !strings.Contains(m, `mcpscript_limit_refusals_total{limit="per-caller",reason="limited"} 1`) {
			t.Errorf("no refusal counted on %s/metrics", e.base)
		}
	}
	if _, m := b.do("GET", "/metrics", tokAll, nil, ""); !strings.Contains(m, `mcpscript_http_requests_total{code="429"`) {
		t.Errorf("no 429 in the request counter of %s", b.base)
	}
}

// TestLimitsRedisDown: when Redis goes away, requests the limits cover are
// refused (fail closed) with an error that says why, and not as 429.
func TestLimitsRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	cfg := proxyConfig(t, "")
	extra, err := config.Parse([]byte(fmt.Sprintf(`{"mcpServers": {"x": {"command": "x"}}, "redis": {"url": %q}, "limits": {"rules": [{"name": "r", "rate": "100/s"}]}}`, rs.URL)), "l.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Redis, cfg.Limits = extra.Redis, extra.Limits
	e := startPolicyProxy(t, cfg)
	sid := e.initialize("/servers/a/mcp", tokAll)
	if resp, body := echoCall(e, tokAll, sid, 1); resp.StatusCode != 200 || strings.Contains(body, `"error"`) {
		t.Fatalf("with Redis up: %d %s", resp.StatusCode, body)
	}
	rs.Stop()
	resp, body := echoCall(e, tokAll, sid, 2)
	if resp.StatusCode != 200 || !strings.Contains(body, `"code":-32603`) || !strings.Contains(body, "could not be checked") {
		t.Errorf("with Redis down: %d %s", resp.StatusCode, body)
	}
}
