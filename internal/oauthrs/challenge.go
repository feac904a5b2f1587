package oauthrs

import (
	"errors"
	"strings"
)

// Error codes of a Bearer challenge (RFC 6750 §3.1).
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Challenge is a WWW-Authenticate Bearer challenge (RFC 6750 §3) with the
// resource_metadata parameter of RFC 9728 §5.1, which MCP clients follow to
// discover the authorization server.
type Challenge struct {
	// ResourceMetadata is the URL of the resource's metadata (MetadataURL).
	ResourceMetadata string
	// Scope lists the scopes needed.
	Scope []string
	// Error is "" (no token was sent) or one of the Code* values.
	Error string
	// ErrorDescription is a short human-readable reason.
	ErrorDescription string
}

// Unauthorized is the challenge for a 401: without a token (err nil) it only
// points at the metadata; with a refused token it adds
// error="invalid_token" and the reason (never the token or its claims).
func Unauthorized(metadataURL string, scopes []string, err error) Challenge {
	c := Challenge{ResourceMetadata: metadataURL, Scope: scopes}
	if err != nil {
		c.Error = CodeInvalidToken
		c.ErrorDescription = "invalid token"
		var te *TokenError
		if errors.As(err, &te) {
			c.ErrorDescription = te.Reason.Error()
		}
	}
	return c
}

// InsufficientScope is the challenge for a 403 when a valid token lacks
// scopes: scope lists every scope the request needs (RFC 6750 §3.1), so a
// client can ask for them all at once (step-up).
func InsufficientScope(metadataURL string, scopes []string) Challenge {
	return Challenge{
		ResourceMetadata: metadataURL,
		Scope:            scopes,
		Error:            CodeInsufficientScope,
		ErrorDescription: "the token lacks a required scope",
	}
}

// String renders the header value, for example
//
//	Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="files:read"
//
// Characters RFC 6750 does not allow in these values (quotes, backslashes,
// controls, non-ASCII) are dropped, so no value can break the header.
func (c Challenge) String() string {
	var params []string
	add := func(name, value string) {
		if value = headerSafe(value); value != "" {
			params = append(params, name+`="`+value+`"`)
		}
	}
	add("resource_metadata", c.ResourceMetadata)
	add("scope", strings.Join(c.Scope, " "))
	add("error", c.Error)
	add("error_description", c.ErrorDescription)
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
