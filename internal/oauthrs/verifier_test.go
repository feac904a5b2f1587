package oauthrs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var ctx = context.Background()

// TestTokenTable verifies one token per case against a verifier that fetched
// RSA, EC and Ed25519 keys from a JWKS on loopback. Run with -v to print the
// outcomes as a Markdown table.
func TestTokenTable(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwksJSON(t,
		jwk(k.rsa, "rsa1", ""),
		jwk(k.ec, "ec1", "ES256"),
		jwk(k.ed, "ed1", "EdDSA"),
	))
	v := newVerifier(t, Options{JWKSURL: srv.URL, Audiences: []string{testResource, "https://other.example.test/mcp"}, MinRefetchInterval: time.Millisecond})
	now := time.Now()
	edit := func(f func(map[string]any)) map[string]any { return claims(now, f) }
	rsaPubPEM := publicPEM(t, k.rsa.Public())
	valid := sign(t, jose.RS256, k.rsa, "rsa1", edit(nil))
	parts := strings.Split(valid, ".")
	forged := edit(func(c map[string]any) { c["sub"] = "mallory" })
	tampered := parts[0] + "." + strings.Split(unsigned(t, nil, forged), ".")[1] + "." + parts[2]

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"RS256, valid", valid, nil},
		{"PS256, valid", sign(t, jose.PS256, k.rsa, "rsa1", edit(nil)), nil},
		{"ES256, valid", sign(t, jose.ES256, k.ec, "ec1", edit(nil)), nil},
		{"EdDSA, valid", sign(t, jose.EdDSA, k.ed, "ed1", edit(nil)), nil},
		{"RS256 without kid (key found by alg)", sign(t, jose.RS256, k.rsa, "", edit(nil)), nil},
		{"aud is a list holding a second configured resource", sign(t, jose.ES256, k.ec, "ec1", edit(func(c map[string]any) {
			c["aud"] = []string{"https://unrelated.example.test", "https://other.example.test/mcp"}
		})), nil},
		{"expired 2 minutes ago", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), ErrExpired},
		{"expired 10s ago, within the 30s skew", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() })), nil},
		{"nbf in 5 minutes", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), ErrNotYetValid},
		{"nbf in 10s, within the skew", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Second).Unix() })), nil},
		{"iat in 5 minutes", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() })), ErrNotYetValid},
		{"no exp", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { delete(c, "exp") })), ErrMalformed},
		{"wrong audience", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["aud"] = "https://evil.example.test/mcp" })), ErrWrongAudience},
		{"no audience", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { delete(c, "aud") })), ErrWrongAudience},
		{"wrong issuer", sign(t, jose.RS256, k.rsa, "rsa1", edit(func(c map[string]any) { c["iss"] = "https://evil.example.test" })), ErrWrongIssuer},
		{`alg "none"`, unsigned(t, map[string]string{"alg": "none", "kid": "rsa1"}, edit(nil)), ErrDisallowedAlgorithm},
		{"HS256 signed with the RSA public key (PEM) as secret", sign(t, jose.HS256, rsaPubPEM, "rsa1", edit(nil)), ErrDisallowedAlgorithm},
		{"HS256 signed with the RSA modulus as secret", sign(t, jose.HS256, k.rsa.N.Bytes(), "rsa1", edit(nil)), ErrDisallowedAlgorithm},
		{"unknown kid", sign(t, jose.RS256, k.rsa2, "rsa-unknown", edit(nil)), ErrUnknownKey},
		{"known kid, another key's signature", sign(t, jose.RS256, k.rsa2, "rsa1", edit(nil)), ErrBadSignature},
		{"payload changed after signing", tampered, ErrBadSignature},
		{"ES256 header with the RSA key's kid", sign(t, jose.ES256, k.ec, "rsa1", edit(nil)), ErrUnknownKey},
		{"ES384 with a P-256 key's kid", sign(t, jose.ES384, k.ec384, "ec1", edit(nil)), ErrUnknownKey},
		{"RS256 with the EC key's kid (JWK alg is ES256)", sign(t, jose.RS256, k.rsa, "ec1", edit(nil)), ErrUnknownKey},
		{"not a JWT", "abc.def", ErrMalformed},
		{"empty", "", ErrMalformed},
		{"too long", strings.Repeat("a", MaxTokenBytes+1), ErrMalformed},
	}
	var table strings.Builder
	table.WriteString("| token | outcome |\n|---|---|\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(ctx, tt.token)
			outcome := "accepted"
			if err != nil {
				outcome = "refused: " + err.Error()
			} else {
				outcome += fmt.Sprintf(" (sub %s, scopes %v)", id.Subject, id.Scopes)
			}
			fmt.Fprintf(&table, "| %s | %s |\n", tt.name, strings.ReplaceAll(outcome, "|", `\|`))
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("got %v, want %v", err, tt.want)
			case tt.want != nil:
				var te *TokenError
				if !errors.As(err, &te) || te.Reason != tt.want {
					t.Fatalf("error %T %v is not a *TokenError with reason %v", err, err, tt.want)
				}
				// No part of a token is ever quoted back.
				for _, p := range strings.Split(tt.token, ".") {
					if len(p) > 8 && strings.Contains(err.Error(), p) {
						t.Fatalf("the error quotes the token: %v", err)
					}
				}
			}
		})
	}
	t.Logf("token outcomes (RS256/ES256/EdDSA keys from a JWKS on loopback, skew 30s):\n%s", table.String())
}

