package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// detect sends the first message when no transport was configured, as the
// MCP spec's backwards-compatibility rule says: POST it as Streamable HTTP;
// an answer of 400, 404 or 405 that is not a JSON-RPC error means an older
// server, so open a legacy HTTP+SSE stream and send it there. It reports
// false when the link ended.
func (l *Link) detect(m *outgoing) bool {
	s := newStreamable(l)
	c := s.begin(m)
	resp, err := s.post(c, func() {})
	if err != nil {
		s.end(c)
		l.fail(err)
		return false
	}
	if status, ok := legacyAnswer(resp); ok {
		s.end(c)
		ctx, cancel := context.WithTimeout(l.ctx, l.o.RequestTimeout)
		t, err := dialSSE(ctx, l)
		cancel()
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Op = fmt.Sprintf("POST %s answered HTTP %d %s, so as a legacy HTTP+SSE server: %s",
					m.method, status, http.StatusText(status), e.Op)
			}
			l.fail(err)
			return false
		}
		l.setTransport(t)
		l.o.Logger.Debug("remote speaks legacy HTTP+SSE", "server", l.o.Name)
		t.send(m, func() {})
		return true
	}
	l.setTransport(s)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		s.finish(c, resp, nil)
	}()
	return true
}

// legacyAnswer reports whether resp is what a server without Streamable
// HTTP answers to a POST, and closes it then. Otherwise resp is left
// readable as it was.
func legacyAnswer(resp *http.Response) (status int, legacy bool) {
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
	default:
		return 0, false
	}
	body, _ := readLimited(resp.Body, errorBodyLimit)
	if rpcErrorObject(body) != nil {
		// A Streamable HTTP server that refused the message in JSON-RPC
		// (e.g. a modern server's unknown method): not a legacy one.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{bytes.NewReader(body), resp.Body}
		return 0, false
	}
	resp.Body.Close()
	return resp.StatusCode, true
}
