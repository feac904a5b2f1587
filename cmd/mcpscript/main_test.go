package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
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
			// waitfor URL REGEXP [TOKEN]: GET until the body matches (up to
			// 20s), then print the body to stdout.
			"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || len(args) > 3 || neg {
					ts.Fatalf("usage: waitfor URL REGEXP [TOKEN]")
				}
				re, err := regexp.Compile(args[1])
				ts.Check(err)
				deadline := time.Now().Add(20 * time.Second)
				var last string
				for time.Now().Before(deadline) {
					if body, _, err := httpDo("GET", args[0], tokenArg(args, 2)); err == nil {
						last = body
						if re.MatchString(body) {
							fmt.Fprintln(ts.Stdout(), body)
							return
						}
					}
					time.Sleep(50 * time.Millisecond)
				}
				ts.Fatalf("GET %s: no body matching %q within 20s; last: %s", args[0], args[1], last)
			},
			// httppost URL [TOKEN]: POST with no body, print the status and
			// body to stdout; fail on a status >= 400 unless negated.
			"httppost": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 1 || len(args) > 2 {
					ts.Fatalf("usage: httppost URL [TOKEN]")
				}
				body, code, err := httpDo("POST", args[0], tokenArg(args, 1))
				ts.Check(err)
				fmt.Fprintf(ts.Stdout(), "%d\n%s\n", code, body)
				if neg != (code >= 400) {
					ts.Fatalf("POST %s: status %d", args[0], code)
				}
			},
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

func tokenArg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// httpDo sends a bodyless request (with a bearer token when one is given)
// and returns the body and status.
func httpDo(method, url, token string) (string, int, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return "", 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 3 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
