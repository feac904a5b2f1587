package scripting

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math"

	"github.com/mcpscript/mcpscript/internal/hostproc"
	"github.com/mcpscript/mcpscript/internal/jsrt"
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
//	msgCall   seq, phase, server, method, token, session, transport,
//	          tool, arguments, params, result, items
//	msgStoreReply  the answer to a msgStore
//
// On the control pipe: msgCancel seq (interrupt call seq, if it runs).
//
// From the host: msgReady phases (a runtime was built); msgDecision
// deny, result, arguments, params, server, tool, items; msgError kind,
// flags, cause, message; msgLog level, message; msgStore op, key,
// value/n (the host waits for the msgStoreReply).
const (
	msgInit        = 'I'
	msgBuild       = 'B'
	msgCall        = 'C'
	msgStoreReply  = 'r'
	msgCancel      = 'X'
	msgReady       = 'R'
	msgDecision    = 'D'
	msgError       = 'E'
	msgLog         = 'L'
	msgStore       = 'S'
	storeGet       = 'g'
	storeSet       = 's'
	storeRemove    = 'd'
	storeIncr      = 'i'
	replyNone      = 0 // absent / false
	replyValue     = 1 // a string / true
	replyNumber    = 2
	replyError     = 3
	errPlain       = 0 // message only
	errScript      = 1 // a *jsrt.ScriptError
	errInterrupted = 2 // "interrupted at ...": the parent adds the cause
	flagBroken     = 1 // the runtime was discarded
	flagDeadline   = 2 // a build stopped at the load timeout
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

func putFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
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

func (w *wire) float() float64 {
	if w.err != nil || len(w.b) < 8 {
		w.err = errBadMessage
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(w.b))
	w.b = w.b[8:]
	return f
}

// encodeCall appends a msgCall frame for in to buf.
func encodeCall(buf []byte, seq uint64, i int, in *Input) []byte {
	b := hostproc.Begin(buf)
	b = append(b, msgCall)
	b = binary.AppendUvarint(b, seq)
	b = append(b, byte(i))
	b = putString(b, in.Server)
	b = putString(b, in.Method)
	b = putString(b, in.Caller.Token)
	b = putString(b, in.Caller.Session)
	b = putString(b, in.Caller.Transport)
	b = putString(b, in.Tool)
	b = putBytes(b, in.Arguments)
	b = putBytes(b, in.Params)
	b = putBytes(b, in.Result)
	return putBytes(b, in.Items)
}

// decodeCall reads a msgCall (after its kind byte); the JSON fields are
// slices of the frame.
func decodeCall(w *wire) (seq uint64, i int, in *Input) {
	seq = w.uvarint()
	i = int(w.byte())
	if i >= numPhases {
		w.err = errBadMessage
		return 0, 0, nil
	}
	in = &Input{Hook: Phases[i]}
	in.Server = w.string()
	in.Method = w.string()
	in.Caller.Token = w.string()
	in.Caller.Session = w.string()
	in.Caller.Transport = w.string()
	in.Tool = w.string()
	in.Arguments = w.bytes()
	in.Params = w.bytes()
	in.Result = w.bytes()
	in.Items = w.bytes()
	return seq, i, in
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
	return putBytes(b, d.Items)
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
	if d.Deny == nil && d.Result == nil && d.Arguments == nil && d.Params == nil && d.Server == "" && d.Tool == "" && d.Items == nil {
		return nil
	}
	return d
}
