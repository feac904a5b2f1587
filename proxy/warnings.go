package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Warnings about refused browsers
//
// A page that a browser keeps from reading the proxy's answers (CORS) or
// that the proxy refuses (Origin, a stream without a token) cannot tell its
// developer why: the browser shows a generic network error. So the proxy
// says it in its log, at warn (serve's default level), naming the origin
// and the config key to set. A page can send such requests in a loop, so
// each kind of warning is logged at most once per warnEvery for the same
// key (origin, route), and at most warnBurst lines of all kinds per
// warnEvery; the next line of a key says how many were left out.

// Limits of the refusal warnings.
const (
	warnEvery = time.Minute
	warnBurst = 20
	warnKeys  = 1000 // keys remembered; beyond, new keys wait for old ones to expire
)

// warnLimiter rate-limits warnings by key.
type warnLimiter struct {
	logger *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	last       map[string]warnState
	windowFrom time.Time
	inWindow   int
}

// warnState is what the limiter remembers of one key.
type warnState struct {
	at         time.Time // when it was last logged
	suppressed int       // lines left out since
}

func newWarnLimiter(logger *slog.Logger) *warnLimiter {
	return &warnLimiter{logger: logger, now: time.Now, last: map[string]warnState{}}
}

// warn logs msg with args at warn unless key was logged within warnEvery or
// the burst is spent; a line after suppressed ones carries "suppressed".
func (w *warnLimiter) warn(key, msg string, args ...any) {
	if w == nil {
		return
	}
	now := w.now()
	w.mu.Lock()
	if now.Sub(w.windowFrom) >= warnEvery {
		w.windowFrom, w.inWindow = now, 0
	}
	st, seen := w.last[key]
	switch {
	case seen && now.Sub(st.at) < warnEvery, w.inWindow >= warnBurst:
		if seen {
			st.suppressed++
			w.last[key] = st
		}
		w.mu.Unlock()
		return
	case !seen && len(w.last) >= warnKeys:
		for k, s := range w.last {
			if now.Sub(s.at) >= warnEvery {
				delete(w.last, k)
			}
		}
		if len(w.last) >= warnKeys {
			w.mu.Unlock()
			return
		}
	}
	w.inWindow++
	w.last[key] = warnState{at: now}
	w.mu.Unlock()
	if st.suppressed > 0 {
		args = append(args, "suppressed", st.suppressed)
	}
	w.logger.Log(context.Background(), slog.LevelWarn, msg, args...)
}
