// Logging is deprecated only from MCP 2026-07-28 on; in 2025-11-25, the
// version the gateway speaks, it is current.
//lint:file-ignore SA1019 see above

package gateway

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// Log levels, least severe first.
var logLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

func logLevelIndex(level string) int {
	return slices.Index(logLevels, level)
}

// setLevel serves logging/setLevel: log messages are opt-in per session,
// and upstream each server's level is lowered to the lowest any session
// asked for (it is never raised again).
func (s *Session) setLevel(ctx context.Context, rq *request, params json.RawMessage) (json.RawMessage, error) {
	level, _ := rawjson.GetString(params, "level")
	lvl := logLevelIndex(level)
	if lvl < 0 {
		return nil, invalidParamsf("invalid log level %q: use one of %v", level, logLevels)
	}
	if s.view != "" {
		ir, err := s.g.initResult(ctx, rq, s.view)
		if err != nil {
			return nil, err
		}
		if ir.Capabilities == nil || ir.Capabilities.Logging == nil {
			return s.forward(ctx, rq, s.view, "logging/setLevel", params) // let the server say it does not log
		}
	}
	s.mu.Lock()
	s.logLevel = lvl
	s.mu.Unlock()
	for _, name := range rq.sc.servers {
		ir, err := s.g.initResult(ctx, rq, name)
		if err != nil || ir.Capabilities == nil || ir.Capabilities.Logging == nil {
			continue
		}
		if err := rq.upstream(name).applyLogLevel(ctx, lvl); err != nil {
			if s.view != "" {
				return nil, err
			}
			s.g.logger.Warn("gateway: could not set a server's log level", "server", name, "err", err)
		}
	}
	return json.RawMessage("{}"), nil
}

// applyLogLevel lowers the server's wanted level to lvl (-1: keep it) and
// makes sure the server's current connection has it.
func (u *upstream) applyLogLevel(ctx context.Context, lvl int) error {
	if err := u.logMu.lock(ctx); err != nil {
		return err
	}
	defer u.logMu.unlock()
	if lvl >= 0 && (u.logWant < 0 || lvl < u.logWant) {
		u.logWant = lvl
	}
	if u.logWant < 0 {
		return nil
	}
	ir := u.client.InitializeResult()
	if ir != nil && u.logInit == ir && u.logApplied == u.logWant {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if _, err := u.client.CallDirect(ctx, "logging/setLevel", &mcp.SetLoggingLevelParams{Level: mcp.LoggingLevel(logLevels[u.logWant])}); err != nil {
		return err
	}
	u.logApplied, u.logInit = u.logWant, ir
	return nil
}
