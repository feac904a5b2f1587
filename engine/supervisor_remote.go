package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/remote"
)

// Why a remote server's link could not be made or ended, for errors.Is;
// a *RemoteError carries them.
var (
	// ErrRemoteUnreachable: the remote could not be reached (connection
	// refused or broken, DNS, TLS, a timeout, an event stream that could
	// not be reopened). The server is restarted per its policy.
	ErrRemoteUnreachable = remote.ErrUnreachable
	// ErrRemoteUnauthorized: the remote refused the credentials (HTTP 401
	// or 403), or no OAuth token could be had. The server fails at once.
	ErrRemoteUnauthorized = remote.ErrUnauthorized
	// ErrRemoteSessionExpired: the remote forgot the session (HTTP 404).
	// The server initializes a new one at once.
	ErrRemoteSessionExpired = remote.ErrSessionExpired
	// ErrRemoteProtocol: the endpoint does not speak MCP over HTTP. The
	// server fails at once.
	ErrRemoteProtocol = remote.ErrProtocol
)

// RemoteError is a remote server's link failing: it could not be made, or
// it ended. It matches ErrCommunication and the remote's own error (one of
// the ErrRemote errors) with errors.Is. Its message names the endpoint
// (without credentials) and never a header value.
type RemoteError struct {
	Server string // the server's name
	Err    error  // what the remote or the connection to it did
	// GaveUp, when the server failed for good, says why it is not
	// reconnected, e.g. "reconnecting cannot fix this".
	GaveUp string
}

func (e *RemoteError) Error() string {
	msg := fmt.Sprintf("server %q: %v", e.Server, e.Err)
	if e.GaveUp != "" {
		msg += " (not reconnecting: " + e.GaveUp + ")"
	}
	return msg
}

// Unwrap gives errors.Is and errors.As ErrCommunication and the cause.
func (e *RemoteError) Unwrap() []error { return []error{ErrCommunication, e.Err} }

// linkSupervisor runs a remote server as a series of links (internal/remote),
// each a fresh MCP session, under the same restart vocabulary as a process:
// a link that ends is a process that exited. An end the remote may recover
// from (it was unreachable, it forgot the session, it closed the stream)
// is restarted per the policy: at once after a run of at least minUptime,
// else after a backoff that doubles up to maxBackoff, and after maxRetries
// short runs in a row the server is failed. An end that retrying cannot
// fix (the credentials were refused, the endpoint does not speak MCP), and
// any end under "policy": "never" or "maxRetries": 0, fails the server at
// once.
type linkSupervisor struct {
	s      *server
	opts   remote.Options
	policy config.Restart
	url    string // redacted, for status and logs

	count     atomic.Int64  // restarts since the last start
	transport atomic.Value  // string: the transport in use, once known
	mu        sync.Mutex    // guards the fields below
	link      *remote.Link  // the current link, nil between links
	cancel    func()        // ends the supervising goroutine
	done      chan struct{} // closed when it has ended
}

func newLinkSupervisor(s *server) (*linkSupervisor, error) {
	sc := s.cfg
	headers := http.Header{}
	for k, v := range sc.Headers {
		headers.Set(k, v)
	}
	opts := remote.Options{
		URL:             sc.URL,
		Transport:       sc.Type,
		Name:            s.name,
		Headers:         headers,
		Logger:          s.logger,
		MaxMessageBytes: int(sc.MaxFrameBytes),
	}
	if o := sc.OAuth; o != nil {
		opts.OAuth = &remote.ClientCredentials{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Scopes: o.Scopes, Audience: o.Audience, Resource: o.Resource}
	}
	l := &linkSupervisor{s: s, opts: opts, policy: sc.Restart, url: sc.RedactedURL()}
	l.transport.Store(sc.Type)
	return l, nil
}

func (l *linkSupervisor) restarts() int { return int(l.count.Load()) }

func (l *linkSupervisor) endpoint() (transport, url string) {
	return l.transport.Load().(string), l.url
}

func (l *linkSupervisor) start(ctx context.Context) error {
	l.count.Store(0)
	link, cn, err := l.connect(ctx)
	if err != nil {
		return err
	}
	run, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.mu.Lock()
	l.cancel, l.done = cancel, done
	l.mu.Unlock()
	go l.supervise(run, done, link, cn)
	return nil
}

// abort has nothing to do: a start that fails closes its own link.
func (l *linkSupervisor) abort() {}

func (l *linkSupervisor) stop(ctx context.Context) error {
	l.mu.Lock()
	cancel, done, link := l.cancel, l.done, l.link
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	if link != nil {
		_ = link.Close() // ends the remote session (DELETE), within 3s
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the link to %s did not close in time: %w", l.url, ctx.Err())
	}
}

// connect dials the remote and runs the MCP handshake over the link,
// within ctx. The server is running when it returns without error.
func (l *linkSupervisor) connect(ctx context.Context) (*remote.Link, *conn, error) {
	s := l.s
	link, err := remote.Dial(ctx, l.opts)
	if err != nil {
		return nil, nil, l.explain(ctx, err, nil)
	}
	l.mu.Lock()
	l.link = link
	l.mu.Unlock()
	onEOF := func() error {
		if err := link.Err(); err != nil {
			return err
		}
		return fmt.Errorf("the link to server %q (%s) was closed", s.name, l.url)
	}
	cn, init, err := s.client.attach(ctx, link.Reader(), link.Writer(), onEOF)
	if err != nil {
		_ = link.Close()
		return nil, nil, l.explain(ctx, err, link)
	}
	l.transport.Store(link.Transport())
	if !s.isStopping() {
		s.ready(0, init, "url", l.url, "transport", link.Transport())
	}
	return link, cn, nil
}

