package procman

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// ErrAlreadyRunning is returned by [Process.Start] when the process is
// already being supervised (running, backing off or stopping).
var ErrAlreadyRunning = errors.New("already running")

// ErrNotRunning is returned by [Process.Restart] when there is no running
// instance to restart.
var ErrNotRunning = errors.New("not running")

// ExitError says how a process ended and carries the tail of its stderr.
//
// [Instance.Err] returns an *ExitError for any exit other than status 0.
// Events may carry an *ExitError with Code 0 when a clean exit still counted
// as a failure (policy [Always], or a restart requested by the caller).
type ExitError struct {
	Name      string         // the server name from the Spec
	PID       int            // the process id (the shim's when a shim is used)
	Code      int            // exit status, or -1 if the process was killed by a signal
	Signal    syscall.Signal // the signal that killed the process when Code is -1
	Uptime    time.Duration  // how long the process ran
	Tail      string         // the last bytes of stderr, whole lines where possible
	Requested bool           // procman was stopping the process (Stop or Restart) when it ended
}

// Error describes the exit in a form a user can act on, with the stderr
// tail indented below the summary line.
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server %q (pid %d) ", e.Name, e.PID)
	if e.Code >= 0 {
		fmt.Fprintf(&b, "exited with status %d", e.Code)
	} else {
		fmt.Fprintf(&b, "was killed by signal %d (%v)", int(e.Signal), e.Signal)
	}
	fmt.Fprintf(&b, " after %v", roundUptime(e.Uptime))
	if e.Requested {
		b.WriteString(" while being stopped by procman")
	}
	if e.Tail == "" {
		b.WriteString("; no stderr output")
		return b.String()
	}
	b.WriteString("; stderr tail:")
	for line := range strings.SplitSeq(e.Tail, "\n") {
		b.WriteString("\n    ")
		b.WriteString(line)
	}
	return b.String()
}

func roundUptime(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(time.Microsecond)
	}
}
