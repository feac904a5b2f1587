package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/oauthrs"
	"github.com/mcpscript/mcpscript/internal/ttlmap"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// OAuth 2.1 resource server
//
// With sseProxy.authenticate.oauth, a bearer token that is not one of the
// static tokens and has the shape of a JWT is verified by oauthrs (keys
// from a JWKS URL, a key file or a shared secret; issuer, audience, expiry,
// algorithm allow-list). A valid one gives the caller an identity with
// Auth "jwt", its subject, client id, scopes and claims; sessions belong to
// its subject and client (sessionOwner), so a refreshed token keeps its
// sessions. Static tokens keep working beside it. The token itself goes
// nowhere: not to the servers, not to the hooks (they get its claims).
//
// Refusals follow RFC 6750 and RFC 9728, as MCP clients expect:
//
//   - no token, or a token that is refused: 401 with
//     WWW-Authenticate: Bearer resource_metadata="<metadata URL of the
//     endpoint>"[, scope=…][, error="invalid_token", error_description=…];
//   - a valid JWT without every scope of oauth.requiredScopes: 403 with
//     error="insufficient_scope" and the scopes needed;
//   - signing keys that cannot be loaded (the JWKS URL never answered): 503.
//
// The protected resource metadata (RFC 9728) is served, without auth, at
// /.well-known/oauth-protected-resource (the proxy as a whole) and at that
// path followed by each endpoint's path: /mcp, /sse and, for every exposed
// server, /servers/NAME/mcp and /servers/NAME/sse. Each names its resource
// (oauth.resource, else http://HOST of the request, plus the endpoint's
// path), the authorization servers, the scopes supported and the resource
// name.

// oauthServer verifies JWT access tokens and describes the resource.
type oauthServer struct {
	v        *oauthrs.Verifier
	cfg      *config.OAuthResource
	resource string // configured public base URL without a trailing slash; "" means from Host
	now      func() time.Time

	// verified caches the identities of tokens that verified, by the
	// token's SHA-256, for verifiedTTL at most and never past their exp:
	// clients send the same token with every request, and a signature
	// check costs 50-150 µs. Only verified tokens are cached, so forged
	// ones cannot fill it; when it is full, tokens are verified each time.
	verified *ttlmap.Map[engine.Identity]
}

// Bounds of the verified-token cache. A key removed from the JWKS (or a
// token otherwise revoked) may be accepted for verifiedTTL more.
const (
	verifiedTTL  = 30 * time.Second
	verifiedKeys = 10000
)

// newOAuthServer builds the verifier of cfg; dir resolves a relative key
// file. A JWKS URL is fetched in the background.
func newOAuthServer(cfg *config.OAuthResource, resolve func(string) string, logger *slog.Logger) (*oauthServer, error) {
	opts := oauthrs.Options{
		Issuer: cfg.Issuer, Audiences: cfg.Audiences, JWKSURL: cfg.JWKSURL,
		Algorithms: cfg.Algorithms, ClockSkew: cfg.ClockSkew.Duration, RequireType: cfg.RequireType, Logger: logger,
	}
	if cfg.KeyFile != "" {
		opts.KeyFile = resolve(cfg.KeyFile)
	}
	if cfg.HMACSecret != "" {
		opts.HMACSecret = []byte(cfg.HMACSecret)
	}
	v, err := oauthrs.New(opts)
	if err != nil {
		return nil, fmt.Errorf("proxy: sseProxy.authenticate.oauth: %w", err)
	}
	return &oauthServer{v: v, cfg: cfg, resource: strings.TrimSuffix(cfg.Resource, "/"), now: time.Now,
		verified: ttlmap.New[engine.Identity](verifiedKeys)}, nil
}

// close stops the verifier's background refresh.
func (o *oauthServer) close() {
	if o != nil {
		_ = o.v.Close()
	}
}

