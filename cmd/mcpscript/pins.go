package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/curation"
)

// pinRow is one tool in `tools --pins`.
type pinRow struct {
	Tool   string `json:"tool"`             // the server's own name
	Shown  string `json:"shownAs"`          // what clients call it, "" when hidden
	Schema string `json:"schema"`           // the hash of its input schema now
	Pin    string `json:"pin,omitempty"`    // the pin in the config
	Status string `json:"status,omitempty"` // "ok" or "changed" when pinned
}

// printPins prints the input schema hashes of the servers' own tools
// (listed past every middleware: pins are about what the server offers).
func (a *app) printPins(ctx context.Context, r *engine.Runner, names []string, asJSON bool) error {
	if len(names) == 0 {
		for _, st := range r.Statuses() {
			if st.State == engine.StateRunning {
				names = append(names, st.Name)
			}
		}
	}
	out := map[string][]pinRow{}
	var errs []error
	for _, name := range names {
		rows, err := pinRows(ctx, r, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = rows
	}
	if asJSON {
		if err := a.printJSON(out); err != nil {
			return err
		}
		return errors.Join(errs...)
	}
	t := a.newTable()
	t.keep = true // hashes are copied from here: never cut them
	t.row("SERVER", "TOOL", "SHOWN AS", "SCHEMA", "PIN")
	for _, server := range sortedKeys(out) {
		for _, row := range out[server] {
			shown := row.Shown
			if shown == "" {
				shown = "(hidden)"
			}
			status := row.Status
			if status == "" {
				status = "-"
			}
			t.row(server, row.Tool, shown, row.Schema, status)
		}
	}
	t.flush()
	return errors.Join(errs...)
}

// pinRows lists one server's own tools with their schema hashes.
func pinRows(ctx context.Context, r *engine.Runner, name string) ([]pinRow, error) {
	c, err := r.Client(name)
	if err != nil {
		return nil, err
	}
	cur := curation.New(r.Config().Servers[name].Tools)
	var rows []pinRow
	cursor := ""
	for {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		page, err := c.CallDirect(ctx, "tools/list", params)
		if err != nil {
			return nil, err
		}
		var res struct {
			Tools []struct {
				Name        string          `json:"name"`
				InputSchema json.RawMessage `json:"inputSchema"`
			} `json:"tools"`
			NextCursor string `json:"nextCursor"`
		}
		if err := json.Unmarshal(page, &res); err != nil {
			return nil, fmt.Errorf("server %q: malformed tools/list result: %w", name, err)
		}
		for _, tl := range res.Tools {
			row := pinRow{Tool: tl.Name, Schema: curation.SchemaHash(tl.InputSchema), Pin: cur.Pin(tl.Name)}
			row.Shown, _ = cur.Exposed(tl.Name)
			switch {
			case row.Pin == "":
			case row.Pin == row.Schema:
				row.Status = "ok"
			default:
				row.Status = "changed"
			}
			rows = append(rows, row)
		}
		if res.NextCursor == "" || res.NextCursor == cursor {
			return rows, nil
		}
		cursor = res.NextCursor
	}
}
