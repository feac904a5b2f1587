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
	"strings"
	"sync"
	"time"

	"github.com/mcpscript/mcpscript/internal/hostproc"
	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/limits"
)

// hostRole names the helper processes that run JavaScript hooks.
const hostRole = "jshost"

// RunHostIfRequested must be called first thing in main by a program that
// loads hook scripts and wants them isolated (the mcpscript command
// does; so do the test binaries of packages that load hooks). If this
// process was started as a hook host it serves its parent and never
// returns; otherwise it records that the executable can serve as one and
// returns at once.
//
// A hook host is the running executable started again: it runs one
// script's runtime, one call at a time, under a memory limit, and is
// killed by its parent when a call does not stop at its deadline (see
// ScriptOptions.Isolation). A program that does not call it runs hooks in
// its own process (IsolationAuto, with a warning in the log) or cannot
// load them (IsolationProcess, ErrNoHost).
func RunHostIfRequested() {
	if c, ok := hostproc.Child(hostRole); ok {
		os.Exit(serveHost(c))
	}
	hostproc.Enable()
}

// errHostInterrupt interrupts a host's call on the parent's request; the
// parent gives the error its own cause (the call's context).
var errHostInterrupt = errors.New("interrupted by the parent")

// host is the state of a hook host process.
type host struct {
	conn  *hostproc.Conn
	src   *jsrt.Script
	opts  jsrt.Options
	dog   *hostproc.Watchdog
	out   []byte // the frame being sent (one at a time: everything runs on one goroutine but the control reader)
	limit int    // the largest request accepted

	audited bool // the call in progress is recorded: audit.add is sent

	mu          sync.Mutex // guards the three below against the control reader
	r           *jsVM      // the runtime; nil between a broken call and the next build
	seq         uint64     // the call running, 0 when none
	interrupted bool       // the control reader interrupted the call
}

// serveHost is a host's life: the script from msgInit, then builds and
// calls until its parent closes the request pipe. It returns the exit
// status.
func serveHost(c *hostproc.Conn) int {
	h := &host{conn: c}
	p, err := c.Requests.Next(1 << 30)
	if err != nil {
		return 0
	}
	w := &wire{b: p}
	if w.byte() != msgInit {
		fmt.Fprintln(os.Stderr, "hook host: expected the script first")
		return 2
	}
	name, path, source, readDir := w.string(), w.string(), w.string(), w.string()
	var env []string
	for n := w.uvarint(); n > 0 && w.err == nil; n-- {
		env = append(env, w.string())
	}
	maxStack := int(w.uvarint())
	memory := int64(w.uvarint())
	minLevel := slog.Level(int64(w.uvarint()) - 16)
	if w.err != nil {
		fmt.Fprintln(os.Stderr, "hook host: bad init message")
		return 2
	}
	h.limit = int(min(memory, 1<<30))
	h.src, err = jsrt.Compile(name, path, source)
	if err != nil {
		// The parent compiled the same source: not expected.
		fmt.Fprintln(os.Stderr, "hook host:", err)
		return 2
	}
	h.opts = jsrt.Options{
		Logger:           slog.New(&hostLogHandler{h: h, min: minLevel}),
		Grants:           jsrt.Grants{Env: env, ReadDir: readDir},
		MaxCallStackSize: maxStack,
	}
	if readDir != "" {
		root, err := os.OpenRoot(readDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hook host: scripts.readDir:", err)
			return 2
		}
		h.opts.Root = root
	}
	h.dog = hostproc.LimitMemory(memory)
	go h.control()
	for {
		p, err := c.Requests.Next(h.limit)
		if err != nil {
			if err == io.EOF {
				return 0
			}
			fmt.Fprintln(os.Stderr, "hook host: reading a request:", err)
			return 2
		}
		h.dog.Arm()
		w := &wire{b: p}
		switch w.byte() {
		case msgBuild:
			err = h.build(time.Duration(w.uvarint()))
		case msgCall:
			err = h.call(w)
		default:
			err = errBadMessage
		}
		h.dog.Disarm()
		if err != nil {
			// The pipe to the parent broke, or it sent nonsense.
			fmt.Fprintln(os.Stderr, "hook host:", err)
			return 2
		}
	}
}

