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

// sseSession is one legacy SSE session. A stream the reference's GET /sse
// opened without a token (tokenless, see reference.go) has no identity and
// no gateway session until a POST binds it; until then nothing reaches it
// but its endpoint event.
type sseSession struct {
	l      *legacySSE
	id     string
	ctx    context.Context // ends when the session closes; bounds its requests
	cancel context.CancelFunc
	st     *eventStream
	once   sync.Once

	statusAlways bool        // reference: server-status even after initialize (?serverStatus=1)
	initialized  atomic.Bool // the client sent initialize

	tokenless bool   // opened without a token: bound by a later POST
	origin    string // tokenless: the Origin of its GET ("" when same-origin or none)
	addr      string // tokenless: the client's IP address

	mu     sync.Mutex
	ident  engine.Identity  // the caller; zero while unbound
	gs     *gateway.Session // nil while unbound
	closed bool
}

// newLegacySSE returns the legacy SSE transport of view ("" for the
// aggregate) whose endpoint events point at postPath, the path of the
// route its Post handler is mounted on, as clients see it.
func newLegacySSE(gw *gateway.Gateway, view string, postPath string, opts transportOptions) *legacySSE {
	return &legacySSE{
		gw: gw, view: view, postPath: postPath, opts: opts.withDefaults(), transport: transportSSE,
		sessions: newSessionTable[*sseSession](opts.limits),
	}
}

func (s *sseSession) sessionID() string { return s.id }

// unboundToken is the token name of a tokenless stream not bound yet: no
// configured name can equal it (names are [A-Za-z0-9_.-]), so no caller
// finds it by its id, as if it were another caller's.
const unboundToken = "\x00unbound"

func (s *sseSession) tokenName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gs == nil {
		return unboundToken
	}
	return sessionOwner(s.ident)
}

// session returns the session's gateway session and caller, or nil while
// it is unbound.
func (s *sseSession) session() (*gateway.Session, engine.Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gs, s.ident
}

// Stream is the GET handler: it opens a session and streams its events.
func (l *legacySSE) Stream(c *fiber.Ctx) error {
	ident := identityOf(c)
	ident.Transport = l.transport
	ident.Session = newSessionID()
	place, err := l.sessions.reserve(ident)
	if err != nil {
		return err
	}
	s := &sseSession{l: l, id: ident.Session, statusAlways: c.QueryBool("serverStatus")}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.st = newEventStream(0, false, l.opts, func() {
		s.close(fmt.Sprintf("the client fell more than %d messages behind", l.opts.QueueSize))
	})
	if l.reference && isTokenless(c) {
		if err := l.admitTokenless(); err != nil {
			place.cancel()
			s.cancel()
			return err
		}
		s.tokenless, s.origin, s.addr = true, callerOrigin(c), c.IP()
	} else {
		gs, err := l.gw.Open(l.view, ident, s.deliver)
		if err != nil {
			place.cancel()
			s.cancel()
			return openError(err)
		}
		s.gs, s.ident = gs, ident
	}
	if err := l.sessions.add(s, place); err != nil {
		if s.gs != nil {
			s.gs.Close()
		}
		s.cancel()
		return err
	}
	l.opts.sessionCount(+1)
	l.opts.Logger.Debug("proxy: SSE session opened", "session", s.id, "view", l.view, "token", ident.Token, "tokenless", s.tokenless)

	s.st.push("endpoint", []byte(l.postPath+"?sessionId="+s.id), false)
	a, err := s.st.attach(0, false, false)
	if err != nil { // closed already (overflow cannot happen this early)
		return errShuttingDown
	}
	setSSEHeaders(c)
	done, hb, conn := c.Context().Done(), l.opts.Heartbeat, c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		reason := s.st.serveConn(w, a, hb, done, conn, nil)
		s.close("stream ended: " + reason.String())
	})
	return nil
}

// deliver is the gateway session's Outbound: every message is an event.
func (s *sseSession) deliver(msg, _ json.RawMessage) { s.st.push("message", msg, false) }

// bind makes a tokenless session the caller's: it opens its gateway
// session with ident. It fails if the session is bound already or closed.
func (s *sseSession) bind(ident engine.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gs != nil || s.closed {
		return errUnknownStream
	}
	ident.Transport = s.l.transport
	ident.Session = s.id
	gs, err := s.l.gw.Open(s.l.view, ident, s.deliver)
	if err != nil {
		return openError(err)
	}
	s.gs, s.ident = gs, ident
	s.l.opts.Logger.Info("proxy: a stream opened without a token is bound to the caller of its first POST",
		"session", s.id, "token", ident.Token, "origin", s.origin, "addr", s.addr)
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
		if s, err = l.soleSession(ident, callerOrigin(c), c.IP()); err != nil {
			return err
		}
	} else {
		var ok bool
		if s, ok = l.sessions.lookup(sid, sessionOwner(ident)); !ok {
			if !l.reference {
				return errUnknownStream
			}
			var err error
			if s, err = l.bindNamed(sid, ident); err != nil {
				return err
			}
		}
	}
	gs, _ := s.session()
	m, err := readMessage(c)
	if err != nil {
		return err
	}
	if m.Method == "initialize" {
		s.initialized.Store(true)
	}
	if m.IsRequest() {
		ctx := traceContext(c, s.ctx) // c is not to be used once Post returns
		go s.l.opts.handleThen(ctx, gs, m, func(resp json.RawMessage) {
			if resp == nil {
				resp = noResponse(m.ID)
			}
			s.st.push("message", resp, false)
		})
	} else if resp := gs.HandleMessage(s.ctx, m); resp != nil {
		s.st.push("message", resp, false) // an error about the message itself
	}
	id := m.ID
	if id == nil {
		id = []byte("null")
	}
	return sendJSON(c, fiber.StatusAccepted, append(append([]byte(`{"status":"accepted","id":`), id...), '}'))
}

// errUnknownStream refuses a POST for a session that is closed, unknown,
// or another caller's (the three are not told apart).
var errUnknownStream = refuse(fiber.StatusNotFound, wire.CodeSessionNotFound, "session not found: it is closed or unknown; open a new SSE stream")

// close ends the session: its stream, its gateway session and requests.
func (s *sseSession) close(why string) {
	s.once.Do(func() {
		s.l.sessions.remove(s.id)
		s.st.close()
		s.cancel()
		s.mu.Lock()
		s.closed = true
		gs := s.gs
		s.mu.Unlock()
		if gs != nil {
			gs.Close()
		}
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
