package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/demoserver"
)

// stopGrace bounds how long the CLI waits for servers to stop on exit.
const stopGrace = 20 * time.Second

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version (also --version)",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(a.stdout, versionLine())
		},
	}
}

// versionLine is what `version` and `--version` print: our version, Go's,
// the MCP version spoken and the go-sdk's.
func versionLine() string {
	sdk := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/modelcontextprotocol/go-sdk" {
				sdk = d.Version
			}
		}
	}
	return fmt.Sprintf("mcpscript %s (%s, MCP %s and %s, go-sdk %s)", engine.Version, runtime.Version(), engine.LatestProtocolVersion, engine.ModernProtocolVersion, sdk)
}

func (a *app) demoServerCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo-server",
		Short: "Serve the built-in demo MCP server on stdin/stdout",
		Long: `Serve the built-in demo MCP server over stdio. It needs nothing installed:
examples/demo.json runs it with "command": "mcpscript".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			demoserver.Version = engine.Version
			err := demoserver.Run(cmd.Context(), os.Stdin, os.Stdout)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
}
