package proxy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Authentication
//
// When sseProxy.authenticate is configured, every route but /healthz and
// /readyz needs "Authorization: Bearer <token>", where <token> is one of the
// configured secrets: sseProxy.authenticate.bearer.token (named "default",
// with access to every allowed server) or an entry of
// sseProxy.authenticate.bearer.tokens (its own name, optionally limited to
// some servers). The presented token is hashed and compared with every
// configured one in constant time. A missing or wrong token gets 401 with
// "WWW-Authenticate: Bearer" and a JSON-RPC error body. The caller's
// engine.Identity (Token: the token's name, Servers: its limit) is stored
// in c.Locals(identityKey) for the transports and the gateway; sessions are
// bound to the token name that opened them.
//
// /readyz answers without a token, but then tells only how many servers are
// not ready, not which.
//
// # Query tokens (browsers)
//
// A browser's EventSource cannot send headers. With
// "sseProxy.authenticate.queryTokens": true, a page that holds a bearer
// token exchanges it for a short-lived one:
//
//	POST /auth/token            (Authorization: Bearer <token>)
//	→ {"token": "<random>", "tokenType": "query", "expiresIn": 60}
//
// and passes that as ?access_token=<random> where headers cannot go: on the
// GET stream routes (/sse, /mcp, /servers/NAME/sse, /servers/NAME/mcp) and
// the matching POST routes (/sse/messages, /mcp, /servers/NAME/messages,
// /servers/NAME/mcp). It stands for the same identity as the bearer token
// it was issued for, is valid for queryTokenTTL (several uses within that
// time are fine: EventSource reconnects with the same URL), and is refused
// everywhere else, including /auth/token itself, so it cannot be renewed
// without the real token. Only the random token ever appears in URLs (and
// so in logs and browser history), never the configured secret. The option
// is off by default.
//
//	const {token} = await (await fetch("/auth/token", {method: "POST",
//	    headers: {Authorization: "Bearer " + secret}})).json();
//	const es = new EventSource("/sse?access_token=" + token);
//	const postURL = await new Promise((resolve) =>
//	    es.addEventListener("endpoint", (e) => resolve(e.data), {once: true}));
//	// POSTs can send the header: fetch(postURL, {method: "POST", headers: {Authorization: ...}, body})
//
// A GET of a stream route without any token gets a 401 that says this (and
// is logged, rate-limited: the page cannot read it). With
// "tokenlessStreams", GET /sse without a token is let through to the
// reference transport, which binds the stream later (see reference.go).

// queryTokenTTL is how long a query token from POST /auth/token is valid.
const queryTokenTTL = 60 * time.Second

// maxQueryTokens bounds the query tokens outstanding at once.
const maxQueryTokens = 10000

// queryTokenParam is the query parameter that carries a query token.
const queryTokenParam = "access_token"

// tokenEntry is one configured bearer token.
type tokenEntry struct {
	name    string
	hash    [sha256.Size]byte // SHA-256 of the secret: compared, never the secret itself
	servers []string          // nil: every server
}

// authenticator checks bearer and query tokens.
type authenticator struct {
	tokens           []tokenEntry
	oauth            *oauthServer // nil: no JWTs (oauth.go)
	queryTokens      bool
	tokenlessStreams bool // GET /sse without a token (reference.go)
	now              func() time.Time

	mu     sync.Mutex
	issued map[[sha256.Size]byte]issuedToken // by SHA-256 of the query token
}

// issuedToken is a query token's identity and expiry.
type issuedToken struct {
	id      engine.Identity
	expires time.Time
}

// newAuthenticator returns the authenticator of a's static tokens and
// OAuth settings, or nil when a is nil (authentication off). resolve makes
// a key file's path absolute.
func newAuthenticator(a *config.Authenticate, resolve func(string) string, logger *slog.Logger) (*authenticator, error) {
	if a == nil || a.Bearer == nil && a.OAuth == nil {
		return nil, nil
	}
	au := &authenticator{queryTokens: a.QueryTokens, tokenlessStreams: a.TokenlessStreams, now: time.Now, issued: map[[sha256.Size]byte]issuedToken{}}
	for _, t := range a.Bearer.All() {
		au.tokens = append(au.tokens, tokenEntry{name: t.Name, hash: sha256.Sum256([]byte(t.Token)), servers: t.Servers})
	}
	if a.OAuth != nil {
		o, err := newOAuthServer(a.OAuth, resolve, logger)
		if err != nil {
			return nil, err
		}
		au.oauth = o
	}
	return au, nil
}

