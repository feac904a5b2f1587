package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// streamable is the client side of MCP's Streamable HTTP transport: every
// message is POSTed; a request's answer comes as JSON or on an event stream
// that may carry the remote's related requests and notifications first; a
// standalone GET stream carries the rest.
type streamable struct {
	l *Link

	mu          sync.Mutex
	session     string // Mcp-Session-Id, from the initialize answer
	version     string // the version initialize negotiated
	initKey     string // the initialize request awaiting its answer
	established bool   // the remote has answered as an MCP server
	listening   bool   // the standalone GET stream was started
	calls       map[string]*call
}

// call is one message being sent; for a request, until it is answered.
type call struct {
	m        *outgoing
	ctx      context.Context // ends the HTTP exchange
	cancel   context.CancelFunc
	answered atomic.Bool // a response (the remote's or ours) was delivered
}

func newStreamable(l *Link) *streamable {
	return &streamable{l: l, calls: make(map[string]*call)}
}

func (s *streamable) name() string { return TransportStreamableHTTP }

func (s *streamable) sessionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session
}

func (s *streamable) send(m *outgoing, wrote func()) {
	c := s.begin(m)
	resp, err := s.post(c, wrote)
	s.finish(c, resp, err)
}

// op names an exchange in errors.
func op(m *outgoing) string {
	if m.kind == kindResponse {
		return "POST response to the remote's request " + string(m.id)
	}
	return "POST " + m.method
}

// begin registers a request so that its answer, from whichever stream,
// is recognised. Requests last until answered or cancelled; other messages
// get RequestTimeout.
func (s *streamable) begin(m *outgoing) *call {
	c := &call{m: m}
	if m.kind != kindRequest {
		c.ctx, c.cancel = context.WithTimeout(s.l.ctx, s.l.o.RequestTimeout)
		return c
	}
	c.ctx, c.cancel = context.WithCancel(s.l.ctx)
	s.mu.Lock()
	if m.method == "initialize" {
		s.initKey = m.idKey
	}
	s.calls[m.idKey] = c
	s.mu.Unlock()
	return c
}

// end forgets a call and ends its HTTP exchange.
func (s *streamable) end(c *call) {
	s.mu.Lock()
	if s.calls[c.m.idKey] == c {
		delete(s.calls, c.m.idKey)
	}
	s.mu.Unlock()
	c.cancel()
}

// abort ends the exchange of a request the engine cancelled: its answer is
// no longer wanted, and modern servers take the closed stream as the
// cancellation.
func (s *streamable) abort(key string) {
	s.mu.Lock()
	c := s.calls[key]
	delete(s.calls, key)
	s.mu.Unlock()
	if c != nil {
		c.answered.Store(true)
		c.cancel()
	}
}

// post sends the message. A 401 with OAuth configured is retried once with
// a fresh token.
func (s *streamable) post(c *call, wrote func()) (*http.Response, error) {
	m := c.m
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote() }}
	ctx := httptrace.WithClientTrace(c.ctx, trace)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.l.o.URL, bytes.NewReader(m.data))
		if err != nil {
			return nil, err
		}
		if err := s.l.creds.apply(req.Header); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		s.mu.Lock()
		session, version := s.session, s.version
		s.mu.Unlock()
		if session != "" {
			req.Header.Set(headerSessionID, session)
		}
		setMessageHeaders(req.Header, m, version)
		resp, err := s.l.client.Do(req)
		if err != nil {
			return nil, s.l.netError(op(m), err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && s.l.creds.renew(req.Header) {
			discard(resp)
			continue
		}
		return resp, nil
	}
}

// finish handles the outcome of a POST and forgets the call unless its
// answer is still to come on the standalone stream.
func (s *streamable) finish(c *call, resp *http.Response, err error) {
	if c.m.cancels != "" {
		defer s.abort(c.m.cancels)
	}
	if err != nil {
		s.end(c)
		s.sendFailed(c, err)
		return
	}
	if !s.handle(c, resp) {
		s.end(c)
	}
}

// sendFailed handles a POST that got no HTTP answer: the remote is down or
// the credentials could not be had, so the link ends.
func (s *streamable) sendFailed(c *call, err error) {
	if s.l.closed() || errors.Is(err, context.Canceled) && c.answered.Load() {
		return // closing, or a cancelled request's exchange was ended on purpose
	}
	s.l.fail(err)
}

