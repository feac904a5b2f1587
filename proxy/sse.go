package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
)

// This file holds the SSE machinery both HTTP transports write with (the
// eventStream) and the legacy HTTP+SSE transport of MCP 2024-11-05.
//
// fasthttp rules followed here: a stream writer (SetBodyStreamWriter) runs
// in its own goroutine, possibly before the handler returns, and must not
// touch the fiber.Ctx or RequestCtx, so everything it needs is copied first;
// RequestCtx.Done closes only when the server shuts down; a client that went
// away shows only as a failed Flush, which heartbeats make sure happens.

// sseEvent is one event of an eventStream. data is never modified.
type sseEvent struct {
	seq  int64
	name string // the SSE event type ("message", "endpoint", ...)
	data []byte
}

// Errors of eventStream.attach.
var (
	errStreamClosed = errors.New("stream closed")
	errStreamBusy   = errors.New("stream already has a connection")
)

// eventStream is an ordered queue of SSE events written to at most one HTTP
// response at a time (its attachment). Producers never block: a stream with
// more than limit unwritten events overflows, which closes its session (see
// overflow), except that a detached stream with dropOldest set drops its
// oldest unwritten event instead, logging it. Written events are kept, keep
// of them at most, so that a client can resume the stream after the last
// event id it saw.
type eventStream struct {
	id         int64 // number of the stream in its session: event ids are "<id>-<seq>"
	withIDs    bool  // write id: lines
	limit      int   // most unwritten events
	keep       int   // written events kept for resumption
	dropOldest bool  // when detached, drop instead of overflowing
	overflow   func()
	logger     *slog.Logger

	mu      sync.Mutex
	events  []sseEvent // by seq: kept written events, then unwritten ones
	next    int64      // seq of the last event queued
	written int64      // highest seq written and flushed
	final   bool       // the last event is queued: the stream ends once it is written
	closed  bool       // no more writing at all
	over    bool       // overflow was reported
	dropped int        // events dropped while detached
	att     *attachment
}

// attachment is one HTTP response writing an eventStream.
type attachment struct {
	cursor int64         // seq of the last event this response has written
	wake   chan struct{} // new events (capacity 1)
	stop   chan struct{} // closed when another response takes the stream over
}

func newEventStream(id int64, withIDs bool, o transportOptions, overflow func()) *eventStream {
	st := &eventStream{id: id, withIDs: withIDs, limit: o.QueueSize, overflow: overflow, logger: o.Logger}
	if withIDs {
		st.keep = o.Replay
	}
	return st
}

// firstUnwritten returns the index in events of the first unwritten event;
// the caller holds st.mu.
func (st *eventStream) firstUnwritten() int {
	return sort.Search(len(st.events), func(i int) bool { return st.events[i].seq > st.written })
}

