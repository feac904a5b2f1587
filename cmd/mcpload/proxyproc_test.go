package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProxyLifecycle starts the stand-in proxy (see TestMain), which answers
// 404 at first and runs a server child in a process group of its own; it
// checks that waitReady waits for the route, that the tree tells the proxy
// from its server, that a session works, and that stop leaves no process.
func TestProxyLifecycle(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), testRoleEnv+"=proxy", testPortEnv+"="+strconv.Itoa(port))
	started := time.Now()
	proc, err := startProxy(cmd)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			proc.stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/mcp"
	if err := proc.waitReady(ctx, url); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); took < testReadyAfter {
		t.Errorf("ready after %s, before the route existed (%s)", took, testReadyAfter)
	}

	tree, err := newProcTree(proc.pid())
	if err != nil {
		t.Fatal(err)
	}
	var u treeUsage
	deadline := time.Now().Add(10 * time.Second)
	for u.serverProcs == 0 && time.Now().Before(deadline) { // the child may still be starting
		if u, err = tree.read(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if u.proxyProcs != 1 || u.serverProcs != 1 {
		t.Fatalf("tree: %d proxy and %d server processes, want 1 and 1", u.proxyProcs, u.serverProcs)
	}
	if u.proxyHWM == 0 || u.proxyRSS == 0 || u.serverRSS == 0 {
		t.Errorf("memory not read: %+v", u)
	}

	hc := newHTTPClient(1, "")
	defer closeIdle(hc)
	ep := endpoint{connect: httpTransport(kindStreamable, url, hc), tool: "echo", sessions: perCaller}
	sessions, err := openSessions(ctx, ep, 1, echoCheck("echo", 1))
	if err != nil {
		t.Fatal(err)
	}
	closeSessions(sessions)

	ids, err := tree.pids()
	if err != nil || len(ids) != 2 {
		t.Fatalf("pids: %v, %v", ids, err)
	}
	proc.stop()
	stopped = true
	for _, id := range ids {
		if id.alive(tree.fs) {
			t.Errorf("process %d outlived stop", id.pid)
		}
	}
}

// TestWaitReadyReportsAnExit: a proxy that dies says so, with its output.
func TestWaitReadyReportsAnExit(t *testing.T) {
	proc, err := startProxy(exec.Command("sh", "-c", "echo bad flag >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	defer proc.stop()
	err = proc.waitReady(context.Background(), "http://127.0.0.1:1/")
	if err == nil || !strings.Contains(err.Error(), "bad flag") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want the exit status and the output", err)
	}
}

func TestIsServer(t *testing.T) {
	tests := []struct {
		argv []string
		want bool
	}{
		{[]string{"/work/bin/mcpscript", "demo-server"}, true},
		{[]string{"mcpscript", "demo-server"}, true},
		{[]string{"/work/bin/mcpscript", "serve", "-c", "x.json"}, false},
		{[]string{"node", "supergateway/dist/index.js", "--stdio", "/work/bin/mcpscript demo-server"}, false},
		{[]string{"/bin/sh", "-c", "/work/bin/mcpscript demo-server"}, false},
		{[]string{"procman-shim", "/work/bin/mcpscript", "/work/bin/mcpscript", "demo-server"}, false},
		{[]string{"node", "mcp-proxy.mjs", "--", "/work/bin/mcpscript", "demo-server"}, false},
	}
	for _, tt := range tests {
		if got := isServer(tt.argv); got != tt.want {
			t.Errorf("isServer(%q) = %v, want %v", tt.argv, got, tt.want)
		}
	}
}

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 8}
	if w.String() != "(none)" {
		t.Errorf("empty: %q", w.String())
	}
	_, _ = w.Write([]byte("hello\nwor"))
	_, _ = w.Write([]byte("ld"))
	if got := w.String(); got != "lo world" {
		t.Errorf("String() = %q, want the last 8 bytes on one line", got)
	}
}