func TestIdentity(t *testing.T) {
	k := getKeys(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(file, jwksJSON(t, jwk(k.ec, "ec1", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v := newVerifier(t, Options{KeyFile: file, Now: func() time.Time { return now }})
	tok := sign(t, jose.ES256, k.ec, "ec1", claims(now, func(c map[string]any) {
		c["scope"] = "a b  a"
		c["scp"] = []string{"b", "c"}
		delete(c, "client_id")
		c["azp"] = "azp-client"
		c["tenant"] = "acme"
	}))
	id, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "alice" || id.Issuer != testIssuer || id.ClientID != "azp-client" ||
		strings.Join(id.Scopes, " ") != "a b c" || !id.Expiry.Equal(now.Add(5*time.Minute)) ||
		!id.IssuedAt.Equal(now) || id.Claims["tenant"] != "acme" || len(id.Audience) != 1 {
		t.Fatalf("identity %+v", id)
	}
	if !id.HasScope("c") || id.HasScope("d") {
		t.Fatal("HasScope")
	}
	if m := id.MissingScopes("a", "d", "e"); strings.Join(m, ",") != "d,e" {
		t.Fatalf("MissingScopes = %v", m)
	}
	// client_id wins over azp; scp may be a string.
	tok = sign(t, jose.ES256, k.ec, "ec1", claims(now, func(c map[string]any) {
		c["azp"] = "azp-client"
		delete(c, "scope")
		c["scp"] = "x y"
	}))
	if id, err = v.Verify(ctx, tok); err != nil || id.ClientID != "cli" || strings.Join(id.Scopes, " ") != "x y" {
		t.Fatalf("identity %+v, %v", id, err)
	}
}

func TestRequireType(t *testing.T) {
	k := getKeys(t)
	file := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(file, publicPEM(t, k.ed.Public()), 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Options{KeyFile: file, RequireType: "application/AT+JWT"})
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, k.ed, "any-kid", claims(time.Now(), nil))); err != nil {
		t.Fatalf("typ at+jwt refused: %v", err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.ed}, opts)
	tok := signWith(t, s, claims(time.Now(), nil))
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "typ") {
		t.Fatalf("an ID-token-like typ JWT: %v, want ErrMalformed about typ", err)
	}
}

// TestRotation: a new kid is picked up by refetching on the first token that
// names it, and a key removed from the set stops verifying.
func TestRotation(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "old", "RS256")))
	v := newVerifier(t, Options{JWKSURL: srv.URL, MinRefetchInterval: time.Millisecond})
	now := time.Now()
	oldTok := sign(t, jose.RS256, k.rsa, "old", claims(now, nil))
	newTok := sign(t, jose.ES256, k.ec, "new", claims(now, nil))
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	srv.set(jwksJSON(t, jwk(k.ec, "new", "ES256")))
	time.Sleep(2 * time.Millisecond) // let MinRefetchInterval pass
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("token with the new kid: %v", err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := v.Verify(ctx, oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token with the removed kid: %v, want ErrUnknownKey", err)
	}
}

// TestRefetchRateLimited: forged kids do not make the verifier fetch more
// than once per MinRefetchInterval, and fail at once rather than wait.
func TestRefetchRateLimited(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "rsa1", "")))
	v := newVerifier(t, Options{JWKSURL: srv.URL, MinRefetchInterval: time.Hour})
	before := srv.hits.Load()
	for i := range 20 {
		start := time.Now()
		_, err := v.Verify(ctx, sign(t, jose.RS256, k.rsa, fmt.Sprintf("forged-%d", i), claims(time.Now(), nil)))
		if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "next fetch is allowed in") {
			t.Fatalf("forged kid %d: %v", i, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a refused refetch took %v; it must fail at once", d)
		}
	}
	if got := srv.hits.Load() - before; got != 0 {
		t.Fatalf("20 forged kids caused %d fetches within the interval, want 0", got)
	}
	if err := v.Refresh(ctx); err != nil || srv.hits.Load() != before+1 {
		t.Fatalf("Refresh must fetch regardless of the interval: %v, %d fetches", err, srv.hits.Load()-before)
	}
}

