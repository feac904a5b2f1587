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
	"github.com/mcpscript/mcpscript/internal/policy"
	"github.com/mcpscript/mcpscript/internal/suggest"
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
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
	logger         *slog.Logger
	// closers release what newRunner loaded (hook runtimes, filter
	// instances, the audit trail, the tracer) when the command ends.
	closers []func() error
	// policy holds the config's state store and limits (newRunner).
	policy *policy.Policy
	// obs is the audit trail, tracing and hook meters (observe.go).
	obs observability
}

func run(args []string, stdout, stderr io.Writer) int {
	a := &app{stdin: os.Stdin, stdout: stdout, stderr: stderr}
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
	return exitCode(err)
}

// exitCode is the exit status for an error the command returned.
func exitCode(err error) int {
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
		Version:       engine.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging()
		},
		// Without Args and Run, cobra reports an unknown command as a plain
		// error (exit 1) or, worse, prints the help and exits 0.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			if s := suggest.Closest(args[0], names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return usageError{errors.New(msg + "; run 'mcpscript --help' for the commands")}
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate(versionLine() + "\n")
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
		a.resourcesCommand(),
		a.readCommand(),
		a.promptsCommand(),
		a.promptCommand(),
		a.runCommand(),
		a.checkCommand(),
		a.versionCommand(),
		a.demoServerCommand(),
	)
	for _, c := range root.Commands() {
		usageArgs(c)
	}
	return root
}

// usageArgs makes c's argument errors usage errors (exit 2) that show how
// to call it.
func usageArgs(c *cobra.Command) {
	check := c.Args
	if check == nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		var ue usageError
		if err == nil || errors.As(err, &ue) {
			return err
		}
		return usageError{fmt.Errorf("%s: %w; usage: %s", cmd.Name(), err, cmd.UseLine())}
	}
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
	cfg, err := config.Load(path)
	var ce *config.Error
	if err != nil && !errors.As(err, &ce) {
		from := "--config"
		if a.configPath == "" {
			from = "$MCPSCRIPT_CONFIG"
			if os.Getenv("MCPSCRIPT_CONFIG") == "" {
				from = "the default"
			}
		}
		var cause error = err
		if u := errors.Unwrap(err); u != nil {
			cause = u
		}
		return nil, usageError{fmt.Errorf("config %s (from %s): %w; check the path, or try --config examples/demo.json", path, from, cause)}
	}
	return cfg, err
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
	if err := a.observe(ctx, cfg, opts); err != nil {
		return nil, err
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
// The config's state store and limiter (policy) are built first: hooks
// keep their store and limits.take there.
func (a *app) loadScripts(ctx context.Context, r *engine.Runner) (hooks, filters int, err error) {
	pol, err := policy.New(r.Config(), a.logger)
	if err != nil {
		return 0, 0, usageError{err}
	}
	// Closers run in order: the hooks and filters go before the store
	// they use.
	defer func() { a.closers = append(a.closers, pol.Close) }()
	a.policy = pol
	hmw, closeHooks, err := scripting.Hooks(r.Config(), a.logger, scripting.Backends{
		Store: pol.Store(), Limiter: pol.Limiter(), FailOpen: pol.StateFailsOpen(),
	})
	if err != nil {
		return 0, 0, usageError{err}
	}
	a.closers = append(a.closers, closeHooks)
	fmw, closeFilters, err := wasm.Filters(ctx, r.Config(), a.logger)
	if err != nil {
		return 0, 0, usageError{err}
	}
	a.closers = append(a.closers, closeFilters)
	a.measured(r.Config(), hmw, fmw)
	r.Use(hmw...)
	r.Use(fmw...)
	// The config's rate limits come last: a request a hook refuses uses no
	// quota, and a routed one counts where it goes.
	r.Use(pol.Middleware())
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
	if err != nil {
		err = startFailure{err}
	}
	if err != nil && len(names) > 0 {
		return err
	}
	if ferr := fn(r); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}
