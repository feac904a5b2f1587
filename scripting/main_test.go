package scripting_test

// The TestMain of package scripting's tests (internal and external share
// one binary): the no-orphan shim, and the test server when re-executed as one.

import (
	"os"
	"testing"

	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/procman"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	if testserver.Requested() {
		testserver.Main()
	}
	os.Exit(m.Run())
}
