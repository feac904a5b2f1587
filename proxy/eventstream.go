package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// This file holds the SSE machinery both HTTP transports write with: the
// eventStream.
//
// fasthttp rules followed here: a stream writer (SetBodyStreamWriter) runs
// in its own goroutine, possibly before the handler returns, and must not
// touch the fiber.Ctx or RequestCtx, so everything it needs is copied first;
// RequestCtx.Done closes only when the server shuts down; a client that went
// away shows to fasthttp only as a failed Flush, so serveConn watches the
// connection (connwatch.go), and heartbeats catch what the watch cannot.

// sseEvent is one event of an eventStream. data is never modified.
type sseEvent struct {
	seq  int64
	name string // the SSE event type ("message", "endpoint", ...)
	data []byte
}

// Errors of eventStream.attach.
var (
	errStreamClosed = errors.New("stream closed")
	errStreamBusy   = errors.New("stream already has a connection")
)

// eventStream is an ordered queue of SSE events written to at most one HTTP
// response at a time (its attachment). Producers never block: a stream with
// more than limit unwritten events overflows, which closes its session (see
// overflow), except that a detached stream with dropOldest set drops its
// oldest unwritten event instead, logging it. Written events are kept, keep
// of them at most, so that a client can resume the stream after the last
// event id it saw.
type eventStream struct {
	id         int64 // number of the stream in its session: event ids are "<id>-<seq>"
	withIDs    bool  // write id: lines
	limit      int   // most unwritten events
	keep       int   // written events kept for resumption
	dropOldest bool  // when detached, drop instead of overflowing
	overflow   func()
	logger     *slog.Logger
	queued     chan struct{} // signalled (capacity 1) when an event is queued

	mu      sync.Mutex
	events  []sseEvent // by seq: kept written events, then unwritten ones
	next    int64      // seq of the last event queued
	written int64      // highest seq written and flushed
	final   bool       // the last event is queued: the stream ends once it is written
	closed  bool       // no more writing at all
	over    bool       // overflow was reported
	dropped int        // events dropped while detached
	att     *attachment
}

// attachment is one HTTP response writing an eventStream.
type attachment struct {
	cursor int64         // seq of the last event this response has written
	wake   chan struct{} // new events (capacity 1)
	stop   chan struct{} // closed when another response takes the stream over
}

func newEventStream(id int64, withIDs bool, o transportOptions, overflow func()) *eventStream {
	st := &eventStream{id: id, withIDs: withIDs, limit: o.QueueSize, overflow: overflow, logger: o.Logger, queued: make(chan struct{}, 1)}
	if withIDs {
		st.keep = o.Replay
	}
	return st
}

// firstUnwritten returns the index in events of the first unwritten event;
// the caller holds st.mu.
func (st *eventStream) firstUnwritten() int {
	return sort.Search(len(st.events), func(i int) bool { return st.events[i].seq > st.written })
}

// push queues an event; final marks the stream's last. It reports whether
// the event was queued: not when the stream is closed or already ended, or
// when it overflowed.
func (st *eventStream) push(name string, data []byte, final bool) bool {
	st.mu.Lock()
	if st.closed || st.final || st.over {
		st.mu.Unlock()
		return false
	}
	st.next++
	st.events = append(st.events, sseEvent{seq: st.next, name: name, data: data})
	st.final = final
	overflow, dropped := false, 0
	if i := st.firstUnwritten(); len(st.events)-i > st.limit {
		if st.att == nil && st.dropOldest && !final {
			st.events = append(st.events[:i], st.events[i+1:]...)
			st.dropped++
			dropped = st.dropped
		} else {
			st.over, overflow = true, true
		}
	}
	a := st.att
	st.mu.Unlock()
	switch {
	case overflow:
		if st.overflow != nil {
			go st.overflow()
		}
		return false
	case dropped > 0 && (dropped == 1 || dropped%100 == 0):
		st.logger.Warn("proxy: no client is listening on the session's GET stream; dropping its oldest undelivered message",
			"waiting", st.limit, "dropped", dropped)
	}
	if a != nil {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	select {
	case st.queued <- struct{}{}:
	default:
	}
	return true
}

// empty reports whether no event was ever queued.
func (st *eventStream) empty() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.next == 0
}

// flushed reports whether the stream has nothing left to write to a
// client attached to it: every queued event is written, or no client is
// attached (a detached stream waits for a resume that may never come).
func (st *eventStream) flushed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.att == nil || st.closed || st.written >= st.next
}

// attach makes a response the stream's writer. With resume, writing starts
// after the event with seq cursor (as far as kept events allow), else after
// the last event written so far. With takeover, a response already attached
// is stopped; without, attach fails with errStreamBusy.
func (st *eventStream) attach(cursor int64, resume, takeover bool) (*attachment, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, errStreamClosed
	}
	if st.att != nil {
		if !takeover {
			return nil, errStreamBusy
		}
		close(st.att.stop)
	}
	a := &attachment{cursor: st.written, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	if resume {
		a.cursor = min(max(cursor, 0), st.next)
	}
	st.att = a
	return a, nil
}

// detach ends a's attachment unless another response took over.
func (st *eventStream) detach(a *attachment) {
	st.mu.Lock()
	if st.att == a {
		st.att = nil
	}
	st.mu.Unlock()
}

