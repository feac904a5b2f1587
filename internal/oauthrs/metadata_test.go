package oauthrs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResourceMetadata(t *testing.T) {
	m, err := ResourceMetadata(ResourceOptions{
		Resource:             "https://gw.example.test/servers/files/mcp",
		AuthorizationServers: []string{"https://as.example.test"},
		ScopesSupported:      []string{"files:read", "files:write"},
		ResourceName:         "files",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resource":"https://gw.example.test/servers/files/mcp","authorization_servers":["https://as.example.test"],"scopes_supported":["files:read","files:write"],"bearer_methods_supported":["header"],"resource_name":"files"}`
	if string(b) != want {
		t.Fatalf("metadata JSON\n got %s\nwant %s", b, want)
	}

	bad := []struct {
		name string
		o    ResourceOptions
		want string
	}{
		{"no resource", ResourceOptions{AuthorizationServers: []string{"https://as"}}, "resource URL is required"},
		{"relative", ResourceOptions{Resource: "/mcp", AuthorizationServers: []string{"https://as"}}, "not an http(s) URL"},
		{"fragment", ResourceOptions{Resource: "https://h/mcp#x", AuthorizationServers: []string{"https://as"}}, "fragment"},
		{"no AS", ResourceOptions{Resource: "https://h/mcp"}, "at least one authorization server"},
		{"bad AS", ResourceOptions{Resource: "https://h/mcp", AuthorizationServers: []string{"as.example"}}, `"as.example" is not an absolute`},
		{"bad method", ResourceOptions{Resource: "https://h/mcp", AuthorizationServers: []string{"https://as"}, BearerMethods: []string{"cookie"}}, `"cookie"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ResourceMetadata(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMetadataLocations(t *testing.T) {
	paths := map[string]string{
		"":                   "/.well-known/oauth-protected-resource",
		"/":                  "/.well-known/oauth-protected-resource",
		"/mcp":               "/.well-known/oauth-protected-resource/mcp",
		"/servers/files/mcp": "/.well-known/oauth-protected-resource/servers/files/mcp",
		"servers/a/mcp/":     "/.well-known/oauth-protected-resource/servers/a/mcp",
	}
	for in, want := range paths {
		if got := MetadataPath(in); got != want {
			t.Errorf("MetadataPath(%q) = %q, want %q", in, got, want)
		}
	}
	urls := map[string]string{
		"https://gw.example.test":                    "https://gw.example.test/.well-known/oauth-protected-resource",
		"https://gw.example.test/servers/files/mcp":  "https://gw.example.test/.well-known/oauth-protected-resource/servers/files/mcp",
		"http://127.0.0.1:8080/mcp?tenant=a":         "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp?tenant=a",
		"https://gw.example.test:8443/sse/../mcp/x/": "https://gw.example.test:8443/.well-known/oauth-protected-resource/sse/../mcp/x",
	}
	for in, want := range urls {
		got, err := MetadataURL(in)
		if err != nil || got != want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := MetadataURL("mcp"); err == nil {
		t.Error("MetadataURL accepted a relative URL")
	}
}

func TestChallenges(t *testing.T) {
	const meta = "https://gw.example.test/.well-known/oauth-protected-resource/mcp"
	tests := []struct {
		name string
		c    Challenge
		want string
	}{
		{"no token", Unauthorized(meta, []string{"tools:read"}, nil),
			`Bearer resource_metadata="` + meta + `", scope="tools:read"`},
		{"expired token", Unauthorized(meta, nil, tokenErr(ErrExpired, "expired at 2026-01-01")),
			`Bearer resource_metadata="` + meta + `", error="invalid_token", error_description="token expired"`},
		{"other error", Unauthorized(meta, nil, errString("boom")),
			`Bearer resource_metadata="` + meta + `", error="invalid_token", error_description="invalid token"`},
		{"step-up", InsufficientScope(meta, []string{"tools:read", "tools:call"}),
			`Bearer resource_metadata="` + meta + `", scope="tools:read tools:call", error="insufficient_scope", error_description="the token lacks a required scope"`},
		{"hostile values are defused", Challenge{ResourceMetadata: "x\", evil=\"1", Scope: []string{"a\\b", "c\r\nd"}},
			`Bearer resource_metadata="x, evil=1", scope="ab cd"`},
		{"empty", Challenge{}, "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }
