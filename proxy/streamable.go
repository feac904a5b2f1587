package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// HTTP headers of the Streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "MCP-Protocol-Version"
	headerLastEventID     = "Last-Event-ID"
)

// primingRetry is the reconnection delay (ms) announced in priming events.
const primingRetry = 1000

// streamable serves the Streamable HTTP transport (MCP 2025-03-26 to
// 2025-11-25, stateful) for one view of the gateway, on one URL:
//
//   - POST takes one JSON-RPC message. initialize without an Mcp-Session-Id
//     header opens a session, whose id (128 random bits, hex) comes back in
//     that header; every later request must carry it (400 without it, 404
//     for an unknown or closed session, or one opened with another token).
//     A notification or response gets 202 with no body. A request gets an
//     SSE stream when its Accept header lists text/event-stream: a priming
//     event (an id and empty data), the messages related to the request
//     (progress, the server's sampling/elicitation/roots requests) and then
//     the response, after which the stream ends. Otherwise (Accept with
//     application/json only, */*, or none at all) the answer is one JSON
//     response, and the related messages go to the session's GET stream.
//     Batches (JSON arrays) are refused with 400: MCP removed them in
//     2025-06-18.
//   - GET (Accept: text/event-stream) opens the session's standalone stream,
//     which carries the messages not related to a request in flight
//     (list_changed, resources/updated, log messages, ...). A session has
//     one: a second GET gets 409. Messages for it wait in a bounded queue
//     while no GET is open; past the bound the oldest is dropped, logged.
//   - GET with Last-Event-ID resumes a stream (a request's or the
//     standalone one) after that event: kept events are replayed (the last
//     transportOptions.Replay written ones, and all unwritten ones), then the
//     stream goes on live. A resume takes the stream over from a connection
//     that still looks open. A request's stream that completed (its response
//     was written) cannot be resumed: 400.
//   - DELETE closes the session (204); its requests in flight are cancelled.
//
// Every SSE event has an id "<stream>-<seq>", unique in the session; stream
// 0 is the standalone stream. A client that disconnects does not cancel its
// request (MCP 2025-11-25): the request runs on and its stream keeps the
// rest for a resume. A session with no request in flight and no open stream
// for transportOptions.IdleTimeout is closed. A header MCP-Protocol-Version
// naming a version the gateway does not speak gets 400.
type streamable struct {
	gw       *gateway.Gateway
	view     string
	opts     transportOptions
	sessions *sessionTable[*smSession]
}

// smSession is one Streamable HTTP session.
type smSession struct {
	t          *streamable
	id         string
	token      string
	gs         *gateway.Session
	ctx        context.Context // ends when the session closes; bounds its requests
	cancel     context.CancelFunc
	standalone *eventStream // stream 0, for the GET

	mu         sync.Mutex
	closed     bool
	streams    map[int64]*eventStream  // requests' streams not yet complete
	inflight   map[string]*eventStream // requests being served by id key; nil: answered as JSON
	nextStream int64
	busy       int       // requests in flight + open streams
	lastUsed   time.Time // when busy last changed or a message came
}

// newStreamable returns the Streamable HTTP transport of view ("" for the
// aggregate). Mount Post, Get and Delete on one path; call Close at
// shutdown.
func newStreamable(gw *gateway.Gateway, view string, opts transportOptions) *streamable {
	t := &streamable{gw: gw, view: view, opts: opts.withDefaults(), sessions: newSessionTable[*smSession](opts.limits)}
	go t.janitor()
	return t
}

func (s *smSession) sessionID() string { return s.id }
func (s *smSession) tokenName() string { return s.token }

// checkVersion answers 400 when the MCP-Protocol-Version header names a
// version the gateway does not speak. A missing header is fine (MCP says to
// assume 2025-03-26 then).
func checkVersion(c *fiber.Ctx) error {
	v := c.Get(headerProtocolVersion)
	if v == "" || engine.IsSupportedProtocolVersion(v) {
		return nil
	}
	return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
		"unsupported %s %q (supported: %s)", headerProtocolVersion, v, strings.Join(engine.SupportedProtocolVersions(), ", "))
}

// singleSessionID refuses a request that names several sessions: which one
// it meant cannot be told.
func singleSessionID(c *fiber.Ctx) error {
	n := 0
	for k := range c.Request().Header.All() {
		if strings.EqualFold(string(k), headerSessionID) {
			n++
		}
	}
	if n > 1 {
		return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest, "several %s headers: send one", headerSessionID)
	}
	return nil
}

// errMissingSession refuses a request without a session id.
var errMissingSession = refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
	"missing %s header: send initialize first, then the session id it returned with every request", headerSessionID)

// errUnknownSession refuses a request for a session that does not exist
// here (or not for this caller: the two are not told apart).
var errUnknownSession = refuse(fiber.StatusNotFound, wire.CodeSessionNotFound,
	"session not found: it was closed or never existed; send initialize without %s to start a new one", headerSessionID)

// Post is the POST handler.
func (t *streamable) Post(c *fiber.Ctx) error {
	if len(c.Request().Header.Peek(fiber.HeaderContentType)) == 0 {
		// Streamable HTTP clients always declare JSON (the legacy
		// transport's reference clients may not, so rpc.go lets it pass).
		return refuse(fiber.StatusUnsupportedMediaType, wire.CodeInvalidRequest,
			"missing Content-Type: send the JSON-RPC message as application/json")
	}
	if err := singleSessionID(c); err != nil {
		return err
	}
	m, err := readMessage(c)
	if err != nil {
		return err
	}
	acc := parseAccept(c.Get(fiber.HeaderAccept))
	if m.IsRequest() && !acc.json && !acc.sse {
		return refuse(fiber.StatusNotAcceptable, wire.CodeInvalidRequest,
			"the Accept header must allow application/json or text/event-stream (MCP clients send both)").withID(m.ID)
	}
	if isModern(c, m) {
		return t.modern(c, m)
	}
	if err := checkVersion(c); err != nil {
		return err
	}
	ident := identityOf(c)
	sid := c.Get(headerSessionID)
	if sid == "" {
		if m.IsRequest() && m.Method == "initialize" {
			return t.initialize(c, ident, m, acc.sse)
		}
		return errMissingSession
	}
	s, ok := t.sessions.lookup(sid, sessionOwner(ident))
	if !ok {
		return errUnknownSession
	}
	if m.IsRequest() {
		return s.request(c, m, acc.sse)
	}
	if !s.begin() {
		return errUnknownSession
	}
	resp := s.t.opts.handle(traceContext(c, s.ctx), s.gs, m)
	s.end()
	if resp != nil { // the gateway refused the message itself
		return sendJSON(c, fiber.StatusBadRequest, resp)
	}
	c.Status(fiber.StatusAccepted)
	return nil
}

// Get is the GET handler: the standalone stream, or the resumption of a
// stream with Last-Event-ID.
func (t *streamable) Get(c *fiber.Ctx) error {
	if !parseAccept(c.Get(fiber.HeaderAccept)).sse {
		return refuse(fiber.StatusNotAcceptable, wire.CodeInvalidRequest, "GET opens an event stream: send Accept: text/event-stream")
	}
	sid := c.Get(headerSessionID)
	if sid == "" {
		return methodNotAllowed(c)
	}
	if err := checkVersion(c); err != nil {
		return err
	}
	s, ok := t.sessions.lookup(sid, sessionOwner(identityOf(c)))
	if !ok {
		return errUnknownSession
	}
	last := c.Get(headerLastEventID)
	if last == "" {
		return s.serveStream(c, s.standalone, 0, false, true)
	}
	streamID, seq, ok := parseEventID(last)
	if !ok {
		return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
			"malformed %s %q: expected an event id of this server (<stream>-<seq>)", headerLastEventID, last)
	}
	st := s.stream(streamID)
	if st == nil {
		return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
			"stream %d of this session is complete or unknown: nothing to resume", streamID)
	}
	return s.resume(c, st, seq)
}

