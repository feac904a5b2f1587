package remote

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transport names, as in a config's "type" field.
const (
	// TransportStreamableHTTP is MCP's Streamable HTTP transport (2025-03-26 on).
	TransportStreamableHTTP = "http"
	// TransportSSE is the legacy HTTP+SSE transport of MCP 2024-11-05.
	TransportSSE = "sse"
)

// Defaults for the zero values of [Options].
const (
	DefaultMaxMessageBytes = 16 << 20
	DefaultRequestTimeout  = 30 * time.Second
	DefaultReconnectDelay  = time.Second
	DefaultMaxReconnects   = 5
)

// Options configures a link to a remote MCP server.
type Options struct {
	// URL is the MCP endpoint, http or https: the Streamable HTTP endpoint,
	// or the event-stream URL of a legacy HTTP+SSE server.
	URL string
	// Transport is TransportStreamableHTTP, TransportSSE or "" to detect:
	// the first message is POSTed as Streamable HTTP, and an answer of 400,
	// 404 or 405 without a JSON-RPC body falls back to HTTP+SSE.
	Transport string
	// Name names the server in log lines; default the URL's host.
	Name string
	// Headers are sent with every HTTP request, e.g. Authorization. Their
	// values are never logged nor put in errors. Headers the transport sets
	// itself (Accept, Content-Type, Mcp-*, Last-Event-ID) are refused.
	Headers http.Header
	// OAuth, when set, gets a bearer token with the OAuth client credentials
	// grant, refreshes it before it expires, and sends it as Authorization.
	OAuth *ClientCredentials
	// HTTPClient sends the requests. Default: a client of its own that
	// follows redirects only within the URL's origin (so headers are never
	// sent elsewhere) and is closed with the link. Its Timeout must be zero:
	// event streams last as long as the session.
	HTTPClient *http.Client
	// Logger receives diagnostics; default slog.Default().
	Logger *slog.Logger
	// MaxMessageBytes bounds one message from the remote; default 16 MiB.
	MaxMessageBytes int
	// RequestTimeout bounds every HTTP exchange that is not a stream: a
	// POSTed notification or response, the headers of an event stream, the
	// legacy endpoint event, a token request, the closing DELETE (at most
	// 3s). Default 30s. Requests are bounded by their caller, who cancels
	// them (notifications/cancelled ends the request's HTTP exchange).
	RequestTimeout time.Duration
	// ReconnectDelay is the first wait before reopening a dropped event
	// stream; it grows 1.5-fold per failed attempt, up to 30s, with jitter.
	// A retry field from the server replaces it. Default 1s.
	ReconnectDelay time.Duration
	// MaxReconnects is how many attempts in a row may fail to reopen a
	// stream before the link ends with ErrUnreachable; default 5.
	MaxReconnects int
}

// ClientCredentials configures the OAuth 2.0 client credentials grant.
type ClientCredentials struct {
	// TokenURL is the authorization server's token endpoint.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes are requested with each token (optional).
	Scopes []string
	// Audience is sent as the "audience" parameter (optional; some
	// authorization servers need it to issue a token for an API).
	Audience string
	// Resource is sent as the RFC 8707 "resource" parameter (optional; MCP
	// authorization names the server's canonical URL there).
	Resource string
}

// reservedHeaders are set per request by the transports.
var reservedHeaders = []string{
	"Accept", "Content-Type", "Content-Length", "Host", "Last-Event-Id",
	"Mcp-Session-Id", "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name",
}

// resolved is Options after validation and defaults.
type resolved struct {
	Options
	url      *url.URL
	redacted string
}

func (o Options) resolve() (*resolved, error) {
	r := &resolved{Options: o}
	if o.URL == "" {
		return nil, errors.New("remote: no URL")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("remote: bad URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("remote: URL %s: scheme must be http or https, not %q", redactURL(u), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("remote: URL %s has no host", redactURL(u))
	}
	r.url, r.redacted = u, redactURL(u)
	switch o.Transport {
	case "", TransportStreamableHTTP, TransportSSE:
	default:
		return nil, fmt.Errorf("remote %s: unknown transport %q: use %q (Streamable HTTP), %q (legacy HTTP+SSE) or leave it empty to detect",
			r.redacted, o.Transport, TransportStreamableHTTP, TransportSSE)
	}
	for name, values := range o.Headers {
		canon := http.CanonicalHeaderKey(name)
		for _, res := range reservedHeaders {
			if canon == res {
				return nil, fmt.Errorf("remote %s: header %q is set by the transport itself; remove it from the headers", r.redacted, name)
			}
		}
		if !validHeaderName(name) {
			return nil, fmt.Errorf("remote %s: header name %q is not a valid HTTP token", r.redacted, name)
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				// The value itself stays out of the message.
				return nil, fmt.Errorf("remote %s: the value of header %q contains a line break or NUL", r.redacted, name)
			}
		}
	}
	if c := o.OAuth; c != nil {
		if c.TokenURL == "" || c.ClientID == "" {
			return nil, fmt.Errorf("remote %s: OAuth client credentials need a token URL and a client id", r.redacted)
		}
		tu, err := url.Parse(c.TokenURL)
		if err != nil || (tu.Scheme != "http" && tu.Scheme != "https") || tu.Host == "" {
			return nil, fmt.Errorf("remote %s: OAuth token URL is not an http(s) URL", r.redacted)
		}
		if o.Headers.Get("Authorization") != "" {
			return nil, fmt.Errorf("remote %s: both an Authorization header and OAuth are configured; keep one", r.redacted)
		}
	}
	if o.HTTPClient != nil && o.HTTPClient.Timeout != 0 {
		return nil, fmt.Errorf("remote %s: the HTTP client has a Timeout, which would cut event streams; use RequestTimeout instead", r.redacted)
	}
	if r.Name == "" {
		r.Name = u.Host
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.MaxMessageBytes <= 0 {
		r.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if r.RequestTimeout <= 0 {
		r.RequestTimeout = DefaultRequestTimeout
	}
	if r.ReconnectDelay <= 0 {
		r.ReconnectDelay = DefaultReconnectDelay
	}
	if r.MaxReconnects <= 0 {
		r.MaxReconnects = DefaultMaxReconnects
	}
	return r, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
