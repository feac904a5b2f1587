package scripting

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"time"

	"github.com/mcpscript/mcpscript/internal/hostproc"
	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/limits"
)

// The messages between a script's process and its host processes. Each is
// one frame (hostproc.Begin) whose first byte is its kind; strings and
// JSON travel as a length (uvarint) and their bytes, as they are: a
// call's arguments or result are never decoded or encoded again on the
// way.
//
// To the host, on the request pipe:
//
//	msgInit   once, first: name, path, source, readDir, env names,
//	          maxCallStackSize, memory limit, lowest log level enabled
//	msgBuild  build a runtime: load timeout (ns)
//	msgCall   seq, phase, flags, server, method, the caller (token,
//	          session, transport, auth, subject, clientId, scopes,
//	          claims, client name and version, protocol), tool,
//	          arguments, params, result, items, state
//	msgBackendReply  the answer to a msgStore or msgLimit
//
// On the control pipe: msgCancel seq (interrupt call seq, if it runs).
//
// From the host: msgReady phases (a runtime was built); msgDecision
// deny, result, arguments, params, server, tool, items, state; msgError
// kind, flags, cause, message (and, for errLimited, the refusal);
// msgLog level, message; msgStore op, key, value, n, ttl and msgLimit
// key, name, limits (the host waits for the msgBackendReply); msgAudit
// key, value (no answer: sent only when the call's flags say the
// request is recorded).
const (
	msgInit         = 'I'
	msgBuild        = 'B'
	msgCall         = 'C'
	msgBackendReply = 'r'
	msgCancel       = 'X'
	msgReady        = 'R'
	msgDecision     = 'D'
	msgError        = 'E'
	msgLog          = 'L'
	msgStore        = 'S'
	msgLimit        = 'T'
	msgAudit        = 'A'
	storeGet        = 'g'
	storeSet        = 's'
	storeRemove     = 'd'
	storeIncr       = 'i'
	replyNone       = 0 // absent / false
	replyValue      = 1 // a string / true
	replyNumber     = 2 // a varint
	replyError      = 3 // the arguments were refused: message
	replyBackend    = 4 // the backend could not serve: message
	replyLimited    = 5 // take refused: the limit's index, retry after (ns)
	errPlain        = 0 // message only
	errScript       = 1 // a *jsrt.ScriptError
	errInterrupted  = 2 // "interrupted at ...": the parent adds the cause
	errLimited      = 3 // a *jsrt.ScriptError carrying a *limits.LimitedError
	flagBroken      = 1 // the runtime was discarded
	flagDeadline    = 2 // a build stopped at the load timeout
	callAudited     = 1 // msgCall flag: the request is recorded (send audit.add)
)

// causes are the Go errors a script's exception may carry that callers
// test for with errors.Is; they cross as their index (0: none).
var causes = []error{nil, jsrt.ErrNotGranted, jsrt.ErrOutsideReadDir, fs.ErrNotExist, fs.ErrPermission}

func causeCode(err error) byte {
	for i, c := range causes[1:] {
		if errors.Is(err, c) {
			return byte(i + 1)
		}
	}
	return 0
}

func putBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func putString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errBadMessage is a message that does not parse: the other process is
// not what it should be, and is dropped.
var errBadMessage = errors.New("malformed message")

// wire reads a message's fields in order; the first error sticks.
type wire struct {
	b   []byte
	err error
}

func (w *wire) byte() byte {
	if w.err != nil || len(w.b) < 1 {
		w.err = errBadMessage
		return 0
	}
	c := w.b[0]
	w.b = w.b[1:]
	return c
}

func (w *wire) uvarint() uint64 {
	if w.err != nil {
		return 0
	}
	v, n := binary.Uvarint(w.b)
	if n <= 0 {
		w.err = errBadMessage
		return 0
	}
	w.b = w.b[n:]
	return v
}

// bytes returns the next field, a slice of the message (valid as long as
// the frame is).
func (w *wire) bytes() []byte {
	n := w.uvarint()
	if w.err != nil || uint64(len(w.b)) < n {
		w.err = errBadMessage
		return nil
	}
	s := w.b[:n:n]
	w.b = w.b[n:]
	return s
}

func (w *wire) string() string { return string(w.bytes()) }

