package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpscript/mcpscript/internal/lograte"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// handler receives what a server sends on its own initiative. Both methods are
// called from the connection's goroutines: notifications in arrival order from
// the reader (so they must not block), requests each on a goroutine of its own.
type handler interface {
	handleNotification(method string, params json.RawMessage)
	handleRequest(ctx context.Context, method string, params json.RawMessage) (any, error)
}

// conn is one JSON-RPC 2.0 connection over newline-delimited messages, the
// framing of MCP's stdio transport. Any number of requests may be in flight;
// each gets exactly one outcome: its response, its context's error, or the
// connection's error when the connection breaks. Messages stay raw bytes: only
// the envelope is decoded.
type conn struct {
	name     string
	w        io.WriteCloser
	logger   *slog.Logger
	h        handler
	onEOF    func() error // explains an EOF from the server (e.g. its exit status)
	maxFrame int
	noise    *lograte.Limiter // what the server writes that is not JSON-RPC: logged within a bound

	writeSem chan struct{} // one writer at a time, and waiting for it honours ctx
	writing  atomic.Pointer[writeOp]
	nextID   atomic.Int64
	eof      atomic.Bool // the server closed its output (rather than us breaking the connection)

	mu       sync.Mutex
	pending  map[int64]*call
	incoming map[string]context.CancelFunc // server→client requests being served, by wire.IDKey
	err      error                         // why the connection ended; set once
	done     chan struct{}                 // closed when err is set
	baseCtx  context.Context               // parent of server→client request contexts
	cancel   context.CancelFunc
}

type call struct {
	method   string
	result   chan callResult // buffered; whoever removes the call from pending sends once
	progress func(json.RawMessage)
}

type callResult struct {
	result json.RawMessage
	err    error
}

type connOptions struct {
	name     string
	maxFrame int
	logger   *slog.Logger
	handler  handler
	onEOF    func() error
}

func newConn(r io.Reader, w io.WriteCloser, opts connOptions) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		name:     opts.name,
		w:        w,
		logger:   opts.logger,
		h:        opts.handler,
		onEOF:    opts.onEOF,
		maxFrame: opts.maxFrame,
		noise:    lograte.New(noiseBurst, noiseWindow),
		writeSem: make(chan struct{}, 1),
		pending:  make(map[int64]*call),
		incoming: make(map[string]context.CancelFunc),
		done:     make(chan struct{}),
		baseCtx:  ctx,
		cancel:   cancel,
	}
	go c.readLoop(r)
	go c.watchWrites()
	return c
}

// call sends a request and waits for its outcome. params must be valid
// JSON (or empty). When progress is set, the request carries a progress
// token of the connection's own (replacing any the params had) and
// progress receives the server's notifications/progress params for it.
// When ctx ends first, the server is told with notifications/cancelled
// (never for initialize, which MCP forbids cancelling) and a late response
// is dropped.
func (c *conn) call(ctx context.Context, method string, params json.RawMessage, progress func(json.RawMessage)) (json.RawMessage, error) {
	id := c.nextID.Add(1)
	var idBuf [20]byte
	rawID := strconv.AppendInt(idBuf[:0], id, 10)
	if progress != nil {
		params = rawjson.SetPathValid(params, []string{"_meta", "progressToken"}, rawID)
	}
	cl := &call{method: method, result: make(chan callResult, 1), progress: progress}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, c.err)
	}
	c.pending[id] = cl
	c.mu.Unlock()

	start := time.Now()
	bufp := frameBuffers.Get().(*[]byte)
	data := wire.AppendRequest((*bufp)[:0], rawID, method, params)
	err := c.write(ctx, data)
	if cap(data) <= maxPooledFrame { // the pipe has its own copy now
		*bufp = data[:0]
		frameBuffers.Put(bufp)
	}
	if err != nil {
		if c.take(id) != nil {
			if ctx.Err() != nil {
				return nil, c.contextError(ctx, method, time.Since(start))
			}
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		r := <-cl.result // the connection failed and already answered the call
		return r.result, r.err
	}

	select {
	case r := <-cl.result:
		return r.result, r.err
	case <-ctx.Done():
		if c.take(id) == nil {
			r := <-cl.result // the outcome raced in; prefer it
			return r.result, r.err
		}
		if method != "initialize" {
			go c.sendCancelled(rawID, context.Cause(ctx))
		}
		return nil, c.contextError(ctx, method, time.Since(start))
	}
}

