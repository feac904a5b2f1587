package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mcpscript/mcpscript/procman"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
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
			return nil
		},
	})
}
