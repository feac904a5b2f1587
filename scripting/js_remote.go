package scripting

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcpscript/mcpscript/internal/hostproc"
	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/limits"
)

// killGrace is how long a host has to stop a call after its interrupt
// (at the deadline, or when the caller gives up) before it is killed: an
// interrupt stops JavaScript code within microseconds, but not a
// built-in function (Array.prototype.fill, String.prototype.repeat,
// JSON.stringify), which runs to its end. A variable for tests.
var killGrace = 200 * time.Millisecond

// maxDecision bounds what a host may send back in one message: a
// decision larger than this fails the call (and the host is dropped).
const maxDecision = 64 << 20

// errHostDied is a host process that ended in the middle of a call for
// no reason this side knows (not killed, not over its memory limit).
var errHostDied = errors.New("the hook's host process died")

// hostVM is a runtime in a host process, seen from the script's process.
// One call at a time uses it (the pool sees to that).
type hostVM struct {
	s   *Script
	p   *hostproc.Proc
	out []byte // the frame being sent
	seq uint64 // the last call's

	mu   sync.Mutex
	done uint64      // the last call that ended: a later cancel of it is void
	kill *time.Timer // armed by a cancel, stopped when the call ends in time
	dead bool        // the process is gone (or going)
	has  uint32      // the phases its runtime exports
}

// startHost starts a host process for s, with the script sent but no
// runtime built yet.
func (s *Script) startHost() (*hostVM, error) {
	// The host's environment is what the grants show, nothing more.
	var env []string
	for _, n := range s.opts.Grants.Env {
		if v, ok := os.LookupEnv(n); ok {
			env = append(env, n+"="+v)
		}
	}
	p, err := hostproc.Start(hostRole, env)
	if err != nil {
		if errors.Is(err, hostproc.ErrNotEnabled) {
			err = ErrNoHost
		}
		return nil, fmt.Errorf("script %s: %w", s.src.Path, err)
	}
	s.hosts.Add(1)
	h := &hostVM{s: s, p: p}
	minLevel := slog.LevelError + 100 // none
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if s.logger.Enabled(context.Background(), l) {
			minLevel = l
			break
		}
	}
	b := append(hostproc.Begin(nil), msgInit)
	b = putString(b, s.src.Name)
	b = putString(b, s.src.Path)
	b = putString(b, s.src.Source)
	b = putString(b, s.readDir)
	b = binary.AppendUvarint(b, uint64(len(s.opts.Grants.Env)))
	for _, n := range s.opts.Grants.Env {
		b = putString(b, n)
	}
	b = binary.AppendUvarint(b, uint64(s.opts.MaxCallStackSize))
	b = binary.AppendUvarint(b, uint64(s.memory))
	b = binary.AppendUvarint(b, uint64(int64(minLevel)+16))
	if err := p.Send(b); err != nil {
		h.dead = true
		return nil, fmt.Errorf("script %s: starting a host process: %w", s.src.Path, h.deathError(context.Background(), err))
	}
	return h, nil
}

// build asks the host for a new runtime, under loadTimeout: the host
// interrupts its top-level code then, and is killed if it does not stop
// (or when the script is closed).
func (h *hostVM) build() error {
	b := append(hostproc.Begin(h.out), msgBuild)
	h.out = binary.AppendUvarint(b, uint64(loadTimeout))
	watch := time.AfterFunc(loadTimeout+killGrace, h.p.Kill)
	stop := context.AfterFunc(h.s.life, h.p.Kill)
	defer func() {
		stop()
		watch.Stop()
	}()
	fail := func(err error) error {
		h.mu.Lock()
		h.dead = true
		h.mu.Unlock()
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.EPIPE) {
			h.p.Kill()
		}
		ex := h.p.ExitAfterEOF()
		switch {
		case ex.Killed && h.s.closed.Load():
			return fmt.Errorf("%s: %w", h.s.name, ErrScriptClosed)
		case ex.Killed && !ex.Memory:
			return fmt.Errorf("script %s: its top-level code ran past the load timeout (%v) in a built-in function, so its host process was killed: %w", h.s.src.Path, loadTimeout, context.DeadlineExceeded)
		}
		return fmt.Errorf("script %s: %w", h.s.src.Path, h.deathError(context.Background(), err))
	}
	if err := h.p.Send(h.out); err != nil {
		return fail(err)
	}
	p, err := h.await(&callEnv{ctx: h.s.life})
	if err != nil {
		return fail(err)
	}
	w := &wire{b: p}
	switch w.byte() {
	case msgReady:
		h.has = uint32(w.uvarint())
		if w.err != nil || h.has == 0 {
			return fail(errBadMessage)
		}
		return nil
	case msgError:
		err, _ := h.decodeError(context.Background(), w)
		if w.err == nil {
			return err
		}
	}
	return fail(errBadMessage)
}