// push queues an event; final marks the stream's last. It reports whether
// the event was queued: not when the stream is closed or already ended, or
// when it overflowed.
func (st *eventStream) push(name string, data []byte, final bool) bool {
	st.mu.Lock()
	if st.closed || st.final || st.over {
		st.mu.Unlock()
		return false
	}
	st.next++
	st.events = append(st.events, sseEvent{seq: st.next, name: name, data: data})
	st.final = final
	overflow, dropped := false, 0
	if i := st.firstUnwritten(); len(st.events)-i > st.limit {
		if st.att == nil && st.dropOldest && !final {
			st.events = append(st.events[:i], st.events[i+1:]...)
			st.dropped++
			dropped = st.dropped
		} else {
			st.over, overflow = true, true
		}
	}
	a := st.att
	st.mu.Unlock()
	switch {
	case overflow:
		if st.overflow != nil {
			go st.overflow()
		}
		return false
	case dropped > 0 && (dropped == 1 || dropped%100 == 0):
		st.logger.Warn("proxy: no client is listening on the session's GET stream; dropping its oldest undelivered message",
			"waiting", st.limit, "dropped", dropped)
	}
	if a != nil {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// attach makes a response the stream's writer. With resume, writing starts
// after the event with seq cursor (as far as kept events allow), else after
// the last event written so far. With takeover, a response already attached
// is stopped; without, attach fails with errStreamBusy.
func (st *eventStream) attach(cursor int64, resume, takeover bool) (*attachment, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, errStreamClosed
	}
	if st.att != nil {
		if !takeover {
			return nil, errStreamBusy
		}
		close(st.att.stop)
	}
	a := &attachment{cursor: st.written, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	if resume {
		a.cursor = min(max(cursor, 0), st.next)
	}
	st.att = a
	return a, nil
}

// detach ends a's attachment unless another response took over.
func (st *eventStream) detach(a *attachment) {
	st.mu.Lock()
	if st.att == a {
		st.att = nil
	}
	st.mu.Unlock()
}

// close stops the stream: queued events are not written any more.
func (st *eventStream) close() {
	st.mu.Lock()
	st.closed = true
	a := st.att
	st.mu.Unlock()
	if a != nil {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// endReason says why serve returned.
type endReason int

const (
	endComplete endReason = iota // the final event was written
	endGone                      // a write failed: the client went away
	endClosed                    // the stream was closed (its session closed)
	endShutdown                  // the HTTP server is shutting down
	endReplaced                  // another response took the stream over
)

func (r endReason) String() string {
	return [...]string{"complete", "client gone", "closed", "server shutdown", "replaced"}[r]
}

// pending returns the events a should write next, and whether the stream
// is complete for a (its final event written), closed, or taken over.
func (st *eventStream) pending(a *attachment) ([]sseEvent, endReason, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.closed:
		return nil, endClosed, true
	case st.att != a:
		return nil, endReplaced, true
	}
	i := sort.Search(len(st.events), func(i int) bool { return st.events[i].seq > a.cursor })
	if i == len(st.events) {
		if st.final && a.cursor >= st.next {
			return nil, endComplete, true
		}
		return nil, 0, false
	}
	return append([]sseEvent(nil), st.events[i:]...), 0, false
}

// advance records that a wrote and flushed events up to seq, trims the kept
// events, and reports whether the final event is written.
func (st *eventStream) advance(a *attachment, seq int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	a.cursor = seq
	st.written = max(st.written, seq)
	if n := st.firstUnwritten() - st.keep; n > 0 {
		st.events = append(st.events[:0], st.events[n:]...)
	}
	return st.final && seq >= st.next
}

// serve writes the stream to w for attachment a until the stream completes
// or closes, the client goes away, the server shuts down (done) or another
// response takes over. prelude, if set, is written first (the priming event).
// A heartbeat comment goes out every heartbeat while nothing else does.
func (st *eventStream) serve(w *bufio.Writer, a *attachment, heartbeat time.Duration, done <-chan struct{}, prelude func(*bufio.Writer)) endReason {
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	if prelude != nil {
		prelude(w)
	}
	first := true
	for {
		batch, reason, end := st.pending(a)
		if end {
			if reason == endComplete && first {
				if err := w.Flush(); err != nil {
					st.detach(a)
					return endGone
				}
			}
			if reason == endComplete {
				st.detach(a)
			}
			return reason
		}
		// One flush per event: clients that read several events in one
		// chunk may handle them out of order (the TypeScript SDK runs
		// notification handlers a microtask after responses).
		for _, ev := range batch {
			st.writeEvent(w, ev)
			if err := w.Flush(); err != nil {
				st.detach(a)
				return endGone
			}
		}
		if first && len(batch) == 0 {
			if err := w.Flush(); err != nil {
				st.detach(a)
				return endGone
			}
		}
		first = false
		if len(batch) > 0 && st.advance(a, batch[len(batch)-1].seq) {
			st.detach(a)
			return endComplete
		}
		select {
		case <-a.wake:
		case <-a.stop:
			return endReplaced
		case <-done:
			st.detach(a)
			return endShutdown
		case <-ping.C:
			w.WriteString(": ping\n\n")
			if err := w.Flush(); err != nil {
				st.detach(a)
				return endGone
			}
		}
	}
}

// eventID is the SSE id of event seq of the stream.
func (st *eventStream) eventID(seq int64) string {
	return strconv.FormatInt(st.id, 10) + "-" + strconv.FormatInt(seq, 10)
}

// writeEvent writes one event; data with line breaks becomes several data
// lines (which SSE joins back with "\n").
func (st *eventStream) writeEvent(w *bufio.Writer, ev sseEvent) {
	if st.withIDs {
		w.WriteString("id: ")
		w.WriteString(st.eventID(ev.seq))
		w.WriteByte('\n')
	}
	if ev.name != "" {
		w.WriteString("event: ")
		w.WriteString(ev.name)
		w.WriteByte('\n')
	}
	writeData(w, ev.data)
	w.WriteByte('\n')
}

// writeData writes data as data: lines.
func writeData(w *bufio.Writer, data []byte) {
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		w.WriteString("data: ")
		w.Write(bytes.TrimSuffix(line, []byte{'\r'}))
		w.WriteByte('\n')
		if !more {
			return
		}
		data = rest
	}
}

// parseEventID splits an event id "<stream>-<seq>".
func parseEventID(s string) (stream, seq int64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	stream, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || stream < 0 || seq < 0 {
		return 0, 0, false
	}
	return stream, seq, true
}

// setSSEHeaders prepares an event-stream response.
func setSSEHeaders(c *fiber.Ctx) {
	c.Status(fiber.StatusOK)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
}

// openError answers a failed Gateway.Open.
func openError(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, engine.ErrServerNotFound):
		return sendRPCError(c, fiber.StatusNotFound, nil, codeInvalidRequest, err.Error())
	case errors.Is(err, engine.ErrNotRunning):
		return sendRPCError(c, fiber.StatusServiceUnavailable, nil, codeInternalError, err.Error())
	}
	return sendRPCError(c, fiber.StatusInternalServerError, nil, codeInternalError, err.Error())
}

