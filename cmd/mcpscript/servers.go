package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
)

// serverJSON is one server in `servers --json`.
type serverJSON struct {
	Name            string              `json:"name"`
	State           string              `json:"state"`
	Transport       string              `json:"transport,omitempty"`
	URL             string              `json:"url,omitempty"`
	PID             int                 `json:"pid,omitempty"`
	Restarts        int                 `json:"restarts,omitempty"`
	Tools           *int                `json:"tools,omitempty"`
	ServerInfo      *mcp.Implementation `json:"serverInfo,omitempty"`
	ProtocolVersion string              `json:"protocolVersion,omitempty"`
	Error           string              `json:"error,omitempty"`
}

func (a *app) serversCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "servers",
		Short: "Start every server, print their status and tool counts, stop them",
		Long: `Start every enabled server, print a table of their state, pid, tool count and
name and MCP version (or, for a server that failed, why), and stop them.
--json prints the same as a JSON array. The exit status is 1 when a server
failed to start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.newRunner(cmd.Context())
			if err != nil {
				return err
			}
			defer func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), stopGrace)
				defer cancel()
				_ = r.StopAll(stopCtx)
			}()
			startErr := r.StartAll(cmd.Context())
			tools, _ := r.AllTools(cmd.Context())
			var rows []serverJSON
			for _, st := range r.Statuses() {
				row := serverJSON{Name: st.Name, State: string(st.State), PID: st.PID, Restarts: st.Restarts,
					ServerInfo: st.ServerInfo, ProtocolVersion: st.ProtocolVersion, Transport: st.Transport, URL: st.URL}
				if ts, ok := tools[st.Name]; ok {
					n := len(ts)
					row.Tools = &n
				}
				if st.State == engine.StateFailed && st.Err != nil {
					row.Error = describeStart(st.Err)
				}
				rows = append(rows, row)
			}
			if asJSON {
				if err := a.printJSON(rows); err != nil {
					return err
				}
			} else {
				a.serversTable(r, rows)
			}
			if startErr != nil {
				fmt.Fprintln(a.stderr, "mcpscript:", startFailure{startErr})
				return exitError{exitFailure}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the servers as a JSON array")
	return cmd
}

func (a *app) serversTable(r *engine.Runner, rows []serverJSON) {
	t := a.newTable()
	t.row("SERVER", "STATE", "PID", "TOOLS", "INFO")
	statuses := map[string]engine.Status{}
	for _, st := range r.Statuses() {
		statuses[st.Name] = st
	}
	for _, row := range rows {
		pid, count, info := "-", "-", ""
		if row.PID > 0 {
			pid = strconv.Itoa(row.PID)
		}
		if row.Tools != nil {
			count = strconv.Itoa(*row.Tools)
		}
		st := statuses[row.Name]
		switch {
		case st.State == engine.StateFailed:
			info = summary(row.Name, st.Err)
		case row.ServerInfo != nil:
			info = fmt.Sprintf("%s %s (MCP %s)", row.ServerInfo.Name, row.ServerInfo.Version, row.ProtocolVersion)
		}
		if row.URL != "" && st.State != engine.StateFailed {
			info = strings.TrimSpace(info + " at " + row.URL)
		}
		t.row(row.Name, row.State, pid, count, info)
	}
	t.flush()
}
