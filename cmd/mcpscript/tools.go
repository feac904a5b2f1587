package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
)

func (a *app) toolsCommand() *cobra.Command {
	var asJSON, pins bool
	cmd := &cobra.Command{
		Use:   "tools [SERVER]",
		Short: "List the tools of one server, or of every server",
		Long: `List the tools of one server, or of every server, as clients see them (after
the config's tool curation and hooks). --pins lists every tool the server
itself offers instead, with the hash of its input schema as a "pin" of
tools.override takes it, what clients call it, and whether its pin holds.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeArgs(serverArg),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServers(cmd.Context(), args, func(r *engine.Runner) error {
				if pins {
					return a.printPins(cmd.Context(), r, args, asJSON)
				}
				tools, err := r.AllTools(cmd.Context())
				if asJSON {
					if e := a.printJSON(tools); e != nil {
						return e
					}
					return err
				}
				t := a.newTable()
				for _, n := range sortedKeys(tools) {
					t.row(fmt.Sprintf("%s (%s)", n, plural(len(tools[n]), "tool")))
					for _, tool := range tools[n] {
						t.row("  "+tool.Name, tool.Description)
					}
				}
				t.flush()
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tools as JSON, keyed by server")
	cmd.Flags().BoolVar(&pins, "pins", false, "print the hash of each tool's input schema, for tools.override pins")
	return cmd
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (a *app) callCommand() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "call SERVER TOOL [ARGUMENTS-JSON | -]",
		Short: "Call a tool and print its result",
		Long: `Call a tool of a server with arguments given as a JSON object, and print the
result: text content as text, other content summarised. With - in place of
the JSON, the arguments are read from stdin. --json prints the raw result.
Progress goes to stderr unless --quiet. The exit status is 1 when the tool
reports an error (isError).

  mcpscript call demo echo '{"text": "hi"}'
  echo '{"to": 3}' | mcpscript call demo count -`,
		Args:              cobra.RangeArgs(2, 3),
		ValidArgsFunction: a.completeArgs(serverArg, toolArg),
		RunE: func(cmd *cobra.Command, args []string) error {
			server, tool := args[0], args[1]
			var arguments map[string]any
			if len(args) == 3 {
				var err error
				if arguments, err = a.jsonArguments(args[2]); err != nil {
					return err
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
				if errors.Is(err, engine.ErrToolNotFound) {
					return fmt.Errorf("%w; list them with: mcpscript tools %s", err, server)
				}
				if err != nil {
					return err
				}
				if asJSON {
					if err := a.printJSON(res); err != nil {
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

// maxStdinArgs bounds the arguments read from stdin.
const maxStdinArgs = 64 << 20

// jsonArguments decodes a tool's arguments: a JSON object, or "-" for one
// read from stdin.
func (a *app) jsonArguments(arg string) (map[string]any, error) {
	data, from := []byte(arg), "ARGUMENTS-JSON"
	if arg == "-" {
		from = "the arguments on stdin"
		var err error
		if data, err = io.ReadAll(io.LimitReader(a.stdin, maxStdinArgs+1)); err != nil {
			return nil, fmt.Errorf("reading the arguments from stdin: %w", err)
		}
		if len(data) > maxStdinArgs {
			return nil, usageError{fmt.Errorf("%s: more than %d MiB; pass a smaller object", from, maxStdinArgs>>20)}
		}
		if strings.TrimSpace(string(data)) == "" {
			return nil, usageError{errors.New(`stdin is empty: pipe the arguments into the command as a JSON object such as {"text":"hi"}`)}
		}
	}
	var arguments map[string]any
	if err := json.Unmarshal(data, &arguments); err != nil || arguments == nil {
		found := strings.TrimSpace(string(data))
		if len(found) > 60 {
			found = found[:57] + "..."
		}
		why := "it is not a JSON object"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			why = "it is not valid JSON (" + se.Error() + ")"
		}
		hint := `write an object such as '{"text":"hi"}'`
		if arg != "-" {
			hint += ", or - to read it from stdin"
		}
		return nil, usageError{fmt.Errorf("%s %s: %s; %s", from, found, why, hint)}
	}
	return arguments, nil
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
