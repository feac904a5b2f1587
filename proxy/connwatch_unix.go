//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// peekWaiter returns a function that waits, through the runtime's poller,
// until conn is readable, without consuming anything, and reports whether
// the peer closed it (true) or data arrived or the wait was ended by a
// deadline (false). ok is false when conn is not a socket.
func peekWaiter(conn net.Conn) (wait func() bool, ok bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	return func() bool {
		var buf [1]byte
		closed := false
		err := raw.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
				return false // nothing yet: wait for readability
			case err != nil: // ECONNRESET and the like
				closed = true
			case n == 0: // end of stream: the peer closed its side
				closed = true
			}
			return true // closed, or bytes arrived: leave them for the server
		})
		if err != nil {
			// A deadline (stop) or a connection closed by the server.
			return errors.Is(err, net.ErrClosed)
		}
		return closed
	}, true
}