// handle reads the answer to a POST. It reports whether the call must stay
// registered because its answer will come on the standalone stream.
func (s *streamable) handle(c *call, resp *http.Response) (keep bool) {
	m := c.m
	s.noteSession(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		s.refused(c, resp)
		return false
	}
	if m.kind != kindRequest {
		discard(resp)
		if m.method == "notifications/initialized" {
			s.listen()
		}
		return false
	}
	switch mediaType(resp) {
	case "text/event-stream":
		s.markEstablished()
		s.readCallStream(c, resp)
		return false
	case "application/json":
		body, err := readLimited(resp.Body, s.l.o.MaxMessageBytes)
		resp.Body.Close()
		switch {
		case errors.Is(err, errTooLarge):
			s.answerFailed(c, &Error{Kind: ErrProtocol, URL: s.l.o.redacted, Op: op(m),
				Detail: fmt.Sprintf("the answer is larger than %d bytes (raise maxMessageBytes for this server)", s.l.o.MaxMessageBytes)})
		case err != nil:
			s.answerFailed(c, s.l.netError(op(m), fmt.Errorf("reading the answer: %w", err)))
		default:
			s.markEstablished()
			s.receive(body)
			if !c.answered.Load() {
				s.answerFailed(c, &Error{Kind: ErrProtocol, URL: s.l.o.redacted, Op: op(m), Status: resp.StatusCode,
					Detail: "the JSON answer holds no response to the request"})
			}
		}
		return false
	}
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent {
		// Not what the spec says for a request; some servers answer on the
		// standalone stream instead.
		discard(resp)
		s.listen()
		return true
	}
	discard(resp)
	err := &Error{Kind: ErrProtocol, URL: s.l.o.redacted, Op: op(m), Status: resp.StatusCode,
		Detail: fmt.Sprintf("the answer has Content-Type %q, not application/json or text/event-stream", resp.Header.Get("Content-Type"))}
	if !s.isEstablished() {
		s.l.fail(err)
		return false
	}
	s.answerFailed(c, err)
	return false
}

// refused handles an HTTP error status.
func (s *streamable) refused(c *call, resp *http.Response) {
	m := c.m
	body, _ := readLimited(resp.Body, errorBodyLimit)
	resp.Body.Close()
	s.mu.Lock()
	session, established := s.session, s.established
	s.mu.Unlock()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		s.l.fail(s.l.httpError(ErrUnauthorized, op(m), resp, body, ""))
		return
	case resp.StatusCode == http.StatusNotFound && session != "":
		s.l.fail(s.l.httpError(ErrSessionExpired, op(m), resp, nil, "the remote no longer knows session "+session))
		return
	case resp.StatusCode == http.StatusForbidden && !established:
		s.l.fail(s.l.httpError(ErrUnauthorized, op(m), resp, body, ""))
		return
	}
	if m.kind == kindRequest {
		if raw := rpcErrorObject(body); raw != nil {
			// The remote answered in JSON-RPC, with or without our id.
			s.markEstablished()
			s.answer(c, errorResponseRaw(m.id, raw))
			return
		}
	}
	if !established && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
		s.l.fail(s.l.httpError(ErrProtocol, op(m), resp, body,
			`is the URL the MCP endpoint? (for a legacy HTTP+SSE server set "type": "sse")`))
		return
	}
	kind := ErrRejected
	if resp.StatusCode == http.StatusForbidden {
		kind = ErrUnauthorized
	}
	err := s.l.httpError(kind, op(m), resp, body, "")
	if m.kind == kindRequest {
		s.answerFailed(c, err)
		return
	}
	s.l.o.Logger.Warn("the remote rejected a message", "server", s.l.o.Name, "err", err)
}

// noteSession takes the session id the remote assigned.
func (s *streamable) noteSession(resp *http.Response) {
	id := resp.Header.Get(headerSessionID)
	if id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == "" {
		s.session = id
	} else if s.session != id {
		s.l.o.Logger.Warn("the remote sent a different session id; keeping the first", "server", s.l.o.Name)
	}
}

func (s *streamable) markEstablished() {
	s.mu.Lock()
	s.established = true
	s.mu.Unlock()
}

func (s *streamable) isEstablished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.established
}

// receive takes one message from any stream: it notes the negotiated
// version and the answered requests before the engine sees the message,
// so that the engine's next message already carries what they imply.
func (s *streamable) receive(data []byte) bool {
	in, err := parseIncoming(data)
	if err != nil {
		s.l.o.Logger.Warn("ignoring a malformed message from the remote", "server", s.l.o.Name, "err", err, "excerpt", excerpt(data))
		return true
	}
	for _, k := range in.response {
		s.mu.Lock()
		if k == s.initKey {
			s.initKey = ""
			s.version = protocolVersionOf(in.line)
		}
		c := s.calls[k]
		delete(s.calls, k)
		s.mu.Unlock()
		if c != nil {
			c.answered.Store(true)
		}
	}
	return s.l.deliver(in.line)
}