// close stops what runs in the background (a JWKS refresh).
func (a *authenticator) close() {
	if a != nil {
		a.oauth.close()
	}
}

// warnRisks logs, once at start, the settings that weaken authentication.
func (a *authenticator) warnRisks(logger *slog.Logger) {
	if a != nil && a.tokenlessStreams {
		logger.Warn("proxy: sseProxy.authenticate.tokenlessStreams is on: GET /sse opens a stream without a token, " +
			"which the first authenticated POST naming it binds, or, when the POST names no session, the only unbound stream of its origin and address; " +
			"a local process that opens a stream first with a forged Origin could receive the answers to such a POST. " +
			"Pages that can should use query tokens (queryTokens) and POST to the URL of the endpoint event")
	}
}

// check returns the identity of a presented bearer token. Every configured
// token is compared, in constant time, whatever matches.
func (a *authenticator) check(token string) (engine.Identity, bool) {
	h := sha256.Sum256([]byte(token))
	match := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(h[:], a.tokens[i].hash[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return engine.Identity{}, false
	}
	t := a.tokens[match]
	return engine.Identity{Auth: engine.AuthBearer, Token: t.name, Servers: slices.Clone(t.servers)}, true
}

// errTooManyTokens is returned by issue when maxQueryTokens are outstanding.
var errTooManyTokens = errors.New("too many query tokens outstanding; try again in a minute")

// issue returns a new query token for id.
func (a *authenticator) issue(id engine.Identity) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.issued) >= maxQueryTokens {
		for k, it := range a.issued {
			if !now.Before(it.expires) {
				delete(a.issued, k)
			}
		}
		if len(a.issued) >= maxQueryTokens {
			return "", errTooManyTokens
		}
	}
	id.Servers = slices.Clone(id.Servers)
	id.Scopes = slices.Clone(id.Scopes)
	a.issued[sha256.Sum256([]byte(tok))] = issuedToken{id: id, expires: now.Add(queryTokenTTL)}
	return tok, nil
}

// redeem returns the identity of a valid query token. Lookups go by the
// token's SHA-256, so their timing tells nothing about the stored tokens.
func (a *authenticator) redeem(tok string) (engine.Identity, bool) {
	h := sha256.Sum256([]byte(tok))
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	it, ok := a.issued[h]
	if !ok {
		return engine.Identity{}, false
	}
	if !now.Before(it.expires) {
		delete(a.issued, h)
		return engine.Identity{}, false
	}
	id := it.id
	id.Servers = slices.Clone(id.Servers)
	return id, true
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header (the scheme is case-insensitive).
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// errRefusedToken stands for a presented token that is neither a static
// token nor a JWT, in an OAuth challenge.
var errRefusedToken = errors.New("unknown token")

// unauthorized answers 401 with a WWW-Authenticate challenge; invalid says
// a token was presented (RFC 6750's invalid_token). With OAuth on, the
// challenge names the endpoint's resource metadata (oauth.go).
func (s *Server) unauthorized(c *fiber.Ctx, invalid bool, msg string) error {
	if o := s.auth.oauth; o != nil {
		var refused error
		if invalid {
			refused = errRefusedToken
		}
		return o.challenge(c, refused, msg)
	}
	challenge := `Bearer realm="mcpscript"`
	if invalid {
		challenge += `, error="invalid_token"`
	}
	c.Set(fiber.HeaderWWWAuthenticate, challenge)
	return refuse(fiber.StatusUnauthorized, wire.CodeInvalidRequest, "%s", msg)
}

// authMiddleware enforces authentication on every route but the public
// ones (see the package's Authentication notes). With authentication off it
// does nothing: the transports then see the zero Identity.
func (s *Server) authMiddleware(c *fiber.Ctx) error {
	a := s.auth
	if a == nil {
		return c.Next()
	}
	path := c.Path()
	if path == "/healthz" || path == "/readyz" || a.oauth != nil && isMetadataPath(path) {
		return c.Next()
	}
	if len(c.Request().Header.PeekAll(fiber.HeaderAuthorization)) > 1 {
		// Which one counts would be up to each reader along the way.
		return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest, "bad request: send one Authorization header, not several")
	}
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		tok, ok := bearerToken(h)
		if !ok {
			return s.unauthorized(c, true, "unauthorized: the Authorization header must be \"Bearer <token>\"")
		}
		id, ok := a.check(tok)
		if ok {
			c.Locals(identityKey, id)
			return c.Next()
		}
		if a.oauth != nil && looksLikeJWT(tok) {
			return a.oauth.authenticate(c, tok)
		}
		return s.unauthorized(c, true, "unauthorized: unknown bearer token")
	}
	if qt := c.Query(queryTokenParam); qt != "" {
		switch {
		case !a.queryTokens:
			return s.unauthorized(c, true, "unauthorized: query tokens are disabled (sseProxy.authenticate.queryTokens); send Authorization: Bearer <token>")
		case !queryTokenRoute(c.Method(), path):
			return s.unauthorized(c, true, "unauthorized: a query token is accepted only on the SSE and MCP routes; send Authorization: Bearer <token>")
		}
		id, ok := a.redeem(qt)
		if !ok {
			return s.unauthorized(c, true, "unauthorized: the query token is unknown or expired; get a new one with POST /auth/token")
		}
		c.Locals(identityKey, id)
		return c.Next()
	}
	if a.tokenlessStreams && c.Method() == fiber.MethodGet && isRoute(path, routeSSE) {
		c.Locals(tokenlessKey, true)
		return c.Next()
	}
	return s.missingToken(c, path)
}

