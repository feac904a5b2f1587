package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/lograte"
	"github.com/mcpscript/mcpscript/internal/state"
)

// Backends are where hook scripts keep state and count events: what
// their store and limits globals use. The mcpscript command builds them
// from the config's "redis", "state" and "limits" sections
// (internal/policy), so that hooks share them with the configured limits,
// and across processes when they are in Redis. The zero value gives each
// script a store and a limiter of its own, in memory.
type Backends struct {
	// Store keeps what store.set writes; nil: a memory store per script
	// (state.NewMemory with its default bounds).
	Store state.Store
	// Limiter counts what limits.take takes; nil: a memory limiter per
	// script.
	Limiter limits.Limiter
	// FailOpen says what a hook call does when Store or Limiter cannot
	// be reached (state.ErrUnavailable: Redis down) or is full
	// (state.ErrFull): true (state.onError "open") carries on as if the
	// store were empty and the limits allowed everything, with a warning
	// in the log; false (the default) fails the call and refuses the
	// request with a *BackendError inside an *engine.HookError, whatever
	// the hook's own fail mode, even if the script catches the exception.
	FailOpen bool
}

// BackendError is a hook call refused because its store or limiter could
// not be reached (Backends.FailOpen false). It unwraps to the backend's
// error (state.ErrUnavailable, state.ErrFull).
type BackendError struct {
	Op  string // "store.get", "limits.take", ...
	Err error
}

func (e *BackendError) Error() string {
	return fmt.Sprintf("%s: %v (state.onError is \"closed\")", e.Op, e.Err)
}

func (e *BackendError) Unwrap() error { return e.Err }

// unreachable says err means the backend cannot serve the operation (as
// opposed to refusing its arguments).
func unreachable(err error) bool {
	return errors.Is(err, state.ErrUnavailable) || errors.Is(err, state.ErrFull)
}

// callEnv is one hook call as its store, limits and audit operations see
// it, in the process that called the hook: the call's context, the
// request's audit notes, and the first backend failure under fail-closed,
// which fails the call whatever the script did with the exception.
type callEnv struct {
	ctx     context.Context
	notes   *engine.CallNotes
	failure *BackendError
}

// backends are a script's Backends, in the process that loaded it, with
// its namespace: every key is the script's own.
type backends struct {
	ns       string // put before every key: "hook:NAME:"
	store    state.Store
	limiter  limits.Limiter
	failOpen bool
	logger   *slog.Logger
	name     string
	warn     *lograte.Limiter
}

func newBackends(b Backends, name string, logger *slog.Logger) *backends {
	if b.Store == nil {
		b.Store = state.NewMemory(state.MemoryOptions{})
	}
	if b.Limiter == nil {
		b.Limiter = limits.NewMemory(limits.MemoryOptions{})
	}
	return &backends{
		ns:    namespace(name),
		store: b.Store, limiter: b.Limiter, failOpen: b.FailOpen,
		logger: logger, name: name, warn: lograte.New(10, time.Minute),
	}
}

// namespace is the prefix of a script's keys: "hook:" and its name, with
// ":" and "%" escaped so that no two names make the same prefix.
func namespace(name string) string {
	return "hook:" + strings.NewReplacer("%", "%25", ":", "%3A").Replace(name) + ":"
}

// failed handles an error of op: a backend that could not serve is, under
// fail-open, logged (rate-limited) with ok true (the caller carries on
// with an empty answer), and under fail-closed recorded on the call, which
// will fail, and returned as a *BackendError; any other error refused the
// arguments, and is returned with op in front. Keys in messages are the
// script's own, without the namespace.
func (b *backends) failed(c *callEnv, op string, err error) (ok bool, _ error) {
	msg := strings.ReplaceAll(err.Error(), b.ns, "")
	if !unreachable(err) {
		return false, errors.New(op + ": " + msg)
	}
	if b.failOpen {
		b.warn.Log(c.ctx, b.logger, slog.LevelWarn, "state warnings", "hook's state could not be reached; carrying on without it (state.onError is \"open\")",
			func() []slog.Attr {
				return []slog.Attr{slog.String("script", b.name), slog.String("op", op), slog.String("err", msg)}
			})
		return true, nil
	}
	be := &BackendError{Op: op, Err: &backendCause{msg: msg, err: err}}
	if c.failure == nil {
		c.failure = be
	}
	return false, be
}

// backendCause is a backend's error with the script's keys in its text.
type backendCause struct {
	msg string
	err error
}

func (e *backendCause) Error() string { return e.msg }
func (e *backendCause) Unwrap() error { return e.err }

func (b *backends) get(c *callEnv, key string) (string, bool, error) {
	v, ok, err := b.store.Get(c.ctx, b.ns+key)
	if err != nil {
		_, err = b.failed(c, "store.get", err)
		return "", false, err
	}
	return string(v), ok, nil
}

func (b *backends) set(c *callEnv, key, value string, ttl time.Duration) error {
	err := b.store.Set(c.ctx, b.ns+key, []byte(value), ttl)
	if err != nil {
		_, err = b.failed(c, "store.set", err)
	}
	return err
}

// remove deletes key and says whether it was there (a Get first: stores
// do not say, and another request may change the key in between).
func (b *backends) remove(c *callEnv, key string) (bool, error) {
	_, had, err := b.store.Get(c.ctx, b.ns+key)
	if err == nil {
		err = b.store.Delete(c.ctx, b.ns+key)
	}
	if err != nil {
		_, err = b.failed(c, "store.delete", err)
		return false, err
	}
	return had, nil
}

func (b *backends) incr(c *callEnv, key string, n int64, ttl time.Duration) (int64, error) {
	v, err := b.store.Incr(c.ctx, b.ns+key, n, ttl)
	if err == nil {
		return v, nil
	}
	ok, err := b.failed(c, "store.incr", err)
	if ok {
		return n, nil // as if the key were new
	}
	return 0, err
}

// take takes one event from each of ls under key, buckets first: all
// allow it (remaining is the least left), or the first that refuses
// returns a *limits.LimitedError named name (those before it have
// counted the event). remaining is -1 when the limiter could not be
// reached and the call carries on (fail-open).
func (b *backends) take(c *callEnv, key, name string, ls []limits.Limit) (remaining int64, err error) {
	remaining = -1
	for i, l := range ls {
		d, err := b.limiter.Take(c.ctx, b.ns+key, l)
		if err != nil {
			ok, err := b.failed(c, "limits.take", err)
			if ok {
				return -1, nil
			}
			return 0, err
		}
		if !d.OK {
			return 0, &limits.LimitedError{Rule: name, Key: key, RetryAfter: d.RetryAfter, Limit: l}
		}
		if i == 0 || d.Remaining < remaining {
			remaining = d.Remaining
		}
	}
	return remaining, nil
}

// audit adds a field to the request's audit record (nothing when nobody
// records). Past engine.MaxNoteFields further keys are dropped, counted
// by the notes.
func (b *backends) audit(c *callEnv, key string, value json.RawMessage) {
	_ = c.notes.Add(map[string]any{key: value})
}
