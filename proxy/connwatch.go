package proxy

import (
	"net"
	"sync"
	"time"
)

// Noticing a closed stream at once
//
// fasthttp tells a handler nothing when its client goes away: a streaming
// response learns of it only when a write fails, which for an idle SSE
// stream is the next heartbeat (15 s). Until then the stream looks open, so
// a page that reloads finds its old stream still counted (the reference's
// POST without sessionId is refused as ambiguous) and a new Streamable HTTP
// GET gets 409.
//
// While a response stream is written, the server does not read its
// connection: the client has sent its whole request and, being an HTTP/1.1
// client waiting for an unending response, sends nothing more. So a
// watcher may wait for the connection to become readable without
// consuming anything (a MSG_PEEK of one byte through the runtime's poller,
// RawConn.Read): the peer closing the connection (FIN or RST) makes it
// readable with nothing to read, which is the signal. If bytes arrive
// instead (a pipelined request), they are left where they are for the
// server to read once the stream ends, and the watcher stops: that stream
// then falls back to heartbeats, as net/http's background read does.
//
// The watcher runs only while the stream writer runs, and stop returns only
// once it no longer waits on the connection, so the server's next read of
// the connection never races it. fasthttp's read deadline of the request
// (ReadTimeout) would end the wait early, so the watcher clears it; fasthttp
// sets its own again before it reads the next request.

// connWatch watches a connection for its peer closing it.
type connWatch struct {
	conn net.Conn
	gone chan struct{} // closed when the peer closed the connection
	done chan struct{} // closed when the watcher returned

	stopOnce sync.Once
}

// watchConn starts watching conn, the connection of a response stream, and
// returns the watch, or nil when conn cannot be watched (not a socket, or
// not on a platform where the watcher is implemented): the stream then
// notices a closed connection at its next write.
func watchConn(conn net.Conn) *connWatch {
	if conn == nil {
		return nil
	}
	wait, ok := peekWaiter(conn)
	if !ok {
		return nil
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return nil
	}
	w := &connWatch{conn: conn, gone: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		if wait() {
			close(w.gone)
		}
	}()
	return w
}

// Gone returns a channel closed when the peer closed the connection; nil
// (never ready) for a nil watch.
func (w *connWatch) Gone() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.gone
}

// stop ends the watch and returns once the watcher no longer waits on the
// connection. It leaves the connection without a read deadline.
func (w *connWatch) stop() {
	if w == nil {
		return
	}
	w.stopOnce.Do(func() {
		_ = w.conn.SetReadDeadline(time.Unix(1, 0)) // wakes the watcher's wait
		<-w.done
		_ = w.conn.SetReadDeadline(time.Time{})
	})
}