// Delete is the DELETE handler: it closes the session.
func (t *streamable) Delete(c *fiber.Ctx) error {
	sid := c.Get(headerSessionID)
	if sid == "" {
		return methodNotAllowed(c)
	}
	s, ok := t.sessions.lookup(sid, sessionOwner(identityOf(c)))
	if !ok {
		return errUnknownSession
	}
	s.close("deleted by the client")
	c.Status(fiber.StatusNoContent)
	return nil
}

// Close closes every session and refuses new ones.
func (t *streamable) Close() { t.sessions.closeAll() }

// initialize opens a session with the client's initialize request.
func (t *streamable) initialize(c *fiber.Ctx, ident engine.Identity, m *wire.Message, sse bool) error {
	ident.Transport = transportStreamable
	ident.Session = newSessionID()
	place, err := t.sessions.reserve(ident)
	if err != nil {
		return err
	}
	s := &smSession{
		t: t, id: ident.Session, token: sessionOwner(ident),
		streams: map[int64]*eventStream{}, inflight: map[string]*eventStream{}, lastUsed: time.Now(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.standalone = newEventStream(0, true, t.opts, s.overflowed)
	s.standalone.dropOldest = true
	gs, err := t.gw.Open(t.view, ident, s.deliver)
	if err != nil {
		place.cancel()
		s.cancel()
		return openError(err)
	}
	s.gs = gs
	resp := t.opts.handle(traceContext(c, s.ctx), gs, m)
	if resp == nil {
		resp = noResponse(m.ID)
	}
	if isError(resp) { // no session for a failed initialize
		place.cancel()
		gs.Close()
		s.cancel()
		return sendJSON(c, fiber.StatusOK, resp)
	}
	if err := t.sessions.add(s, place); err != nil {
		gs.Close()
		s.cancel()
		return err
	}
	t.opts.sessionCount(+1)
	t.opts.Logger.Debug("proxy: Streamable HTTP session opened", "session", s.id, "view", t.view, "token", ident.Token)
	c.Set(headerSessionID, s.id)
	if !sse {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(resp)
	}
	s.mu.Lock()
	st := s.newStreamLocked()
	s.mu.Unlock()
	st.push("message", resp, true)
	return s.serveStream(c, st, 0, false, true)
}

// isError reports whether a JSON-RPC response (the gateway's: valid JSON)
// is an error.
func isError(resp []byte) bool {
	e, ok := rawjson.GetValid(resp, "error")
	return ok && rawjson.Present(e)
}

// newStreamLocked adds a stream for a request; the caller holds s.mu.
func (s *smSession) newStreamLocked() *eventStream {
	s.nextStream++
	st := newEventStream(s.nextStream, true, s.t.opts, s.overflowed)
	s.streams[st.id] = st
	return st
}

// overflowed closes a session one of whose streams overflowed.
func (s *smSession) overflowed() {
	s.close(fmt.Sprintf("the client fell more than %d messages behind on a stream", s.t.opts.QueueSize))
}

// stream returns the session's stream id, or nil if it completed or never was.
func (s *smSession) stream(id int64) *eventStream {
	if id == 0 {
		return s.standalone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[id]
}

// begin counts a message in flight; false if the session closed.
func (s *smSession) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.busy++
	s.lastUsed = time.Now()
	return true
}

// end undoes begin.
func (s *smSession) end() {
	s.mu.Lock()
	s.busy--
	s.lastUsed = time.Now()
	s.mu.Unlock()
}

// request serves a client request, as JSON or on its own SSE stream.
func (s *smSession) request(c *fiber.Ctx, m *wire.Message, sse bool) error {
	key := wire.IDKey(m.ID)
	var st *eventStream
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errUnknownSession
	}
	if _, dup := s.inflight[key]; dup {
		s.mu.Unlock()
		return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
			"invalid request: a request with id %s is already in flight in this session", m.ID).withID(m.ID)
	}
	if sse {
		st = s.newStreamLocked()
	}
	s.inflight[key] = st
	s.busy++
	s.lastUsed = time.Now()
	s.mu.Unlock()

	ctx := traceContext(c, s.ctx) // c is not to be used once the handler returns
	answer := func(resp json.RawMessage) json.RawMessage {
		if resp == nil {
			resp = noResponse(m.ID)
		}
		s.mu.Lock()
		delete(s.inflight, key)
		s.mu.Unlock()
		s.end()
		return resp
	}
	if !sse {
		return sendJSON(c, fiber.StatusOK, answer(s.t.opts.handle(ctx, s.gs, m)))
	}
	go s.t.opts.handleThen(ctx, s.gs, m, func(resp json.RawMessage) { st.push("message", answer(resp), true) })
	return s.serveStream(c, st, 0, false, true)
}

