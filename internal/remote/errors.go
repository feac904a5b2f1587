package remote

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// Why a link ended or an HTTP exchange failed. Every error of this package
// wraps at most one of these, so callers can branch with [errors.Is]; a
// *[Error] carries the details.
var (
	// ErrUnreachable means the remote could not be reached: the connection
	// was refused or broke, DNS or TLS failed, an HTTP exchange timed out,
	// or a dropped event stream could not be reopened. Reconnecting later
	// may work.
	ErrUnreachable = errors.New("remote MCP server unreachable")
	// ErrUnauthorized means the remote refused our credentials (HTTP 401 or
	// 403), or an OAuth token could not be obtained. Reconnecting with the
	// same configuration will fail the same way.
	ErrUnauthorized = errors.New("remote MCP server refused the credentials")
	// ErrSessionExpired means the remote answered 404 for our session: it
	// restarted or forgot the session. Reconnect and initialize again.
	ErrSessionExpired = errors.New("remote MCP session expired")
	// ErrStreamClosed means the remote ended the event stream of a legacy
	// HTTP+SSE session, which cannot be resumed. Reconnect and initialize
	// again.
	ErrStreamClosed = errors.New("remote MCP server closed the event stream")
	// ErrRejected means the remote answered one request with an HTTP error
	// (400, 403 within a session, 429, 5xx, ...). Only that request fails;
	// the link stays up. It appears in the message of the JSON-RPC error
	// that answers the request.
	ErrRejected = errors.New("remote MCP server rejected the request")
	// ErrProtocol means the endpoint did not answer as an MCP server: wrong
	// content type, no endpoint event, not found under either transport, or
	// a message over the size limit.
	ErrProtocol = errors.New("remote endpoint did not speak MCP over HTTP")
	// ErrClosed means the link was closed by its owner.
	ErrClosed = errors.New("remote link closed")
)

// Error describes a failed exchange with a remote MCP server. The URL never
// includes credentials (user info and query values are redacted), and no
// request header value is ever included.
type Error struct {
	Kind   error  // one of the sentinel errors above
	URL    string // the endpoint, redacted
	Op     string // what was attempted, e.g. "POST initialize" or "GET event stream"
	Status int    // the HTTP status, 0 if there was no HTTP answer
	// WWWAuthenticate is the remote's WWW-Authenticate header on a 401 or
	// 403: it names the authorization server or the missing scope.
	WWWAuthenticate string
	Detail          string // what the remote said (a short excerpt) or what went wrong
	Err             error  // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v (%s): %s", e.Kind, e.URL, e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.WWWAuthenticate != "" {
		fmt.Fprintf(&b, "; WWW-Authenticate: %s", e.WWWAuthenticate)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// redactURL renders u without user info or fragment and with every query
// value replaced, since either may hold a credential.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// excerpt makes a short, printable, single-line excerpt of a response body
// for an error message.
func excerpt(b []byte) string {
	const limit = 200
	s := strings.TrimSpace(string(b))
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "..."
	}
	return s
}

// Retryable reports whether dialing again with the same options may
// succeed after a link ended with err: true when the remote forgot the
// session, ended the stream or could not be reached; false when it refused
// the credentials or is not an MCP endpoint (a configuration problem to
// report rather than retry quickly), and after Close.
func Retryable(err error) bool {
	return errors.Is(err, ErrSessionExpired) || errors.Is(err, ErrStreamClosed) || errors.Is(err, ErrUnreachable)
}
