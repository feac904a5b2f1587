// Package oauthrs makes an MCP endpoint an OAuth 2.1 resource server, as the
// MCP authorization spec (2025-11-25) asks of HTTP servers.
//
// A Verifier checks JWT access tokens: the signature, with keys from a JWKS
// URL (cached, refreshed in the background, refetched when a token names an
// unknown key, at most once per MinRefetchInterval), from a file (JWK Set,
// JWK or PEM) or from a shared secret for HS256/384/512; the issuer; the
// audience (this resource's URL: a token issued for another resource is
// refused); exp, nbf and iat with a clock skew; and the algorithm against an
// allow-list in which "none" never appears and HMAC appears only with a
// configured secret. The result is an Identity (subject, issuer, client id,
// scopes, expiry, all claims), or a *TokenError whose Reason is one of the
// Err* values, for errors.Is.
//
// ResourceMetadata builds the RFC 9728 protected resource metadata document,
// MetadataPath and MetadataURL say where it is served, and Unauthorized and
// InsufficientScope build the WWW-Authenticate challenges of 401 and 403
// answers. These are plain values: the proxy mounts the routes.
//
// JOSE is go-jose v4 (see docs/RATIONALE.md): no cryptography is written
// here, only the choice of keys and the checks around them.
package oauthrs
