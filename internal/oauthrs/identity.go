package oauthrs

import (
	"slices"
	"time"
)

// Identity is what a verified access token says about its bearer.
type Identity struct {
	// Subject is the sub claim: the user, or the client for a
	// client-credentials token.
	Subject string
	// Issuer is the iss claim, the authorization server.
	Issuer string
	// Audience is the aud claim.
	Audience []string
	// ClientID is the OAuth client the token was issued to: the client_id
	// claim (RFC 9068), else azp.
	ClientID string
	// Scopes are the granted scopes, from the space-separated "scope"
	// claim and the "scp" array (or string), without duplicates.
	Scopes []string
	// Expiry is the exp claim.
	Expiry time.Time
	// IssuedAt is the iat claim, zero when absent.
	IssuedAt time.Time
	// Claims are all the payload's claims as decoded JSON (numbers are
	// float64).
	Claims map[string]any
}

// HasScope reports whether scope was granted.
func (id *Identity) HasScope(scope string) bool {
	return slices.Contains(id.Scopes, scope)
}

// MissingScopes returns the scopes of required that were not granted, in
// order; nil when all were. Use it to build a 403 insufficient_scope
// challenge.
func (id *Identity) MissingScopes(required ...string) []string {
	var missing []string
	for _, s := range required {
		if !id.HasScope(s) {
			missing = append(missing, s)
		}
	}
	return missing
}
