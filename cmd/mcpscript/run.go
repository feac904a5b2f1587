package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/scripting"
)

// demoConfig is the config of `mcpscript run` when none is found: the
// built-in demo server, started only if the workflow uses it.
const demoConfig = `{"mcpServers": {"demo": {"command": "mcpscript", "args": ["demo-server"]}}}`

func (a *app) runCommand() *cobra.Command {
	var (
		allowEnv  []string
		allowRead string
		quiet     bool
		maxMemory string
	)
	cmd := &cobra.Command{
		Use:   "run FILE [-- ARGS...]",
		Short: "Run a workflow script against the configured servers",
		Long: `Run a workflow: a JavaScript or TypeScript file (ES module or CommonJS) that
exports an async main(args) function and calls MCP servers through the global
mcp object:

  export default async function main(args) {
    const demo = mcp.server("demo");
    const res = await demo.callTool("echo", { text: args[0] ?? "hi" });
    print(res.text);
  }

ARGS (after --, or after FILE) reach main as an array of strings. print()
writes the workflow's output to stdout; console.* goes to the log on stderr.
Servers start when the script first asks for them and stop when it ends.
Without a config (--config, $MCPSCRIPT_CONFIG, ./mcpscript.json) the
workflow gets the built-in demo server, named "demo".

Scripts read only the environment variables and the folder the config's
"scripts" section grants (env, readDir), plus --allow-env and --allow-read.
Progress of long tool calls goes to stderr unless --quiet.

The workflow's memory is bounded (--max-memory, default 1GiB): over it the
script is stopped and the workflow fails.

Exit status: 0 when main succeeds, 1 when the script fails (its stack goes to
stderr) or is interrupted, 2 for usage errors (no such file, bad flags, a bad
config).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || (cmd.ArgsLenAtDash() == 0) {
				return usageError{errors.New("run: name the workflow file: mcpscript run FILE [-- ARGS...]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			limit, err := parseMemory(maxMemory)
			if err != nil {
				return usageError{fmt.Errorf("--max-memory %s: %w", maxMemory, err)}
			}
			return a.runWorkflow(cmd, args[0], args[1:], allowEnv, allowRead, quiet, limit)
		},
	}
	cmd.Flags().StringArrayVar(&allowEnv, "allow-env", nil, "let the script read this environment variable (repeatable)")
	cmd.Flags().StringVar(&allowRead, "allow-read", "", "let the script read files under this folder (fs.readFile)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print progress to stderr")
	cmd.Flags().StringVar(&maxMemory, "max-memory", "", `the most memory the workflow may use, e.g. 512MiB or 2GiB; "none" for no limit (default 1GiB)`)
	return cmd
}

// parseMemory reads a --max-memory size: a number of bytes with an
// optional unit (KiB, MiB, GiB, or K, M, G, KB, MB, GB, all powers of
// 1024), or "none". It returns scripting.WorkflowOptions.MemoryLimit: 0
// for the default, negative for none.
func parseMemory(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return 0, nil
	case "none", "off", "unlimited":
		return -1, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	shift, ok := map[string]uint{"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20, "g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40}[strings.ToLower(unit)]
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" {
		return 0, errors.New(`write a size such as 512MiB or 2GiB, or "none"`)
	}
	bytes := n * float64(uint64(1)<<shift)
	if bytes < 16<<20 || bytes > 1<<50 {
		return 0, errors.New("must be from 16MiB to 1PiB")
	}
	return int64(bytes), nil
}

func (a *app) runWorkflow(cmd *cobra.Command, file string, args, allowEnv []string, allowRead string, quiet bool, memoryLimit int64) error {
	if st, err := os.Stat(file); err != nil {
		return usageError{fmt.Errorf("workflow %s: %w; check the path", file, errors.Unwrap(err))}
	} else if st.IsDir() {
		return usageError{fmt.Errorf("workflow %s: is a folder; name a script file (.js, .mjs, .cjs, .ts, .mts or .cts)", file)}
	}
	if allowRead != "" {
		if st, err := os.Stat(allowRead); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("--allow-read %s: not a folder; name the folder the script may read", allowRead)}
		}
	}
	// Progress lines and the log share stderr, from several goroutines.
	stderr := &lockedWriter{w: a.stderr}
	a.stderr = stderr
	if err := a.setupLogging(); err != nil {
		return err
	}

	r, demo, err := a.workflowRunner(cmd.Context())
	if err != nil {
		return err
	}
	wf, err := scripting.LoadWorkflow(file)
	if err != nil {
		fmt.Fprintln(stderr, "mcpscript:", err)
		return exitError{exitFailure}
	}
	opts := scripting.WorkflowOptions{
		Args:        args,
		Logger:      a.logger,
		Stdout:      a.stdout,
		Stderr:      stderr, // console.warn and error, beside the log and progress
		StopTimeout: stopGrace,
		MemoryLimit: memoryLimit,
	}
	if sc := r.Config().Scripts; sc != nil {
		opts.Grants.Env = sc.Env
		opts.Grants.ReadDir = r.Config().Resolve(sc.ReadDir)
		opts.MaxCallStackSize = sc.MaxCallStackSize
	}
	for _, name := range allowEnv {
		if !slices.Contains(opts.Grants.Env, name) {
			opts.Grants.Env = append(opts.Grants.Env, name)
		}
	}
	if allowRead != "" {
		opts.Grants.ReadDir = allowRead
	}
	if !quiet {
		opts.OnProgress = func(server, tool string, p *mcp.ProgressNotificationParams) {
			fmt.Fprintf(stderr, "%s/%s: %s\n", server, tool, formatProgress(p))
		}
	}
	err = wf.Run(cmd.Context(), r, opts)
	if err == nil {
		return nil
	}
	fmt.Fprintln(stderr, "mcpscript:", err)
	if demo && errors.Is(err, engine.ErrServerNotFound) {
		fmt.Fprintln(stderr, "mcpscript: no config was found, so the only server is the built-in \"demo\": pass --config FILE, set MCPSCRIPT_CONFIG, or create ./mcpscript.json")
	}
	return exitError{exitFailure}
}

// workflowRunner builds the runner of a workflow: from the config as every
// command finds it, else (demo true) with the built-in demo server only.
func (a *app) workflowRunner(ctx context.Context) (r *engine.Runner, demo bool, err error) {
	if _, err := a.resolveConfigPath(); err != nil {
		cfg, perr := config.Parse([]byte(demoConfig), "<built-in demo config>")
		if perr != nil {
			return nil, false, perr
		}
		a.logger.Info("no config found: the workflow gets the built-in demo server only")
		opts := &engine.Options{Logger: a.logger}
		if self := selfPath(); self != "" {
			opts.Commands = map[string]string{"mcpscript": self}
		}
		r, err := engine.New(cfg, opts)
		return r, true, err
	}
	r, err = a.newRunner(ctx)
	return r, false, err
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
