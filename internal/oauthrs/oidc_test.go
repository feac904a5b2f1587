package oauthrs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startOIDCProvider runs testdata/oidc/server.mjs (panva's oidc-provider
// from npm) and returns its issuer URL. The test is skipped when the npm
// fixture is not installed, unless MCPSCRIPT_REQUIRE_OIDC is set (CI).
func startOIDCProvider(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "oidc"))
	if err != nil {
		t.Fatal(err)
	}
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	node, nodeErr := exec.LookPath("node")
	if modErr != nil || nodeErr != nil {
		msg := "the OIDC fixture needs node and `npm ci --prefix testdata/oidc`"
		if os.Getenv("MCPSCRIPT_REQUIRE_OIDC") != "" {
			t.Fatalf("%s (MCPSCRIPT_REQUIRE_OIDC is set): %v %v", msg, modErr, nodeErr)
		}
		t.Skip(msg + "; set MCPSCRIPT_REQUIRE_OIDC to make this a failure")
	}
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	var stderr strings.Builder
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return stderr.Write(p)
	})
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
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		var hello struct{ Issuer string }
		if !ok || json.Unmarshal([]byte(l), &hello) != nil || hello.Issuer == "" {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("the OIDC provider did not start: %q\n%s", l, stderr.String())
		}
		return hello.Issuer
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the OIDC provider printed nothing in 30s\n%s", stderr.String())
	}
	return ""
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// clientCredentials asks the provider for an access token for resource.
func clientCredentials(t *testing.T, issuer, resource, scope string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"mcp-test"}, "client_secret": {"mcp-test-secret"},
		"resource": {resource}, "scope": {scope},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token request: HTTP %d, %v, %s: %s", resp.StatusCode, err, body.Error, body.Description)
	}
	return body.AccessToken
}

// TestOIDCProvider verifies JWT access tokens from a real authorization
// server, found through its discovery document, for each algorithm.
func TestOIDCProvider(t *testing.T) {
	issuer := startOIDCProvider(t)
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Issuer != issuer || disc.JWKSURI == "" {
		t.Fatalf("discovery: %+v, %v", disc, err)
	}
	const base = "https://mcp.example.test/servers/"
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			resource := base + alg
			v := newVerifier(t, Options{Issuer: issuer, Audiences: []string{resource}, JWKSURL: disc.JWKSURI, RequireType: "at+jwt"})
			tok := clientCredentials(t, issuer, resource, "tools:read")
			id, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("a token from oidc-provider was refused: %v", err)
			}
			if id.Issuer != issuer || id.ClientID != "mcp-test" || strings.Join(id.Scopes, " ") != "tools:read" || id.Expiry.Before(time.Now()) {
				t.Fatalf("identity %+v", id)
			}
			// The same provider's token for another resource is refused.
			other := clientCredentials(t, issuer, base+"other/"+alg, "tools:read")
			if _, err := v.Verify(ctx, other); !errors.Is(err, ErrWrongAudience) {
				t.Fatalf("token for another resource: %v, want ErrWrongAudience", err)
			}
		})
	}
}
