package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// legacySSE is the client side of MCP 2024-11-05's HTTP+SSE transport: one
// GET event stream carries everything the remote sends; its first event
// names the URL that takes our messages, one POST each.
type legacySSE struct {
	l        *Link
	endpoint string // where messages are POSTed, same origin as the URL
}

func (t *legacySSE) name() string { return TransportSSE }

// dialSSE opens the event stream and waits for the endpoint event, within
// ctx and RequestTimeout. The stream then lives as long as the link.
func dialSSE(ctx context.Context, l *Link) (*legacySSE, error) {
	const what = "GET event stream"
	streamCtx, cancelStream := context.WithCancel(l.ctx)
	// Until the endpoint arrives, the caller's ctx and RequestTimeout bound
	// the stream too.
	stopCaller := context.AfterFunc(ctx, cancelStream)
	timer := time.AfterFunc(l.o.RequestTimeout, cancelStream)
	connected := false
	defer func() {
		stopCaller()
		timer.Stop()
		if !connected {
			cancelStream()
		}
	}()
	timeoutErr := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("remote %s: %s: %w", l.o.redacted, what, context.Cause(ctx))
		}
		if !l.closed() && streamCtx.Err() != nil {
			err = fmt.Errorf("no endpoint event within %s: %w", l.o.RequestTimeout, context.DeadlineExceeded)
		}
		return l.netError(what, err)
	}

	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, l.o.URL, nil)
		if err != nil {
			return nil, err
		}
		if err := l.creds.apply(req.Header); err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err = l.client.Do(req)
		if err != nil {
			return nil, timeoutErr(err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && l.creds.renew(req.Header) {
			discard(resp)
			continue
		}
		break
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || mediaType(resp) != "text/event-stream" {
		body, _ := readLimited(resp.Body, errorBodyLimit)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return nil, l.httpError(ErrUnauthorized, what, resp, body, "")
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			return nil, l.httpError(ErrProtocol, what, resp, body, "is the URL the server's event-stream (SSE) URL?")
		default:
			return nil, l.httpError(ErrProtocol, what, resp, nil,
				fmt.Sprintf("the answer has Content-Type %q, not text/event-stream", resp.Header.Get("Content-Type")))
		}
	}

	events := newEventReader(resp.Body, l.o.MaxMessageBytes)
	var endpoint string
	for endpoint == "" {
		ev, err := events.next()
		if err != nil {
			resp.Body.Close()
			if err == io.EOF {
				return nil, &Error{Kind: ErrProtocol, URL: l.o.redacted, Op: what, Detail: "the stream ended before an endpoint event"}
			}
			return nil, timeoutErr(err)
		}
		switch ev.name {
		case "endpoint":
			endpoint, err = sameOrigin(l.o.url, string(bytes.TrimSpace(ev.data)))
			if err != nil {
				resp.Body.Close()
				return nil, &Error{Kind: ErrProtocol, URL: l.o.redacted, Op: what, Detail: err.Error()}
			}
		case "", "message":
			resp.Body.Close()
			return nil, &Error{Kind: ErrProtocol, URL: l.o.redacted, Op: what, Detail: "the first event is a message, not the endpoint event of HTTP+SSE"}
		}
	}
	connected = true
	t := &legacySSE{l: l, endpoint: endpoint}
	l.wg.Add(1)
	go t.readLoop(resp.Body, events)
	return t, nil
}

// sameOrigin resolves the endpoint event's URI against the stream's URL
// and refuses another origin: our headers and credentials go there.
func sameOrigin(base *url.URL, ref string) (string, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("the endpoint event holds no valid URI: %w", err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return "", fmt.Errorf("the endpoint event names another origin (%s://%s); refusing to send messages and credentials there", u.Scheme, u.Host)
	}
	return u.String(), nil
}

// readLoop delivers the stream's messages; the stream's end ends the link,
// since an HTTP+SSE session cannot be resumed.
func (t *legacySSE) readLoop(body io.ReadCloser, events *eventReader) {
	defer t.l.wg.Done()
	defer body.Close()
	const what = "GET event stream"
	for {
		ev, err := events.next()
		if t.l.closed() {
			return
		}
		switch {
		case err == io.EOF:
			t.l.fail(&Error{Kind: ErrStreamClosed, URL: t.l.o.redacted, Op: what, Detail: "HTTP+SSE sessions cannot be resumed"})
			return
		case errors.Is(err, errEventTooLarge):
			t.l.fail(&Error{Kind: ErrProtocol, URL: t.l.o.redacted, Op: what,
				Detail: fmt.Sprintf("the remote sent a message larger than %d bytes (raise maxMessageBytes for this server)", t.l.o.MaxMessageBytes)})
			return
		case err != nil:
			t.l.fail(&Error{Kind: ErrUnreachable, URL: t.l.o.redacted, Op: what, Detail: "the event stream broke", Err: netCause(err)})
			return
		}
		if len(ev.data) == 0 || (ev.name != "" && ev.name != "message") {
			continue
		}
		if _, ok := t.l.receive(ev.data); !ok {
			return
		}
	}
}

// send POSTs one message; the answer comes on the event stream.
func (t *legacySSE) send(m *outgoing, wrote func()) {
	defer wrote()
	ctx, cancel := context.WithTimeout(t.l.ctx, t.l.o.RequestTimeout)
	defer cancel()
	resp, err := t.post(ctx, m)
	if err != nil {
		if !t.l.closed() {
			t.l.fail(err)
		}
		return
	}
	body, _ := readLimited(resp.Body, errorBodyLimit)
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return
	}
	var err2 error
	switch resp.StatusCode {
	case http.StatusNotFound:
		t.l.fail(t.l.httpError(ErrSessionExpired, op(m), resp, body, "the remote no longer knows this HTTP+SSE session"))
		return
	case http.StatusUnauthorized:
		t.l.fail(t.l.httpError(ErrUnauthorized, op(m), resp, body, ""))
		return
	case http.StatusForbidden:
		err2 = t.l.httpError(ErrUnauthorized, op(m), resp, body, "")
	default:
		err2 = t.l.httpError(ErrRejected, op(m), resp, body, "")
	}
	if m.kind == kindRequest {
		t.l.deliver(errorResponse(m.id, err2))
		return
	}
	t.l.o.Logger.Warn("the remote rejected a message", "server", t.l.o.Name, "err", err2)
}

func (t *legacySSE) post(ctx context.Context, m *outgoing) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(m.data))
		if err != nil {
			return nil, err
		}
		if err := t.l.creds.apply(req.Header); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := t.l.client.Do(req)
		if err != nil {
			return nil, t.l.netError(op(m), err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && t.l.creds.renew(req.Header) {
			discard(resp)
			continue
		}
		return resp, nil
	}
}

// close has nothing to tell the remote: the stream's end ends the session.
func (t *legacySSE) close(context.Context) {}