// answer delivers a response made for call c, unless c was answered.
func (s *streamable) answer(c *call, line []byte) {
	if c.answered.CompareAndSwap(false, true) {
		s.mu.Lock()
		if s.calls[c.m.idKey] == c {
			delete(s.calls, c.m.idKey)
		}
		s.mu.Unlock()
		s.l.deliver(line)
	}
}

// answerFailed answers call c with a JSON-RPC error saying why the remote
// could not, unless the call was cancelled or the link is closing.
func (s *streamable) answerFailed(c *call, err error) {
	if s.l.closed() {
		return
	}
	s.answer(c, errorResponse(c.m.id, err))
}

// readCallStream reads the event stream that answers a request. When it
// ends before the answer, it is resumed with GET and Last-Event-ID if the
// remote gave event ids (MCP 2025-11-25 lets servers close such streams at
// will); otherwise the request is answered with an error.
func (s *streamable) readCallStream(c *call, resp *http.Response) {
	m := c.m
	var (
		lastID   string
		retry    time.Duration
		failures int
	)
	body := resp.Body
	for {
		progress, err := s.readStream(body, &lastID, &retry, c)
		body.Close()
		if c.answered.Load() || c.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errEventTooLarge) {
			s.answerFailed(c, &Error{Kind: ErrProtocol, URL: s.l.o.redacted, Op: op(m),
				Detail: fmt.Sprintf("the remote sent a message larger than %d bytes (raise maxMessageBytes for this server)", s.l.o.MaxMessageBytes)})
			return
		}
		if lastID == "" {
			detail := "the remote ended the answer's event stream without answering"
			if err != nil {
				detail = "the answer's event stream broke before the answer"
			}
			s.answerFailed(c, &Error{Kind: ErrUnreachable, URL: s.l.o.redacted, Op: op(m), Detail: detail, Err: netCause(err)})
			return
		}
		if progress {
			failures = 0
		}
		for body = nil; body == nil; {
			failures++
			if failures > s.l.o.MaxReconnects {
				s.answerFailed(c, &Error{Kind: ErrUnreachable, URL: s.l.o.redacted, Op: op(m),
					Detail: fmt.Sprintf("could not resume the answer's event stream in %d attempts", s.l.o.MaxReconnects), Err: innerCause(err)})
				return
			}
			if !sleep(c.ctx, s.l.backoff(failures, retry)) {
				return
			}
			var r *http.Response
			r, err = s.get(c.ctx, lastID)
			if err != nil && !errors.Is(err, ErrUnreachable) {
				s.answerFailed(c, err)
				return
			}
			if err != nil {
				continue
			}
			if !s.streamOpened(r, "GET (resuming the answer to "+m.method+")") {
				if !s.l.closed() {
					s.answerFailed(c, &Error{Kind: ErrProtocol, URL: s.l.o.redacted, Op: op(m), Status: r.StatusCode,
						Detail: "the remote refused to resume the answer's event stream"})
				}
				return
			}
			body = r.Body
		}
	}
}

// readStream delivers the messages of an event stream until it ends, the
// link ends or, for a call's stream, the call is answered. It reports
// whether any event arrived; the error is nil when the stream ended
// cleanly.
func (s *streamable) readStream(body io.Reader, lastID *string, retry *time.Duration, c *call) (progress bool, err error) {
	er := newEventReader(body, s.l.o.MaxMessageBytes)
	for {
		ev, err := er.next()
		if err == io.EOF {
			return progress, nil
		}
		if err != nil {
			return progress, err
		}
		progress = true
		if ev.id != "" {
			*lastID = ev.id
		}
		if ev.retry > 0 {
			*retry = ev.retry
		}
		if len(ev.data) == 0 || (ev.name != "" && ev.name != "message") {
			continue // a priming event, or one MCP does not define
		}
		if !s.receive(ev.data) {
			return progress, nil
		}
		if c != nil && c.answered.Load() {
			return progress, nil
		}
	}
}

// get opens an event stream with GET: the standalone stream, or a resumed
// one when lastID is set.
func (s *streamable) get(ctx context.Context, lastID string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.l.o.URL, nil)
		if err != nil {
			return nil, err
		}
		if err := s.l.creds.apply(req.Header); err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		s.mu.Lock()
		session, version := s.session, s.version
		s.mu.Unlock()
		if session != "" {
			req.Header.Set(headerSessionID, session)
		}
		if version != "" {
			req.Header.Set(headerProtocolVersion, version)
		}
		if lastID != "" {
			req.Header.Set(headerLastEventID, lastID)
		}
		resp, err := s.l.roundTrip(ctx, req, s.l.o.RequestTimeout)
		if err != nil {
			return nil, s.l.netError("GET event stream", err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && s.l.creds.renew(req.Header) {
			discard(resp)
			continue
		}
		return resp, nil
	}
}

