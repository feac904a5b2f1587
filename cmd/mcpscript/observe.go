package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/telemetry"
)

// What the CLI sees of the requests it makes: the config's audit trail
// and OpenTelemetry tracing from the OTEL_* variables apply to every
// command that starts servers; serve also measures hooks and filters for
// its console and reopens the trail's file on SIGHUP.

// tracerShutdownGrace bounds sending the last spans at exit.
const tracerShutdownGrace = 5 * time.Second

// observability is what newRunner set up for the command.
type observability struct {
	trail    *audit.Trail         // the config's audit trail, nil without one
	provider trace.TracerProvider // nil: no tracing
	measure  bool                 // serve: wrap hooks and filters in meters
}

// observe adds the audit trail and tracing to opts, as cfg and the
// environment ask, and registers their shutdown with the app's closers.
func (a *app) observe(ctx context.Context, cfg *config.Config, opts *engine.Options) error {
	tp, err := telemetry.FromEnv(ctx, a.logger)
	if err != nil {
		return usageError{err}
	}
	if tp != nil {
		opts.TracerProvider = tp
		a.obs.provider = tp
		a.closers = append(a.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), tracerShutdownGrace)
			defer cancel()
			return tp.Shutdown(ctx)
		})
	}
	trail, err := audit.FromConfig(cfg, a.logger)
	if err != nil {
		return usageError{err}
	}
	if trail != nil {
		a.obs.trail = trail
		opts.Observers = append(opts.Observers, trail.Observer())
		a.closers = append(a.closers, trail.Close)
	}
	return nil
}

// measured wraps each hook and filter in a meter when serve asked for it.
func (a *app) measured(cfg *config.Config, hooks, filters []engine.Middleware) (meters []*engine.Meter) {
	if !a.obs.measure {
		return nil
	}
	for i, mw := range hooks {
		name := "hook " + strconv.Itoa(i)
		if cfg.Scripts != nil && i < len(cfg.Scripts.Hooks) && cfg.Scripts.Hooks[i] != nil {
			name = cfg.Scripts.Hooks[i].Path
		}
		m := engine.NewMeter(name, "hook")
		hooks[i] = m.Wrap(mw)
		meters = append(meters, m)
	}
	for i, mw := range filters {
		name := "filter " + strconv.Itoa(i)
		if i < len(cfg.Filters) && cfg.Filters[i] != nil {
			if name = cfg.Filters[i].Name; name == "" {
				name = strings.TrimSuffix(filepath.Base(cfg.Filters[i].Wasm), ".wasm")
			}
		}
		m := engine.NewMeter(name, "filter")
		filters[i] = m.Wrap(mw)
		meters = append(meters, m)
	}
	return meters
}

// hookStats reports the meters, in the order requests meet them.
func (a *app) hookStats() []engine.MiddlewareStats {
	set := a.scripts.Load()
	if set == nil {
		return nil
	}
	out := make([]engine.MiddlewareStats, len(set.meters))
	for i, m := range set.meters {
		out[i] = m.Stats()
	}
	return out
}

// reopenTrail reopens the audit trail's file: log rotation moves the file
// away, then sends SIGHUP.
func (a *app) reopenTrail(trail *audit.Trail) {
	if err := trail.Reopen(); err != nil {
		a.logger.Error("audit: reopening the trail on SIGHUP failed; still writing to the old file", "err", err)
	} else {
		a.logger.Info("audit: trail reopened on SIGHUP")
	}
}