// errShuttingDown answers requests that arrive after Close.
func errShuttingDown(c *fiber.Ctx) error {
	return sendRPCError(c, fiber.StatusServiceUnavailable, nil, codeInternalError, "the proxy is shutting down")
}

// noResponse is what a request gets if the gateway returned nothing for it
// (which it should never do).
func noResponse(id []byte) []byte {
	return rpcError(id, codeInternalError, "internal error: the gateway returned no response")
}

// legacySSE serves the HTTP+SSE transport of MCP 2024-11-05 for one view of
// the gateway: GET (Stream) opens a session and its event stream, whose
// first event, "endpoint", names the URL to POST the session's messages to
// (postPath?sessionId=ID); every message for the client, responses
// included, then arrives as a "message" event. A session lives as long as
// its stream: when the stream breaks, the session closes and its requests
// are cancelled.
type legacySSE struct {
	gw        *gateway.Gateway
	view      string
	postPath  string
	opts      transportOptions
	transport string // Identity.Transport

	mu       sync.Mutex
	sessions map[string]*sseSession
	closed   bool
	done     chan struct{} // closed by Close

	reference bool // the reference extras are on (reference.go)
}

// sseSession is one legacy SSE session.
type sseSession struct {
	l      *legacySSE
	id     string
	ident  engine.Identity
	gs     *gateway.Session
	ctx    context.Context // ends when the session closes; bounds its requests
	cancel context.CancelFunc
	st     *eventStream
	once   sync.Once

	statusAlways bool        // reference: server-status even after initialize (?serverStatus=1)
	initialized  atomic.Bool // the client sent initialize
}

// newLegacySSE returns the legacy SSE transport of view ("" for the
// aggregate) whose endpoint events point at postPath, the path of the
// route its Post handler is mounted on, as clients see it.
func newLegacySSE(gw *gateway.Gateway, view string, postPath string, opts transportOptions) *legacySSE {
	return &legacySSE{
		gw: gw, view: view, postPath: postPath, opts: opts.withDefaults(), transport: transportSSE,
		sessions: map[string]*sseSession{}, done: make(chan struct{}),
	}
}

// Stream is the GET handler: it opens a session and streams its events.
func (l *legacySSE) Stream(c *fiber.Ctx) error {
	ident := identityOf(c)
	ident.Transport = l.transport
	ident.Session = newSessionID()
	s := &sseSession{l: l, id: ident.Session, ident: ident, statusAlways: c.QueryBool("serverStatus")}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.st = newEventStream(0, false, l.opts, func() {
		s.close(fmt.Sprintf("the client fell more than %d messages behind", l.opts.QueueSize))
	})
	gs, err := l.gw.Open(l.view, ident, func(msg, _ json.RawMessage) { s.st.push("message", msg, false) })
	if err != nil {
		s.cancel()
		return openError(c, err)
	}
	s.gs = gs
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		gs.Close()
		s.cancel()
		return errShuttingDown(c)
	}
	l.sessions[s.id] = s
	l.mu.Unlock()
	l.opts.sessionCount(+1)
	l.opts.Logger.Debug("proxy: SSE session opened", "session", s.id, "view", l.view, "token", ident.Token)

	s.st.push("endpoint", []byte(l.postPath+"?sessionId="+s.id), false)
	a, err := s.st.attach(0, false, false)
	if err != nil { // closed already (overflow cannot happen this early)
		return errShuttingDown(c)
	}
	setSSEHeaders(c)
	done, hb := c.Context().Done(), l.opts.Heartbeat
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		reason := s.st.serve(w, a, hb, done, nil)
		s.close("stream ended: " + reason.String())
	})
	return nil
}