// looksLikeJWT reports whether tok has the shape of a compact JWS: three
// base64url parts. Other tokens are never sent to the verifier.
func looksLikeJWT(tok string) bool {
	if strings.Count(tok, ".") != 2 || len(tok) > oauthrs.MaxTokenBytes {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// verify checks a JWT and returns the caller's identity.
func (o *oauthServer) verify(ctx context.Context, tok string) (engine.Identity, error) {
	sum := sha256.Sum256([]byte(tok))
	key, now := string(sum[:]), o.now()
	if id, ok := o.verified.Get(key, now); ok {
		return id, nil
	}
	v, err := o.v.Verify(ctx, tok)
	if err != nil {
		return engine.Identity{}, err
	}
	id := engine.Identity{
		Auth: engine.AuthJWT, Subject: v.Subject, ClientID: v.ClientID,
		Scopes: v.Scopes, Claims: v.Claims,
	}
	until := now.Add(verifiedTTL)
	if v.Expiry.Before(until) {
		until = v.Expiry
	}
	_ = o.verified.Update(key, now, func(engine.Identity, time.Time, bool) (engine.Identity, time.Time, bool) {
		return id, until, true
	}) // full: not cached
	return id, nil
}

// baseURL is the proxy's public URL as this request sees it.
func (o *oauthServer) baseURL(c *fiber.Ctx) string {
	if o.resource != "" {
		return o.resource
	}
	return "http://" + string(c.Request().Host())
}

// resourcePath is the path of the endpoint (the protected resource) a
// request path belongs to: a message route belongs to its stream route;
// anything else to the proxy as a whole ("").
func resourcePath(path string) string {
	route, name := classifyPath(path)
	switch route {
	case routeMCP, routeSSE:
		return route
	case routeSSEMessages:
		return routeSSE
	case routeServerMCP:
		return "/servers/" + name + "/mcp"
	case routeServerSSE, routeServerMessages:
		return "/servers/" + name + "/sse"
	}
	return ""
}

// metadataURL is the URL of the metadata of the endpoint of a request.
func (o *oauthServer) metadataURL(c *fiber.Ctx) string {
	return o.baseURL(c) + oauthrs.MetadataPath(resourcePath(c.Path()))
}

// challenge answers 401 (refused: why a token was refused, nil when none
// was sent) with the resource's WWW-Authenticate challenge.
func (o *oauthServer) challenge(c *fiber.Ctx, refused error, msg string) error {
	c.Set(fiber.HeaderWWWAuthenticate, oauthrs.Unauthorized(o.metadataURL(c), o.cfg.RequiredScopes, refused).String())
	return refuse(fiber.StatusUnauthorized, wire.CodeInvalidRequest, "%s", msg)
}

// authenticate is the JWT branch of the auth middleware: it verifies tok,
// checks the required scopes and stores the identity, or refuses.
func (o *oauthServer) authenticate(c *fiber.Ctx, tok string) error {
	id, err := o.verify(c.Context(), tok)
	switch {
	case errors.Is(err, oauthrs.ErrKeysUnavailable):
		c.Set(fiber.HeaderRetryAfter, "5")
		return refuse(fiber.StatusServiceUnavailable, wire.CodeInternalError,
			"the authorization server's signing keys are not available yet, so tokens cannot be checked: %v", err)
	case err != nil:
		var te *oauthrs.TokenError
		reason := "invalid token"
		if errors.As(err, &te) {
			reason = te.Error()
		}
		return o.challenge(c, err, "unauthorized: "+strings.TrimPrefix(reason, "oauthrs: "))
	}
	if missing := missingScopes(id.Scopes, o.cfg.RequiredScopes); len(missing) > 0 {
		c.Set(fiber.HeaderWWWAuthenticate, oauthrs.InsufficientScope(o.metadataURL(c), o.cfg.RequiredScopes).String())
		return refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
			"forbidden: the token lacks the scope %s (needed: %s)", strings.Join(missing, ", "), strings.Join(o.cfg.RequiredScopes, " "))
	}
	c.Locals(identityKey, id)
	return c.Next()
}

// missingScopes returns the scopes of required that granted lacks.
func missingScopes(granted, required []string) []string {
	var missing []string
	for _, s := range required {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// isMetadataPath reports whether path is under the well-known metadata path.
func isMetadataPath(path string) bool {
	return path == oauthrs.WellKnownPath || strings.HasPrefix(path, oauthrs.WellKnownPath+"/")
}

// metadata serves the protected resource metadata of the endpoint whose
// path follows the well-known prefix (see the package's notes).
func (s *Server) metadata(c *fiber.Ctx) error {
	o := s.auth.oauth
	rest := strings.TrimPrefix(c.Path(), oauthrs.WellKnownPath)
	known := rest == "" || rest == routeMCP || rest == routeSSE
	if name, kind, ok := strings.Cut(strings.TrimPrefix(rest, "/servers/"), "/"); !known && ok && strings.HasPrefix(rest, "/servers/") {
		known = (kind == "mcp" || kind == "sse") && s.servers().transports[name] != nil
	}
	if !known {
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest,
			"no protected resource at %s: metadata is served for /mcp, /sse and /servers/NAME/mcp or /sse", rest)
	}
	md, err := oauthrs.ResourceMetadata(oauthrs.ResourceOptions{
		Resource: o.baseURL(c) + rest, AuthorizationServers: o.cfg.AuthorizationServers,
		ScopesSupported: o.cfg.ScopesSupported, ResourceName: o.cfg.ResourceName,
	})
	if err != nil {
		return refuse(fiber.StatusInternalServerError, wire.CodeInternalError, "%s", err.Error())
	}
	c.Set(fiber.HeaderCacheControl, "max-age=300")
	return c.JSON(md)
}