// deliver is the session's Outbound: a message related to a request whose
// SSE stream is still open goes there, every other to the standalone stream.
func (s *smSession) deliver(msg, related json.RawMessage) {
	st := s.standalone
	if related != nil {
		s.mu.Lock()
		if rs := s.inflight[wire.IDKey(related)]; rs != nil {
			st = rs
		}
		s.mu.Unlock()
	}
	if !st.push("message", msg, false) && st != s.standalone && !st.overflowed() {
		s.standalone.push("message", msg, false) // the request's stream just ended
	}
}

// serveStream answers with stream st written from the start (a new
// request's stream, or the standalone stream from where it is); prime sends
// a priming event first. A stream that has a connection already: 409.
func (s *smSession) serveStream(c *fiber.Ctx, st *eventStream, cursor int64, resume, prime bool) error {
	a, err := st.attach(cursor, resume, resume)
	switch {
	case errors.Is(err, errStreamBusy):
		return refuse(fiber.StatusConflict, wire.CodeInvalidRequest,
			"this session's GET stream is already open; a session has one (resume it with Last-Event-ID to take it over)")
	case err != nil:
		return errUnknownSession
	}
	s.mu.Lock()
	s.busy++
	s.mu.Unlock()
	var prelude func(*bufio.Writer)
	if prime {
		primer := fmt.Sprintf("id: %s\nretry: %d\ndata: \n\n", st.eventID(a.cursor), primingRetry)
		prelude = func(w *bufio.Writer) { w.WriteString(primer) }
	}
	setSSEHeaders(c)
	done, hb, conn := c.Context().Done(), s.t.opts.Heartbeat, c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		reason := st.serveConn(w, a, hb, done, conn, prelude)
		s.mu.Lock()
		if reason == endComplete && st != s.standalone {
			delete(s.streams, st.id)
		}
		s.mu.Unlock()
		s.end()
	})
	return nil
}

// resume answers a GET with Last-Event-ID: stream st from after event seq.
func (s *smSession) resume(c *fiber.Ctx, st *eventStream, seq int64) error {
	return s.serveStream(c, st, seq, true, false)
}

// answersWritten reports whether the session's request streams have
// written what they hold to their clients (see eventStream.flushed).
func (s *smSession) answersWritten() bool {
	s.mu.Lock()
	streams := make([]*eventStream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	for _, st := range streams {
		if !st.flushed() {
			return false
		}
	}
	return true
}

// idle reports whether the session has been idle for longer than d.
func (s *smSession) idle(now time.Time, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.busy == 0 && now.Sub(s.lastUsed) >= d
}

// close ends the session: its streams, its gateway session, and so its
// requests in flight.
func (s *smSession) close(why string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	streams := make([]*eventStream, 0, len(s.streams)+1)
	streams = append(streams, s.standalone)
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	s.t.sessions.remove(s.id)
	s.cancel()
	for _, st := range streams {
		st.close()
	}
	s.gs.Close()
	s.t.opts.sessionCount(-1)
	level := slog.LevelDebug
	if strings.HasPrefix(why, "the client fell") {
		level = slog.LevelWarn
	}
	s.t.opts.Logger.Log(context.Background(), level, "proxy: Streamable HTTP session closed", "session", s.id, "view", s.t.view, "why", why)
}

// janitor closes idle sessions until Close.
func (t *streamable) janitor() {
	every := max(min(t.opts.IdleTimeout/4, time.Minute), 10*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.sessions.done:
			return
		case now := <-tick.C:
			idle := t.sessions.all(func(s *smSession) bool { return s.idle(now, t.opts.IdleTimeout) })
			for _, s := range idle {
				s.close(fmt.Sprintf("idle for %s", t.opts.IdleTimeout))
			}
		}
	}
}