// frameBuffers holds the buffers requests are encoded into: a request's
// frame is written to the server before call waits, so its buffer is free
// again at once, and a forwarded request costs no allocation of its size.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledFrame bounds the buffers kept: a rare huge request should not
// pin its memory.
const maxPooledFrame = 1 << 20

func (c *conn) contextError(ctx context.Context, method string, elapsed time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: server %q did not answer %s within %s; the request was cancelled: %w",
			ErrTimeout, c.name, method, elapsed.Round(time.Millisecond), context.DeadlineExceeded)
	}
	return fmt.Errorf("server %q: %s: %w", c.name, method, context.Cause(ctx))
}

func (c *conn) sendCancelled(rawID []byte, cause error) {
	reason := "cancelled"
	if cause != nil {
		reason = cause.Error()
	}
	params := append([]byte(`{"requestId":`), rawID...)
	params = append(params, `,"reason":`...)
	params = append(rawjson.AppendQuote(params, reason), '}')
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.notify(ctx, "notifications/cancelled", params); err != nil {
		c.logger.Debug("could not send cancellation", "server", c.name, "id", string(rawID), "err", err)
	}
}

// notify sends a notification; params must be valid JSON (or empty).
func (c *conn) notify(ctx context.Context, method string, params json.RawMessage) error {
	return c.write(ctx, wire.Notification(method, params))
}

// write sends one message, which must be valid JSON that the caller no
// longer uses (its line breaks, whitespace in valid JSON, are replaced to
// frame it as one line). A failed or abandoned write breaks the
// connection: the stream may hold half a message.
func (c *conn) write(ctx context.Context, data []byte) error {
	select {
	case c.writeSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
	defer func() { <-c.writeSem }()
	if c.isClosed() {
		return c.closedErr()
	}
	if err := ctx.Err(); err != nil {
		return err // never start a write for a request that is already over
	}
	// A server that stops reading its stdin blocks the pipe; only closing
	// the connection unblocks the write. The watchdog (watchWrites) closes
	// it when a write outlives its context by writeStallGrace: a deadline
	// that fires during an ordinary write must not break the connection
	// others share.
	rawjson.Flatten(data)
	data = append(data, '\n')
	c.writing.Store(&writeOp{ctx: ctx})
	_, err := c.w.Write(data)
	c.writing.Store(nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Most often the server has exited: wait a moment for the reader to
		// report the exit status and stderr tail, which say more than EPIPE.
		_ = c.w.Close()
		select {
		case <-c.done:
		case <-time.After(3 * time.Second):
			c.fail(fmt.Errorf("writing to server %q: %w", c.name, err))
		}
		return c.closedErr()
	}
	return nil
}

// writeOp is the write under way, for the watchdog.
type writeOp struct{ ctx context.Context }

// watchWrites closes the connection when a write stays blocked for
// writeStallGrace after its context ended. One goroutine per connection,
// instead of a timer per write: most writes take microseconds.
func (c *conn) watchWrites() {
	t := time.NewTicker(writeStallGrace / 4)
	defer t.Stop()
	var (
		seen  *writeOp
		since time.Time
	)
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		op := c.writing.Load()
		switch {
		case op == nil || op.ctx.Err() == nil:
			seen = nil
		case op != seen:
			seen, since = op, time.Now()
		case time.Since(since) >= writeStallGrace:
			c.close(fmt.Errorf("server %q stopped reading its input for %s past a deadline: %w",
				c.name, writeStallGrace, context.Cause(op.ctx)))
			return
		}
	}
}

// endedByServer reports whether the connection ended because the server
// closed its output, as opposed to our side breaking it (a frame over the
// limit, a stuck or failed write, a close).
func (c *conn) endedByServer() bool { return c.eof.Load() }

func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// take removes a pending call; nil means someone else already answered it.
func (c *conn) take(id int64) *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.pending[id]
	delete(c.pending, id)
	return cl
}