// close stops the stream: queued events are not written any more.
func (st *eventStream) close() {
	st.mu.Lock()
	st.closed = true
	a := st.att
	st.mu.Unlock()
	if a != nil {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// endReason says why serve returned.
type endReason int

const (
	endComplete endReason = iota // the final event was written
	endGone                      // a write failed: the client went away
	endClosed                    // the stream was closed (its session closed)
	endShutdown                  // the HTTP server is shutting down
	endReplaced                  // another response took the stream over
)

func (r endReason) String() string {
	return [...]string{"complete", "client gone", "closed", "server shutdown", "replaced"}[r]
}

// pending returns the events a should write next, and whether the stream
// is complete for a (its final event written), closed, or taken over.
func (st *eventStream) pending(a *attachment) ([]sseEvent, endReason, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.closed:
		return nil, endClosed, true
	case st.att != a:
		return nil, endReplaced, true
	}
	i := sort.Search(len(st.events), func(i int) bool { return st.events[i].seq > a.cursor })
	if i == len(st.events) {
		if st.final && a.cursor >= st.next {
			return nil, endComplete, true
		}
		return nil, 0, false
	}
	return append([]sseEvent(nil), st.events[i:]...), 0, false
}

// advance records that a wrote and flushed events up to seq, trims the kept
// events, and reports whether the final event is written.
func (st *eventStream) advance(a *attachment, seq int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	a.cursor = seq
	st.written = max(st.written, seq)
	if n := st.firstUnwritten() - st.keep; n > 0 {
		st.events = append(st.events[:0], st.events[n:]...)
	}
	return st.final && seq >= st.next
}

// serveConn is serve for a response on conn (RequestCtx.Conn, taken in the
// handler), ending as soon as the client closes conn rather than at the
// next failed write.
func (st *eventStream) serveConn(w *bufio.Writer, a *attachment, heartbeat time.Duration, done <-chan struct{}, conn net.Conn, prelude func(*bufio.Writer)) endReason {
	watch := watchConn(conn)
	defer watch.stop()
	return st.serve(w, a, heartbeat, done, watch.Gone(), prelude)
}

// serve writes the stream to w for attachment a until the stream completes
// or closes, the client goes away (a failed write, or gone closing), the
// server shuts down (done) or another response takes over. prelude, if set,
// is written first (the priming event). A heartbeat comment goes out every
// heartbeat while nothing else does.
func (st *eventStream) serve(w *bufio.Writer, a *attachment, heartbeat time.Duration, done, gone <-chan struct{}, prelude func(*bufio.Writer)) endReason {
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	if prelude != nil {
		prelude(w)
	}
	first := true
	for {
		batch, reason, end := st.pending(a)
		if end {
			if reason == endComplete && first {
				if err := w.Flush(); err != nil {
					st.detach(a)
					return endGone
				}
			}
			if reason == endComplete {
				st.detach(a)
			}
			return reason
		}
		// One flush per event: clients that read several events in one
		// chunk may handle them out of order (the TypeScript SDK runs
		// notification handlers a microtask after responses). The stream's
		// final event is not flushed: it goes out with the end of the
		// response, in the same write.
		for _, ev := range batch {
			st.writeEvent(w, ev)
			if st.isFinal(ev.seq) {
				break
			}
			if err := w.Flush(); err != nil {
				st.detach(a)
				return endGone
			}
		}
		if first && len(batch) == 0 {
			if err := w.Flush(); err != nil {
				st.detach(a)
				return endGone
			}
		}
		first = false
		if len(batch) > 0 && st.advance(a, batch[len(batch)-1].seq) {
			st.detach(a)
			return endComplete
		}
		select {
		case <-a.wake:
		case <-a.stop:
			return endReplaced
		case <-done:
			st.detach(a)
			return endShutdown
		case <-gone:
			st.detach(a)
			return endGone
		case <-ping.C:
			w.WriteString(": ping\n\n")
			if err := w.Flush(); err != nil {
				st.detach(a)
				return endGone
			}
		}
	}
}

// isFinal reports whether event seq is the stream's last.
func (st *eventStream) isFinal(seq int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.final && seq == st.next
}

// eventID is the SSE id of event seq of the stream.
func (st *eventStream) eventID(seq int64) string {
	return strconv.FormatInt(st.id, 10) + "-" + strconv.FormatInt(seq, 10)
}

// writeEvent writes one event; data with line breaks becomes several data
// lines (which SSE joins back with "\n").
func (st *eventStream) writeEvent(w *bufio.Writer, ev sseEvent) {
	if st.withIDs {
		w.WriteString("id: ")
		w.WriteString(st.eventID(ev.seq))
		w.WriteByte('\n')
	}
	if ev.name != "" {
		w.WriteString("event: ")
		w.WriteString(ev.name)
		w.WriteByte('\n')
	}
	writeData(w, ev.data)
	w.WriteByte('\n')
}

// writeData writes data as data: lines.
func writeData(w *bufio.Writer, data []byte) {
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		w.WriteString("data: ")
		w.Write(bytes.TrimSuffix(line, []byte{'\r'}))
		w.WriteByte('\n')
		if !more {
			return
		}
		data = rest
	}
}

// parseEventID splits an event id "<stream>-<seq>".
func parseEventID(s string) (stream, seq int64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	stream, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || stream < 0 || seq < 0 {
		return 0, 0, false
	}
	return stream, seq, true
}

// setSSEHeaders prepares an event-stream response.
func setSSEHeaders(c *fiber.Ctx) {
	c.Status(fiber.StatusOK)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
}
