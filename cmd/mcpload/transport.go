package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// transportKind is how a target is reached.
type transportKind int

const (
	kindStdio      transportKind = iota // a child process on stdin/stdout
	kindStreamable                      // MCP Streamable HTTP
	kindSSE                             // legacy HTTP+SSE (2024-11-05)
)

func (k transportKind) String() string {
	switch k {
	case kindStdio:
		return "stdio"
	case kindStreamable:
		return "streamable-http"
	}
	return "sse"
}

// newHTTPClient returns a client whose connection pool holds enough idle
// connections for conns concurrent requests. With net/http's default of two
// idle connections per host, 32 callers would open and close a TCP
// connection for nearly every call and measure that instead of the proxy.
func newHTTPClient(conns int, token string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = 2*conns + 16 // each Streamable HTTP session may also hold a GET stream
	tr.DisableCompression = true          // the same bytes on the wire for every target
	var rt http.RoundTripper = tr
	if token != "" {
		rt = bearer{token: token, next: tr}
	}
	return &http.Client{Transport: rt}
}

// closeIdle drops the idle connections of a client made by newHTTPClient.
func closeIdle(hc *http.Client) {
	if hc != nil {
		hc.CloseIdleConnections()
	}
}

// httpTransport returns a connect function for an HTTP endpoint.
func httpTransport(kind transportKind, url string, hc *http.Client) func() (mcp.Transport, error) {
	return func() (mcp.Transport, error) {
		if kind == kindSSE {
			return &mcp.SSEClientTransport{Endpoint: url, HTTPClient: hc}, nil
		}
		return &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, nil
	}
}

// stdioTransport returns a connect function that starts argv as a child
// process; started, if not nil, is told the child's exec.Cmd so that its
// resources can be read.
func stdioTransport(argv []string, started func(*exec.Cmd)) func() (mcp.Transport, error) {
	return func() (mcp.Transport, error) {
		if len(argv) == 0 {
			return nil, fmt.Errorf("stdio: needs a command")
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		if started != nil {
			started(cmd)
		}
		return &mcp.CommandTransport{Command: cmd}, nil
	}
}

// parseTarget reads an ad-hoc target: stdio:COMMAND ARGS..., http:URL,
// sse:URL, or a plain http(s) URL (Streamable HTTP).
func parseTarget(target string) (transportKind, string, error) {
	kind, rest, _ := strings.Cut(target, ":")
	switch kind {
	case "stdio":
		if len(strings.Fields(rest)) == 0 {
			return 0, "", fmt.Errorf("%q: stdio: needs a command, e.g. 'stdio:mcpscript demo-server'", target)
		}
		return kindStdio, rest, nil
	case "http", "https":
		if strings.HasPrefix(rest, "//") {
			rest = target // a plain URL
		}
		return kindStreamable, rest, nil
	case "sse":
		return kindSSE, rest, nil
	}
	return 0, "", fmt.Errorf("%q: unknown target kind %q (use stdio:, http:, sse: or a URL)", target, kind)
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
