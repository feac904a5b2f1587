package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/demoserver"
)

// The test binary doubles as the processes the harness manages, chosen by
// testRoleEnv:
//
//	demo    the demo MCP server on stdin/stdout (an echo server)
//	proxy   a stand-in proxy: answers 404 for testReadyAfter, then serves the
//	        demo server over Streamable HTTP at /mcp on testPortEnv, and runs
//	        a child in a process group of its own (as mcpscript does),
//	        started as "mcpscript demo-server" so the harness counts it as
//	        the server
//	idle    that child: waits for a signal
const (
	testRoleEnv    = "MCPLOAD_TEST_ROLE"
	testPortEnv    = "MCPLOAD_TEST_PORT"
	testReadyAfter = 300 * time.Millisecond
)

func TestMain(m *testing.M) {
	switch os.Getenv(testRoleEnv) {
	case "demo":
		if err := demoserver.Run(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "proxy":
		os.Exit(runTestProxy())
	case "idle":
		select {} // until a signal ends it
	}
	os.Exit(m.Run())
}

func runTestProxy() int {
	self, err := os.Executable()
	if err != nil {
		return 1
	}
	child := exec.Command(self, "demo-server")
	child.Args[0] = "mcpscript"
	child.Env = append(os.Environ(), testRoleEnv+"=idle")
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ready := time.Now().Add(testReadyAfter)
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return demoserver.New() }, nil)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(ready) || r.URL.Path != "/mcp" {
			http.NotFound(w, r)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv(testPortEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("test proxy listening") // for the output tail
	_ = http.Serve(l, h)
	return 0
}

// testServerCmd returns argv that runs the demo server through this binary.
func testServerCmd(t *testing.T) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(testRoleEnv, "demo")
	return []string{self}
}
