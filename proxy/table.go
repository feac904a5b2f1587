package proxy

import (
	"sync"

	"github.com/mcpscript/mcpscript/engine"
)

// session is what the session table needs of a transport's session.
type session interface {
	sessionID() string
	tokenName() string // the name of the token that opened it ("" when auth is off)
	close(reason string)
}

// sessionTable holds the open sessions of one transport, by id. Both HTTP
// transports keep theirs in one: reserving a place (within the limits all
// the tables share), adding, finding (for the token that opened it only),
// removing and closing them all at shutdown.
type sessionTable[S session] struct {
	limits *sessionLimits // shared by every table of the proxy; nil: none

	mu       sync.Mutex
	sessions map[string]tableEntry[S]
	closed   bool
	draining bool          // new sessions are refused
	done     chan struct{} // closed by closeAll
}

// tableEntry is a session and the caller its place is counted for.
type tableEntry[S session] struct {
	s      S
	caller string
}

// reservation is a place for a session within the limits, taken before
// the session is set up and handed to add, or given back with cancel.
type reservation struct {
	limits *sessionLimits
	caller string
	once   sync.Once
}

// cancel gives the place back (once; add takes it over instead).
func (r *reservation) cancel() {
	r.once.Do(func() { r.limits.release(r.caller) })
}

func newSessionTable[S session](limits *sessionLimits) *sessionTable[S] {
	return &sessionTable[S]{limits: limits, sessions: map[string]tableEntry[S]{}, done: make(chan struct{})}
}

// reserve takes a place for a session of id's caller, or returns the
// refusal: the proxy is shutting down (503), or a session limit is reached
// (429 or 503, see sessionLimits).
func (t *sessionTable[S]) reserve(id engine.Identity) (*reservation, error) {
	t.mu.Lock()
	stopping := t.closed || t.draining
	t.mu.Unlock()
	if stopping {
		return nil, errShuttingDown
	}
	caller := callerKey(id)
	if err := t.limits.acquire(caller); err != nil {
		return nil, err
	}
	return &reservation{limits: t.limits, caller: caller}, nil
}

// add registers s in the place r reserved; it fails (and gives the place
// back) once the table is closed.
func (t *sessionTable[S]) add(s S, r *reservation) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		r.cancel()
		return errShuttingDown
	}
	t.sessions[s.sessionID()] = tableEntry[S]{s: s, caller: r.caller}
	return nil
}

// lookup returns the session id if the same token opened it. A session of
// another token is not found: the caller learns nothing of it.
func (t *sessionTable[S]) lookup(id, token string) (S, bool) {
	t.mu.Lock()
	e, ok := t.sessions[id]
	t.mu.Unlock()
	if !ok || !sameToken(e.s.tokenName(), token) {
		var zero S
		return zero, false
	}
	return e.s, true
}

// remove forgets the session id and gives its place back.
func (t *sessionTable[S]) remove(id string) {
	t.mu.Lock()
	e, ok := t.sessions[id]
	delete(t.sessions, id)
	t.mu.Unlock()
	if ok {
		t.limits.release(e.caller)
	}
}

// all returns the open sessions that match keep (every one when keep is nil).
func (t *sessionTable[S]) all(keep func(S) bool) []S {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]S, 0, len(t.sessions))
	for _, e := range t.sessions {
		if keep == nil || keep(e.s) {
			out = append(out, e.s)
		}
	}
	return out
}

// drain refuses new sessions from now on; open ones go on.
func (t *sessionTable[S]) drain() {
	t.mu.Lock()
	t.draining = true
	t.mu.Unlock()
}

// closeAll shuts the table once: later adds fail, done closes, and every
// session is closed (outside the lock: a session's close removes itself).
func (t *sessionTable[S]) closeAll() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	close(t.done)
	t.mu.Unlock()
	for _, s := range t.all(nil) {
		s.close("the proxy is shutting down")
	}
}
