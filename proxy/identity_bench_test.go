package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	limitspolicy "github.com/mcpscript/mcpscript/internal/policy"
	"github.com/mcpscript/mcpscript/internal/redistest"
)

// BenchmarkIdentity measures what a JWT check and a rate limit add to a
// forwarded call through the whole proxy: one caller, a Streamable HTTP
// tools/call of the test server's echo answered as JSON, on a kept-alive
// connection. Compare the sub-benchmarks of one run with the static-token
// baseline; the machine is shared, so absolute figures vary.
//
//	go test -run '^$' -bench Identity -benchtime 3s ./proxy/
func BenchmarkIdentity(b *testing.B) {
	rsa1, _, ec := keys(b)
	as := newAuthServer(b, rsa1, ec)
	rs := redistest.Start(b)
	oauth := oauthConfig(b, as.srv.URL, "")
	limit := func(store string) string {
		redis := ""
		if store == "redis" {
			redis = fmt.Sprintf(`"redis": {"url": %q, "prefix": "bench%d:"}, `, rs.URL, time.Now().UnixNano())
		}
		return redis + `"limits": {"store": "` + store + `", "rules": [{"name": "per-caller", "per": ["token", "subject"], "rate": "1000000/s", "burst": 1000000000}]}`
	}
	for _, bc := range []struct {
		name, limits string
		token        func() string
	}{
		{"static token", "", func() string { return tokAll }},
		{"JWT RS256", "", func() string {
			return sign(b, rsa1, claims("alice", map[string]any{"exp": time.Now().Add(time.Hour).Unix()}))
		}},
		{"JWT ES256", "", func() string {
			return sign(b, ec, claims("alice", map[string]any{"exp": time.Now().Add(time.Hour).Unix()}))
		}},
		{"static token, limit in memory", limit("memory"), func() string { return tokAll }},
		{"static token, limit in Redis", limit("redis"), func() string { return tokAll }},
		{"JWT RS256, limit in Redis", limit("redis"), func() string {
			return sign(b, rsa1, claims("alice", map[string]any{"exp": time.Now().Add(time.Hour).Unix()}))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := proxyConfig(b, oauth)
			if bc.limits != "" {
				extra, err := config.Parse([]byte(`{"mcpServers": {"x": {"command": "x"}}, `+bc.limits+`}`), "limits.json")
				if err != nil {
					b.Fatal(err)
				}
				cfg.Redis, cfg.Limits = extra.Redis, extra.Limits
			}
			e := startPolicyProxy(b, cfg)
			tok := bc.token()
			sid := e.initialize("/servers/a/mcp", tok)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/servers/a/mcp", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json")
				req.Header.Set("Mcp-Session-Id", sid)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(out), `"hi"`) {
					b.Fatalf("%d %s", resp.StatusCode, out)
				}
			}
		})
	}
}

// BenchmarkIdentityParts measures the same costs alone: the proxy's check
// of a bearer token (static, JWT) and one rate-limit decision through the
// limits middleware (memory, Redis over loopback).
//
//	go test -run '^$' -bench IdentityParts ./proxy/
func BenchmarkIdentityParts(b *testing.B) {
	rsa1, _, ec := keys(b)
	as := newAuthServer(b, rsa1, ec)
	e := startProxy(b, proxyConfig(b, oauthConfig(b, as.srv.URL, "")))
	a := e.s.auth
	ctx := context.Background()
	long := func() map[string]any { return claims("alice", map[string]any{"exp": time.Now().Add(time.Hour).Unix()}) }
	b.Run("static token", func(b *testing.B) {
		for b.Loop() {
			if _, ok := a.check(tokAll); !ok {
				b.Fatal("refused")
			}
		}
	})
	for _, k := range []signingKey{rsa1, ec} {
		tok := sign(b, k, long())
		b.Run("JWT "+string(k.alg)+", first use (signature checked)", func(b *testing.B) {
			for b.Loop() {
				if _, ok := a.check(tok); ok {
					b.Fatal("a JWT matched a static token")
				}
				if _, err := a.oauth.v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("JWT "+string(k.alg)+", seen before (cached)", func(b *testing.B) {
			for b.Loop() {
				if _, ok := a.check(tok); ok {
					b.Fatal("a JWT matched a static token")
				}
				if _, err := a.oauth.verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	rs := redistest.Start(b)
	for _, store := range []string{"memory", "redis"} {
		b.Run("limit in "+store, func(b *testing.B) {
			cfg, err := config.Parse([]byte(fmt.Sprintf(`{"mcpServers": {"x": {"command": "x"}}, "redis": {"url": %q, "prefix": "parts%d:"},
			  "limits": {"store": %q, "rules": [{"name": "r", "per": ["subject"], "rate": "1000000/s", "burst": 1000000000}]}}`, rs.URL, time.Now().UnixNano(), store)), "l.json")
			if err != nil {
				b.Fatal(err)
			}
			pol, err := limitspolicy.New(cfg, quietLogger(b))
			if err != nil {
				b.Fatal(err)
			}
			defer pol.Close()
			h := pol.Middleware()(func(context.Context, *engine.Request) (json.RawMessage, error) { return nil, nil })
			req := &engine.Request{Server: "a", Method: "tools/call", Params: json.RawMessage(`{"name":"echo"}`), Caller: engine.Identity{Auth: engine.AuthJWT, Subject: "alice"}}
			for b.Loop() {
				if _, err := h(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
