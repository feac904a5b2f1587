package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes: messages waiting to be sent, and messages received but not
// yet read by the engine. Both block their producer when full.
const (
	queueSize = 64
	inboxSize = 64
)

// closeTimeout bounds the DELETE that ends a session when the link closes.
const closeTimeout = 3 * time.Second

// maxBackoff caps the wait between attempts to reopen a stream.
const maxBackoff = 30 * time.Second

// Link is a connection to one remote MCP server, seen as the pair of
// newline-delimited JSON-RPC streams of MCP's stdio transport: read the
// server's messages from Reader, write ours to Writer. It ends when the
// remote fails (Done, Err) or when it is closed; it is never reopened, so
// its owner treats its end like the exit of a stdio server and dials again.
type Link struct {
	o         *resolved
	client    *http.Client
	ownClient bool
	creds     *credentials

	ctx    context.Context // the link's lifetime: every HTTP exchange derives from it
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the link

	queue  chan *outgoing // written by the engine, sent by dispatch
	inbox  chan []byte    // received lines, read by the engine
	reader *reader
	writer *writer

	mu        sync.Mutex
	t         transport // nil until the first message picks one (detection)
	err       error
	done      chan struct{}
	closeOnce sync.Once
	closing   atomic.Bool // Close began: whatever ends the link now, its owner closed it
}

// transport sends messages by one of MCP's HTTP transports and feeds what
// the remote sends into the link.
type transport interface {
	// name is TransportStreamableHTTP or TransportSSE.
	name() string
	// send delivers one message; wrote is called once the HTTP request has
	// been written (or failed), so the next message may go out after it.
	send(m *outgoing, wrote func())
	// close ends the remote session, best effort, within ctx.
	close(ctx context.Context)
}

// Dial prepares a link to a remote MCP server. With Transport "sse" it
// opens the event stream and waits for the endpoint event, within ctx.
// Otherwise nothing is sent yet: the first message written (initialize)
// opens the session, and in detection mode chooses the transport. ctx
// bounds Dial only, not the link.
func Dial(ctx context.Context, opts Options) (*Link, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	l := &Link{
		o:      o,
		client: o.HTTPClient,
		queue:  make(chan *outgoing, queueSize),
		inbox:  make(chan []byte, inboxSize),
		done:   make(chan struct{}),
	}
	if l.client == nil {
		l.client, l.ownClient = newHTTPClient(o), true
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.creds = newCredentials(l.ctx, o, l.client)
	l.reader = &reader{l: l}
	l.writer = &writer{l: l}
	switch o.Transport {
	case TransportSSE:
		t, err := dialSSE(ctx, l)
		if err != nil {
			l.fail(err)
			l.shutdown()
			return nil, err
		}
		l.t = t
	case TransportStreamableHTTP:
		l.t = newStreamable(l)
	}
	l.wg.Add(1)
	go l.dispatch()
	return l, nil
}

// newHTTPClient makes the link's own client: a private connection pool,
// and redirects followed only within the endpoint's origin, because the
// configured headers travel with a redirected request.
func newHTTPClient(o *resolved) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	origin := o.url
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != origin.Scheme || req.URL.Host != origin.Host {
				return fmt.Errorf("redirected to another origin (%s://%s); refusing to send the configured headers there: configure the final URL", req.URL.Scheme, req.URL.Host)
			}
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}

// Reader returns the remote's messages, one JSON-RPC message per line:
// responses, notifications and the remote's own requests, from whichever
// HTTP stream carried them. When the link ends, Read returns the link's
// error (io.EOF after Close). Read it from one goroutine.
func (l *Link) Reader() io.Reader { return l.reader }

// Writer takes our messages, one JSON-RPC message per line: requests,
// notifications, and responses to the remote's requests. Write returns
// once the messages are queued (it blocks while the queue is full); each
// is sent as its own HTTP request, in order. A request the remote cannot
// answer (an HTTP error, a stream that broke) is answered on the Reader
// with a JSON-RPC error, so every request gets exactly one response or
// the link's end. Closing the Writer closes the link.
func (l *Link) Writer() io.WriteCloser { return l.writer }

// Done is closed when the link has ended.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err says why the link ended: a *[Error] wrapping ErrSessionExpired,
// ErrUnauthorized, ErrUnreachable, ErrStreamClosed or ErrProtocol, or
// ErrClosed after Close. It is nil while the link is up.
func (l *Link) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Transport returns the transport in use, TransportStreamableHTTP or
// TransportSSE; "" while detection waits for the first message.
func (l *Link) Transport() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.t == nil {
		return ""
	}
	return l.t.name()
}

// SessionID returns the Streamable HTTP session id the remote assigned, if
// any (stateless and legacy HTTP+SSE remotes have none).
func (l *Link) SessionID() string {
	l.mu.Lock()
	t := l.t
	l.mu.Unlock()
	if s, ok := t.(*streamable); ok {
		return s.sessionID()
	}
	return ""
}

// URL returns the endpoint with credentials redacted, for logs and status.
func (l *Link) URL() string { return l.o.redacted }

