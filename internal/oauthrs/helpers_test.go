package oauthrs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://as.example.test"
	testResource = "https://mcp.example.test/mcp"
)

// testKeys are generated once per test binary: RSA generation is slow under
// -race.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		k2, e := rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keys.rsa2 = k2
		keys.ec, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		keys.ec384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		_, keys.ed, e = ed25519.GenerateKey(rand.Reader)
		must(e)
		if err != nil {
			panic(err)
		}
	})
	return keys
}

// jwk is a public JWK for a private key.
func jwk(priv crypto.Signer, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
}

func jwksJSON(t testing.TB, ks ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwksServer serves a key set that the test can change or break.
type jwksServer struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	status atomic.Int32
	hits   atomic.Int32
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	s := &jwksServer{}
	s.set(body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if st := int(s.status.Load()); st != http.StatusOK {
			http.Error(w, "down", st)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(b []byte) { s.body.Store(&b) }

// claims returns valid claims for the test resource, changed by edit.
func claims(now time.Time, edit func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss":       testIssuer,
		"sub":       "alice",
		"aud":       testResource,
		"exp":       now.Add(5 * time.Minute).Unix(),
		"iat":       now.Unix(),
		"client_id": "cli",
		"scope":     "tools:read tools:call",
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// sign makes a compact JWS of c with the given algorithm, key and kid.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, c any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds a token with alg "none" by hand, as an attacker would.
func unsigned(t testing.TB, header, payload any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(payload) + "."
}

func publicPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// newVerifier is a verifier over a JWKS server with its keys loaded.
func newVerifier(t testing.TB, o Options) *Verifier {
	t.Helper()
	if o.Issuer == "" {
		o.Issuer = testIssuer
	}
	if o.Logger == nil {
		o.Logger = discard()
	}
	if o.Audiences == nil {
		o.Audiences = []string{testResource}
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if o.JWKSURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return v
}
