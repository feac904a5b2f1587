package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mcpscript/mcpscript/procman"
	"github.com/mcpscript/mcpscript/scripting"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	// The CLI's hooks run isolated, as in the real binary: this test
	// binary is their host.
	scripting.RunHostIfRequested()
	testscript.Main(m, map[string]func(){
		"mcpscript": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI end to end: each testdata/script/*.txtar file is
// a session of commands with the output a user sees.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Servers are this race-enabled binary too: skip the race
			// detector's one-second pause at each exit.
			env.Setenv("GORACE", "atexit_sleep_ms=0")
			port, err := freePort()
			env.Setenv("PORT", strconv.Itoa(port))
			return err
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// httpget URL: GET until it answers (up to 20s), print the status
			// and body to stdout.
			"httpget": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: httpget URL")
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					resp, err := http.Get(args[0])
					if err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						fmt.Fprintf(ts.Stdout(), "%d\n%s\n", resp.StatusCode, body)
						if neg != (resp.StatusCode >= 400) {
							ts.Fatalf("GET %s: status %d", args[0], resp.StatusCode)
						}
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("GET %s: %v", args[0], err)
					}
					time.Sleep(50 * time.Millisecond)
				}
			},
		},
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