// isRoute reports whether path is the fixed route r.
func isRoute(path, r string) bool {
	got, _ := classifyPath(path)
	return got == r
}

// missingToken is the 401 of a request that presented no credentials. On a
// GET of a stream route, what is likely a browser's EventSource, which
// cannot send the header, it says what to do instead, and so does the log
// (the page itself cannot read the answer).
func (s *Server) missingToken(c *fiber.Ctx, path string) error {
	route, _ := classifyPath(path)
	stream := c.Method() == fiber.MethodGet && (route == routeSSE || route == routeServerSSE || route == routeMCP || route == routeServerMCP)
	if !stream {
		return s.unauthorized(c, false, "unauthorized: send Authorization: Bearer <token>")
	}
	how := "trade the token for a query token with POST /auth/token (Authorization: Bearer <token>) and open this URL with ?access_token=<it>"
	if !s.auth.queryTokens {
		how += " (set sseProxy.authenticate.queryTokens to true first)"
	}
	if route == routeSSE {
		how += "; or, for a page written for mcp-runner (EventSource('/sse') without a token), set sseProxy.authenticate.tokenlessStreams to true (read its caveat in the README)"
	}
	origin := c.Get(fiber.HeaderOrigin)
	s.warnings.warn("401|"+route+"|"+origin, "proxy: refused a stream without a token (401); a browser's EventSource cannot send Authorization: "+how,
		"method", c.Method(), "path", path, "origin", origin)
	return s.unauthorized(c, false, "unauthorized: send Authorization: Bearer <token>. A browser's EventSource cannot send that header: "+how)
}

// queryTokenRoute reports whether a query token may authenticate a request:
// GET on a stream route or POST on a message route.
func queryTokenRoute(method, path string) bool {
	r, _ := classifyPath(path)
	switch method {
	case fiber.MethodGet:
		return r == routeSSE || r == routeMCP || r == routeServerSSE || r == routeServerMCP
	case fiber.MethodPost:
		return r == routeSSEMessages || r == routeMCP || r == routeServerMessages || r == routeServerMCP
	}
	return false
}

