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
// requests through when the hook fails; the default refuses them), with
// scripts.isolation and scripts.memoryLimitMiB. A script that cannot be
// loaded is an error naming it, with file:line for a syntax error; then
// nothing stays loaded.
//
// backends, at most one, are where the scripts' store and limits.take
// keep their state (the mcpscript command passes the config's, built by
// its state and limits sections); without, each script has its own, in
// memory.
func Hooks(cfg *config.Config, logger *slog.Logger, backends ...Backends) (mw []engine.Middleware, close func() error, err error) {
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
	if len(backends) > 1 {
		return nil, nil, errors.New("scripting.Hooks: more than one Backends")
	}
	var b Backends
	if len(backends) == 1 {
		b = backends[0]
	}
	sc := cfg.Scripts
	grants := jsrt.Grants{Env: sc.Env, ReadDir: cfg.Resolve(sc.ReadDir)}
	iso, err := isolationOf(sc.Isolation)
	if err != nil {
		return nil, nil, err
	}
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
			Isolation:        iso,
			MemoryLimit:      int64(sc.MemoryLimitMiB) << 20,
			Backends:         b,
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

// isolationOf maps scripts.isolation to an Isolation.
func isolationOf(s string) (Isolation, error) {
	switch s {
	case "", config.IsolationAuto:
		return IsolationAuto, nil
	case config.IsolationProcess:
		return IsolationProcess, nil
	case config.IsolationNone:
		return IsolationNone, nil
	}
	return "", fmt.Errorf("scripts.isolation: unknown isolation %q (want %q, %q or %q)", s, config.IsolationAuto, config.IsolationProcess, config.IsolationNone)
}
