package procman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mcpscript/mcpscript/internal/lograte"
)

const (
	// maxLine is the longest stderr line logged as one record; longer
	// lines are split.
	maxLine = 64 << 10
	// drainGrace bounds the wait for stderr EOF after the process group
	// has been killed (a process that left the group may hold the pipe).
	drainGrace = time.Second
	// killWait bounds the wait for a process to be reaped after SIGKILL.
	killWait = 5 * time.Second
	// stderrBurst lines of a child's stderr are logged per stderrWindow;
	// the rest are counted and the count logged. Servers that log a line
	// per request stay within it; a flood does not fill the disk.
	stderrBurst  = 200
	stderrWindow = 10 * time.Second
)

// Instance is one run of the process: one spawn, from start to reaping.
type Instance struct {
	name    string
	pid     int
	started time.Time
	cmd     *exec.Cmd

	stdin  *os.File
	stdout *outReader
	stderr *os.File
	tail   tailBuffer

	drained chan struct{} // closed when the stderr drain has finished
	done    chan struct{} // closed when reaped; exit and err are set before
	exit    *ExitError
	err     error

	requested   atomic.Bool // procman asked the process to stop
	termStarted atomic.Bool // the graceful stop sequence has begun

	sigMu  sync.Mutex // guards reaped against group signals (pid reuse)
	reaped bool

	cause error // restart cause; guarded by Process.mu
}

// PID returns the process id. With the shim it is the shim's pid, which is
// also the process group id.
func (i *Instance) PID() int { return i.pid }

// Stdin returns the write end of the child's stdin. Closing it is the first
// step of a graceful stop; procman closes it when the process exits.
func (i *Instance) Stdin() io.WriteCloser { return i.stdin }

// Stdout returns the read end of the child's stdout. Read it until EOF:
// everything the child wrote stays readable after it exits, and the pipe is
// closed automatically at EOF.
func (i *Instance) Stdout() io.Reader { return i.stdout }

// Done returns a channel that is closed when the process has exited, has been
// reaped and its stderr has been drained.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Err reports how the process ended. It is nil before Done is closed and for
// exit status 0; otherwise it is an *[ExitError].
func (i *Instance) Err() error {
	select {
	case <-i.done:
		return i.err
	default:
		return nil
	}
}

// StderrTail returns the last bytes of stderr seen so far (at most
// Spec.TailBytes), cut at a line start where possible.
func (i *Instance) StderrTail() string { return i.tail.String() }

// StartedAt returns the time the process was spawned.
func (i *Instance) StartedAt() time.Time { return i.started }

// drain logs stderr line by line and records the tail. Lines longer than
// maxLine are split; the buffer never grows beyond maxLine. At most
// stderrBurst lines per stderrWindow are logged: a flood is counted, not
// written out, and costs a read and a tail update per line.
func (i *Instance) drain(log *slog.Logger) {
	defer close(i.drained)
	defer i.stderr.Close()
	r := bufio.NewReaderSize(i.stderr, maxLine)
	ctx := context.Background()
	lim := lograte.New(stderrBurst, stderrWindow)
	defer lim.Flush(ctx, log, slog.LevelInfo, "stderr lines", slog.String("server", i.name), slog.Int("pid", i.pid))
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			i.tail.write(chunk)
			lim.Log(ctx, log, slog.LevelInfo, "stderr lines", "stderr", func() []slog.Attr {
				text := string(bytes.TrimRight(chunk, "\r\n"))
				return []slog.Attr{slog.String("server", i.name), slog.Int("pid", i.pid), slog.String("line", text)}
			})
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// signal sends sig to the process group unless the leader has been reaped
// (after which the group id could be reused).
func (i *Instance) signal(sig syscall.Signal) {
	i.sigMu.Lock()
	defer i.sigMu.Unlock()
	if !i.reaped {
		_ = syscall.Kill(-i.pid, sig)
	}
}

// wait is called by the supervisor only. It waits for the leader to exit,
// kills what is left of its group, reaps it, finishes draining stderr and
// closes Done.
func (i *Instance) wait() {
	waitExited(i.pid)
	end := time.Now()
	i.sigMu.Lock()
	_ = syscall.Kill(-i.pid, syscall.SIGKILL) // stragglers; ESRCH is fine
	i.reaped = true
	i.sigMu.Unlock()
	werr := i.cmd.Wait()

	t := time.NewTimer(drainGrace)
	select {
	case <-i.drained:
	case <-t.C:
		_ = i.stderr.Close() // something outside the group holds the pipe
		<-i.drained
	}
	t.Stop()
	_ = i.stdin.Close()

	e := &ExitError{
		Name:      i.name,
		PID:       i.pid,
		Code:      -1,
		Uptime:    end.Sub(i.started),
		Tail:      i.tail.String(),
		Requested: i.requested.Load(),
	}
	if ps := i.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal()
		} else {
			e.Code = ps.ExitCode()
		}
	}
	i.exit = e
	if e.Code != 0 {
		i.err = e
		if e.Code == -1 && e.Signal == 0 && werr != nil {
			i.err = fmt.Errorf("%w (%w)", e, werr)
		}
	}
	close(i.done)
}

