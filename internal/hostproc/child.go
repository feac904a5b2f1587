package hostproc

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// Conn is a helper's end of its pipes.
type Conn struct {
	// Requests are the parent's frames, one request at a time (and the
	// answers to what the helper asks while it works on one).
	Requests *Reader
	// Control are the parent's frames sent while the helper works on a
	// request (e.g. "stop it"); read them on a goroutine of their own.
	Control *Reader
	out     int
}

// Send writes a frame (made with Begin) to the reply pipe.
func (c *Conn) Send(frame []byte) error { return writeFrame(c.out, frame) }

// Child returns the pipes to the parent when this process was started as
// a helper of the given role, and false otherwise. A helper whose parent
// is already gone exits at once. The helper ignores SIGINT, SIGTERM and
// SIGHUP (its parent decides when it ends: a Ctrl-C in a terminal reaches
// the whole process group) and clears its marker from the environment.
func Child(role string) (*Conn, bool) {
	v, ok := os.LookupEnv(envVar)
	if !ok {
		return nil, false
	}
	r, ppid, _ := strings.Cut(v, ":")
	if r != role {
		return nil, false
	}
	parent, err := strconv.Atoi(ppid)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostproc: bad %s=%q\n", envVar, v)
		os.Exit(2)
	}
	if os.Getppid() != parent {
		os.Exit(1) // the parent died before the parent-death signal was armed
	}
	_ = os.Unsetenv(envVar)
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return &Conn{Requests: newReader(3), Control: newReader(5), out: 4}, true
}
