package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/mcpscript/mcpscript/internal/remote"
)

// authServer is an OAuth authorization server's token endpoint for the
// client credentials grant, and the verifier of the tokens it issued.
type authServer struct {
	secret    string
	expiresIn int

	mu      sync.Mutex
	issued  map[string]bool // token → still valid
	fetches int
	form    url.Values // the last token request's parameters
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "client_credentials" || id != "mcpscript" || secret != a.secret {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"unknown client or wrong secret"}`))
		return
	}
	a.mu.Lock()
	a.fetches++
	tok := fmt.Sprintf("tok-%d", a.fetches)
	a.issued[tok] = true
	a.form = r.PostForm
	a.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": a.expiresIn})
}

func (a *authServer) verify(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.issued[token] {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{Expiration: time.Now().Add(time.Hour)}, nil
}

func (a *authServer) revokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for t := range a.issued {
		a.issued[t] = false
	}
}

func (a *authServer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fetches
}

// TestOAuthClientCredentials gets tokens with the client credentials grant
// from a token endpoint, for a server that checks them: the token and its
// parameters, refresh before expiry, a new token after a revocation, and
// a clear error for a wrong secret.
func TestOAuthClientCredentials(t *testing.T) {
	tests := []struct {
		name      string
		secret    string
		expiresIn int
		revoke    bool
		wantErr   bool
		fetches   func(n int) bool
	}{
		{"one token for the session", "s3cret", 3600, false, false, func(n int) bool { return n == 1 }},
		{"refreshed before expiry", "s3cret", 1, false, false, func(n int) bool { return n >= 3 }},
		{"renewed after revocation", "s3cret", 3600, true, false, func(n int) bool { return n == 2 }},
		{"wrong secret", "xyz-not-it", 3600, false, true, func(n int) bool { return n == 0 }},
	}
	for _, tt := range tests {
		for _, transport := range []string{"http", "sse"} {
			t.Run(tt.name+"/"+transport, func(t *testing.T) {
				checkGoroutines(t)
				as := &authServer{secret: "s3cret", expiresIn: tt.expiresIn, issued: map[string]bool{}}
				tokenSrv := httpServer(t, as)
				mcpSrv := httpServer(t, auth.RequireBearerToken(as.verify, nil)(handlerFor(transport)))
				opts := remote.Options{URL: mcpSrv.URL, Transport: transport, OAuth: &remote.ClientCredentials{
					TokenURL: tokenSrv.URL + "/token", ClientID: "mcpscript", ClientSecret: tt.secret,
					Scopes: []string{"mcp:tools"}, Audience: "https://api.example", Resource: mcpSrv.URL,
				}}
				_, cl, err := tryConnect(t, opts, nil)
				if tt.wantErr {
					if !errors.Is(err, remote.ErrUnauthorized) || !strings.Contains(err.Error(), "invalid_client") ||
						!strings.Contains(err.Error(), tokenSrv.URL) || strings.Contains(err.Error(), tt.secret) {
						t.Fatalf("got %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if tt.revoke {
					as.revokeAll()
				}
				for range 2 {
					if _, err := cl.CallTool(ctx, "echo", map[string]any{"text": "x"}); err != nil {
						t.Fatal(err)
					}
				}
				if n := as.count(); !tt.fetches(n) {
					t.Errorf("%d token requests", n)
				}
				as.mu.Lock()
				form := as.form
				as.mu.Unlock()
				if form.Get("scope") != "mcp:tools" || form.Get("audience") != "https://api.example" || form.Get("resource") != mcpSrv.URL {
					t.Errorf("token request parameters %v", form)
				}
			})
		}
	}
}
