package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/demoserver"
)

// stopGrace bounds how long the CLI waits for servers to stop on exit.
const stopGrace = 20 * time.Second

func (a *app) serversCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "servers",
		Short: "Start every server, print their status and tool counts, stop them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.newRunner(cmd.Context())
			if err != nil {
				return err
			}
			startErr := r.StartAll(cmd.Context())
			tools, _ := r.AllTools(cmd.Context())
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVER\tSTATE\tPID\tTOOLS\tINFO")
			failed := 0
			for _, st := range r.Statuses() {
				count, info := "-", ""
				if ts, ok := tools[st.Name]; ok {
					count = fmt.Sprint(len(ts))
				}
				switch {
				case st.State == engine.StateFailed:
					failed++
					info = firstLine(st.Err)
				case st.ServerInfo != nil:
					info = fmt.Sprintf("%s %s (MCP %s)", st.ServerInfo.Name, st.ServerInfo.Version, st.ProtocolVersion)
				}
				pid := "-"
				if st.PID > 0 {
					pid = fmt.Sprint(st.PID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Name, st.State, pid, count, info)
			}
			tw.Flush()
			stopCtx, cancel := context.WithTimeout(context.Background(), stopGrace)
			defer cancel()
			_ = r.StopAll(stopCtx)
			if startErr != nil {
				fmt.Fprintln(a.stderr, startErr)
				return exitError{exitFailure}
			}
			return nil
		},
	}
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func (a *app) toolsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "tools [SERVER]",
		Short: "List the tools of one server, or of every server",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServers(cmd.Context(), args, func(r *engine.Runner) error {
				tools, err := r.AllTools(cmd.Context())
				if asJSON {
					enc := json.NewEncoder(a.stdout)
					enc.SetIndent("", "  ")
					if e := enc.Encode(tools); e != nil {
						return e
					}
					return err
				}
				names := make([]string, 0, len(tools))
				for n := range tools {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintf(a.stdout, "%s (%d tools)\n", n, len(tools[n]))
					tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
					for _, t := range tools[n] {
						desc, _, _ := strings.Cut(strings.TrimSpace(t.Description), "\n")
						fmt.Fprintf(tw, "  %s\t%s\n", t.Name, desc)
					}
					tw.Flush()
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tools as JSON, keyed by server")
	return cmd
}

func (a *app) callCommand() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "call SERVER TOOL [ARGUMENTS-JSON]",
		Short: "Call a tool and print its result",
		Long: `Call a tool of a server with arguments given as a JSON object, and print the
result: text content as text, other content summarised. --json prints the raw
result. The exit status is 1 when the tool reports an error (isError).`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			server, tool := args[0], args[1]
			var arguments map[string]any
			if len(args) == 3 {
				if err := json.Unmarshal([]byte(args[2]), &arguments); err != nil || arguments == nil {
					return usageError{fmt.Errorf("arguments must be a JSON object such as '{\"text\":\"hi\"}': %q", args[2])}
				}
			}
			return a.withServers(cmd.Context(), []string{server}, func(r *engine.Runner) error {
				c, err := r.Client(server)
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				if !quiet {
					ctx = engine.WithProgress(ctx, func(p *mcp.ProgressNotificationParams) {
						fmt.Fprintf(a.stderr, "progress: %s\n", formatProgress(p))
					})
				}
				res, err := c.CallTool(ctx, tool, arguments)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(a.stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(res); err != nil {
						return err
					}
				} else {
					printResult(a, res)
				}
				if res.IsError {
					return exitError{exitFailure}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw result as JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print progress to stderr")
	return cmd
}

func formatProgress(p *mcp.ProgressNotificationParams) string {
	s := fmt.Sprintf("%g", p.Progress)
	if p.Total > 0 {
		s += fmt.Sprintf("/%g", p.Total)
	}
	if p.Message != "" && p.Message != s {
		s += " " + p.Message
	}
	return s
}

func printResult(a *app, res *mcp.CallToolResult) {
	printed := false
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			fmt.Fprintln(a.stdout, c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(a.stdout, "[image %s, %d bytes]\n", c.MIMEType, len(c.Data))
		case *mcp.AudioContent:
			fmt.Fprintf(a.stdout, "[audio %s, %d bytes]\n", c.MIMEType, len(c.Data))
		case *mcp.ResourceLink:
			fmt.Fprintf(a.stdout, "[resource link %s]\n", c.URI)
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				fmt.Fprintln(a.stdout, c.Resource.Text)
			} else if c.Resource != nil {
				fmt.Fprintf(a.stdout, "[resource %s, %d bytes]\n", c.Resource.URI, len(c.Resource.Blob))
			}
		default:
			continue
		}
		printed = true
	}
	if !printed && res.StructuredContent != nil {
		b, _ := json.MarshalIndent(res.StructuredContent, "", "  ")
		fmt.Fprintln(a.stdout, string(b))
	}
}

func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate a config and list every problem in it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			r, err := engine.New(cfg, &engine.Options{Logger: a.logger})
			if err != nil {
				return err
			}
			hooks, filters, err := a.loadScripts(cmd.Context(), r)
			if err != nil {
				return err
			}
			names := cfg.ServerNames()
			var enabled []string
			for _, n := range names {
				if !cfg.Servers[n].Disabled {
					enabled = append(enabled, n)
				}
			}
			fmt.Fprintf(a.stdout, "%s: ok, %d servers (%d enabled): %s\n", cfg.Source, len(names), len(enabled), strings.Join(names, ", "))
			if hooks+filters > 0 {
				fmt.Fprintf(a.stdout, "scripts: %d hooks and %d filters loaded\n", hooks, filters)
			}
			return nil
		},
	}
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			sdk := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/modelcontextprotocol/go-sdk" {
						sdk = d.Version
					}
				}
			}
			fmt.Fprintf(a.stdout, "mcpscript %s (%s, MCP %s, go-sdk %s)\n", engine.Version, runtime.Version(), engine.LatestProtocolVersion, sdk)
		},
	}
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