// Post is the handler of the session's message URL: it takes one JSON-RPC
// message, answers 202 with a small JSON acknowledgement at once, and sends
// the response, when there is one, on the session's stream.
func (l *legacySSE) Post(c *fiber.Ctx) error {
	if e := checkContentType(c); e != nil {
		return e.send(c)
	}
	sid := c.Query("sessionId")
	if sid == "" {
		sid = c.Query("sessionid") // as go-sdk servers spell it
	}
	ident := identityOf(c)
	var s *sseSession
	if sid == "" {
		if !l.reference {
			return sendRPCError(c, fiber.StatusBadRequest, nil, codeInvalidRequest,
				"missing sessionId: POST to the URL given by the endpoint event of your SSE stream")
		}
		var err error
		if s, err = l.soleSession(ident.Token); err != nil {
			return sendRPCError(c, fiber.StatusBadRequest, nil, codeInvalidRequest, err.Error())
		}
	} else if s = l.lookup(sid, ident.Token); s == nil {
		return sendRPCError(c, fiber.StatusNotFound, nil, codeSessionNotFound,
			"session not found: it is closed or unknown; open a new SSE stream")
	}
	body := bytes.Clone(c.Body())
	m, perr := parseMessage(body)
	if perr != nil {
		return sendRPCError(c, fiber.StatusBadRequest, nil, perr.code, perr.msg)
	}
	if m.method == "initialize" {
		s.initialized.Store(true)
	}
	if m.isRequest() {
		go func() {
			resp := s.l.opts.handle(s.ctx, s.gs, body)
			if resp == nil {
				resp = noResponse(m.id)
			}
			s.st.push("message", resp, false)
		}()
	} else if resp := s.gs.Handle(s.ctx, body); resp != nil {
		s.st.push("message", resp, false) // an error about the message itself
	}
	id := m.id
	if id == nil {
		id = []byte("null")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(fiber.StatusAccepted).Send(append(append([]byte(`{"status":"accepted","id":`), id...), '}'))
}

// lookup returns the open session sid if it belongs to token.
func (l *legacySSE) lookup(sid, token string) *sseSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sessions[sid]
	if s == nil || !sameToken(s.ident.Token, token) {
		return nil
	}
	return s
}

// close ends the session: its stream, its gateway session and requests.
func (s *sseSession) close(why string) {
	s.once.Do(func() {
		s.l.mu.Lock()
		delete(s.l.sessions, s.id)
		s.l.mu.Unlock()
		s.st.close()
		s.cancel()
		s.gs.Close()
		s.l.opts.sessionCount(-1)
		level := slog.LevelDebug
		if s.st.overflowed() {
			level = slog.LevelWarn
		}
		s.l.opts.Logger.Log(context.Background(), level, "proxy: SSE session closed", "session", s.id, "view", s.l.view, "why", why)
	})
}

// overflowed reports whether the stream overflowed.
func (st *eventStream) overflowed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.over
}

// Close closes every session of the transport and refuses new ones.
func (l *legacySSE) Close() {
	closeAll(&l.mu, &l.closed, l.done, l.sessions)
}

// closeAll shuts a transport down once: it marks it closed under mu, closes
// its done channel, and closes every session outside the lock (a session's
// close takes the lock to remove itself).
func closeAll[S interface{ close(reason string) }](mu *sync.Mutex, closed *bool, done chan struct{}, sessions map[string]S) {
	mu.Lock()
	if *closed {
		mu.Unlock()
		return
	}
	*closed = true
	close(done)
	list := make([]S, 0, len(sessions))
	for _, s := range sessions {
		list = append(list, s)
	}
	mu.Unlock()
	for _, s := range list {
		s.close("the proxy is shutting down")
	}
}