// TestBackgroundRefresh: with on-demand refetching ruled out by a long
// MinRefetchInterval, a new key still arrives through the periodic refresh.
func TestBackgroundRefresh(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "a", "")))
	v := newVerifier(t, Options{JWKSURL: srv.URL, MinRefetchInterval: time.Hour, RefreshInterval: 20 * time.Millisecond})
	srv.set(jwksJSON(t, jwk(k.ed, "b", "")))
	tok := sign(t, jose.EdDSA, k.ed, "b", claims(time.Now(), nil))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(ctx, tok)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh did not bring key b within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJWKSDown: cached keys keep working while the endpoint fails; a cold
// start fails with ErrKeysUnavailable naming the URL and the reason, and
// recovers once the endpoint answers.
func TestJWKSDown(t *testing.T) {
	k := getKeys(t)
	t.Run("warm cache", func(t *testing.T) {
		srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "rsa1", "")))
		v := newVerifier(t, Options{JWKSURL: srv.URL, MinRefetchInterval: time.Millisecond})
		srv.status.Store(http.StatusServiceUnavailable)
		if err := v.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Refresh with the endpoint down: %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, jose.RS256, k.rsa, "rsa1", claims(time.Now(), nil))); err != nil {
			t.Fatalf("a cached key stopped working while the endpoint is down: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
		_, err := v.Verify(ctx, sign(t, jose.RS256, k.rsa, "rsa2", claims(time.Now(), nil)))
		if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("unknown kid with the endpoint down: %v, want ErrUnknownKey saying why the refetch failed", err)
		}
	})
	t.Run("cold start", func(t *testing.T) {
		srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "rsa1", "")))
		srv.status.Store(http.StatusInternalServerError)
		v, err := New(Options{Issuer: testIssuer, Audiences: []string{testResource}, JWKSURL: srv.URL, MinRefetchInterval: time.Millisecond})
		if err != nil {
			t.Fatalf("New must not fail because the endpoint is down: %v", err)
		}
		defer v.Close()
		tok := sign(t, jose.RS256, k.rsa, "rsa1", claims(time.Now(), nil))
		_, err = v.Verify(ctx, tok)
		if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "500") {
			t.Fatalf("cold start: %v, want ErrKeysUnavailable naming the URL and status", err)
		}
		t.Logf("cold start error: %v", err)
		srv.status.Store(http.StatusOK)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err = v.Verify(ctx, tok); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("did not recover after the endpoint came back: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := newJWKSServer(t, nil)
		url := srv.URL
		srv.Close()
		v, err := New(Options{Issuer: testIssuer, Audiences: []string{testResource}, JWKSURL: url, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		_, err = v.Verify(ctx, sign(t, jose.RS256, k.rsa, "rsa1", claims(time.Now(), nil)))
		if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("cold start with nothing listening: %v", err)
		}
	})
}

