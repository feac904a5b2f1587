package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	fixtureOnce sync.Once
	fixtureBin  string
	fixtureErr  error
)

// EverythingServer returns the path of the go-sdk conformance fixture
// (conformance/everything-server, built once per test binary from the
// go-sdk version in go.mod). It serves stdio by default; -http ADDR serves
// HTTP. Over stdio it is dual-era: server/discover makes its process
// modern, initialize legacy.
func EverythingServer(t testing.TB) string {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpscript-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureBin = filepath.Join(dir, "everything-server")
		out, err := exec.Command("go", "build", "-o", fixtureBin,
			"github.com/modelcontextprotocol/go-sdk/conformance/everything-server").CombinedOutput()
		if err != nil {
			fixtureErr = fmt.Errorf("building the go-sdk conformance fixture: %v\n%s", err, out)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureBin
}

// NPMServer returns the entry point of a reference server from npm
// (testdata/npm: "server-everything", "server-filesystem",
// "server-memory"), failing the test when scripts/npm-fixtures.sh has not
// installed it.
func NPMServer(t testing.TB, pkg string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	p := filepath.Join(root, "testdata", "npm", "node_modules", "@modelcontextprotocol", pkg, "dist", "index.js")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("npm fixture %s is missing: run scripts/npm-fixtures.sh (%v)", pkg, err)
	}
	return p
}
