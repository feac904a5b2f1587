package remote

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// credentials puts the configured credentials on every request: the static
// headers and, with OAuth, a bearer token that is fetched when missing or
// about to expire.
type credentials struct {
	headers http.Header
	oauth   *clientcredentials.Config
	ctx     context.Context // carries the token client; ends with the link
	url     string          // the MCP endpoint, redacted, for errors
	tokenOp string          // "OAuth token request to <redacted token URL>"

	mu  sync.Mutex
	tok *oauth2.Token // the current token; nil until fetched or after a refusal
}

func newCredentials(ctx context.Context, o *resolved, client *http.Client) *credentials {
	c := &credentials{headers: o.Headers, url: o.redacted}
	if o.OAuth == nil {
		return c
	}
	params := url.Values{}
	if o.OAuth.Audience != "" {
		params.Set("audience", o.OAuth.Audience)
	}
	if o.OAuth.Resource != "" {
		params.Set("resource", o.OAuth.Resource)
	}
	c.oauth = &clientcredentials.Config{
		ClientID:       o.OAuth.ClientID,
		ClientSecret:   o.OAuth.ClientSecret,
		TokenURL:       o.OAuth.TokenURL,
		Scopes:         o.OAuth.Scopes,
		EndpointParams: params,
	}
	// Token requests are exchanges, not streams: they get the deadline.
	// Redirects follow Go's defaults, which drop Authorization (the client
	// secret) when the host changes.
	tokenClient := &http.Client{Transport: client.Transport, Timeout: o.RequestTimeout}
	c.ctx = context.WithValue(ctx, oauth2.HTTPClient, tokenClient)
	tu, _ := url.Parse(o.OAuth.TokenURL)
	c.tokenOp = "OAuth token request to " + redactURL(tu)
	return c
}

// apply sets the credentials on h. A token is fetched when there is none
// or it expires within 10s; concurrent requests wait for one fetch.
func (c *credentials) apply(h http.Header) error {
	for k, v := range c.headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	if c.oauth == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tok.Valid() {
		tok, err := c.oauth.Token(c.ctx)
		if err != nil {
			return c.tokenError(err)
		}
		c.tok = tok
	}
	c.tok.SetAuthHeader(&http.Request{Header: h})
	return nil
}

// renew drops the token after the remote refused it on the request whose
// headers are h (revoked before it expired), so the next request fetches
// a new one. Requests refused together renew it once. It reports whether
// a retry can help.
func (c *credentials) renew(h http.Header) bool {
	if c.oauth == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil {
		used := &http.Request{Header: http.Header{}}
		c.tok.SetAuthHeader(used)
		if used.Header.Get("Authorization") == h.Get("Authorization") {
			c.tok = nil
		}
	}
	return true
}

func (c *credentials) tokenError(err error) error {
	e := &Error{Kind: ErrUnauthorized, URL: c.url, Op: c.tokenOp, Err: netCause(err)}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		e.Err = nil
		e.Detail = "the authorization server refused the client credentials"
		if re.ErrorCode != "" {
			e.Detail += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				e.Detail += " (" + re.ErrorDescription + ")"
			}
		} else if len(re.Body) > 0 {
			e.Detail += ": " + excerpt(re.Body)
		}
	case c.ctx.Err() != nil:
		e.Kind = ErrClosed
	default:
		e.Kind = ErrUnreachable
		e.Detail = "the authorization server could not be reached"
	}
	return e
}