// streamOpened checks the answer to a GET for an event stream. On a
// refusal that ends the session it ends the link; it reports whether resp
// is a stream to read (otherwise resp is closed).
func (s *streamable) streamOpened(resp *http.Response, what string) bool {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 && mediaType(resp) == "text/event-stream" {
		return true
	}
	body, _ := readLimited(resp.Body, errorBodyLimit)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound && s.sessionID() != "":
		s.l.fail(s.l.httpError(ErrSessionExpired, what, resp, nil, "the remote no longer knows session "+s.sessionID()))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		s.l.fail(s.l.httpError(ErrUnauthorized, what, resp, body, ""))
	}
	return false
}

// listen starts the standalone GET stream once, after initialization, for
// the remote's messages that belong to no request. Modern (2026-07-28)
// remotes have none.
func (s *streamable) listen() {
	s.mu.Lock()
	if s.listening || isModern(s.version) {
		s.mu.Unlock()
		return
	}
	s.listening = true
	s.mu.Unlock()
	s.l.wg.Add(1)
	go s.listenLoop()
}

// listenLoop keeps the standalone stream open: a dropped stream is reopened
// with backoff (resuming from the last event id), and MaxReconnects failed
// attempts in a row end the link as unreachable.
func (s *streamable) listenLoop() {
	defer s.l.wg.Done()
	const what = "GET event stream"
	var (
		lastID   string
		retry    time.Duration
		failures int
		lastErr  error
	)
	for {
		resp, err := s.get(s.l.ctx, lastID)
		if s.l.closed() {
			if err == nil {
				resp.Body.Close()
			}
			return
		}
		if err != nil && !errors.Is(err, ErrUnreachable) {
			s.l.fail(err) // e.g. no OAuth token: retrying cannot help
			return
		}
		if err == nil {
			if resp.StatusCode == http.StatusMethodNotAllowed {
				discard(resp)
				s.l.o.Logger.Debug("the remote offers no standalone event stream (405)", "server", s.l.o.Name)
				return
			}
			if !s.streamOpened(resp, what) {
				if !s.l.closed() {
					s.l.o.Logger.Warn("the remote refused the standalone event stream; its messages outside requests will be missed",
						"server", s.l.o.Name, "status", resp.StatusCode)
				}
				return
			}
			var progress bool
			progress, err = s.readStream(resp.Body, &lastID, &retry, nil)
			resp.Body.Close()
			if s.l.closed() {
				return
			}
			if errors.Is(err, errEventTooLarge) {
				s.l.fail(&Error{Kind: ErrProtocol, URL: s.l.o.redacted, Op: what,
					Detail: fmt.Sprintf("the remote sent a message larger than %d bytes (raise maxMessageBytes for this server)", s.l.o.MaxMessageBytes)})
				return
			}
			if progress {
				failures = 0
			}
			if err == nil {
				err = errors.New("the remote ended the stream")
			}
		}
		lastErr = err
		failures++
		if failures > s.l.o.MaxReconnects {
			s.l.fail(&Error{Kind: ErrUnreachable, URL: s.l.o.redacted, Op: what,
				Detail: fmt.Sprintf("could not reopen the event stream in %d attempts", s.l.o.MaxReconnects), Err: innerCause(lastErr)})
			return
		}
		s.l.o.Logger.Debug("reopening the event stream", "server", s.l.o.Name, "attempt", failures, "err", err)
		if !sleep(s.l.ctx, s.l.backoff(failures, retry)) {
			return
		}
	}
}

// close ends the session with DELETE, if there is one.
func (s *streamable) close(ctx context.Context) {
	s.mu.Lock()
	session, version := s.session, s.version
	s.mu.Unlock()
	if session == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.l.o.URL, nil)
	if err != nil {
		return
	}
	if err := s.l.creds.apply(req.Header); err != nil {
		return
	}
	req.Header.Set(headerSessionID, session)
	if version != "" {
		req.Header.Set(headerProtocolVersion, version)
	}
	resp, err := s.l.client.Do(req)
	if err != nil {
		s.l.o.Logger.Debug("could not end the remote session", "server", s.l.o.Name, "err", err)
		return
	}
	discard(resp)
}

// rpcErrorObject returns the error object of a JSON-RPC error response in
// an HTTP body, nil if the body is not one.
func rpcErrorObject(body []byte) json.RawMessage {
	var env struct {
		JSONRPC string          `json:"jsonrpc"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.JSONRPC != "2.0" || len(env.Error) == 0 || env.Error[0] != '{' {
		return nil
	}
	return env.Error
}