// control reads the control pipe: msgCancel interrupts the call it names,
// if that call still runs.
func (h *host) control() {
	for {
		p, err := h.conn.Control.Next(64)
		if err != nil {
			os.Exit(0) // the parent is gone
		}
		w := &wire{b: p}
		if w.byte() != msgCancel {
			continue
		}
		seq := w.uvarint()
		h.mu.Lock()
		if h.seq == seq && seq != 0 && h.r != nil {
			h.interrupted = true
			h.r.vm.Interrupt(errHostInterrupt)
		}
		h.mu.Unlock()
	}
}

// build replaces the runtime with a new one and says so: msgReady, or
// msgError.
func (h *host) build(timeout time.Duration) error {
	h.mu.Lock()
	h.r = nil
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	r, exports, err := buildVM(ctx, h.src, h.opts, remoteBackend{h})
	cancel()
	if err == nil && r.phases() == 0 {
		err = noHooksError(h.src.Path, exports)
	}
	if err != nil {
		var flags byte
		if errors.Is(err, context.DeadlineExceeded) {
			flags = flagDeadline
			err = errors.New(strings.TrimSuffix(err.Error(), ": "+context.DeadlineExceeded.Error()))
		}
		return h.sendError(err, flags)
	}
	h.mu.Lock()
	h.r = r
	h.mu.Unlock()
	b := append(hostproc.Begin(h.out), msgReady)
	h.out = binary.AppendUvarint(b, uint64(r.phases()))
	return h.conn.Send(h.out)
}

// call runs one call and answers it; a broken runtime is dropped (the
// parent builds another when it needs one).
func (h *host) call(w *wire) error {
	seq, i, flags, in := decodeCall(w)
	if w.err != nil {
		return w.err
	}
	h.audited = flags&callAudited != 0
	h.mu.Lock()
	r := h.r
	h.seq, h.interrupted = seq, false
	h.mu.Unlock()
	if r == nil {
		return h.sendError(errors.New("no runtime: the parent called before building one"), flagBroken)
	}
	d, broken, err := r.call(i, in)
	h.mu.Lock()
	if h.interrupted {
		broken = true // the interrupt landed, or will: never use r again
	}
	h.seq = 0
	if broken {
		h.r = nil
	}
	h.mu.Unlock()
	if err != nil {
		var flags byte
		if broken {
			flags = flagBroken
		}
		return h.sendError(err, flags)
	}
	if broken {
		return h.sendError(errors.New("interrupted"), flagBroken)
	}
	h.out = encodeDecision(h.out, d)
	return h.conn.Send(h.out)
}

// sendError reports err: its kind (an exception, with the Go error it
// carries; an interrupt; anything else) and flags.
func (h *host) sendError(err error, flags byte) error {
	kind, msg, cause := byte(errPlain), err.Error(), causeCode(err)
	var le *limits.LimitedError
	if errors.Is(err, errHostInterrupt) {
		kind, msg = errInterrupted, strings.TrimSuffix(msg, ": "+errHostInterrupt.Error())
	} else if se, ok := err.(*jsrt.ScriptError); ok {
		kind, msg = errScript, se.Message
		if errors.As(se.Err, &le) {
			kind = errLimited
		}
	}
	b := append(hostproc.Begin(h.out), msgError, kind, flags, cause)
	b = putString(b, msg)
	if kind == errLimited {
		b = putString(b, le.Rule)
		b = putString(b, le.Key)
		b = binary.AppendUvarint(b, uint64(le.RetryAfter))
		b = putLimit(b, le.Limit)
	}
	h.out = b
	return h.conn.Send(h.out)
}

// ask sends a request for the parent's backends (a frame begun in h.out
// with its kind) and returns the answer's kind and the rest of it.
func (h *host) ask(b []byte) (kind byte, w *wire) {
	h.out = b
	if err := h.conn.Send(h.out); err != nil {
		os.Exit(0) // the parent is gone
	}
	p, err := h.conn.Requests.Next(h.limit)
	if err != nil {
		os.Exit(0)
	}
	w = &wire{b: p}
	if w.byte() != msgBackendReply {
		fmt.Fprintln(os.Stderr, "hook host: expected a backend reply")
		os.Exit(2)
	}
	return w.byte(), w
}