func TestKeyFiles(t *testing.T) {
	k := getKeys(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	privDER, _ := x509MarshalPKCS8(k.rsa)
	tests := []struct {
		name    string
		file    string
		tok     string
		wantErr string // error from New
	}{
		{"JWK Set", write("set.json", jwksJSON(t, jwk(k.rsa, "r", ""), jwk(k.ed, "e", ""))), sign(t, jose.EdDSA, k.ed, "e", claims(time.Now(), nil)), ""},
		{"single JWK", write("one.json", mustJSON(t, jwk(k.ec, "e", ""))), sign(t, jose.ES256, k.ec, "e", claims(time.Now(), nil)), ""},
		{"PEM public key, any kid", write("pub.pem", publicPEM(t, k.rsa.Public())), sign(t, jose.RS256, k.rsa, "whatever", claims(time.Now(), nil)), ""},
		{"PEM certificate", write("cert.pem", selfSigned(t, k.ec)), sign(t, jose.ES256, k.ec, "", claims(time.Now(), nil)), ""},
		{"private key refused", write("priv.pem", pemBlock("PRIVATE KEY", privDER)), "", "give the public key"},
		{"JWKS with only a symmetric key", write("oct.json", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h"}]}`)), "", "symmetric key"},
		{"not a key", write("junk.txt", []byte("hello")), "", "no PEM block"},
		{"missing", filepath.Join(dir, "absent.pem"), "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(Options{Issuer: testIssuer, Audiences: []string{testResource}, KeyFile: tt.file})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(ctx, tt.tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestHMAC(t *testing.T) {
	k := getKeys(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	v := newVerifier(t, Options{HMACSecret: secret})
	if _, err := v.Verify(ctx, sign(t, jose.HS256, secret, "", claims(time.Now(), nil))); err != nil {
		t.Fatalf("HS256 with the secret: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, jose.HS256, []byte("another secret of thirty-two bytes"), "", claims(time.Now(), nil))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("HS256 with another secret: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, jose.RS256, k.rsa, "", claims(time.Now(), nil))); !errors.Is(err, ErrDisallowedAlgorithm) {
		t.Fatalf("RS256 against an HMAC verifier: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	base := func(f func(*Options)) Options {
		o := Options{Issuer: testIssuer, Audiences: []string{testResource}, JWKSURL: "https://as.example.test/jwks"}
		f(&o)
		return o
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no issuer", base(func(o *Options) { o.Issuer = "" }), "Issuer is required"},
		{"no audience", base(func(o *Options) { o.Audiences = nil }), "Audiences is required"},
		{"two key sources", base(func(o *Options) { o.KeyFile = "x.pem" }), "exactly one of"},
		{"no key source", base(func(o *Options) { o.JWKSURL = "" }), "exactly one of"},
		{"none", base(func(o *Options) { o.Algorithms = []string{"RS256", "none"} }), `"none" is never accepted`},
		{"HS256 without secret", base(func(o *Options) { o.Algorithms = []string{"HS256"} }), "accepted only with HMACSecret"},
		{"unknown alg", base(func(o *Options) { o.Algorithms = []string{"RS1"} }), "not a supported asymmetric algorithm"},
		{"short secret", base(func(o *Options) { o.JWKSURL = ""; o.HMACSecret = []byte("short") }), "at least 32"},
		{"RS256 with secret", base(func(o *Options) {
			o.JWKSURL = ""
			o.HMACSecret = make([]byte, 32)
			o.Algorithms = []string{"RS256"}
		}), "not an HMAC algorithm"},
		{"bad URL", base(func(o *Options) { o.JWKSURL = "file:///etc/jwks" }), "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.opts)
			if err == nil {
				v.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	k := getKeys(b)
	srv := newJWKSServer(b, jwksJSON(b, jwk(k.rsa, "rsa1", ""), jwk(k.ec, "ec1", ""), jwk(k.ed, "ed1", "")))
	v := newVerifier(b, Options{JWKSURL: srv.URL})
	for _, c := range []struct {
		alg jose.SignatureAlgorithm
		key any
		kid string
	}{{jose.RS256, k.rsa, "rsa1"}, {jose.ES256, k.ec, "ec1"}, {jose.EdDSA, k.ed, "ed1"}} {
		tok := sign(b, c.alg, c.key, c.kid, claims(time.Now(), func(m map[string]any) { m["exp"] = time.Now().Add(time.Hour).Unix() }))
		b.Run(string(c.alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	k := getKeys(f)
	file := filepath.Join(f.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwksJSON(f, jwk(k.ec, "ec1", "")), 0o600); err != nil {
		f.Fatal(err)
	}
	v, err := New(Options{Issuer: testIssuer, Audiences: []string{testResource}, KeyFile: file})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sign(f, jose.ES256, k.ec, "ec1", claims(time.Now(), nil)))
	f.Add(unsigned(f, map[string]string{"alg": "none"}, claims(time.Now(), nil)))
	f.Add("e30.e30.")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(ctx, tok)
		if err == nil {
			if id.Issuer != testIssuer {
				t.Fatalf("accepted a token from issuer %q", id.Issuer)
			}
			return
		}
		var te *TokenError
		if !errors.As(err, &te) {
			t.Fatalf("error %T is not a *TokenError: %v", err, err)
		}
	})
}

// TestCloseCancelsFetches: Close returns promptly even while the JWKS
// endpoint hangs, and a closed verifier starts no fetch.
func TestCloseCancelsFetches(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	v, err := New(Options{Issuer: testIssuer, Audiences: []string{testResource}, JWKSURL: srv.URL, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background fetch did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	v.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v with a fetch hanging", d)
	}
	before := hits.Load()
	if _, err := v.Verify(ctx, sign(t, jose.RS256, getKeys(t).rsa, "k", claims(time.Now(), nil))); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Verify after Close: %v", err)
	}
	if hits.Load() != before {
		t.Fatal("a closed verifier fetched")
	}
}