// tokenResponse is the answer of POST /auth/token.
type tokenResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"tokenType"`
	ExpiresIn int    `json:"expiresIn"` // seconds
}

// issueToken is POST /auth/token: a query token for the caller's identity.
// Only a bearer token in the header is accepted here, never a query token.
func (s *Server) issueToken(c *fiber.Ctx) error {
	if c.Get(fiber.HeaderAuthorization) == "" {
		return s.unauthorized(c, false, "unauthorized: POST /auth/token needs Authorization: Bearer <token>")
	}
	tok, err := s.auth.issue(identityOf(c))
	if err != nil {
		return refuse(fiber.StatusServiceUnavailable, wire.CodeInternalError, "%s", err.Error())
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(tokenResponse{Token: tok, TokenType: "query", ExpiresIn: int(queryTokenTTL / time.Second)})
}

// Host and Origin validation (DNS rebinding)
//
// A web page can make a browser send requests to a local server by
// rebinding its own host name to 127.0.0.1; those requests carry that name
// in Host, and the page's origin in Origin. So every request but /healthz
// must have a Host the proxy answers to, and an Origin, when present, it
// trusts; otherwise it gets 403 (as MCP requires for Origin).
//
// Host must be, case-insensitively, one of:
//   - the listen address, host:port (the port may be left out when it is 80);
//   - when bound to loopback (127.0.0.1, ::1, localhost): localhost,
//     127.0.0.1 or [::1] with the port;
//   - when bound to all interfaces (0.0.0.0, ::): any IP address with the
//     port, or localhost or the machine's host name with the port;
//   - an entry of sseProxy.allowedHosts: "name" (any port), "name:port",
//     or "*" (any Host; for use behind a reverse proxy that checks Host).
//
// Origin, when present, must be one of:
//   - the request's own origin (its host:port is the Host header);
//   - when bound to loopback or all interfaces: an http(s) origin on
//     localhost, 127.0.0.0/8 or [::1], any port (local development tools);
//   - an entry of sseProxy.cors.allowedOrigins (or any, with "*").
//
// A request without Origin (curl, SDK clients) is not a browser's
// cross-origin request, so only Host is checked.

// hostGuard holds the Host and Origin rules of a listening proxy.
type hostGuard struct {
	anyHost  bool
	exact    map[string]bool // lower-case host:port (and host alone when the port is 80)
	names    map[string]bool // allowedHosts entries without a port: any port
	port     string          // the port listened on
	ipHosts  bool            // bound to all interfaces: IP literals with port are fine
	loopback bool            // loopback origins are fine
	cors     *corsPolicy
}

// newHostGuard builds the rules for a proxy listening on listen (as
// configured), actually on port.
func newHostGuard(listen string, port int, allowedHosts []string, cors *corsPolicy) (*hostGuard, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("proxy: invalid listen address %q: %w", listen, err)
	}
	g := &hostGuard{exact: map[string]bool{}, names: map[string]bool{}, port: strconv.Itoa(port), cors: cors}
	add := func(h string) {
		h = strings.ToLower(strings.Trim(h, "[]"))
		g.exact[net.JoinHostPort(h, g.port)] = true
		if port == 80 {
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			g.exact[h] = true
		}
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || ip != nil && ip.IsUnspecified():
		g.ipHosts, g.loopback = true, true
		add("localhost")
		if hn, err := os.Hostname(); err == nil && hn != "" {
			add(hn)
		}
	case ip != nil && ip.IsLoopback() || strings.EqualFold(host, "localhost"):
		g.loopback = true
		for _, h := range []string{host, "localhost", "127.0.0.1", "::1"} {
			add(h)
		}
	default:
		add(host)
	}
	for _, h := range allowedHosts {
		switch hh, pp, err := net.SplitHostPort(h); {
		case h == "*":
			g.anyHost = true
		case err == nil:
			g.exact[strings.ToLower(net.JoinHostPort(hh, pp))] = true
		default:
			g.names[strings.ToLower(strings.Trim(h, "[]"))] = true
		}
	}
	return g, nil
}

// hostOK reports whether a Host header value is one the proxy answers to.
func (g *hostGuard) hostOK(h string) bool {
	if g.anyHost {
		return true
	}
	if h == "" {
		return false
	}
	h = strings.ToLower(h)
	if g.exact[h] {
		return true
	}
	name, port, err := net.SplitHostPort(h)
	if err != nil {
		name, port = strings.Trim(h, "[]"), "80"
	}
	return g.names[name] || g.ipHosts && port == g.port && net.ParseIP(name) != nil
}

// originOK reports whether an Origin header value (of a request whose Host
// is host) is trusted; an empty Origin is.
func (g *hostGuard) originOK(origin, host string) bool {
	if origin == "" || g.cors.allows(origin) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true // same origin
	}
	return g.loopback && isLoopbackName(u.Hostname())
}

// sameOrigin reports whether origin is the origin of a request to host
// (its Host header): browsers send Origin on same-origin POSTs too.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// isLoopbackName reports whether a host name or address means this machine.
func isLoopbackName(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// guardMiddleware enforces the Host and Origin rules (not on /healthz).
func (s *Server) guardMiddleware(c *fiber.Ctx) error {
	if c.Path() == "/healthz" {
		return c.Next()
	}
	g := s.guard
	host := string(c.Request().Host())
	if !g.hostOK(host) {
		return refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
			"forbidden: Host %q is not allowed (if clients reach the proxy under that name, add it to sseProxy.allowedHosts)", host)
	}
	if origin := c.Get(fiber.HeaderOrigin); !g.originOK(origin, host) {
		s.warnings.warn("origin|"+origin, "proxy: refused a request from a web page whose origin is not allowed (403); to let its pages call the proxy, add the origin to sseProxy.cors.allowedOrigins",
			"origin", origin, "method", c.Method(), "path", c.Path())
		return refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
			"forbidden: Origin %q is not allowed (to let its pages call the proxy, add it to sseProxy.cors.allowedOrigins)", origin)
	}
	return c.Next()
}

// CORS
//
// With sseProxy.cors, requests whose Origin is listed (or any, with "*")
// get Access-Control-Allow-Origin (the origin itself, or "*" for "*"
// without credentials), Access-Control-Expose-Headers (Mcp-Session-Id,
// Mcp-Protocol-Version, WWW-Authenticate, so that pages can read them) and,
// with allowCredentials, Access-Control-Allow-Credentials: true. Preflight
// requests (OPTIONS with Access-Control-Request-Method) from those origins
// are answered 204 before authentication, allowing GET, POST, DELETE and the
// headers in corsAllowHeaders. Without sseProxy.cors no CORS header is
// sent, and browsers keep other origins' pages from reading answers.

// CORS header values.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"
	corsExposeHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
	corsMaxAge        = "600"
)

// corsPolicy is the CORS configuration; nil means no CORS.
type corsPolicy struct {
	any         bool
	origins     map[string]bool // lower case
	credentials bool
}

func newCORSPolicy(c *config.CORS) *corsPolicy {
	if c == nil {
		return nil
	}
	p := &corsPolicy{origins: map[string]bool{}, credentials: c.AllowCredentials}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			p.any = true
		} else {
			p.origins[strings.ToLower(o)] = true
		}
	}
	return p
}

// allows reports whether origin may make CORS requests.
func (p *corsPolicy) allows(origin string) bool {
	return p != nil && origin != "" && origin != "null" && (p.any || p.origins[strings.ToLower(origin)])
}

// setOrigin sets the headers every CORS answer to origin carries.
func (p *corsPolicy) setOrigin(c *fiber.Ctx, origin string) {
	if p.any && !p.credentials {
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	} else {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	}
	if p.credentials {
		c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
	}
}

// apply sets the CORS headers of an actual (not preflight) request from an
// allowed origin, and reports whether it did.
func (p *corsPolicy) apply(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if !p.allows(origin) {
		return false
	}
	p.setOrigin(c, origin)
	c.Set(fiber.HeaderAccessControlExposeHeaders, corsExposeHeaders)
	c.Vary(fiber.HeaderOrigin)
	return true
}

// corsMiddleware answers preflights and sets CORS headers (see CORS). A
// preflight from an origin CORS does not allow is refused here (403) and
// logged, as is, once in a while, a cross-origin request whose answer the
// browser will hide from its page: the page cannot tell why it failed.
func (s *Server) corsMiddleware(c *fiber.Ctx) error {
	p := s.cors
	origin := c.Get(fiber.HeaderOrigin)
	preflight := c.Method() == fiber.MethodOptions && c.Get(fiber.HeaderAccessControlRequestMethod) != ""
	if origin != "" && !p.allows(origin) && !sameOrigin(origin, string(c.Request().Host())) {
		if preflight {
			s.warnings.warn("preflight|"+origin, "proxy: refused a CORS preflight from a web page whose origin is not in sseProxy.cors.allowedOrigins; the browser will not send its request (add the origin there to allow it)",
				"origin", origin, "method", c.Get(fiber.HeaderAccessControlRequestMethod), "path", c.Path())
			return refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
				"forbidden: CORS preflight from origin %q refused: it is not in sseProxy.cors.allowedOrigins", origin)
		}
		s.warnings.warn("cors|"+origin, "proxy: a web page called the proxy from an origin not in sseProxy.cors.allowedOrigins: the browser will not let it read the answer (add the origin there to allow it)",
			"origin", origin, "method", c.Method(), "path", c.Path())
	}
	if p == nil {
		return c.Next()
	}
	if preflight && p.allows(origin) {
		p.setOrigin(c, origin)
		c.Set(fiber.HeaderAccessControlAllowMethods, corsAllowMethods)
		c.Set(fiber.HeaderAccessControlAllowHeaders, corsAllowHeaders)
		c.Set(fiber.HeaderAccessControlMaxAge, corsMaxAge)
		if c.Get("Access-Control-Request-Private-Network") == "true" {
			c.Set("Access-Control-Allow-Private-Network", "true")
		}
		c.Vary(fiber.HeaderOrigin, fiber.HeaderAccessControlRequestMethod, fiber.HeaderAccessControlRequestHeaders)
		return c.SendStatus(fiber.StatusNoContent)
	}
	if !p.apply(c) {
		c.Vary(fiber.HeaderOrigin)
	}
	return c.Next()
}
