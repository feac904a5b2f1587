//go:build !wasip1

package guest

import (
	"fmt"
	"log/slog"
	"os"
)

// Log writes msg to os.Stderr: outside WebAssembly (a filter's native
// tests) there is no host log.
func Log(level Level, msg string) {
	fmt.Fprintf(os.Stderr, "%s %s\n", slog.Level(level), msg)
}
