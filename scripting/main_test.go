package scripting_test

// The TestMain of package scripting's tests (internal and external share
// one binary): the no-orphan shim, the hook host and the test server when
// re-executed as one of them.

import (
	"os"
	"testing"

	"github.com/mcpscript/mcpscript/internal/testserver"
	"github.com/mcpscript/mcpscript/procman"
	"github.com/mcpscript/mcpscript/scripting"
)

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	if os.Getenv("MCPSCRIPT_TEST_NO_HOST") == "" { // TestNoHost
		scripting.RunHostIfRequested()
	}
	if testserver.Requested() {
		testserver.Main()
	}
	os.Exit(m.Run())
}
