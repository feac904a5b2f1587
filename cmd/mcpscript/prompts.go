package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/suggest"
)

func (a *app) promptsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "prompts [SERVER]",
		Short: "List the prompts of one server, or of every server",
		Long: `List the prompts of one server or of every running server, with their
arguments (optional ones in brackets) and descriptions. --json prints them
as JSON, keyed by server. Get one with: mcpscript prompt SERVER NAME k=v...`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeArgs(serverArg),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServers(cmd.Context(), args, func(r *engine.Runner) error {
				all, err := listEach(cmd.Context(), r, func(ctx context.Context, c *engine.Client) ([]*mcp.Prompt, error) {
					return c.ListPrompts(ctx)
				})
				if asJSON {
					if e := a.printJSON(all); e != nil {
						return e
					}
					return err
				}
				t := a.newTable()
				for _, n := range sortedKeys(all) {
					t.row(fmt.Sprintf("%s (%s)", n, plural(len(all[n]), "prompt")))
					for _, p := range all[n] {
						t.row("  "+p.Name, promptArgs(p), p.Description)
					}
				}
				t.flush()
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the prompts as JSON, keyed by server")
	return cmd
}

// promptArgs lists a prompt's arguments, the optional ones in brackets:
// "name [style]".
func promptArgs(p *mcp.Prompt) string {
	var parts []string
	for _, arg := range p.Arguments {
		if arg.Required {
			parts = append(parts, arg.Name)
		} else {
			parts = append(parts, "["+arg.Name+"]")
		}
	}
	return strings.Join(parts, " ")
}

func (a *app) promptCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "prompt SERVER NAME [ARGUMENTS-JSON | - | KEY=VALUE...]",
		Short: "Get a prompt and print its messages",
		Long: `Get a prompt of a server, filled in with arguments given as KEY=VALUE pairs,
as a JSON object of strings, or as - to read that object from stdin, and
print its messages, each as "role: text". --json prints the raw result.
An unknown prompt, an unknown argument or a missing required one exits 2.

  mcpscript prompt demo greet name=Ada style=formal
  mcpscript prompt demo greet '{"name": "Ada"}'`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: a.completeArgs(serverArg, promptArg),
		RunE: func(cmd *cobra.Command, args []string) error {
			server, name := args[0], args[1]
			arguments, err := a.promptArguments(args[2:])
			if err != nil {
				return err
			}
			return a.withServers(cmd.Context(), []string{server}, func(r *engine.Runner) error {
				c, err := r.Client(server)
				if err != nil {
					return err
				}
				prompts, err := c.ListPrompts(cmd.Context())
				if err != nil {
					return err
				}
				if err := checkPromptArgs(server, name, prompts, arguments); err != nil {
					return err
				}
				res, err := c.GetPrompt(cmd.Context(), name, arguments)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(res)
				}
				for _, m := range res.Messages {
					fmt.Fprintf(a.stdout, "%s: %s\n", m.Role, contentText(m.Content))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw result as JSON")
	return cmd
}

// promptArguments reads a prompt's arguments: KEY=VALUE pairs, one JSON
// object of strings, or "-" for that object on stdin.
func (a *app) promptArguments(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if len(args) == 1 && (args[0] == "-" || strings.HasPrefix(strings.TrimSpace(args[0]), "{")) {
		data, from := []byte(args[0]), "ARGUMENTS-JSON"
		if args[0] == "-" {
			from = "the arguments on stdin"
			var err error
			if data, err = io.ReadAll(io.LimitReader(a.stdin, maxStdinArgs)); err != nil {
				return nil, fmt.Errorf("reading the arguments from stdin: %w", err)
			}
		}
		var out map[string]string
		if err := json.Unmarshal(data, &out); err != nil || out == nil {
			return nil, usageError{fmt.Errorf(`%s: prompt arguments must be a JSON object of strings such as '{"name": "Ada"}', or KEY=VALUE pairs`, from)}
		}
		return out, nil
	}
	out := map[string]string{}
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf(`prompt argument %q: write KEY=VALUE, such as name=Ada (or one JSON object, '{"name": "Ada"}')`, arg)}
		}
		if _, dup := out[k]; dup {
			return nil, usageError{fmt.Errorf("prompt argument %q is given twice; give it once", k)}
		}
		out[k] = v
	}
	return out, nil
}

// checkPromptArgs checks the prompt exists and takes these arguments, so
// that a mistake gets our clear message (and exit 2) rather than whatever
// the server answers.
func checkPromptArgs(server, name string, prompts []*mcp.Prompt, args map[string]string) error {
	var prompt *mcp.Prompt
	names := make([]string, len(prompts))
	for i, p := range prompts {
		names[i] = p.Name
		if p.Name == name {
			prompt = p
		}
	}
	if prompt == nil {
		msg := fmt.Sprintf("server %q has no prompt %q", server, name)
		if s := suggest.Closest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usageError{errors.New(msg + "; list them with: mcpscript prompts " + server)}
	}
	var known []string
	for _, arg := range prompt.Arguments {
		known = append(known, arg.Name)
	}
	for _, k := range sortedKeys(args) {
		if !slices.Contains(known, k) {
			msg := fmt.Sprintf("prompt %q of server %q has no argument %q", name, server, k)
			if s := suggest.Closest(k, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			if len(known) == 0 {
				return usageError{errors.New(msg + "; it takes none")}
			}
			return usageError{fmt.Errorf("%s; it takes: %s", msg, promptArgs(prompt))}
		}
	}
	for _, arg := range prompt.Arguments {
		if _, ok := args[arg.Name]; arg.Required && !ok {
			return usageError{fmt.Errorf("prompt %q of server %q needs the argument %q; add %s=VALUE", name, server, arg.Name, arg.Name)}
		}
	}
	return nil
}

// contentText is a content item as text: the text itself, or a summary.
func contentText(c mcp.Content) string {
	switch c := c.(type) {
	case *mcp.TextContent:
		return c.Text
	case *mcp.ImageContent:
		return fmt.Sprintf("[image %s, %d bytes]", c.MIMEType, len(c.Data))
	case *mcp.AudioContent:
		return fmt.Sprintf("[audio %s, %d bytes]", c.MIMEType, len(c.Data))
	case *mcp.ResourceLink:
		return fmt.Sprintf("[resource link %s]", c.URI)
	case *mcp.EmbeddedResource:
		if c.Resource != nil && c.Resource.Text != "" {
			return c.Resource.Text
		}
		if c.Resource != nil {
			return fmt.Sprintf("[resource %s, %d bytes]", c.Resource.URI, len(c.Resource.Blob))
		}
	}
	return "[unknown content]"
}
