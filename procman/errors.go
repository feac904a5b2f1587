package procman

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
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

// StartError says why a process could not be started: its working
// directory or its command is missing or unusable, or the system refused
// to run it. Err is the cause, so errors.Is matches exec.ErrNotFound,
// fs.ErrNotExist, fs.ErrPermission, syscall.ENOTDIR and the like.
type StartError struct {
	Name    string // the server name from the Spec
	Command string // the command as the Spec gives it
	Dir     string // the working directory; "" for the current one
	// Field is what to fix: "command", "cwd", or "" when neither is at
	// fault (the system refused to start the process).
	Field string
	Err   error
}

// Error names the server, says what went wrong and what to change, e.g.
//
//	server "fetch": command "uvx" not found on PATH; install it or fix mcpServers.fetch.command
func (e *StartError) Error() string {
	msg := fmt.Sprintf("server %q: %s", e.Name, e.Reason())
	switch {
	case e.Field == "command" && errors.Is(e.Err, fs.ErrPermission):
		msg += fmt.Sprintf("; make it executable (chmod +x) or fix %s", configPath(e.Name, e.Field))
	case e.Field == "command" && !strings.Contains(e.Command, "/"):
		msg += fmt.Sprintf("; install it or fix %s", configPath(e.Name, e.Field))
	case e.Field == "cwd" && errors.Is(e.Err, fs.ErrNotExist):
		msg += fmt.Sprintf("; create it or fix %s", configPath(e.Name, e.Field))
	case e.Field != "":
		msg += fmt.Sprintf("; fix %s", configPath(e.Name, e.Field))
	}
	return msg
}

// Reason says what went wrong without naming the server or the fix, e.g.
// `command "uvx" not found on PATH` or `working directory "/srv/x" does not exist`.
func (e *StartError) Reason() string {
	switch e.Field {
	case "cwd":
		switch {
		case errors.Is(e.Err, fs.ErrNotExist):
			return fmt.Sprintf("working directory %q does not exist", e.Dir)
		case errors.Is(e.Err, syscall.ENOTDIR):
			return fmt.Sprintf("working directory %q is not a folder", e.Dir)
		}
		return fmt.Sprintf("working directory %q: %v", e.Dir, pathCause(e.Err))
	case "command":
		where := ""
		if e.Dir != "" && !filepath.IsAbs(e.Command) {
			where = " in " + e.Dir
		}
		switch {
		case errors.Is(e.Err, exec.ErrNotFound):
			return fmt.Sprintf("command %q not found on PATH", e.Command)
		case errors.Is(e.Err, fs.ErrNotExist):
			return fmt.Sprintf("command %q does not exist%s", e.Command, where)
		case errors.Is(e.Err, syscall.EISDIR):
			return fmt.Sprintf("command %q is a folder%s, not a program", e.Command, where)
		case errors.Is(e.Err, fs.ErrPermission):
			return fmt.Sprintf("command %q%s is not executable", e.Command, where)
		}
		return fmt.Sprintf("command %q: %v", e.Command, pathCause(e.Err))
	}
	return fmt.Sprintf("cannot start command %q: %v", e.Command, pathCause(e.Err))
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// pathCause drops the path an *exec.Error or *fs.PathError repeats.
func pathCause(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err
}

// configPath is where a server's field is in an mcpscript config, as the
// config's own errors write it: mcpServers.fetch.command, or
// mcpServers["a.b"].cwd for a name with other characters.
func configPath(name, field string) string {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Sprintf("mcpServers[%q].%s", name, field)
		}
	}
	return "mcpServers." + name + "." + field
}