// fail ends the connection once: every pending call gets the error, every
// server→client request being served is cancelled.
func (c *conn) fail(err error) {
	if !errors.Is(err, ErrCommunication) {
		err = fmt.Errorf("%w: %w", ErrCommunication, err)
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = map[int64]*call{}
	close(c.done)
	c.mu.Unlock()
	c.cancel()
	for _, cl := range pending {
		cl.result <- callResult{err: fmt.Errorf("%s: %w", cl.method, err)}
	}
}

// close closes the server's stdin, which asks a stdio server to exit, and
// fails the connection with err.
func (c *conn) close(err error) {
	c.fail(err)
	_ = c.w.Close()
}

func (c *conn) readLoop(r io.Reader) {
	br := bufio.NewReaderSize(r, readBufferSize)
	var readErr error
	for {
		var frame []byte
		if frame, readErr = readFrame(br, c.maxFrame); readErr != nil {
			break
		}
		if !c.isClosed() { // after a close nothing reaches the handlers
			c.dispatch(frame)
		}
	}
	eof := errors.Is(readErr, io.EOF)
	if eof && !c.isClosed() {
		c.eof.Store(true)
	}
	var err error
	switch {
	case eof && c.onEOF != nil:
		err = c.onEOF()
	case eof:
		err = fmt.Errorf("server %q closed its output", c.name)
	case errors.Is(readErr, errFrameTooLarge):
		err = fmt.Errorf("server %q sent a message larger than %d bytes (raise maxFrameBytes for this server): %w", c.name, c.maxFrame, readErr)
	default:
		err = fmt.Errorf("reading from server %q: %w", c.name, readErr)
	}
	c.noise.Flush(context.Background(), c.logger, slog.LevelWarn, "malformed lines from the server", slog.String("server", c.name))
	c.fail(err)
	if !eof { // keep draining so a server blocked on a full stdout pipe can exit
		_, _ = io.Copy(io.Discard, br)
	}
}

var errFrameTooLarge = errors.New("message too large")

// A server that writes what is not JSON-RPC on its stdout gets noiseBurst
// warnings per noiseWindow; the rest are counted, and the count is logged.
// One child once wrote 800 MB of such warnings in 15 s.
const (
	noiseBurst  = 20
	noiseWindow = 10 * time.Second
)

// readBufferSize is the buffer of a connection's reader: a message that
// fits is read with one allocation of its own size.
const readBufferSize = 256 << 10

// writeStallGrace is how long a write may stay blocked after its deadline
// before the connection is declared stuck and closed.
const writeStallGrace = time.Second

// readFrame reads one newline-terminated line of any length up to max bytes.
// The returned slice is the caller's to keep: one allocation of its size
// when the line fits the reader's buffer.
func readFrame(br *bufio.Reader, max int) ([]byte, error) {
	chunk, err := br.ReadSlice('\n')
	switch {
	case len(chunk) > max+1: // +1: the newline does not count
		return nil, errFrameTooLarge
	case err == nil:
		return bytes.Clone(chunk), nil
	case errors.Is(err, io.EOF) && len(chunk) > 0:
		return bytes.Clone(chunk), nil // a last line without newline; EOF comes next call
	case !errors.Is(err, bufio.ErrBufferFull):
		return nil, err
	}
	buf := make([]byte, 0, 2*len(chunk))
	buf = append(buf, chunk...)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max+1 {
			return nil, errFrameTooLarge
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, nil
		default:
			return nil, err
		}
	}
}

func (c *conn) dispatch(frame []byte) {
	frame = bytes.TrimSpace(frame)
	if len(frame) == 0 {
		return
	}
	switch frame[0] {
	case '{':
		c.dispatchOne(frame)
	case '[': // a JSON-RPC batch, as 2025-03-26 peers may send
		var batch []json.RawMessage
		if err := json.Unmarshal(frame, &batch); err != nil {
			c.warnNoise("ignoring malformed JSON-RPC batch from server", err.Error(), frame)
			return
		}
		for _, m := range batch {
			c.dispatchOne(m)
		}
	default:
		c.warnNoise("ignoring non-JSON line on server stdout (servers should log to stderr)", "", frame)
	}
}

func (c *conn) dispatchOne(data []byte) {
	m, perr := wire.Parse(data)
	if perr != nil {
		c.warnNoise("ignoring malformed JSON-RPC message from server", perr.Message, data)
		return
	}
	switch m.Kind {
	case wire.KindResponse:
		c.deliver(m)
	case wire.KindRequest:
		c.serve(m)
	case wire.KindNotification:
		c.notification(m.Method, m.Params)
	}
}

