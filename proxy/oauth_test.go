package proxy

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/oauthrs"
)

// These tests run JWT access tokens through the whole proxy: keys are
// generated here and served as a JWKS over loopback, as an authorization
// server would.

const (
	testIssuer   = "https://as.example.test"
	testResource = "https://mcp.example.test"
)

// authServer is a JWKS endpoint and the keys it publishes.
type authServer struct {
	t    testing.TB
	srv  *httptest.Server
	mu   sync.Mutex
	jwks []byte
}

// signingKey is a private key with its kid and alg.
type signingKey struct {
	priv any
	kid  string
	alg  jose.SignatureAlgorithm
}

var (
	testKeysOnce sync.Once
	testRSA      *rsa.PrivateKey // kid rsa-1
	testRSA2     *rsa.PrivateKey // kid rsa-2, published after a rotation
	testEC       *ecdsa.PrivateKey
)

func keys(t testing.TB) (rsa1, rsa2, ec signingKey) {
	testKeysOnce.Do(func() {
		var err error
		if testRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testRSA2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return signingKey{testRSA, "rsa-1", jose.RS256}, signingKey{testRSA2, "rsa-2", jose.RS256}, signingKey{testEC, "ec-1", jose.ES256}
}

// newAuthServer serves a JWKS of the public halves of ks.
func newAuthServer(t testing.TB, ks ...signingKey) *authServer {
	a := &authServer{t: t}
	a.publish(ks...)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.jwks)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// publish replaces the published keys (a rotation).
func (a *authServer) publish(ks ...signingKey) {
	set := jose.JSONWebKeySet{}
	for _, k := range ks {
		pub := k.priv.(crypto.Signer).Public()
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	a.jwks = b
	a.mu.Unlock()
}

// claims are a token's claims: valid for the test resource by default.
func claims(sub string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": testIssuer, "aud": testResource + "/mcp", "sub": sub, "client_id": "app",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "mcp tools:call", "tenant": "acme",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign makes a JWT of c with k (typ at+jwt).
func sign(t testing.TB, k signingKey, c map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// oauthConfig is the proxyConfig of a proxy with the static token tokAll
// and OAuth against a's JWKS; extra goes into the oauth object.
func oauthConfig(t testing.TB, jwksURL, extra string) string {
	return fmt.Sprintf(`"authenticate": {"bearer": {"token": %q}, "queryTokens": true, "oauth": {
	  "issuer": %q, "audiences": [%q, %q], "jwksUrl": %q, "requireType": "at+jwt",
	  "resource": %q, "resourceName": "the test proxy", "scopesSupported": ["mcp", "tools:call", "admin"]%s}}`,
		tokAll, testIssuer, testResource+"/mcp", testResource+"/servers/a/mcp", jwksURL, testResource, extra)
}

// callers records the identity of every request reaching the servers.
type callers struct {
	mu  sync.Mutex
	ids []engine.Identity
	raw []string // every request's params, as sent
}

func (cs *callers) middleware(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		cs.mu.Lock()
		cs.ids = append(cs.ids, req.Caller)
		cs.raw = append(cs.raw, string(req.Params))
		cs.mu.Unlock()
		return next(ctx, req)
	}
}

func (cs *callers) last() engine.Identity {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.ids) == 0 {
		return engine.Identity{}
	}
	return cs.ids[len(cs.ids)-1]
}

func TestOAuthTokens(t *testing.T) {
	rsa1, rsa2, ec := keys(t)
	as := newAuthServer(t, rsa1, ec)
	e := startProxy(t, proxyConfig(t, oauthConfig(t, as.srv.URL, `, "requiredScopes": ["mcp"]`)))
	seen := &callers{}
	e.r.Use(seen.middleware)
	// A verifier that may refetch the JWKS at once and allows no clock
	// skew, so that the rotation and expiry cases need no 30-second wait;
	// otherwise as configured.
	cfg := e.s.cfg.Authenticate.OAuth
	v, err := oauthrs.New(oauthrs.Options{Issuer: cfg.Issuer, Audiences: cfg.Audiences, JWKSURL: cfg.JWKSURL,
		RequireType: cfg.RequireType, MinRefetchInterval: time.Millisecond, ClockSkew: time.Millisecond, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	old := e.s.auth.oauth.v
	e.s.auth.oauth.v = v
	old.Close()

	pubPEM, err := x509.MarshalPKIXPublicKey(&testRSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	confusion := signingKey{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPEM}), "rsa-1", jose.HS256}
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(claims("mallory", nil))
	algNone := b64([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + b64(payload) + "."
	const metadata = `resource_metadata="` + testResource + `/.well-known/oauth-protected-resource/mcp"`

	for _, tc := range []struct {
		name      string
		token     func() string
		status    int
		challenge []string // parts of WWW-Authenticate
		body      string   // part of the body
	}{
		{"valid RS256", func() string { return sign(t, rsa1, claims("alice", nil)) }, 200, nil, ""},
		{"valid ES256", func() string { return sign(t, ec, claims("alice", nil)) }, 200, nil, ""},
		{"static token", func() string { return tokAll }, 200, nil, ""},
		{"expired", func() string {
			return sign(t, rsa1, claims("alice", map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}))
		}, 401, []string{metadata, `error="invalid_token"`, `error_description="token expired"`}, "token expired"},
		{"not yet valid", func() string {
			return sign(t, rsa1, claims("alice", map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}))
		},
			401, []string{`error_description="token not yet valid"`}, ""},
		{"wrong audience", func() string {
			return sign(t, rsa1, claims("alice", map[string]any{"aud": "https://other.example/mcp"}))
		},
			401, []string{metadata, `error_description="wrong audience"`}, "wrong audience"},
		{"wrong issuer", func() string { return sign(t, rsa1, claims("alice", map[string]any{"iss": "https://evil.example"})) },
			401, []string{`error_description="wrong issuer"`}, ""},
		{"alg none", func() string { return algNone }, 401, []string{`error_description="signing algorithm not accepted"`}, ""},
		{"key confusion (HS256 with the RSA public key)", func() string { return sign(t, confusion, claims("mallory", nil)) },
			401, []string{`error_description="signing algorithm not accepted"`}, ""},
		{"unknown kid", func() string { return sign(t, rsa2, claims("alice", nil)) }, 401, []string{`error_description="unknown signing key"`}, ""},
		{"bad signature", func() string {
			tok := sign(t, rsa1, claims("alice", nil))
			return tok[:len(tok)-4] + "AAAA"
		}, 401, []string{`error_description="bad signature"`}, ""},
		{"ID token (typ JWT)", func() string {
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: testRSA, KeyID: "rsa-1"}}, (&jose.SignerOptions{}).WithType("JWT"))
			tok, _ := jwt.Signed(s).Claims(claims("alice", nil)).Serialize()
			return tok
		}, 401, []string{`error="invalid_token"`}, "typ header"},
		{"missing scope", func() string { return sign(t, rsa1, claims("alice", map[string]any{"scope": "tools:call"})) },
			403, []string{metadata, `error="insufficient_scope"`, `scope="mcp"`}, "lacks the scope mcp"},
		{"unknown opaque token", func() string { return "not-a-jwt-and-not-configured" }, 401, []string{metadata, `error="invalid_token"`}, "unknown bearer token"},
		{"no token", func() string { return "" }, 401, []string{metadata, `scope="mcp"`}, "send Authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do("POST", "/mcp", tc.token(), map[string]string{"Accept": "application/json"}, initBody)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s (%s)", resp.StatusCode, tc.status, body, resp.Header.Get("WWW-Authenticate"))
			}
			h := resp.Header.Get("WWW-Authenticate")
			for _, part := range tc.challenge {
				if !strings.Contains(h, part) {
					t.Errorf("WWW-Authenticate %q lacks %s", h, part)
				}
			}
			if tc.status == 401 && !strings.HasPrefix(h, "Bearer ") {
				t.Errorf("WWW-Authenticate %q", h)
			}
			if !strings.Contains(body, tc.body) {
				t.Errorf("body %s lacks %q", body, tc.body)
			}
			if tc.name == "no token" && strings.Contains(h, "error=") {
				t.Errorf("no token, yet an error in the challenge: %q", h)
			}
		})
	}

	t.Run("the identity reaches the middleware", func(t *testing.T) {
		tok := sign(t, rsa1, claims("alice", nil))
		sid := e.initialize("/mcp", tok)
		e.rpc("/mcp", tok, sid, "tools/call", `{"name":"a__echo","arguments":{"text":"hi"}}`)
		id := seen.last()
		if id.Auth != engine.AuthJWT || id.Subject != "alice" || id.ClientID != "app" || id.Token != "" ||
			strings.Join(id.Scopes, " ") != "mcp tools:call" || id.Claims["tenant"] != "acme" || id.Transport != transportStreamable {
			t.Errorf("identity %+v", id)
		}
		e.rpc("/mcp", tokAll, e.initialize("/mcp", tokAll), "tools/call", `{"name":"a__echo","arguments":{"text":"hi"}}`)
		if id := seen.last(); id.Auth != engine.AuthBearer || id.Token != "default" || id.Subject != "" {
			t.Errorf("static token's identity %+v", id)
		}
	})

	t.Run("sessions belong to the subject, not the token", func(t *testing.T) {
		alice := sign(t, rsa1, claims("alice", nil))
		sid := e.initialize("/mcp", alice)
		refreshed := sign(t, ec, claims("alice", map[string]any{"jti": "second"}))
		e.rpc("/mcp", refreshed, sid, "ping", `{}`)
		bob := sign(t, rsa1, claims("bob", nil))
		resp, body := e.do("POST", "/mcp", bob, map[string]string{"Accept": "application/json", "Mcp-Session-Id": sid}, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		if resp.StatusCode != 404 {
			t.Errorf("bob in alice's session: %d %s", resp.StatusCode, body)
		}
		other := sign(t, rsa1, claims("alice", map[string]any{"client_id": "other-app"}))
		if resp, body := e.do("POST", "/mcp", other, map[string]string{"Accept": "application/json", "Mcp-Session-Id": sid}, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != 404 {
			t.Errorf("alice through another client in the session: %d %s", resp.StatusCode, body)
		}
		if resp, _ := e.do("POST", "/mcp", tokAll, map[string]string{"Accept": "application/json", "Mcp-Session-Id": sid}, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != 404 {
			t.Errorf("the static token in alice's session: %d", resp.StatusCode)
		}
	})

	t.Run("query tokens carry the JWT identity", func(t *testing.T) {
		tok := sign(t, rsa1, claims("carol", nil))
		resp, body := e.do("POST", "/auth/token", tok, nil, "")
		var qt tokenResponse
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &qt) != nil {
			t.Fatalf("/auth/token: %d %s", resp.StatusCode, body)
		}
		_, s, id := openStream(t, e.base, "/sse?access_token="+url.QueryEscape(qt.Token))
		if code, body := postMessage(e, "/sse/messages?sessionId="+id, tok, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"q"}}}`); code != 202 {
			t.Fatalf("POST: %d %s", code, body)
		}
		answer(t, s, 3)
		if id := seen.last(); id.Subject != "carol" || id.Auth != engine.AuthJWT || id.Transport != transportReferenceSSE {
			t.Errorf("identity %+v", id)
		}
	})

	t.Run("key rotation", func(t *testing.T) {
		as.publish(rsa2, ec) // rsa-1 retired, rsa-2 new
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, body := e.do("POST", "/mcp", sign(t, rsa2, claims("alice", nil)), map[string]string{"Accept": "application/json"}, initBody)
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a token of the new key: %d %s", resp.StatusCode, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		resp, _ := e.do("POST", "/mcp", sign(t, rsa1, claims("alice", map[string]any{"jti": "after-rotation"})), map[string]string{"Accept": "application/json"}, initBody)
		if resp.StatusCode != 401 {
			t.Errorf("a new token of the retired key: %d", resp.StatusCode)
		}
	})

	t.Run("a verified token is not accepted past its exp", func(t *testing.T) {
		exp := time.Now().Add(1500 * time.Millisecond)
		tok := sign(t, ec, claims("erin", map[string]any{"exp": exp.Unix()}))
		if resp, body := e.do("POST", "/mcp", tok, map[string]string{"Accept": "application/json"}, initBody); resp.StatusCode != 200 {
			t.Fatalf("before exp: %d %s", resp.StatusCode, body)
		}
		for time.Now().Before(time.Unix(exp.Unix(), 0).Add(50 * time.Millisecond)) {
			time.Sleep(20 * time.Millisecond)
		}
		if resp, body := e.do("POST", "/mcp", tok, map[string]string{"Accept": "application/json"}, initBody); resp.StatusCode != 401 || !strings.Contains(body, "expired") {
			t.Errorf("after exp: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("the token never reaches a server", func(t *testing.T) {
		tok := sign(t, ec, claims("dave", nil)) // ec-1 outlived the rotation
		sid := e.initialize("/servers/a/mcp", tok)
		e.rpc("/servers/a/mcp", tok, sid, "tools/call", `{"name":"echo","arguments":{"text":"x"}}`)
		e.rpc("/servers/a/mcp", tokAll, e.initialize("/servers/a/mcp", tokAll), "tools/call", `{"name":"echo","arguments":{"text":"x"}}`)
		seen.mu.Lock()
		defer seen.mu.Unlock()
		for i, raw := range seen.raw {
			if strings.Contains(raw, tok) || strings.Contains(raw, tokAll) || strings.Contains(raw, strings.Split(tok, ".")[2]) {
				t.Errorf("request %d carries the caller's token: %s", i, raw)
			}
			if b, _ := json.Marshal(seen.ids[i]); strings.Contains(string(b), tok) || strings.Contains(string(b), tokAll) {
				t.Errorf("identity %d carries the token: %s", i, b)
			}
		}
	})
}

// postMessage POSTs a message with a token and returns the status and body.
func postMessage(e *proxyEnv, path, token, body string) (int, string) {
	resp, text := e.do("POST", path, token, nil, body)
	return resp.StatusCode, text
}

func TestOAuthMetadata(t *testing.T) {
	rsa1, _, _ := keys(t)
	as := newAuthServer(t, rsa1)
	e := startProxy(t, proxyConfig(t, oauthConfig(t, as.srv.URL, "")))
	for _, path := range []string{"", "/mcp", "/sse", "/servers/a/mcp", "/servers/b/sse"} {
		resp, body := e.do("GET", oauthrs.WellKnownPath+path, "", nil, "")
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
			BearerMethods        []string `json:"bearer_methods_supported"`
			ResourceName         string   `json:"resource_name"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &md) != nil {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if md.Resource != testResource+path || strings.Join(md.AuthorizationServers, ",") != testIssuer ||
			strings.Join(md.ScopesSupported, " ") != "mcp tools:call admin" || strings.Join(md.BearerMethods, ",") != "header" || md.ResourceName != "the test proxy" {
			t.Errorf("%s: %+v", path, md)
		}
	}
	for _, path := range []string{"/servers/c/mcp", "/servers/nope/sse", "/other", "/servers/a/messages"} {
		if resp, body := e.do("GET", oauthrs.WellKnownPath+path, "", nil, ""); resp.StatusCode != 404 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	// Each endpoint's 401 points at its own metadata.
	for path, resource := range map[string]string{
		"/servers/a/mcp": "/servers/a/mcp", "/servers/a/messages": "/servers/a/sse", "/sse/messages": "/sse", "/api/servers": "",
	} {
		resp, _ := e.do("POST", path, "", nil, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		want := `resource_metadata="` + testResource + oauthrs.MetadataPath(resource) + `"`
		if h := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.Contains(h, want) {
			t.Errorf("%s: %d %q, want %s", path, resp.StatusCode, h, want)
		}
	}

	// Without oauth.resource, the metadata names the Host the client used.
	e2 := startProxy(t, proxyConfig(t, strings.Replace(oauthConfig(t, as.srv.URL, ""), `"resource": "`+testResource+`", `, "", 1)))
	resp, body := e2.do("GET", oauthrs.WellKnownPath+"/mcp", "", nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"resource":"`+e2.base+`/mcp"`) {
		t.Errorf("metadata without oauth.resource: %d %s", resp.StatusCode, body)
	}
}

// TestOAuthKeysUnavailable: with the JWKS unreachable, JWTs get 503 (the
// token may be fine), static tokens keep working.
func TestOAuthKeysUnavailable(t *testing.T) {
	rsa1, _, _ := keys(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	e := startProxy(t, proxyConfig(t, oauthConfig(t, deadURL, "")))
	resp, body := e.do("POST", "/mcp", sign(t, rsa1, claims("alice", nil)), map[string]string{"Accept": "application/json"}, initBody)
	if resp.StatusCode != 503 || !strings.Contains(body, "signing keys") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("JWT while the JWKS is down: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do("POST", "/mcp", tokAll, map[string]string{"Accept": "application/json"}, initBody); resp.StatusCode != 200 {
		t.Errorf("static token while the JWKS is down: %d %s", resp.StatusCode, body)
	}
}

// TestOIDCProviderThroughProxy verifies tokens of a real OpenID provider
// (testdata/oidc, panva's oidc-provider) through the proxy: found by its
// discovery document, client credentials with a resource indicator.
func TestOIDCProviderThroughProxy(t *testing.T) {
	issuer := startOIDC(t)
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.JWKSURI == "" {
		t.Fatalf("discovery: %v", err)
	}
	// The fixture signs with the algorithm its resource's last segment names.
	const resource = "https://mcp.example.test/servers/ES256"
	e := startProxy(t, proxyConfig(t, fmt.Sprintf(`"authenticate": {"oauth": {"issuer": %q, "audiences": [%q], "jwksUrl": %q, "requireType": "at+jwt", "requiredScopes": ["tools:call"]}}`,
		issuer, resource, disc.JWKSURI)))
	seen := &callers{}
	e.r.Use(seen.middleware)
	tok := oidcToken(t, issuer, resource, "tools:read tools:call")
	sid := e.initialize("/mcp", tok)
	e.rpc("/mcp", tok, sid, "tools/call", `{"name":"a__echo","arguments":{"text":"oidc"}}`)
	if id := seen.last(); id.Auth != engine.AuthJWT || id.ClientID != "mcp-test" || id.Subject == "" {
		t.Errorf("identity %+v", id)
	}
	// Without the required scope: 403; for another resource: 401.
	resp2, _ := e.do("POST", "/mcp", oidcToken(t, issuer, resource, "tools:read"), map[string]string{"Accept": "application/json"}, initBody)
	if resp2.StatusCode != 403 {
		t.Errorf("token without tools:call: %d", resp2.StatusCode)
	}
	resp3, _ := e.do("POST", "/mcp", oidcToken(t, issuer, "https://other.example.test/servers/ES256", "tools:call"), map[string]string{"Accept": "application/json"}, initBody)
	if resp3.StatusCode != 401 {
		t.Errorf("token for another resource: %d", resp3.StatusCode)
	}
}

// startOIDC runs testdata/oidc/server.mjs and returns its issuer; the test
// is skipped when the npm fixture is missing, unless MCPSCRIPT_REQUIRE_OIDC
// is set.
func startOIDC(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "testdata", "oidc"))
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	node, nodeErr := exec.LookPath("node")
	if modErr != nil || nodeErr != nil {
		if os.Getenv("MCPSCRIPT_REQUIRE_OIDC") != "" {
			t.Fatalf("the OIDC fixture needs node and `npm ci --prefix testdata/oidc`: %v %v", modErr, nodeErr)
		}
		t.Skip("the OIDC fixture needs node and `npm ci --prefix testdata/oidc`; set MCPSCRIPT_REQUIRE_OIDC to make this a failure")
	}
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		s.Scan()
		line <- s.Text()
	}()
	select {
	case l := <-line:
		var hello struct{ Issuer string }
		if json.Unmarshal([]byte(l), &hello) != nil || hello.Issuer == "" {
			t.Fatalf("the OIDC provider said %q", l)
		}
		return hello.Issuer
	case <-time.After(30 * time.Second):
		t.Fatal("the OIDC provider did not start within 30s")
	}
	return ""
}

// oidcToken gets an access token for resource by client credentials.
func oidcToken(t *testing.T, issuer, resource, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"mcp-test"}, "client_secret": {"mcp-test-secret"},
		"resource": {resource}, "scope": {scope}}
	resp, err := http.PostForm(issuer+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token request: %d %v %s", resp.StatusCode, err, body.Error)
	}
	return body.AccessToken
}
