package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/scripting"
	"github.com/mcpscript/mcpscript/scripting/wasm"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a server failed, a tool reported an error
	exitUsage   = 2 // bad flags, bad config, unknown server or tool
)

// usageError marks errors the user fixes by changing the command or config.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a chosen exit code with nothing more to print.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// app holds what every command shares: flags, streams and the logger.
type app struct {
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
	logger         *slog.Logger
	// closers release what newRunner loaded (hook runtimes, filter
	// instances) when the command ends.
	closers []func() error
}

func run(args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Hooks see the CLI's requests as transport "cli"; the proxy's sessions
	// and workflows carry their own.
	ctx = engine.WithIdentity(ctx, engine.Identity{Transport: "cli"})
	err := root.ExecuteContext(ctx)
	for _, c := range a.closers {
		if cerr := c(); cerr != nil && a.logger != nil {
			a.logger.Warn("releasing scripts", "err", cerr)
		}
	}
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "mcpscript:", err)
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, engine.ErrConfigParse) || errors.Is(err, engine.ErrConfigInvalid) ||
		errors.Is(err, engine.ErrServerNotFound) || errors.Is(err, engine.ErrToolNotFound) {
		return exitUsage
	}
	return exitFailure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "mcpscript",
		Short:         "Run MCP servers locally and script what flows through them",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging()
		},
	}
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", "",
		"config file (default $MCPSCRIPT_CONFIG, then ./mcpscript.json)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "",
		"log level: debug, info, warn, error (default $MCPSCRIPT_LOG, then warn)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.serveCommand(),
		a.serversCommand(),
		a.toolsCommand(),
		a.callCommand(),
		a.runCommand(),
		a.checkCommand(),
		a.versionCommand(),
		a.demoServerCommand(),
	)
	return root
}

func (a *app) setupLogging() error {
	name := a.logLevel
	if name == "" {
		name = os.Getenv("MCPSCRIPT_LOG")
	}
	if name == "" {
		name = "warn"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToLower(name))); err != nil {
		return usageError{fmt.Errorf("log level %q: use debug, info, warn or error", name)}
	}
	a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// resolveConfigPath applies the lookup order: --config, $MCPSCRIPT_CONFIG, ./mcpscript.json.
func (a *app) resolveConfigPath() (string, error) {
	if a.configPath != "" {
		return a.configPath, nil
	}
	if p := os.Getenv("MCPSCRIPT_CONFIG"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("mcpscript.json"); err == nil {
		return "mcpscript.json", nil
	}
	return "", usageError{errors.New("no config: pass --config FILE, set MCPSCRIPT_CONFIG, or create ./mcpscript.json (try --config examples/demo.json)")}
}

func (a *app) loadConfig() (*config.Config, error) {
	path, err := a.resolveConfigPath()
	if err != nil {
		return nil, err
	}
	return config.Load(path)
}

// newRunner loads the config and builds a Runner whose "mcpscript" command
// means this very binary, so configs can start the built-in demo server.
func (a *app) newRunner(ctx context.Context) (*engine.Runner, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	opts := &engine.Options{Logger: a.logger}
	if self := selfPath(); self != "" {
		opts.Commands = map[string]string{"mcpscript": self}
	}
	r, err := engine.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := a.loadScripts(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// loadScripts loads the config's hooks (scripts.hooks) and WebAssembly
// filters, in that order, into r's middleware chain and returns how many of
// each it loaded. A script or filter that cannot load is a config problem.
func (a *app) loadScripts(ctx context.Context, r *engine.Runner) (hooks, filters int, err error) {
	hmw, closeHooks, err := scripting.Hooks(r.Config(), a.logger)
	if err != nil {
		return 0, 0, usageError{err}
	}
	a.closers = append(a.closers, closeHooks)
	fmw, closeFilters, err := wasm.Filters(ctx, r.Config(), a.logger)
	if err != nil {
		return 0, 0, usageError{err}
	}
	a.closers = append(a.closers, closeFilters)
	r.Use(hmw...)
	r.Use(fmw...)
	return len(hmw), len(fmw), nil
}

// selfPath returns an absolute path that runs this program: os.Args[0] as
// the shell found it (so a multi-call binary keeps its name), else the
// executable.
func selfPath() string {
	self := os.Args[0]
	if !strings.Contains(self, "/") {
		if p, err := exec.LookPath(self); err == nil {
			self = p
		} else if self, err = os.Executable(); err != nil {
			return ""
		}
	}
	abs, err := filepath.Abs(self)
	if err != nil {
		return ""
	}
	return abs
}

// withServers starts the named servers (all enabled ones when names is
// empty), runs fn, and stops them whatever happens.
func (a *app) withServers(ctx context.Context, names []string, fn func(*engine.Runner) error) error {
	r, err := a.newRunner(ctx)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		_ = r.StopAll(stopCtx)
	}()
	if len(names) == 0 {
		err = r.StartAll(ctx)
	} else {
		for _, n := range names {
			if err = r.StartServer(ctx, n); err != nil {
				break
			}
		}
	}
	if err != nil && len(names) > 0 {
		return err
	}
	if ferr := fn(r); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}
