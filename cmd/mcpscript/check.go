package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"syscall"

	"github.com/joho/godotenv"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/procman"
)

func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate a config and list every problem in it",
		Long: `Validate a config and list every problem with its line, column and JSON path:
the config's own rules; each server's command, looked up on PATH (or, with
a slash, relative to its cwd) as the runner will; each cwd; the proxy's
bearer tokens (serve refuses empty, short and placeholder ones); and the
hooks and filters, which are loaded. Problems of enabled servers are errors
(exit 2); those of disabled servers are warnings on stderr (exit 0). It
checks this machine: a command installed elsewhere is reported missing.
Remote servers (with a "url") are not contacted; credentials sent to a
plain http:// URL other than loopback get a warning. It says which format
it read: mcpServers (Claude Desktop, Claude Code, Cursor) or VS Code's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			r, err := engine.New(cfg, &engine.Options{Logger: a.logger})
			if err != nil {
				return err
			}
			hooks, filters, err := a.loadScripts(cmd.Context(), r)
			if err != nil {
				return err
			}
			errs, warnings := commandProblems(cfg)
			warnings = append(warnings, remoteProblems(cfg)...)
			var weak *config.Error
			if err := cfg.CheckSecrets(); errors.As(err, &weak) {
				errs = append(errs, weak.Problems...)
			}
			if len(warnings) > 0 {
				w := &config.Error{Source: cfg.Source, Problems: warnings, Kind: config.ErrInvalid}
				for line := range strings.SplitSeq(w.Error(), "\n") {
					fmt.Fprintln(a.stderr, "mcpscript: warning:", line)
				}
			}
			if len(errs) > 0 {
				return &config.Error{Source: cfg.Source, Problems: errs, Kind: config.ErrInvalid}
			}
			names := cfg.ServerNames()
			enabled, remote := 0, 0
			for _, n := range names {
				if !cfg.Servers[n].Disabled {
					enabled++
				}
				if cfg.Servers[n].Remote() {
					remote++
				}
			}
			counts := fmt.Sprintf("%d enabled", enabled)
			if remote > 0 {
				counts += fmt.Sprintf(", %d remote", remote)
			}
			fmt.Fprintf(a.stdout, "%s: ok (%s format), %s (%s): %s\n", cfg.Source, cfg.FormatName(),
				plural(len(names), "server"), counts, strings.Join(names, ", "))
			if hooks+filters > 0 {
				fmt.Fprintf(a.stdout, "scripts: %s and %s loaded\n", plural(hooks, "hook"), plural(filters, "filter"))
			}
			return nil
		},
	}
}

// commandProblems finds the servers whose command or cwd would stop them
// from starting, by the runner's own rules (procman.Spec.Check): errors
// for enabled servers, warnings for disabled ones.
func commandProblems(cfg *config.Config) (errs, warnings []config.Problem) {
	self := selfPath()
	for _, name := range cfg.ServerNames() {
		s := cfg.Servers[name]
		if s.Remote() {
			continue // nothing to find on this machine
		}
		command := s.Command
		if command == "mcpscript" && self != "" {
			command = self // as newRunner aliases it
		}
		var found []config.Problem
		err := procman.Spec{Name: name, Command: command, Dir: s.ResolvedCwd(cfg.Dir)}.Check()
		var se *procman.StartError
		if errors.As(err, &se) {
			found = append(found, cfg.Problem(cfg.ServerPath(name, se.Field), se.Reason(), startHint(se)))
		}
		if path := s.ResolvedEnvFile(cfg.Dir); path != "" {
			if _, err := godotenv.Read(path); err != nil {
				found = append(found, cfg.Problem(cfg.ServerPath(name, "envFile"), fmt.Sprintf("cannot read %s: %v", path, unwrapPath(err)),
					"create it, or fix the path; a relative envFile is relative to the config's folder"))
			}
		}
		for _, p := range found {
			if s.Disabled {
				p.Hint = strings.TrimPrefix(p.Hint+"; ", "; ") + "the server is disabled, so nothing fails yet"
				warnings = append(warnings, p)
			} else {
				errs = append(errs, p)
			}
		}
	}
	return errs, warnings
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// remoteProblems warns of remote servers whose credentials would travel
// unencrypted: headers or OAuth sent to a plain http:// URL that is not on
// loopback.
func remoteProblems(cfg *config.Config) []config.Problem {
	var out []config.Problem
	for _, name := range cfg.ServerNames() {
		s := cfg.Servers[name]
		if !s.Remote() || len(s.Headers) == 0 && s.OAuth == nil {
			continue
		}
		u, err := url.Parse(s.URL)
		if err != nil || u.Scheme != "http" || loopback(u.Hostname()) {
			continue
		}
		out = append(out, cfg.Problem(cfg.ServerPath(name, "url"),
			fmt.Sprintf("the credentials in headers or oauth go to %s unencrypted", s.RedactedURL()), "use an https:// URL"))
	}
	return out
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startHint says what to do about a StartError found by check, whose path
// already names the key to fix.
func startHint(se *procman.StartError) string {
	switch {
	case se.Field == "cwd" && errors.Is(se.Err, fs.ErrNotExist):
		return "create it, or fix the path; a relative cwd is relative to the config's folder"
	case se.Field == "cwd":
		return "point it at a folder"
	case errors.Is(se.Err, exec.ErrNotFound):
		return "install it, or give its full path"
	case errors.Is(se.Err, fs.ErrPermission):
		return "make it executable with chmod +x"
	case errors.Is(se.Err, fs.ErrNotExist), errors.Is(se.Err, syscall.EISDIR):
		return "fix the path; with a cwd, a relative command is relative to it"
	}
	return ""
}
