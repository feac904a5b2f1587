//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package proxy

import "net"

// peekWaiter is not implemented here: streams notice a closed connection
// at their next write (a heartbeat at the latest).
func peekWaiter(net.Conn) (func() bool, bool) { return nil, false }
