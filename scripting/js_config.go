package scripting

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// Hooks loads the hook scripts of cfg.Scripts.Hooks and returns them as
// middleware, in the config's order (the first sees requests first and
// results last), with close to release them once the runner is done. Paths
// (the scripts and scripts.readDir) are relative to the config file's
// folder. Each script runs under its timeout (the hook's, else
// scripts.timeout, else DefaultTimeout) and fail mode (onError "open" lets
// requests through when the hook fails; the default refuses them). A
// script that cannot be loaded is an error naming it, with file:line for a
// syntax error; then nothing stays loaded.
func Hooks(cfg *config.Config, logger *slog.Logger) (mw []engine.Middleware, close func() error, err error) {
	var scripts []*Script
	close = func() error {
		var errs []error
		for _, s := range scripts {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	if cfg == nil || cfg.Scripts == nil || len(cfg.Scripts.Hooks) == 0 {
		return nil, close, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	sc := cfg.Scripts
	grants := jsrt.Grants{Env: sc.Env, ReadDir: cfg.Resolve(sc.ReadDir)}
	for i, h := range sc.Hooks {
		if h == nil || h.Path == "" {
			_ = close()
			return nil, nil, fmt.Errorf("scripts.hooks[%d]: no path", i)
		}
		s, err := LoadScript(cfg.Resolve(h.Path), ScriptOptions{
			Name:             h.Path,
			Grants:           grants,
			Pool:             sc.Pool,
			MaxCallStackSize: sc.MaxCallStackSize,
			Logger:           logger,
		})
		if err != nil {
			_ = close()
			return nil, nil, fmt.Errorf("scripts.hooks[%d]: %w", i, err)
		}
		scripts = append(scripts, s)
		timeout := h.Timeout.Duration
		if timeout <= 0 {
			timeout = sc.Timeout.Duration
		}
		onError := h.OnError
		if onError == "" {
			onError = sc.OnError
		}
		mw = append(mw, Middleware(s, Options{
			Timeout:  timeout,
			FailOpen: onError == config.FailOpen,
			Logger:   logger,
		}))
	}
	return mw, close, nil
}
