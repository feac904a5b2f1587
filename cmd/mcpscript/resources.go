package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
)

// JSON-RPC error codes a server may answer for an unknown URI: MCP's own,
// and invalid params.
const (
	codeResourceNotFound = -32002
	codeInvalidParams    = -32602
)

// serverResources is one server's entry in `resources --json`.
type serverResources struct {
	Resources         []*mcp.Resource         `json:"resources"`
	ResourceTemplates []*mcp.ResourceTemplate `json:"resourceTemplates"`
}

func (a *app) resourcesCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "resources [SERVER]",
		Short: "List the resources and resource templates of one server, or of every server",
		Long: `List the resources (URI, name, MIME type, description) and resource templates
of one server or of every running server. --json prints them as JSON, keyed
by server. Read one with: mcpscript read SERVER URI.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeArgs(serverArg),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServers(cmd.Context(), args, func(r *engine.Runner) error {
				all, err := listEach(cmd.Context(), r, func(ctx context.Context, c *engine.Client) (serverResources, error) {
					var out serverResources
					var err error
					if out.Resources, err = c.ListResources(ctx); err != nil {
						return out, err
					}
					out.ResourceTemplates, err = c.ListResourceTemplates(ctx)
					return out, err
				})
				if asJSON {
					if e := a.printJSON(all); e != nil {
						return e
					}
					return err
				}
				t := a.newTable()
				for _, n := range sortedKeys(all) {
					rs := all[n]
					head := fmt.Sprintf("%s (%s", n, plural(len(rs.Resources), "resource"))
					if len(rs.ResourceTemplates) > 0 {
						head += ", " + plural(len(rs.ResourceTemplates), "template")
					}
					t.row(head + ")")
					for _, res := range rs.Resources {
						t.row("  "+res.URI, res.Name, res.MIMEType, res.Description)
					}
					for _, tmpl := range rs.ResourceTemplates {
						t.row("  "+tmpl.URITemplate, tmpl.Name, tmpl.MIMEType, tmpl.Description)
					}
				}
				t.flush()
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the resources as JSON, keyed by server")
	return cmd
}

// listEach calls list on every running server at once (only the named one
// runs when a command names one) and keys the answers by server. Servers
// whose list fails are left out and their errors joined.
func listEach[T any](ctx context.Context, r *engine.Runner, list func(context.Context, *engine.Client) (T, error)) (map[string]T, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  = map[string]T{}
		errs []error
	)
	for _, st := range r.Statuses() {
		if st.State != engine.StateRunning {
			continue
		}
		c, err := r.Client(st.Name)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			v, err := list(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[st.Name] = v
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (a *app) readCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "read SERVER URI",
		Short: "Read a resource and print its contents",
		Long: `Read a resource of a server by URI (one listed by mcpscript resources, or one
made from a template) and print its contents: text as text, binary content
summarised. --json prints the raw result. An unknown URI exits 2.`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.completeArgs(serverArg, resourceArg),
		RunE: func(cmd *cobra.Command, args []string) error {
			server, uri := args[0], args[1]
			return a.withServers(cmd.Context(), []string{server}, func(r *engine.Runner) error {
				c, err := r.Client(server)
				if err != nil {
					return err
				}
				res, err := c.ReadResource(cmd.Context(), uri)
				var rpc *engine.RPCError
				if errors.As(err, &rpc) && (rpc.Code == codeResourceNotFound ||
					// the go-sdk's servers answer invalid params
					rpc.Code == codeInvalidParams && strings.Contains(strings.ToLower(rpc.Message), "not found")) {
					return usageError{fmt.Errorf("server %q has no resource %q; list them with: mcpscript resources %s", server, uri, server)}
				}
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(res)
				}
				for _, c := range res.Contents {
					switch {
					case c.Text != "":
						fmt.Fprintln(a.stdout, c.Text)
					case len(c.Blob) > 0:
						fmt.Fprintf(a.stdout, "[%s %s, %d bytes; --json prints it base64-encoded]\n", c.URI, orUnknown(c.MIMEType), len(c.Blob))
					default:
						fmt.Fprintf(a.stdout, "[%s: empty]\n", c.URI)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw result as JSON")
	return cmd
}

func orUnknown(mime string) string {
	if mime == "" {
		return "unknown type"
	}
	return mime
}
