package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/wire"
)

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
	sessions  *sessionTable[*sseSession]

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
		sessions: newSessionTable[*sseSession](),
	}
}

func (s *sseSession) sessionID() string { return s.id }
func (s *sseSession) tokenName() string { return s.ident.Token }

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
		return openError(err)
	}
	s.gs = gs
	if err := l.sessions.add(s); err != nil {
		gs.Close()
		s.cancel()
		return err
	}
	l.opts.sessionCount(+1)
	l.opts.Logger.Debug("proxy: SSE session opened", "session", s.id, "view", l.view, "token", ident.Token)

	s.st.push("endpoint", []byte(l.postPath+"?sessionId="+s.id), false)
	a, err := s.st.attach(0, false, false)
	if err != nil { // closed already (overflow cannot happen this early)
		return errShuttingDown
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
	if err := checkContentType(c); err != nil {
		return err
	}
	sid := c.Query("sessionId")
	if sid == "" {
		sid = c.Query("sessionid") // as go-sdk servers spell it
	}
	ident := identityOf(c)
	var s *sseSession
	if sid == "" {
		if !l.reference {
			return refuse(fiber.StatusBadRequest, wire.CodeInvalidRequest,
				"missing sessionId: POST to the URL given by the endpoint event of your SSE stream")
		}
		var err error
		if s, err = l.soleSession(ident.Token); err != nil {
			return err
		}
	} else {
		var ok bool
		if s, ok = l.sessions.lookup(sid, ident.Token); !ok {
			return refuse(fiber.StatusNotFound, wire.CodeSessionNotFound, "session not found: it is closed or unknown; open a new SSE stream")
		}
	}
	m, err := readMessage(c)
	if err != nil {
		return err
	}
	if m.Method == "initialize" {
		s.initialized.Store(true)
	}
	if m.IsRequest() {
		ctx := traceContext(c, s.ctx) // c is not to be used once Post returns
		go func() {
			resp := s.l.opts.handle(ctx, s.gs, m)
			if resp == nil {
				resp = noResponse(m.ID)
			}
			s.st.push("message", resp, false)
		}()
	} else if resp := s.gs.HandleMessage(s.ctx, m); resp != nil {
		s.st.push("message", resp, false) // an error about the message itself
	}
	id := m.ID
	if id == nil {
		id = []byte("null")
	}
	return sendJSON(c, fiber.StatusAccepted, append(append([]byte(`{"status":"accepted","id":`), id...), '}'))
}

// close ends the session: its stream, its gateway session and requests.
func (s *sseSession) close(why string) {
	s.once.Do(func() {
		s.l.sessions.remove(s.id)
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
func (l *legacySSE) Close() { l.sessions.closeAll() }