// run calls phase i in the host. When ctx ends the host is asked to
// interrupt the call, and killed if it has not answered killGrace later.
func (h *hostVM) run(ctx context.Context, i int, in *Input, env *callEnv) (*Decision, bool, error) {
	h.mu.Lock()
	dead := h.dead
	h.mu.Unlock()
	if dead {
		return nil, true, h.died(ctx, errHostDied)
	}
	h.seq++
	seq := h.seq
	h.out = encodeCall(h.out, seq, i, in)
	if len(h.out) > int(min(h.s.memory, 1<<30)) {
		return nil, false, fmt.Errorf("the hook's input is %d MiB, more than its host's memory limit allows", len(h.out)>>20)
	}
	stop := context.AfterFunc(ctx, func() { h.cancel(seq) })
	err := h.p.Send(h.out)
	var p []byte
	if err == nil {
		p, err = h.await(env)
	}
	stop()
	h.mu.Lock()
	h.done = seq
	if h.kill != nil && !h.kill.Stop() {
		h.dead = true // killed, or being killed
	}
	h.kill = nil
	h.mu.Unlock()
	if err != nil {
		return nil, true, h.died(ctx, err)
	}
	w := &wire{b: p}
	switch w.byte() {
	case msgDecision:
		d := decodeDecision(w)
		if w.err == nil {
			return d, h.isDead(), nil
		}
	case msgError:
		err, broken := h.decodeError(ctx, w)
		if w.err == nil {
			return nil, broken || h.isDead(), err
		}
	}
	return nil, true, h.died(ctx, errBadMessage)
}

// cancel interrupts call seq if it still runs, and arms the kill.
func (h *hostVM) cancel(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done >= seq || h.dead {
		return
	}
	b := append(hostproc.Begin(nil), msgCancel)
	b = binary.AppendUvarint(b, seq)
	if err := h.p.Control(b); err != nil {
		h.p.Kill()
		return
	}
	h.kill = time.AfterFunc(killGrace, h.p.Kill)
}

// await reads the host's messages until the one that ends the request,
// logging its console output and serving its store, limits and audit
// operations for the call env.
func (h *hostVM) await(env *callEnv) ([]byte, error) {
	for {
		p, err := h.p.Next(maxDecision)
		if err != nil {
			return nil, err
		}
		w := &wire{b: p}
		switch w.byte() {
		case msgLog:
			level := slog.Level(int64(w.uvarint()) - 16)
			msg := w.string()
			if w.err != nil {
				return nil, w.err
			}
			h.s.logger.Log(context.Background(), level, msg, "script", h.s.name)
		case msgStore:
			if err := h.serveStore(env, w); err != nil {
				return nil, err
			}
		case msgLimit:
			if err := h.serveLimit(env, w); err != nil {
				return nil, err
			}
		case msgAudit:
			key, value := w.string(), w.bytes()
			if w.err != nil {
				return nil, w.err
			}
			h.s.back.audit(env, key, append(json.RawMessage(nil), value...))
		default:
			return p, nil
		}
	}
}

// reply appends an error answer for err: a refusal of the arguments, or
// the backend failing.
func replyFor(b []byte, err error) []byte {
	var be *BackendError
	if errors.As(err, &be) {
		return putString(append(b, replyBackend), be.Err.Error())
	}
	return putString(append(b, replyError), err.Error())
}

// serveStore answers a store operation from the host's runtime.
func (h *hostVM) serveStore(env *callEnv, w *wire) error {
	op, key, value, n, ttl := w.byte(), w.string(), w.string(), w.varint(), time.Duration(w.uvarint())
	if w.err != nil {
		return w.err
	}
	st := h.s.back
	b := append(hostproc.Begin(h.out), msgBackendReply)
	switch op {
	case storeGet:
		v, ok, err := st.get(env, key)
		switch {
		case err != nil:
			b = replyFor(b, err)
		case ok:
			b = putString(append(b, replyValue), v)
		default:
			b = append(b, replyNone)
		}
	case storeSet:
		if err := st.set(env, key, value, ttl); err != nil {
			b = replyFor(b, err)
		} else {
			b = append(b, replyNone)
		}
	case storeRemove:
		had, err := st.remove(env, key)
		switch {
		case err != nil:
			b = replyFor(b, err)
		case had:
			b = append(b, replyValue)
		default:
			b = append(b, replyNone)
		}
	case storeIncr:
		if sum, err := st.incr(env, key, n, ttl); err != nil {
			b = replyFor(b, err)
		} else {
			b = binary.AppendVarint(append(b, replyNumber), sum)
		}
	default:
		return errBadMessage
	}
	h.out = b
	return h.p.Send(b)
}

// maxTakeLimits bounds the limits of one limits.take.
const maxTakeLimits = 8

