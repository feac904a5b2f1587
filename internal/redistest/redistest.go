// Package redistest starts a real redis-server for tests.
//
// The server runs on a free loopback port without persistence and is stopped
// when the test ends. A test is skipped only when redis-server is not
// installed and MCPSCRIPT_REQUIRE_REDIS is unset; CI sets the variable so a
// missing binary fails there instead of silently skipping.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// URL is redis://Addr/0, for clients that take a URL.
	URL string

	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs redis-server on a free loopback port and registers its stop with
// t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("MCPSCRIPT_REQUIRE_REDIS") != "" {
			t.Fatalf("redis-server is not installed but MCPSCRIPT_REQUIRE_REDIS is set: apt-get install redis-server")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server); set MCPSCRIPT_REQUIRE_REDIS to make this a failure")
	}
	// A port taken by another process between the probe and redis binding it
	// makes redis exit; a few tries make that race harmless.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("no free loopback port: %v", err)
		}
		s, err := start(bin, port)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin string, port int) (*Server, error) {
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "warning",
		"--daemonize", "no")
	out, err := cmd.StdoutPipe() // redis logs to stdout
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		cmd:  cmd,
		done: make(chan struct{}),
	}
	s.URL = "redis://" + s.Addr + "/0"
	var log strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if log.Len() < 4096 {
				log.WriteString(sc.Text() + "\n")
			}
		}
	}()
	go func() {
		<-logDone
		_ = cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("redis-server exited: %s", strings.TrimSpace(log.String()))
		default:
		}
		if s.ping() == nil {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("redis-server on %s did not answer PING within 10s", s.Addr)
}

// ping sends an inline PING and waits for +PONG.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// Stop kills the server and waits for it to exit. It may be called more than
// once.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}
