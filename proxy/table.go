package proxy

import "sync"

// session is what the session table needs of a transport's session.
type session interface {
	sessionID() string
	tokenName() string // the name of the token that opened it ("" when auth is off)
	close(reason string)
}

// sessionTable holds the open sessions of one transport, by id. Both HTTP
// transports keep theirs in one: adding, finding (for the token that opened
// it only), removing and closing them all at shutdown.
type sessionTable[S session] struct {
	mu       sync.Mutex
	sessions map[string]S
	closed   bool
	done     chan struct{} // closed by closeAll
}

func newSessionTable[S session]() *sessionTable[S] {
	return &sessionTable[S]{sessions: map[string]S{}, done: make(chan struct{})}
}

// add registers s; it fails once the table is closed.
func (t *sessionTable[S]) add(s S) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errShuttingDown
	}
	t.sessions[s.sessionID()] = s
	return nil
}

// lookup returns the session id if the same token opened it. A session of
// another token is not found: the caller learns nothing of it.
func (t *sessionTable[S]) lookup(id, token string) (S, bool) {
	t.mu.Lock()
	s, ok := t.sessions[id]
	t.mu.Unlock()
	if !ok || !sameToken(s.tokenName(), token) {
		var zero S
		return zero, false
	}
	return s, true
}

// remove forgets the session id.
func (t *sessionTable[S]) remove(id string) {
	t.mu.Lock()
	delete(t.sessions, id)
	t.mu.Unlock()
}

// all returns the open sessions that match keep (every one when keep is nil).
func (t *sessionTable[S]) all(keep func(S) bool) []S {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]S, 0, len(t.sessions))
	for _, s := range t.sessions {
		if keep == nil || keep(s) {
			out = append(out, s)
		}
	}
	return out
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