// warnNoise logs a line of the server's stdout that is not a JSON-RPC
// message, within the connection's bound.
func (c *conn) warnNoise(msg, why string, line []byte) {
	c.noise.Log(context.Background(), c.logger, slog.LevelWarn, "malformed lines from the server", msg, func() []slog.Attr {
		attrs := []slog.Attr{slog.String("server", c.name)}
		if why != "" {
			attrs = append(attrs, slog.String("err", why))
		}
		return append(attrs, slog.String("line", excerpt(line)))
	})
}

func (c *conn) deliver(m *wire.Message) {
	var cl *call
	if id, err := strconv.ParseInt(string(m.ID), 10, 64); err == nil {
		cl = c.take(id)
	}
	if cl == nil {
		c.logger.Debug("dropping response to no pending request (late or cancelled)", "server", c.name, "id", string(m.ID))
		return
	}
	if m.Error != nil {
		e := wire.DecodeError(m.Error)
		cl.result <- callResult{err: &RPCError{Server: c.name, Method: cl.method, Code: e.Code, Message: e.Message, Data: e.Data}}
		return
	}
	cl.result <- callResult{result: m.Result}
}

func (c *conn) notification(method string, params json.RawMessage) {
	switch method {
	case "notifications/progress":
		tok, _ := rawjson.GetValid(params, "progressToken")
		if id, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			c.mu.Lock()
			cl := c.pending[id]
			c.mu.Unlock()
			if cl != nil && cl.progress != nil {
				// Called outside the lock: a notification racing the
				// caller's deadline may arrive just after it returned.
				cl.progress(params)
				return
			}
		}
	case "notifications/cancelled":
		if rid, ok := rawjson.GetValid(params, "requestId"); ok {
			c.mu.Lock()
			cancel := c.incoming[wire.IDKey(rid)]
			c.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
		return
	}
	if c.h != nil {
		c.h.handleNotification(method, params)
	}
}

// serve answers a request the server sent us. ping is answered here; the
// rest goes to the handler on its own goroutine, cancellable by the server.
func (c *conn) serve(req *wire.Message) {
	id := bytes.Clone(req.ID)
	if req.Method == "ping" || c.h == nil {
		var err error
		if req.Method != "ping" {
			err = &RPCError{Code: wire.CodeMethodNotFound, Message: "mcpscript does not handle " + req.Method}
		}
		go c.reply(id, struct{}{}, err)
		return
	}
	key := wire.IDKey(id)
	ctx, cancel := context.WithCancel(c.baseCtx)
	c.mu.Lock()
	c.incoming[key] = cancel
	c.mu.Unlock()
	method, params := req.Method, req.Params
	go func() {
		result, err := c.h.handleRequest(ctx, method, params)
		c.mu.Lock()
		delete(c.incoming, key)
		c.mu.Unlock()
		if ctx.Err() != nil && c.baseCtx.Err() == nil {
			cancel()
			return // the server cancelled it: MCP says not to answer
		}
		cancel()
		c.reply(id, result, err)
	}()
}

func (c *conn) reply(id []byte, result any, err error) {
	var data []byte
	if err == nil {
		raw, merr := marshalRaw(result)
		if merr == nil && !rawjson.Valid(raw) {
			merr = fmt.Errorf("the answer is not valid JSON: %s", excerpt(raw))
		}
		if merr != nil {
			err = merr
		} else {
			data = wire.Result(id, raw)
		}
	}
	if err != nil {
		e := &wire.Error{Code: wire.CodeInternalError, Message: err.Error()}
		var re *RPCError
		if errors.As(err, &re) {
			e.Code, e.Message, e.Data = re.Code, re.Message, re.Data
		}
		data = wire.ErrorResponse(id, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.write(ctx, data); err != nil {
		c.logger.Debug("could not send reply to server", "server", c.name, "err", err)
	}
}

func marshalRaw(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		if len(v) == 0 {
			return json.RawMessage("{}"), nil
		}
		return v, nil
	default:
		return json.Marshal(v)
	}
}

func excerpt(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}