// terminate runs the graceful stop sequence: close stdin, wait step, SIGTERM
// the group, wait step, SIGKILL the group. When ctx ends it goes straight to
// SIGKILL. A second caller only waits (and kills if its ctx ends). It returns
// once the instance is done.
func (i *Instance) terminate(ctx context.Context, step time.Duration) error {
	i.requested.Store(true)
	if i.termStarted.CompareAndSwap(false, true) {
		_ = i.stdin.Close()
		if i.await(ctx, step) {
			return nil
		}
		if ctx.Err() == nil {
			i.signal(syscall.SIGTERM)
			if i.await(ctx, step) {
				return nil
			}
		}
	} else if i.await(ctx, -1) {
		return nil
	}
	i.signal(syscall.SIGKILL)
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-i.done:
		return nil
	case <-t.C:
		return fmt.Errorf("procman: server %q: pid %d not reaped %v after SIGKILL", i.name, i.pid, killWait)
	}
}

// await waits for Done, at most d (forever if d < 0) and until ctx ends.
// It reports whether the instance is done.
func (i *Instance) await(ctx context.Context, d time.Duration) bool {
	var tc <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-i.done:
		return true
	case <-tc:
	case <-ctx.Done():
	}
	select {
	case <-i.done:
		return true
	default:
		return false
	}
}

// waitExited blocks until pid has exited without reaping it (waitid with
// WNOWAIT), so its pid and process group id cannot be reused while the group
// is being killed.
func waitExited(pid int) {
	const (
		pPID    = 1
		wExited = 0x4
		wNoWait = 0x1000000
	)
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// outReader wraps the read end of stdout and closes it at EOF.
type outReader struct {
	f   *os.File
	eof atomic.Bool
}

func (r *outReader) Read(p []byte) (int, error) {
	if r.eof.Load() {
		return 0, io.EOF
	}
	n, err := r.f.Read(p)
	if err == io.EOF {
		r.eof.Store(true)
		_ = r.f.Close()
	}
	return n, err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Keep one byte more than max, to know whether the cut is at a line start.
	limit := t.max + 1
	if len(p) >= limit {
		p = p[len(p)-limit:]
		t.buf = t.buf[:0]
	}
	if len(t.buf)+len(p) > 2*limit {
		keep := limit - len(p)
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keep:]...)
	}
	t.buf = append(t.buf, p...)
}

// String returns the tail, starting at a line start where possible, without
// trailing newlines.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		cut := len(b) - t.max
		b = b[cut:]
		if t.buf[cut-1] != '\n' {
			if j := bytes.IndexByte(b, '\n'); j >= 0 && j < len(bytes.TrimRight(b, "\r\n")) {
				b = b[j+1:]
			}
		}
	}
	return strings.TrimRight(string(b), "\r\n")
}
