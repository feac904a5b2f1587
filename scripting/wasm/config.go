package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/scripting"
)

// Filters loads the WebAssembly filters of cfg.Filters and returns them as
// middleware in the config's order (the first sees requests first and
// results last), with close to release them once the runner is done. Use
// them after scripting.Hooks' middleware: filters run after the hook
// scripts. Module paths are relative to the config file's folder. Each
// filter runs under its timeout and fail mode (onError "open" lets
// requests through when the filter fails; the default refuses them). A
// filter that cannot be loaded is an error naming it; then nothing stays
// loaded. The compilation cache is the default one (see Options.CacheDir).
func Filters(ctx context.Context, cfg *config.Config, logger *slog.Logger) (mw []engine.Middleware, close func() error, err error) {
	var loaded []*Filter
	close = func() error {
		var errs []error
		for _, f := range loaded {
			errs = append(errs, f.Close(context.Background()))
		}
		return errors.Join(errs...)
	}
	if cfg == nil || len(cfg.Filters) == 0 {
		return nil, close, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	for i, fc := range cfg.Filters {
		if fc == nil || fc.Wasm == "" {
			_ = close()
			return nil, nil, fmt.Errorf("filters[%d]: no wasm module", i)
		}
		f, err := Load(ctx, cfg.Resolve(fc.Wasm), optionsOf(fc, logger))
		if err != nil {
			_ = close()
			return nil, nil, fmt.Errorf("filters[%d]: %w", i, err)
		}
		loaded = append(loaded, f)
		mw = append(mw, scripting.Middleware(f, scripting.Options{
			Timeout:  fc.Timeout.Duration,
			FailOpen: fc.OnError == config.FailOpen,
			Logger:   logger,
		}))
	}
	return mw, close, nil
}

// optionsOf turns a filter's config entry into Options.
func optionsOf(fc *config.Filter, logger *slog.Logger) Options {
	opts := Options{
		Name:           fc.Name,
		Config:         fc.Config,
		MemoryLimitMiB: fc.MemoryLimitMiB,
		Pool:           fc.Pool,
		Logger:         logger,
	}
	for _, h := range fc.Hooks {
		opts.Phases = append(opts.Phases, scripting.Phase(h))
	}
	return opts
}