// explain words a failed connect: the link's own error says what happened
// at the remote far better than the handshake's.
func (l *linkSupervisor) explain(ctx context.Context, err error, link *remote.Link) error {
	if link != nil {
		if lerr := link.Err(); lerr != nil && !errors.Is(lerr, remote.ErrClosed) {
			return &RemoteError{Server: l.s.name, Err: lerr}
		}
	}
	if errors.Is(err, ErrTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: server %q (%s) did not answer the MCP handshake (initialize) within startTimeout %s",
			ErrTimeout, l.s.name, l.url, l.s.cfg.StartTimeout.Duration)
	}
	return err
}

// supervise waits for each link to end and starts the next, per the
// restart policy, until the server is stopped or given up.
func (l *linkSupervisor) supervise(ctx context.Context, done chan struct{}, link *remote.Link, cn *conn) {
	defer close(done)
	s := l.s
	short := 0 // runs shorter than minUptime in a row
	started := time.Now()
	for {
		select {
		case <-cn.done:
		case <-link.Done():
		case <-ctx.Done():
			return // stop closes the link
		}
		if ctx.Err() != nil || s.isStopping() {
			return
		}
		var cause error = &RemoteError{Server: s.name, Err: link.Err()}
		if lerr := link.Err(); lerr == nil || errors.Is(lerr, remote.ErrClosed) {
			// The connection broke on our side (a frame over the limit, a
			// stuck write) and closed the link: its own error says why.
			cause = cn.closedErr()
		}
		_ = link.Close() // ends the remote session when it may still exist
		cn.close(cause)
		l.mu.Lock()
		l.link = nil
		l.mu.Unlock()

		if time.Since(started) >= l.policy.MinUptime.Duration {
			short = 0
		} else {
			short++
		}
		for {
			if reason := l.giveUp(cause, short); reason != "" {
				l.fail(cause, reason)
				return
			}
			var delay time.Duration
			if short > 0 {
				delay = l.backoff(short)
			}
			l.restarting(cause, delay)
			if delay > 0 && !sleep(ctx, delay) {
				return
			}
			l.count.Add(1)
			dialCtx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout.Duration)
			next, ncn, err := l.connect(dialCtx)
			cancel()
			if ctx.Err() != nil || s.isStopping() {
				if err == nil {
					_ = next.Close()
				}
				return
			}
			if err != nil {
				s.logger.Warn("reconnecting to the remote server failed", "server", s.name, "url", l.url, "err", err)
				cause = err
				short++
				continue
			}
			link, cn, started = next, ncn, time.Now()
			break
		}
	}
}

// giveUp returns why the server must not be restarted after cause, or "".
func (l *linkSupervisor) giveUp(cause error, short int) string {
	switch {
	case l.policy.Policy == config.RestartNever:
		return `its restart policy is "never"`
	case l.policy.MaxRetries != nil && *l.policy.MaxRetries == 0:
		return `its restart policy allows no retries ("maxRetries": 0)`
	case !retryable(cause):
		return "reconnecting cannot fix this"
	case l.policy.MaxRetries != nil && short > *l.policy.MaxRetries:
		return fmt.Sprintf("it failed %d times in a row within minUptime %s", short, l.policy.MinUptime.Duration)
	}
	return ""
}

// retryable reports whether dialing again may help after a link ended
// with err: the remote's verdict when it gave one; otherwise (a connection
// broken on our side, a failed handshake) yes.
func retryable(err error) bool {
	var re *remote.Error
	if errors.As(err, &re) {
		return remote.Retryable(re)
	}
	return !errors.Is(err, remote.ErrUnauthorized) && !errors.Is(err, remote.ErrProtocol)
}

// backoff is the wait before a restart after n short runs in a row.
func (l *linkSupervisor) backoff(n int) time.Duration {
	d, limit := l.policy.Backoff.Duration, l.policy.MaxBackoff.Duration
	for ; n > 1 && d < limit; n-- {
		d *= 2
	}
	return min(d, limit)
}

// restarting records that the link ended and a new one is coming.
func (l *linkSupervisor) restarting(cause error, delay time.Duration) {
	s := l.s
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	pub := s.transitionLocked(StateRestarting, 0, cause)
	s.mu.Unlock()
	for _, e := range pub {
		s.publish(e)
	}
	msg := "the link to the remote server ended; reconnecting"
	if errors.Is(cause, remote.ErrSessionExpired) {
		msg = "the remote server ended the session; initializing a new one"
	}
	s.logger.Warn(msg, "server", s.name, "url", l.url, "delay", delay, "restarts", l.restarts(), "err", cause)
}

// fail gives the server up after cause.
func (l *linkSupervisor) fail(cause error, reason string) {
	s := l.s
	var err error
	if re, ok := cause.(*RemoteError); ok {
		c := *re
		c.GaveUp = reason
		err = &c
	} else {
		err = fmt.Errorf("%w (not reconnecting: %s)", cause, reason)
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	pub := s.transitionLocked(StateFailed, 0, err)
	s.mu.Unlock()
	for _, e := range pub {
		s.publish(e)
	}
	s.client.detach(fmt.Errorf("%w: server %q failed: %w", ErrNotRunning, s.name, err), false)
	s.logger.Error("remote server failed", "server", s.name, "url", l.url, "restarts", l.restarts(), "err", err)
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
