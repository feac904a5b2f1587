package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of a proxy's life.
const (
	readyTimeout = 60 * time.Second // node peers take seconds to start on a busy machine
	stopGrace    = 5 * time.Second  // from SIGTERM to SIGKILL
	logTail      = 4 << 10          // bytes of a proxy's output kept for error messages
)

// proxyProc is a proxy process started for one cell.
type proxyProc struct {
	cmd    *exec.Cmd
	out    *tailWriter
	exited chan struct{} // closed when the process has been waited for
	err    error         // its exit status, once exited is closed
}

// startProxy starts cmd in its own process group, with its output kept in a
// small ring for error messages.
func startProxy(cmd *exec.Cmd) (*proxyProc, error) {
	p := &proxyProc{cmd: cmd, out: &tailWriter{max: logTail}, exited: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = stopGrace // a grandchild holding the output pipe must not block Wait
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proxyProc) pid() int { return p.cmd.Process.Pid }

// waitReady waits until url answers HTTP with anything but 404 (TBXark
// registers its routes only once its upstream is connected), or fails when
// the process exits or readyTimeout passes. It does not open an MCP session:
// a peer that forwards every initialize to its one child would then refuse
// the sessions measured afterwards.
func (p *proxyProc) waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("exited before serving (%v); output: %s", p.err, p.out.String())
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s (%s); output: %s", readyTimeout, last, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := hc.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close() // an SSE stream ends here, before any session is used
		if resp.StatusCode != http.StatusNotFound {
			return nil
		}
		last = "404 " + url
	}
}

// stop ends the proxy and everything it started: SIGTERM to its process
// group, SIGKILL after stopGrace, then SIGKILL to any descendant that lives
// in a group of its own (mcpscript puts each server in one) and outlived
// it: a proxy that exited has stopped its children or never will.
// Descendants are listed before the signal, while their parent links hold.
func (p *proxyProc) stop() {
	tree, err := newProcTree(p.pid())
	var left []procID
	if err == nil {
		left, _ = tree.pids()
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
	}
	for _, id := range left {
		if id.alive(tree.fs) {
			_ = syscall.Kill(id.pid, syscall.SIGKILL)
		}
	}
	// A signal lands asynchronously: wait (briefly) until they are gone, so
	// that the next cell starts on a quiet machine.
	deadline := time.Now().Add(stopGrace)
	for _, id := range left {
		for id.alive(tree.fs) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the proxy binds it; the proxy then fails to start and the
// cell says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// String is the kept output on one line, or "(none)".
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(strings.Fields(string(t.buf)), " ")
	if s == "" {
		return "(none)"
	}
	return s
}
