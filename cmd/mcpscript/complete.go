package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
)

// Shell completion (cobra's `mcpscript completion bash|zsh|fish|powershell`)
// offers server names from the config, and tool, resource and prompt names
// from the server itself: the first completion that needs them starts the
// server (for at most completionStart), lists all three, and caches the
// names in the user cache folder for completionTTL, so that later ones
// answer at once. The cache is keyed by the config file and its whole
// content, so editing the config refreshes it.

const (
	completionStart = 5 * time.Second
	completionTTL   = 10 * time.Minute
)

// argKind is what a positional argument names.
type argKind int

const (
	serverArg argKind = iota
	toolArg
	resourceArg
	promptArg
)

// completeArgs completes positional arguments: argument i names kinds[i].
// After a prompt's name come its arguments, completed as "name=".
func (a *app) completeArgs(kinds ...argKind) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		none := cobra.ShellCompDirectiveNoFileComp
		if a.logger == nil {
			if a.setupLogging() != nil {
				return nil, none
			}
		}
		if len(args) >= len(kinds) {
			if kinds[len(kinds)-1] == promptArg && len(args) >= 2 {
				return a.promptArgCompletions(cmd.Context(), args[0], args[1], args[2:]), none | cobra.ShellCompDirectiveNoSpace
			}
			return nil, none
		}
		if kinds[len(args)] == serverArg {
			return a.serverCompletions(), none
		}
		names := a.serverNames(cmd.Context(), args[0])
		if names == nil {
			return nil, none
		}
		var list []cachedName
		switch kinds[len(args)] {
		case toolArg:
			list = names.Tools
		case resourceArg:
			list = names.Resources
		case promptArg:
			list = names.Prompts
		}
		out := make([]cobra.Completion, 0, len(list))
		for _, n := range list {
			out = append(out, cobra.CompletionWithDesc(n.Name, oneLine(n.Description)))
		}
		return out, none
	}
}

// serverCompletions are the config's enabled servers, each described by
// its command line.
func (a *app) serverCompletions() []cobra.Completion {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, n := range cfg.ServerNames() {
		s := cfg.Servers[n]
		if s.Disabled {
			continue
		}
		out = append(out, cobra.CompletionWithDesc(n, strings.Join(append([]string{s.Command}, s.Args...), " ")))
	}
	return out
}

// promptArgCompletions offers "arg=" for the arguments of a prompt not
// given yet.
func (a *app) promptArgCompletions(ctx context.Context, server, prompt string, given []string) []cobra.Completion {
	names := a.serverNames(ctx, server)
	if names == nil {
		return nil
	}
	var out []cobra.Completion
	for _, p := range names.Prompts {
		if p.Name != prompt {
			continue
		}
	next:
		for _, arg := range p.Args {
			for _, g := range given {
				if strings.HasPrefix(g, arg+"=") {
					continue next
				}
			}
			out = append(out, arg+"=")
		}
	}
	return out
}

// serverNames is what a server offers to complete: from the cache when it
// is fresh, else from the server, started for the purpose.
type serverNames struct {
	Tools     []cachedName `json:"tools"`
	Resources []cachedName `json:"resources"`
	Prompts   []cachedName `json:"prompts"`
}

type cachedName struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Args        []string `json:"args,omitempty"` // a prompt's arguments
}

func (a *app) serverNames(ctx context.Context, server string) *serverNames {
	cfg, err := a.loadConfig()
	if err != nil || cfg.Servers[server] == nil {
		return nil
	}
	file := completionCacheFile(cfg, server)
	if file != "" {
		if st, err := os.Stat(file); err == nil && time.Since(st.ModTime()) < completionTTL {
			var names serverNames
			if data, err := os.ReadFile(file); err == nil && json.Unmarshal(data, &names) == nil {
				return &names
			}
		}
	}
	names := a.fetchNames(ctx, server)
	if names != nil && file != "" {
		writeCache(file, names)
	}
	return names
}

// fetchNames starts the server, with the config's hooks (which may hide
// tools), and lists its tools, resources and prompts.
func (a *app) fetchNames(ctx context.Context, server string) *serverNames {
	ctx, cancel := context.WithTimeout(ctx, completionStart)
	defer cancel()
	var names *serverNames
	_ = a.withServers(ctx, []string{server}, func(r *engine.Runner) error {
		c, err := r.Client(server)
		if err != nil {
			return err
		}
		names = &serverNames{}
		if tools, err := c.ListTools(ctx); err == nil {
			for _, t := range tools {
				names.Tools = append(names.Tools, cachedName{Name: t.Name, Description: t.Description})
			}
		}
		if resources, err := c.ListResources(ctx); err == nil {
			for _, res := range resources {
				names.Resources = append(names.Resources, cachedName{Name: res.URI, Description: res.Description})
			}
		}
		if prompts, err := c.ListPrompts(ctx); err == nil {
			for _, p := range prompts {
				n := cachedName{Name: p.Name, Description: p.Description}
				for _, arg := range p.Arguments {
					n.Args = append(n.Args, arg.Name)
				}
				names.Prompts = append(names.Prompts, n)
			}
		}
		return nil
	})
	return names
}

// completionCacheFile is where the names of server under cfg are cached,
// or "" when there is no user cache folder.
func completionCacheFile(cfg *config.Config, server string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	abs, err := filepath.Abs(cfg.Source)
	if err != nil {
		return ""
	}
	content, err := json.Marshal(cfg)
	if err != nil {
		return ""
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(abs), []byte(server), content} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return filepath.Join(dir, "mcpscript", "completion", hex.EncodeToString(h.Sum(nil))[:32]+".json")
}

// writeCache stores names at file, readable by the user only, replacing
// it whole; failures only cost a slower next completion.
func writeCache(file string, names *serverNames) {
	data, err := json.Marshal(names)
	if err != nil || os.MkdirAll(filepath.Dir(file), 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "names-*.tmp")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil && cerr == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}
