// The JavaScript policies, each through the real proxy with real OAuth
// access tokens: JWTs signed here and verified by the proxy against a JWKS
// served over loopback, as from an authorization server. The gateway is
// wired as `mcpscript serve` wires it: the config's state store and
// limiter, the hooks over them, then the configured limits.
package policies_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/demoserver"
	"github.com/mcpscript/mcpscript/internal/policy"
	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/wire"
	"github.com/mcpscript/mcpscript/procman"
	"github.com/mcpscript/mcpscript/proxy"
	"github.com/mcpscript/mcpscript/scripting"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	scripting.RunHostIfRequested()
	// The configs' "mcpscript demo-server": this test binary, started again.
	if len(os.Args) == 2 && os.Args[1] == "demo-server" {
		if err := demoserver.Run(context.Background(), os.Stdin, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The example configs' OAuth settings, which the tokens must match.
const (
	issuer   = "https://auth.example.com"
	audience = "https://mcp.example.com/mcp"
	ciSecret = "ci-0123456789abcdef"
)

// authServer publishes a signing key as a JWKS and signs access tokens.
type authServer struct {
	key *rsa.PrivateKey
	url string
}

var (
	signingKeyOnce sync.Once
	signingKey     *rsa.PrivateKey
)

func newAuthServer(t *testing.T) *authServer {
	t.Helper()
	signingKeyOnce.Do(func() {
		var err error
		if signingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &signingKey.PublicKey, KeyID: "k1", Algorithm: string(jose.RS256), Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &authServer{key: signingKey, url: srv.URL}
}

// token is an access token for sub with scope, and extra claims.
func (a *authServer) token(t *testing.T, sub, scope string, extra map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: a.key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := map[string]any{"iss": issuer, "aud": audience, "sub": sub, "client_id": "app", "scope": scope,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// gateway is an example config served by the proxy on loopback.
type gateway struct {
	t    *testing.T
	base string
}

// serve starts the config at path behind the proxy, with its OAuth keys
// from as and edit applied to the config first.
func serve(t *testing.T, path string, as *authServer, edit func(*config.Config)) *gateway {
	t.Helper()
	t.Setenv("CI_TOKEN", ciSecret)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Proxy.Authenticate.OAuth.JWKSURL = as.url
	if edit != nil {
		edit(cfg)
	}
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.New(cfg, &engine.Options{Logger: logger, Commands: map[string]string{"mcpscript": self}})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	hooks, closeHooks, err := scripting.Hooks(cfg, logger, scripting.Backends{Store: pol.Store(), Limiter: pol.Limiter(), FailOpen: pol.StateFailsOpen()})
	if err != nil {
		t.Fatal(err)
	}
	r.Use(hooks...)
	r.Use(pol.Middleware())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := proxy.StartAllWithProxy(ctx, r, &proxy.Options{Listen: "127.0.0.1:0", Logger: logger})
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
		closeHooks()
		pol.Close()
	})
	return &gateway{t: t, base: s.BaseURL()}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// session is one MCP session over Streamable HTTP (JSON answers), as a
// client named policy-test 1.2.3.
type session struct {
	g     *gateway
	token string
	id    string
	seq   int
}

// answer is a JSON-RPC answer over HTTP.
type answer struct {
	status     int
	retryAfter string
	body       string
	result     struct {
		Content []struct{ Text string }
		IsError bool
	}
	err struct {
		Code    int64
		Message string
		Data    map[string]any
	}
}

func (g *gateway) open(token string) *session {
	g.t.Helper()
	s := &session{g: g, token: token}
	a := s.post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"policy-test","version":"1.2.3"}}}`)
	if a.status != http.StatusOK || s.id == "" {
		g.t.Fatalf("initialize: %d %s", a.status, a.body)
	}
	s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

func (s *session) post(body string) *answer {
	s.g.t.Helper()
	req, err := http.NewRequest("POST", s.g.base+"/mcp", strings.NewReader(body))
	if err != nil {
		s.g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json") // plain JSON bodies: a refusal is an HTTP 429
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		s.id = sid
	}
	a := &answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
	var m struct {
		Result json.RawMessage
		Error  json.RawMessage
	}
	if json.Unmarshal(b, &m) == nil {
		_ = json.Unmarshal(m.Result, &a.result)
		_ = json.Unmarshal(m.Error, &a.err)
	}
	return a
}

// call calls SERVER__TOOL with args.
func (s *session) call(tool string, args any) *answer {
	s.g.t.Helper()
	s.seq++
	raw, err := json.Marshal(args)
	if err != nil {
		s.g.t.Fatal(err)
	}
	return s.post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, s.seq, tool, raw))
}

func (a *answer) text() string {
	var b strings.Builder
	for _, c := range a.result.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// ok fails the test unless a is a successful tool result.
func (a *answer) ok(t *testing.T, what string) {
	t.Helper()
	if a.status != http.StatusOK || a.err.Code != 0 || a.result.IsError {
		t.Fatalf("%s: %d %s", what, a.status, a.body)
	}
}

// limited fails the test unless a is the refusal of limit: JSON-RPC
// -32005 with retryAfter, HTTP 429 with Retry-After.
func (a *answer) limited(t *testing.T, what, limit string) {
	t.Helper()
	if a.status != http.StatusTooManyRequests || a.retryAfter == "" || a.err.Code != wire.CodeRateLimited ||
		a.err.Data["limit"] != limit || a.err.Data["retryAfter"] == nil {
		t.Errorf("%s: %d (Retry-After %q) %s; want a 429 of %q", what, a.status, a.retryAfter, a.body, limit)
	}
}

// TestPerUserRateHook: per-user-rate.js gives each JWT subject its own
// bucket, larger with the "pro" scope; static tokens are not limited.
func TestPerUserRateHook(t *testing.T) {
	as := newAuthServer(t)
	g := serve(t, "per-user-rate.json", as, nil)
	alice := g.open(as.token(t, "alice", "mcp", nil))
	for i := range 5 { // the free tier's burst
		alice.call("demo__echo", map[string]string{"text": "hi"}).ok(t, fmt.Sprintf("alice's call %d", i))
	}
	alice.call("demo__echo", map[string]string{"text": "hi"}).limited(t, "alice's 6th call at once", "per-user (free)")
	// A new token of the same user (a refresh) shares her bucket.
	g.open(as.token(t, "alice", "mcp", map[string]any{"jti": "refreshed"})).call("demo__echo", map[string]string{"text": "hi"}).
		limited(t, "alice with a refreshed token", "per-user (free)")

	bob := g.open(as.token(t, "bob", "mcp pro", nil))
	for i := range 20 { // the pro tier's burst
		bob.call("demo__echo", map[string]string{"text": "hi"}).ok(t, fmt.Sprintf("bob's call %d", i))
	}
	bob.call("demo__echo", map[string]string{"text": "hi"}).limited(t, "bob's 21st call at once", "per-user (pro)")

	ci := g.open(ciSecret)
	for i := range 30 {
		ci.call("demo__echo", map[string]string{"text": "hi"}).ok(t, fmt.Sprintf("ci's call %d", i))
	}
}

// TestPerUserRateHookRedis: two proxies over one Redis (two `mcpscript
// serve`s) share each user's bucket.
func TestPerUserRateHookRedis(t *testing.T) {
	rs := redistest.Start(t)
	as := newAuthServer(t)
	prefix := fmt.Sprintf("policies%d:", time.Now().UnixNano())
	withRedis := func(cfg *config.Config) { cfg.Redis = &config.Redis{URL: rs.URL, Prefix: prefix} }
	g1 := serve(t, "per-user-rate.json", as, withRedis)
	g2 := serve(t, "per-user-rate.json", as, withRedis)
	tok := as.token(t, "carol", "mcp", nil)
	s1, s2 := g1.open(tok), g2.open(tok)
	for i := range 5 {
		[]*session{s1, s2}[i%2].call("demo__echo", map[string]string{"text": "hi"}).ok(t, fmt.Sprintf("carol's call %d", i))
	}
	s2.call("demo__echo", map[string]string{"text": "hi"}).limited(t, "carol's 6th call, on the other proxy", "per-user (free)")
}

// list is the names of the tools a session sees.
func (s *session) list() []string {
	s.g.t.Helper()
	s.seq++
	a := s.post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, s.seq))
	var r struct {
		Result struct{ Tools []struct{ Name string } } `json:"result"`
	}
	if err := json.Unmarshal([]byte(a.body), &r); err != nil || a.status != http.StatusOK {
		s.g.t.Fatalf("tools/list: %d %s", a.status, a.body)
	}
	var names []string
	for _, tool := range r.Result.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// denied fails the test unless a is a hook's refusal saying reason.
func (a *answer) denied(t *testing.T, what, reason string) {
	t.Helper()
	if a.err.Code != wire.CodeDenied || !strings.Contains(a.body, reason) {
		t.Errorf("%s: %d %s; want a denial saying %q", what, a.status, a.body, reason)
	}
}

// TestTenantToolsHook: tenant-tools.js shows and lets each tenant call
// only its tools, from the token's tenant claim.
func TestTenantToolsHook(t *testing.T) {
	as := newAuthServer(t)
	g := serve(t, "tenants.json", as, nil)
	acme := g.open(as.token(t, "alice", "mcp", map[string]any{"tenant": "acme"}))
	globex := g.open(as.token(t, "gus", "mcp", map[string]any{"tenant": "globex"}))
	nobody := g.open(as.token(t, "nina", "mcp", nil))
	ci := g.open(ciSecret)
	for _, c := range []struct {
		who  string
		s    *session
		want string
	}{
		{"acme", acme, "[demo__add demo__echo demo__time]"},
		{"globex", globex, "[demo__echo]"},
		{"initech", g.open(as.token(t, "ivy", "mcp", map[string]any{"tenant": "initech"})), "[demo__count demo__echo]"},
		{"no tenant", nobody, "[]"},
		{"ci", ci, "[demo__add demo__count demo__echo demo__fail demo__time]"},
	} {
		if got := fmt.Sprint(c.s.list()); got != c.want {
			t.Errorf("%s sees %s, want %s", c.who, got, c.want)
		}
	}
	acme.call("demo__add", map[string]int{"a": 1, "b": 2}).ok(t, "acme's add")
	globex.call("demo__add", map[string]int{"a": 1, "b": 2}).denied(t, "globex's add", "tenant globex may not call add")
	nobody.call("demo__echo", map[string]string{"text": "hi"}).denied(t, "a call without a tenant", "tenant (none) may not call echo")
	ci.call("demo__add", map[string]int{"a": 1, "b": 2}).ok(t, "ci's add")
}

// TestScopedArgumentsHook: scoped-arguments.js lets count go above 10
// only for tokens with the bulk scope.
func TestScopedArgumentsHook(t *testing.T) {
	as := newAuthServer(t)
	g := serve(t, "tenants.json", as, nil)
	initech := map[string]any{"tenant": "initech"} // a tenant with count
	free := g.open(as.token(t, "alice", "mcp", initech))
	bulk := g.open(as.token(t, "bob", "mcp bulk", initech))
	free.call("demo__count", map[string]int{"to": 3}).ok(t, "a count to 3 without bulk")
	free.call("demo__count", map[string]int{"to": 12}).denied(t, "a count to 12 without bulk", `count to 12 needs the \"bulk\" scope`)
	bulk.call("demo__count", map[string]int{"to": 12}).ok(t, "a count to 12 with bulk")
	g.open(ciSecret).call("demo__count", map[string]int{"to": 12}).ok(t, "the CI token's count to 12")
}

// TestConfirmDestructiveHook: confirm-destructive.js answers the first
// delete itself, asking for a confirmation, and lets the same caller's
// same call through afterwards; another caller's confirmation is their own.
func TestConfirmDestructiveHook(t *testing.T) {
	if _, err := os.Stat("../../testdata/npm/node_modules/@modelcontextprotocol/server-memory/dist/index.js"); err != nil {
		t.Fatalf("npm fixtures missing: run scripts/npm-fixtures.sh (%v)", err)
	}
	t.Setenv("MEMORY_FILE_PATH", filepath.Join(t.TempDir(), "memory.jsonl"))
	as := newAuthServer(t)
	g := serve(t, "confirm-destructive.json", as, nil)
	alice := g.open(as.token(t, "alice", "mcp", nil))
	bob := g.open(as.token(t, "bob", "mcp", nil))
	alice.call("memory__create_entities", map[string]any{"entities": []map[string]any{
		{"name": "ada", "entityType": "person", "observations": []string{"wrote the first program"}},
		{"name": "grace", "entityType": "person", "observations": []string{"found a moth"}},
	}}).ok(t, "create_entities")
	graph := func() string {
		a := alice.call("memory__read_graph", map[string]any{})
		a.ok(t, "read_graph")
		return a.text()
	}
	del := map[string]any{"entityNames": []string{"ada"}}
	a := alice.call("memory__delete_entities", del)
	if !a.result.IsError || !strings.Contains(a.text(), "delete_entities cannot be undone. To go ahead, call delete_entities again with the same arguments within 2 minutes.") {
		t.Fatalf("the first delete: %s", a.body)
	}
	if !strings.Contains(graph(), `"ada"`) {
		t.Fatal("the first delete reached the server")
	}
	// Bob repeating Alice's call, or Alice deleting something else, is a
	// first call again.
	if a := bob.call("memory__delete_entities", del); !a.result.IsError {
		t.Errorf("bob's delete went through on alice's confirmation: %s", a.body)
	}
	if a := alice.call("memory__delete_entities", map[string]any{"entityNames": []string{"grace"}}); !a.result.IsError {
		t.Errorf("another delete went through on the first one's confirmation: %s", a.body)
	}
	alice.call("memory__delete_entities", del).ok(t, "the confirmed delete")
	if g := graph(); strings.Contains(g, `"ada"`) || !strings.Contains(g, `"grace"`) {
		t.Errorf("after the confirmed delete: %s", g)
	}
	// A confirmation is used once.
	if a := alice.call("memory__delete_entities", del); !a.result.IsError {
		t.Errorf("a second delete went through on a used confirmation: %s", a.body)
	}
	// Other tools are not asked about.
	alice.call("memory__search_nodes", map[string]string{"query": "grace"}).ok(t, "search_nodes")
}

// TestHookNeverSeesToken: what a hook gets of its caller, through the
// proxy, is who the caller is (claims, scopes, client, protocol) and
// never a credential: no JWT, no part of one, no static token.
func TestHookNeverSeesToken(t *testing.T) {
	as := newAuthServer(t)
	g := serve(t, "per-user-rate.json", as, func(cfg *config.Config) {
		cfg.Scripts.Hooks = append(cfg.Scripts.Hooks, &config.Hook{Path: "testdata/dump.js"})
	})
	jwtTok := as.token(t, "dora", "mcp pro", map[string]any{"tenant": "acme", "groups": []string{"ops"}})
	dumps := map[string]string{}
	for who, tok := range map[string]string{"jwt": jwtTok, "bearer": ciSecret} {
		a := g.open(tok).call("demo__echo", map[string]string{"text": "hi"})
		a.ok(t, who)
		dumps[who] = a.text()
		for _, secret := range append(strings.Split(jwtTok, ".")[1:], jwtTok, ciSecret) {
			if strings.Contains(a.body, secret) {
				t.Errorf("%s: the hook saw a credential (%.12s…): %s", who, secret, a.body)
			}
		}
	}
	var jc struct{ Caller map[string]any }
	if err := json.Unmarshal([]byte(dumps["jwt"]), &jc); err != nil {
		t.Fatalf("%v: %s", err, dumps["jwt"])
	}
	c := jc.Caller
	claims, _ := c["claims"].(map[string]any)
	client, _ := c["client"].(map[string]any)
	if c["auth"] != "jwt" || c["subject"] != "dora" || c["clientId"] != "app" || c["token"] != "" || fmt.Sprint(c["scopes"]) != "[mcp pro]" ||
		claims["tenant"] != "acme" || fmt.Sprint(claims["groups"]) != "[ops]" || claims["iss"] != issuer ||
		client["name"] != "policy-test" || client["version"] != "1.2.3" || c["protocol"] != "2025-11-25" || c["transport"] != "streamable-http" {
		t.Errorf("the JWT caller as the hook saw it: %s", dumps["jwt"])
	}
	var bc struct{ Caller map[string]any }
	_ = json.Unmarshal([]byte(dumps["bearer"]), &bc)
	if c := bc.Caller; c["auth"] != "bearer" || c["token"] != "ci" || c["subject"] != "" || fmt.Sprint(c["claims"]) != "map[]" {
		t.Errorf("the static-token caller as the hook saw it: %s", dumps["bearer"])
	}
}

// TestREADMERedactSnippet runs the redact() snippet of this folder's
// README and of the repository's README as they are written.
func TestREADMERedactSnippet(t *testing.T) {
	const secret = "sk-0123456789abcdefghij"
	snippet := regexp.MustCompile(`(?m)^export function toolResult\(\{ result \}\) \{ const out = redact\(.*$`)
	for _, readme := range []string{"README.md", "../../README.md"} {
		text, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		code := snippet.Find(text)
		if code == nil {
			t.Errorf("%s has no redact() snippet", readme)
			continue
		}
		path := filepath.Join(t.TempDir(), "redact.js")
		if err := os.WriteFile(path, code, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := scripting.LoadScript(path, scripting.ScriptOptions{Isolation: scripting.IsolationNone})
		if err != nil {
			t.Fatalf("%s: %v", readme, err)
		}
		defer s.Close()
		res := `{"content":[{"type":"text","text":"key ` + secret + `"}],"structuredContent":{"key":"` + secret + `"}}`
		d, err := s.Call(context.Background(), &scripting.Input{Hook: scripting.PhaseToolResult, Tool: "t", Result: json.RawMessage(res)})
		if err != nil || d == nil || bytes.Contains(d.Result, []byte(secret)) || !bytes.Contains(d.Result, []byte("[REDACTED]")) {
			t.Errorf("%s's snippet on a result with a secret: %+v, %v", readme, d, err)
		}
		d, err = s.Call(context.Background(), &scripting.Input{Hook: scripting.PhaseToolResult, Tool: "t", Result: json.RawMessage(`{"content":[{"type":"text","text":"nothing to hide"}]}`)})
		if err != nil || d != nil {
			t.Errorf("%s's snippet on a clean result: %+v, %v; want no decision", readme, d, err)
		}
	}
}