// askStore sends a store operation.
func (h *host) askStore(op byte, key, value string, n int64, ttl time.Duration) (kind byte, w *wire) {
	b := append(hostproc.Begin(h.out), msgStore, op)
	b = putString(b, key)
	b = putString(b, value)
	b = binary.AppendVarint(b, n)
	b = binary.AppendUvarint(b, uint64(ttl))
	return h.ask(b)
}

// remoteBackend is a host's store, limits and audit: every operation goes
// to the parent, whose backends stay one, shared and atomic, across host
// processes, and which knows the call's context and audit record (the
// callEnv arguments are the host's own, unused).
type remoteBackend struct{ h *host }

// replyErr is the error of an answer that is not a value: a refusal of
// the arguments, or the backend failing (the parent has recorded that on
// the call already).
func replyErr(op string, kind byte, w *wire) error {
	switch kind {
	case replyError:
		return errors.New(w.string())
	case replyBackend:
		return &BackendError{Op: op, Err: errors.New(w.string())}
	}
	return fmt.Errorf("%s: unexpected answer %d from the parent", op, kind)
}

func (s remoteBackend) get(_ *callEnv, key string) (string, bool, error) {
	switch kind, w := s.h.askStore(storeGet, key, "", 0, 0); kind {
	case replyValue:
		return w.string(), true, nil
	case replyNone:
		return "", false, nil
	default:
		return "", false, replyErr("store.get", kind, w)
	}
}

func (s remoteBackend) set(_ *callEnv, key, value string, ttl time.Duration) error {
	if kind, w := s.h.askStore(storeSet, key, value, 0, ttl); kind != replyNone {
		return replyErr("store.set", kind, w)
	}
	return nil
}

func (s remoteBackend) remove(_ *callEnv, key string) (bool, error) {
	switch kind, w := s.h.askStore(storeRemove, key, "", 0, 0); kind {
	case replyValue:
		return true, nil
	case replyNone:
		return false, nil
	default:
		return false, replyErr("store.delete", kind, w)
	}
}

func (s remoteBackend) incr(_ *callEnv, key string, n int64, ttl time.Duration) (int64, error) {
	kind, w := s.h.askStore(storeIncr, key, "", n, ttl)
	if kind != replyNumber {
		return 0, replyErr("store.incr", kind, w)
	}
	return w.varint(), nil
}

func (s remoteBackend) take(_ *callEnv, key, name string, ls []limits.Limit) (int64, error) {
	b := append(hostproc.Begin(s.h.out), msgLimit)
	b = putString(b, key)
	b = putString(b, name)
	b = binary.AppendUvarint(b, uint64(len(ls)))
	for _, l := range ls {
		b = putLimit(b, l)
	}
	switch kind, w := s.h.ask(b); kind {
	case replyNumber:
		return w.varint(), nil
	case replyLimited:
		i, after := w.uvarint(), time.Duration(w.uvarint())
		if w.err != nil || i >= uint64(len(ls)) {
			return 0, errors.New("limits.take: a malformed answer from the parent")
		}
		return 0, &limits.LimitedError{Rule: name, Key: key, RetryAfter: after, Limit: ls[i]}
	default:
		return 0, replyErr("limits.take", kind, w)
	}
}

func (s remoteBackend) audit(_ *callEnv, key string, value json.RawMessage) {
	if !s.h.audited {
		return
	}
	b := append(hostproc.Begin(s.h.out), msgAudit)
	b = putString(b, key)
	s.h.out = putBytes(b, value)
	if err := s.h.conn.Send(s.h.out); err != nil {
		os.Exit(0)
	}
}

// maxLogMessage bounds one console message sent to the parent.
const maxLogMessage = 64 << 10

// hostLogHandler sends a host's console output to the parent, which logs
// it with the script's name.
type hostLogHandler struct {
	h   *host
	min slog.Level
}

func (l *hostLogHandler) Enabled(_ context.Context, level slog.Level) bool { return level >= l.min }

func (l *hostLogHandler) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	if len(msg) > maxLogMessage {
		msg = msg[:maxLogMessage] + "…"
	}
	b := append(hostproc.Begin(l.h.out), msgLog)
	b = binary.AppendUvarint(b, uint64(int64(rec.Level)+16))
	l.h.out = putString(b, msg)
	if err := l.h.conn.Send(l.h.out); err != nil {
		os.Exit(0)
	}
	return nil
}

func (l *hostLogHandler) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *hostLogHandler) WithGroup(string) slog.Handler      { return l }