// serveLimit answers a limits.take from the host's runtime.
func (h *hostVM) serveLimit(env *callEnv, w *wire) error {
	key, name, n := w.string(), w.string(), w.uvarint()
	if n > maxTakeLimits {
		return errBadMessage
	}
	ls := make([]limits.Limit, n)
	for i := range ls {
		ls[i] = w.limit()
	}
	if w.err != nil {
		return w.err
	}
	b := append(hostproc.Begin(h.out), msgBackendReply)
	remaining, err := h.s.back.take(env, key, name, ls)
	var le *limits.LimitedError
	switch {
	case errors.As(err, &le):
		i := slices.Index(ls, le.Limit)
		b = append(b, replyLimited)
		b = binary.AppendUvarint(b, uint64(i))
		b = binary.AppendUvarint(b, uint64(le.RetryAfter))
	case err != nil:
		b = replyFor(b, err)
	default:
		b = binary.AppendVarint(append(b, replyNumber), remaining)
	}
	h.out = b
	return h.p.Send(b)
}

// decodeError reads a msgError into the error the caller gets, and
// whether the runtime was discarded.
func (h *hostVM) decodeError(ctx context.Context, w *wire) (error, bool) {
	kind, flags, cause, msg := w.byte(), w.byte(), w.byte(), w.string()
	var err error
	switch {
	case flags&flagDeadline != 0:
		err = fmt.Errorf("%s: %w", msg, context.DeadlineExceeded)
	case kind == errInterrupted:
		c := context.Cause(ctx)
		if c == nil {
			c = errHostInterrupt
		}
		err = fmt.Errorf("%s: %w", msg, c)
	case kind == errScript:
		se := &jsrt.ScriptError{Message: msg}
		if int(cause) < len(causes) {
			se.Err = causes[cause]
		}
		err = se
	case kind == errLimited:
		le := &limits.LimitedError{Rule: w.string(), Key: w.string(), RetryAfter: time.Duration(w.uvarint())}
		le.Limit = w.limit()
		err = &jsrt.ScriptError{Message: msg, Err: le}
	case int(cause) < len(causes) && cause != 0:
		err = &hostError{msg: msg, cause: causes[cause]}
	default:
		err = errors.New(msg)
	}
	return err, flags&flagBroken != 0
}

// died is the error of a request the host did not answer: it is killed
// (if it is not dead already), and the error says why it ended.
func (h *hostVM) died(ctx context.Context, err error) error {
	h.mu.Lock()
	h.dead = true
	h.mu.Unlock()
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.EPIPE) {
		h.p.Kill() // alive, but not speaking sense
	}
	return h.deathError(ctx, err)
}

// deathError explains a host's end, once it has ended or is ending.
func (h *hostVM) deathError(ctx context.Context, readErr error) error {
	ex := h.p.ExitAfterEOF()
	switch {
	case ex.Memory:
		return &MemoryLimitError{Limit: h.s.memory}
	case ex.Stack:
		return fmt.Errorf("overflowed the Go stack of its host process, which was stopped (%s)", lastLine(ex.Stderr))
	case ex.Killed && ctx.Err() != nil:
		return fmt.Errorf("still running %v after the interrupt (a built-in function such as Array.prototype.fill does not see it), so its host process was killed: %w", killGrace, context.Cause(ctx))
	case ex.Killed && h.s.closed.Load():
		return fmt.Errorf("%s: %w", h.s.name, ErrScriptClosed)
	case errors.Is(readErr, errBadMessage), errors.Is(readErr, hostproc.ErrFrameTooLarge):
		return fmt.Errorf("%w: it sent %v", errHostDied, readErr)
	}
	detail := ex.Status
	if l := lastLine(ex.Stderr); l != "" {
		detail += ": " + l
	}
	return fmt.Errorf("%w (%s)", errHostDied, detail)
}

// lastLine returns the first line of what a dying Go program printed
// that says why ("fatal error: ...", "panic: ..."), else its last line.
func lastLine(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "hook host: ") || strings.HasPrefix(l, "hostproc: ") {
			return l
		}
	}
	return lines[len(lines)-1]
}

func (h *hostVM) phases() uint32 { return h.has }

func (h *hostVM) isDead() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dead
}

// discard drops the host's runtime: the process stays as a spare for the
// next runtime while it is alive and the script open, and is killed
// otherwise.
func (h *hostVM) discard() {
	h.has = 0
	h.mu.Lock()
	dead := h.dead
	h.mu.Unlock()
	if !dead && !h.s.closed.Load() {
		select {
		case h.s.spare <- h:
			if h.s.closed.Load() {
				h.s.drain() // Close may have drained the spares before h went in
			}
			return
		default:
		}
	}
	h.mu.Lock()
	h.dead = true
	h.mu.Unlock()
	h.p.Close()
}

// hostError is a host's error that carried a Go error callers test for.
type hostError struct {
	msg   string
	cause error
}

func (e *hostError) Error() string { return e.msg }
func (e *hostError) Unwrap() error { return e.cause }
