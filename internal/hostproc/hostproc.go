// Package hostproc runs helper processes: the running executable started
// again in a helper role, serving its parent over pipes and killed by it at
// will. Work the parent cannot bound in its own process runs there (the
// JavaScript hooks of package scripting: goja has no memory limit, and its
// interrupt is not seen inside a built-in function), so that a runaway
// takes down its helper, never the parent.
//
// A program opts in by calling, first thing in main, the RunIfRequested
// function of the package that defines a role (scripting.RunHostIfRequested),
// which calls Child and, in the parent, Enable. Without it Start fails with
// ErrNotEnabled.
//
// A helper gets three pipes: requests (the parent writes, descriptor 3),
// replies (the helper writes, 4) and control (the parent writes, 5), all
// carrying frames (see Begin and Reader); its standard error goes to the
// parent, which keeps the last lines to explain a crash. It dies with its
// parent (a parent-death signal, and end of input on the request pipe).
package hostproc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// envVar marks a helper process: "<role>:<parent pid>".
const envVar = "MCPSCRIPT_HOSTPROC"

// ExitMemory is the exit status of a helper that went over its memory
// limit (see LimitMemory).
const ExitMemory = 86

// exe is the executable that serves as a helper, nil until Enable.
var exe atomic.Pointer[string]

// ErrNotEnabled means the program did not opt in to helper processes.
var ErrNotEnabled = errors.New("helper processes are not enabled in this program")

// Enable records that the running executable can serve as a helper
// (it calls Child first thing in main).
func Enable() {
	// /proc/self/exe keeps working when the binary is replaced or deleted.
	path := "/proc/self/exe"
	if _, err := os.Stat(path); err != nil {
		if path, err = os.Executable(); err != nil {
			return
		}
	}
	exe.Store(&path)
}

// Enabled reports whether Enable was called.
func Enabled() bool { return exe.Load() != nil }

// Proc is a helper process, seen from its parent. Send, Next and Control
// may be used by one goroutine each at a time; Kill and Exit by any.
type Proc struct {
	cmd    *exec.Cmd
	req    int     // requests, write end
	ctl    int     // control, write end
	rep    *Reader // replies
	stderr *tail

	wmu    sync.Mutex // held by Exit: one Wait
	mu     sync.Mutex // guards killed and waited
	killed bool
	waited bool
	exit   Exit
}

// Start starts a helper of the given role with env as its whole
// environment (besides its marker).
func Start(role string, env []string) (*Proc, error) {
	path := exe.Load()
	if path == nil {
		return nil, ErrNotEnabled
	}
	var fds [6]int // req r/w, rep r/w, ctl r/w
	for i := 0; i < 6; i += 2 {
		// Blocking descriptors (see frame.go), closed on exec but for
		// the helper's copies below.
		if err := syscall.Pipe2(fds[i:i+2], syscall.O_CLOEXEC); err != nil {
			for _, fd := range fds[:i] {
				syscall.Close(fd)
			}
			return nil, fmt.Errorf("helper pipes: %w", err)
		}
	}
	theirs := []*os.File{os.NewFile(uintptr(fds[0]), "requests"), os.NewFile(uintptr(fds[3]), "replies"), os.NewFile(uintptr(fds[4]), "control")}
	p := &Proc{req: fds[1], ctl: fds[5], rep: newReader(fds[2]), stderr: &tail{max: 16 << 10}}
	p.cmd = &exec.Cmd{
		Path:       *path,
		Args:       []string{"mcpscript-" + role},
		Env:        append(append([]string(nil), env...), envVar+"="+role+":"+strconv.Itoa(os.Getpid())),
		ExtraFiles: theirs,
		Stderr:     p.stderr,
		SysProcAttr: &syscall.SysProcAttr{
			// Killed when the parent dies (with the thread that started it:
			// hence LockOSThread, as procman does for its shims).
			Pdeathsig: syscall.SIGKILL,
		},
	}
	runtime.LockOSThread()
	err := p.cmd.Start()
	runtime.UnlockOSThread()
	for _, f := range theirs {
		f.Close()
	}
	if err != nil {
		syscall.Close(p.req)
		syscall.Close(p.ctl)
		syscall.Close(p.rep.fd)
		return nil, fmt.Errorf("starting a helper process: %w", err)
	}
	return p, nil
}

// Pid returns the helper's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Send writes a frame (made with Begin) to the request pipe.
func (p *Proc) Send(frame []byte) error { return writeFrame(p.req, frame) }

// Control writes a frame to the control pipe, which the helper reads
// while it works on a request.
func (p *Proc) Control(frame []byte) error { return writeFrame(p.ctl, frame) }

// Next reads the next frame of the reply pipe (see Reader.Next): io.EOF
// once the helper is gone.
func (p *Proc) Next(max int) ([]byte, error) { return p.rep.Next(max) }

// Kill kills the helper (SIGKILL); its pipes read end of input. Exit
// reports Killed.
func (p *Proc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waited {
		return
	}
	p.killed = true
	_ = p.cmd.Process.Kill()
}

// Exit waits for the helper to end (call it once its reply pipe read end
// of input, or after Kill), closes the parent's ends of its pipes and
// tells how it ended. It may be called more than once.
func (p *Proc) Exit() Exit {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	waited := p.waited
	p.mu.Unlock()
	if waited {
		return p.exit
	}
	err := p.cmd.Wait()
	syscall.Close(p.req)
	syscall.Close(p.ctl)
	syscall.Close(p.rep.fd)
	p.mu.Lock()
	p.waited = true
	p.exit = classify(p.cmd.ProcessState, err, p.killed, p.stderr.String())
	p.mu.Unlock()
	return p.exit
}

// ExitAfterEOF is Exit for a helper whose reply pipe read end of input:
// it is ending, and is given a second to do so (so that Exit tells how)
// before it is killed.
func (p *Proc) ExitAfterEOF() Exit {
	t := time.AfterFunc(time.Second, p.Kill)
	defer t.Stop()
	return p.Exit()
}

// Close kills the helper and waits for it.
func (p *Proc) Close() {
	p.Kill()
	p.Exit()
}

// Exit is how a helper ended.
type Exit struct {
	Status string // "exit status 2", "signal: killed"
	Killed bool   // by Kill
	// Memory says it went over its memory limit: it exited with
	// ExitMemory, or the Go runtime could not get memory.
	Memory bool
	// Stack says a goroutine's stack outgrew the Go runtime's limit.
	Stack  bool
	Stderr string // the end of its standard error
}

func classify(st *os.ProcessState, err error, killed bool, stderr string) Exit {
	e := Exit{Killed: killed, Stderr: stderr}
	if st != nil {
		e.Status = st.String()
		if st.ExitCode() == ExitMemory {
			e.Memory = true
		}
	} else if err != nil {
		e.Status = err.Error()
	}
	switch {
	case strings.Contains(stderr, "out of memory"), strings.Contains(stderr, "cannot allocate memory"),
		strings.Contains(stderr, "failed to create new OS thread"):
		e.Memory = true
	case strings.Contains(stderr, "stack exceeds"), strings.Contains(stderr, "stack overflow"):
		e.Stack = true
	}
	return e
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}