// Close ends the link: it ends the remote session (DELETE for Streamable
// HTTP, within 3s), stops every stream and waits for the link's
// goroutines. Pending requests get no more answers; Reader then returns
// io.EOF. Close is safe to call more than once and from any goroutine.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		l.mu.Lock()
		t, err := l.t, l.err
		l.mu.Unlock()
		if t != nil && politeClose(err) {
			ctx, cancel := context.WithTimeout(context.Background(), min(closeTimeout, l.o.RequestTimeout))
			t.close(ctx)
			cancel()
		}
		l.fail(ErrClosed)
		l.shutdown()
	})
	return nil
}

// politeClose reports whether the remote session may still exist and be
// reachable, so ending it is worth a request.
func politeClose(err error) bool {
	return err == nil || !(errors.Is(err, ErrSessionExpired) || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrStreamClosed))
}

// shutdown waits for the link's goroutines, which end with its context.
func (l *Link) shutdown() {
	l.cancel()
	l.wg.Wait()
	if l.ownClient {
		l.client.CloseIdleConnections()
	}
}

// fail ends the link with err, once.
func (l *Link) fail(err error) {
	if l.closing.Load() {
		// Ending the session (DELETE) also ends its event stream, whose
		// reader may see the remote forget the session first.
		err = ErrClosed
	}
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	l.err = err
	close(l.done)
	l.mu.Unlock()
	l.cancel()
	if !errors.Is(err, ErrClosed) {
		// The owner reports it (Err); this is for tracing.
		l.o.Logger.Debug("remote MCP link ended", "server", l.o.Name, "url", l.o.redacted, "err", err)
	}
}

// closed reports whether the link has ended.
func (l *Link) closed() bool { return l.ctx.Err() != nil }

// transport returns the transport in use, nil before detection.
func (l *Link) transport() transport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t
}

func (l *Link) setTransport(t transport) {
	l.mu.Lock()
	l.t = t
	l.mu.Unlock()
}

// dispatch sends the queued messages in order: each starts once the one
// before it has been written, so the remote receives them in the order
// the engine wrote them, while responses are awaited concurrently.
func (l *Link) dispatch() {
	defer l.wg.Done()
	for {
		var m *outgoing
		select {
		case m = <-l.queue:
		case <-l.ctx.Done():
			return
		}
		t := l.transport()
		if t == nil {
			if !l.detect(m) {
				return
			}
			continue
		}
		wrote := make(chan struct{})
		var once sync.Once
		signal := func() { once.Do(func() { close(wrote) }) }
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer signal()
			t.send(m, signal)
		}()
		select {
		case <-wrote:
		case <-l.ctx.Done():
			return
		}
	}
}

// deliver hands one received line to the engine, waiting while the inbox
// is full. It reports false when the link ended meanwhile.
func (l *Link) deliver(line []byte) bool {
	select {
	case l.inbox <- line:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// receive parses one message from the remote and delivers it. Malformed
// messages are dropped with a warning, as the engine does on stdio.
func (l *Link) receive(data []byte) (*incoming, bool) {
	in, err := parseIncoming(data)
	if err != nil {
		l.o.Logger.Warn("ignoring a malformed message from the remote", "server", l.o.Name, "err", err, "excerpt", excerpt(data))
		return nil, true
	}
	return in, l.deliver(in.line)
}

// backoff is the wait before attempt n (from 1) to reopen a stream: the
// server's retry or ReconnectDelay, growing 1.5-fold, capped, with jitter.
func (l *Link) backoff(n int, serverRetry time.Duration) time.Duration {
	base := l.o.ReconnectDelay
	if serverRetry > 0 {
		base = serverRetry
	}
	d := time.Duration(float64(base) * math.Pow(1.5, float64(max(n-1, 0))))
	d = min(d, maxBackoff)
	if half := int64(d / 2); half > 0 {
		d = time.Duration(half + rand.Int64N(half+1))
	}
	return d
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reader is the engine's end of the received messages.
type reader struct {
	l   *Link
	buf []byte
}

func (r *reader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		select {
		case r.buf = <-r.l.inbox: // what arrived before the end is still read
		default:
			select {
			case r.buf = <-r.l.inbox:
			case <-r.l.done:
				select {
				case r.buf = <-r.l.inbox:
				default:
					if err := r.l.Err(); !errors.Is(err, ErrClosed) {
						return 0, err
					}
					return 0, io.EOF
				}
			}
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// writer is the engine's end of the messages to send.
type writer struct {
	l       *Link
	mu      sync.Mutex
	partial []byte
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.l
	if err := l.Err(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(w.partial)+len(p) > l.o.MaxMessageBytes {
				w.partial = nil
				return 0, fmt.Errorf("remote %s: outgoing message larger than %d bytes", l.o.redacted, l.o.MaxMessageBytes)
			}
			w.partial = append(w.partial, p...)
			break
		}
		line := append(w.partial, p[:i]...) // a copy: the caller may reuse p
		w.partial = nil
		p = p[i+1:]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := parseOutgoing(line)
		if err != nil {
			return 0, fmt.Errorf("remote %s: %w", l.o.redacted, err)
		}
		select {
		case l.queue <- m:
		case <-l.done:
			return 0, l.Err()
		}
	}
	return n, nil
}

// Close closes the link.
func (w *writer) Close() error { return w.l.Close() }