// encodeCall appends a msgCall frame for in to buf.
func encodeCall(buf []byte, seq uint64, i int, in *Input) []byte {
	b := hostproc.Begin(buf)
	b = append(b, msgCall)
	b = binary.AppendUvarint(b, seq)
	b = append(b, byte(i))
	var flags byte
	if in.Notes != nil {
		flags |= callAudited
	}
	b = append(b, flags)
	b = putString(b, in.Server)
	b = putString(b, in.Method)
	c := &in.Caller
	for _, s := range [...]string{c.Token, c.Session, c.Transport, c.Auth, c.Subject, c.ClientID} {
		b = putString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Scopes)))
	for _, s := range c.Scopes {
		b = putString(b, s)
	}
	b = putBytes(b, c.Claims)
	b = putString(b, c.Client.Name)
	b = putString(b, c.Client.Version)
	b = putString(b, c.Protocol)
	b = putString(b, in.Tool)
	b = putBytes(b, in.Arguments)
	b = putBytes(b, in.Params)
	b = putBytes(b, in.Result)
	b = putBytes(b, in.Items)
	return putBytes(b, in.State)
}

// maxScopes bounds the scopes a msgCall may say it carries.
const maxScopes = 1 << 16

// decodeCall reads a msgCall (after its kind byte); the JSON fields are
// slices of the frame.
func decodeCall(w *wire) (seq uint64, i int, flags byte, in *Input) {
	seq = w.uvarint()
	i = int(w.byte())
	flags = w.byte()
	if i >= numPhases {
		w.err = errBadMessage
		return 0, 0, 0, nil
	}
	in = &Input{Hook: Phases[i]}
	in.Server = w.string()
	in.Method = w.string()
	c := &in.Caller
	for _, s := range [...]*string{&c.Token, &c.Session, &c.Transport, &c.Auth, &c.Subject, &c.ClientID} {
		*s = w.string()
	}
	n := w.uvarint()
	if n > maxScopes {
		w.err = errBadMessage
		return 0, 0, 0, nil
	}
	if n > 0 {
		c.Scopes = make([]string, n)
		for k := range c.Scopes {
			c.Scopes[k] = w.string()
		}
	}
	c.Claims = w.bytes()
	c.Client.Name = w.string()
	c.Client.Version = w.string()
	c.Protocol = w.string()
	in.Tool = w.string()
	in.Arguments = w.bytes()
	in.Params = w.bytes()
	in.Result = w.bytes()
	in.Items = w.bytes()
	in.State = w.bytes()
	return seq, i, flags, in
}

// encodeDecision appends a msgDecision frame for d (nil: continue).
func encodeDecision(buf []byte, d *Decision) []byte {
	b := hostproc.Begin(buf)
	b = append(b, msgDecision)
	if d == nil {
		d = &Decision{}
	}
	b = putBytes(b, d.Deny)
	b = putBytes(b, d.Result)
	b = putBytes(b, d.Arguments)
	b = putBytes(b, d.Params)
	b = putString(b, d.Server)
	b = putString(b, d.Tool)
	b = putBytes(b, d.Items)
	return putBytes(b, d.State)
}

// decodeDecision reads a msgDecision, copying what it keeps.
func decodeDecision(w *wire) *Decision {
	raw := func() []byte {
		b := w.bytes()
		if len(b) == 0 {
			return nil
		}
		return append([]byte(nil), b...)
	}
	d := &Decision{}
	d.Deny = raw()
	d.Result = raw()
	d.Arguments = raw()
	d.Params = raw()
	d.Server = w.string()
	d.Tool = w.string()
	d.Items = raw()
	d.State = raw()
	if d.Deny == nil && d.Result == nil && d.Arguments == nil && d.Params == nil && d.Server == "" && d.Tool == "" && d.Items == nil && d.State == nil {
		return nil
	}
	return d
}

// putLimit appends a limit: kind, count, period, burst, monthly.
func putLimit(b []byte, l limits.Limit) []byte {
	b = append(b, byte(l.Kind))
	b = binary.AppendUvarint(b, uint64(l.Count))
	b = binary.AppendUvarint(b, uint64(l.Period))
	b = binary.AppendUvarint(b, uint64(l.Burst))
	if l.Monthly {
		return append(b, 1)
	}
	return append(b, 0)
}

// limit reads what putLimit wrote.
func (w *wire) limit() limits.Limit {
	l := limits.Limit{Kind: limits.Kind(w.byte())}
	l.Count = int64(w.uvarint())
	l.Period = time.Duration(w.uvarint())
	l.Burst = int64(w.uvarint())
	l.Monthly = w.byte() == 1
	return l
}

func (w *wire) varint() int64 {
	if w.err != nil {
		return 0
	}
	v, n := binary.Varint(w.b)
	if n <= 0 {
		w.err = errBadMessage
		return 0
	}
	w.b = w.b[n:]
	return v
}
