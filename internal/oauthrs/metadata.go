package oauthrs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// WellKnownPath is where RFC 9728 puts protected resource metadata.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// ResourceOptions describe a protected resource for its metadata document.
type ResourceOptions struct {
	// Resource is the resource's canonical URL, the one clients put in
	// the resource parameter and tokens carry in aud, such as
	// https://gw.example.com/servers/files/mcp. Required; http is allowed
	// for local use, a fragment is not.
	Resource string
	// AuthorizationServers are the issuer URLs of the authorization
	// servers that issue tokens for it. MCP requires at least one.
	AuthorizationServers []string
	// ScopesSupported are the scopes a client may request.
	ScopesSupported []string
	// ResourceName is a human-readable name (recommended).
	ResourceName string
	// ResourceDocumentation is a URL of developer documentation.
	ResourceDocumentation string
	// BearerMethods are the ways a token may be sent (default ["header"],
	// the only one MCP allows).
	BearerMethods []string
}

// ResourceMetadata builds the RFC 9728 document to serve as JSON at
// MetadataPath(path of Resource), using the go-sdk's type. It checks the
// URLs so that a typo fails at startup, not in a client.
func ResourceMetadata(o ResourceOptions) (*oauthex.ProtectedResourceMetadata, error) {
	if err := checkResourceURL(o.Resource); err != nil {
		return nil, err
	}
	if len(o.AuthorizationServers) == 0 {
		return nil, errors.New("oauthrs: metadata needs at least one authorization server (the issuer URL)")
	}
	for _, as := range o.AuthorizationServers {
		u, err := url.Parse(as)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("oauthrs: authorization server %q is not an absolute http(s) URL", as)
		}
	}
	if o.ResourceDocumentation != "" {
		if u, err := url.Parse(o.ResourceDocumentation); err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("oauthrs: resource documentation %q is not an absolute URL", o.ResourceDocumentation)
		}
	}
	methods := o.BearerMethods
	if len(methods) == 0 {
		methods = []string{"header"}
	}
	for _, m := range methods {
		if m != "header" && m != "body" && m != "query" {
			return nil, fmt.Errorf("oauthrs: bearer method %q is not header, body or query", m)
		}
	}
	return &oauthex.ProtectedResourceMetadata{
		Resource:               o.Resource,
		AuthorizationServers:   o.AuthorizationServers,
		ScopesSupported:        o.ScopesSupported,
		BearerMethodsSupported: methods,
		ResourceName:           o.ResourceName,
		ResourceDocumentation:  o.ResourceDocumentation,
	}, nil
}

func checkResourceURL(resource string) error {
	u, err := url.Parse(resource)
	switch {
	case resource == "":
		return errors.New("oauthrs: the resource URL is required")
	case err != nil:
		return fmt.Errorf("oauthrs: resource %q: %w", resource, err)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("oauthrs: resource %q is not an http(s) URL", resource)
	case u.Host == "":
		return fmt.Errorf("oauthrs: resource %q has no host", resource)
	case u.Fragment != "" || strings.Contains(resource, "#"):
		return fmt.Errorf("oauthrs: resource %q has a fragment, which RFC 9728 forbids", resource)
	}
	return nil
}

// MetadataPath returns the path at which the metadata of a resource whose
// URL path is resourcePath is served: the well-known prefix followed by that
// path, so "/servers/files/mcp" gives
// "/.well-known/oauth-protected-resource/servers/files/mcp", and "" or "/"
// gives the bare well-known path.
func MetadataPath(resourcePath string) string {
	p := strings.TrimSuffix(resourcePath, "/")
	if p == "" {
		return WellKnownPath
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return WellKnownPath + p
}

// MetadataURL returns the URL of a resource's metadata (RFC 9728 §3.1): the
// well-known path inserted between the host and the resource's path, query
// kept. It is what the resource_metadata parameter of a challenge carries.
func MetadataURL(resource string) (string, error) {
	if err := checkResourceURL(resource); err != nil {
		return "", err
	}
	u, _ := url.Parse(resource)
	m := url.URL{Scheme: u.Scheme, Host: u.Host, Path: MetadataPath(u.Path), RawQuery: u.RawQuery}
	return m.String(), nil
}
