package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// benchEnv is where the programs the targets run are found.
type benchEnv struct {
	mcpscript string // the mcpscript binary; every target's echo server is its demo-server
	benchDir  string // testdata/bench: mcpscript configs, policy.js, the npm peers' node_modules
	node      string // the node binary, for the npm peers
	tbxark    string // a TBXark/mcp-proxy binary, or "" to skip it
	workDir   string // a scratch folder for generated configs
}

// addFlags declares the flags that locate the programs.
func (env *benchEnv) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&env.mcpscript, "mcpscript", "bin/mcpscript", "the mcpscript binary (its demo-server is every target's echo server)")
	fs.StringVar(&env.benchDir, "bench-dir", "testdata/bench", "folder of the mcpscript configs, policy.js and the npm peers' node_modules")
	fs.StringVar(&env.node, "node", "node", "node binary for the npm peers")
	fs.StringVar(&env.tbxark, "tbxark", os.Getenv("TBXARK"), "TBXark/mcp-proxy binary ($TBXARK); its targets are skipped without one")
}

// absolute makes the paths absolute: the proxies run with other working
// directories and configs.
func (env *benchEnv) absolute() error {
	for _, p := range []*string{&env.mcpscript, &env.benchDir, &env.tbxark} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// target is one way of reaching the echo server: directly, or through a
// proxy that a cell starts afresh.
type target struct {
	name  string // what -targets selects
	label string // the row of the report
	kind  transportKind
	path  string // the URL path of the endpoint
	tool  string // the echo tool's name there
	// start returns the proxy's command line, listening on 127.0.0.1:port;
	// nil for direct stdio.
	start func(env *benchEnv, port int) (*exec.Cmd, error)
	// missing says why the target cannot run here, or "".
	missing func(env *benchEnv) string
	// note explains, under the report, how the proxy runs its child.
	note string
}

// catalog lists every target, in report order: the baseline, mcpscript's
// endpoints, mcpscript with a hook or a filter, then the peers.
func catalog() []target {
	return []target{
		{
			name: "direct", label: "direct stdio (baseline)", kind: kindStdio, tool: "echo",
			missing: needMcpscript,
		},
		mcpscriptTarget("mcpscript-http", "mcpscript Streamable HTTP `/servers/demo/mcp`",
			kindStreamable, "/servers/demo/mcp", "echo", "mcpscript.json"),
		mcpscriptTarget("mcpscript-http-agg", "mcpscript Streamable HTTP aggregate `/mcp`",
			kindStreamable, "/mcp", "demo__echo", "mcpscript.json"),
		mcpscriptTarget("mcpscript-sse", "mcpscript legacy SSE `/servers/demo/sse`",
			kindSSE, "/servers/demo/sse", "echo", "mcpscript.json"),
		mcpscriptTarget("mcpscript-sse-agg", "mcpscript legacy SSE aggregate `/sse` (reference `GET /sse` + `POST /sse/messages`)",
			kindSSE, "/sse", "demo__echo", "mcpscript.json"),
		mcpscriptTarget("mcpscript-js", "mcpscript + JS policy hook, `/servers/demo/mcp`",
			kindStreamable, "/servers/demo/mcp", "echo", "mcpscript-js.json"),
		mcpscriptTarget("mcpscript-wasm", "mcpscript + Wasm `redact` filter, `/servers/demo/mcp`",
			kindStreamable, "/servers/demo/mcp", "echo", "mcpscript-wasm.json"),
		{
			name: "supergateway-http", label: "supergateway Streamable HTTP `--stateful`", kind: kindStreamable,
			path: "/mcp", tool: "echo", missing: needNodePackage("supergateway", "dist/index.js"),
			start: func(env *benchEnv, port int) (*exec.Cmd, error) {
				return supergateway(env, port, "--outputTransport", "streamableHttp", "--stateful")
			},
			note: "supergateway `--stateful` starts one echo child per session; their CPU and memory are the server's, not the proxy's.",
		},
		{
			name: "supergateway-sse", label: "supergateway SSE", kind: kindSSE,
			path: "/sse", tool: "echo", missing: needNodePackage("supergateway", "dist/index.js"),
			start: func(env *benchEnv, port int) (*exec.Cmd, error) {
				return supergateway(env, port)
			},
			note: "supergateway's SSE mode runs one echo child for all sessions and sends every line it writes to every session: with several sessions, callers get each other's answers (the echo check fails).",
		},
		{
			name: "mcp-proxy-http", label: "punkpeye mcp-proxy Streamable HTTP `/mcp`", kind: kindStreamable,
			path: "/mcp", tool: "echo", missing: needNodePackage("mcp-proxy", "dist/bin/mcp-proxy.mjs"),
			start: func(env *benchEnv, port int) (*exec.Cmd, error) {
				return punkpeye(env, port, "stream")
			},
			note: "punkpeye's mcp-proxy runs one echo child for all sessions.",
		},
		{
			name: "mcp-proxy-sse", label: "punkpeye mcp-proxy SSE `/sse`", kind: kindSSE,
			path: "/sse", tool: "echo", missing: needNodePackage("mcp-proxy", "dist/bin/mcp-proxy.mjs"),
			start: func(env *benchEnv, port int) (*exec.Cmd, error) {
				return punkpeye(env, port, "sse")
			},
		},
		{
			name: "tbxark-http", label: "TBXark mcp-proxy Streamable HTTP `/demo/mcp` (stateless)", kind: kindStreamable,
			path: "/demo/mcp", tool: "echo", missing: needTBXark,
			start: func(env *benchEnv, port int) (*exec.Cmd, error) {
				return tbxark(env, port, "streamable-http")
			},
			note: "TBXark's mcp-proxy runs one echo child for all sessions; its Streamable HTTP is stateless (mcp-go).",
		},
		{
			name: "tbxark-sse", label: "TBXark mcp-proxy SSE `/demo/sse`", kind: kindSSE,
			path: "/demo/sse", tool: "echo", missing: needTBXark,
			start: func(env *benchEnv, port int) (*exec.Cmd, error) {
				return tbxark(env, port, "sse")
			},
		},
	}
}

// Target groups that -targets accepts besides names and globs.
var targetGroups = map[string][]string{
	"all":       {"*"},
	"mcpscript": {"direct", "mcpscript-*"},
	"peers":     {"direct", "supergateway-*", "mcp-proxy-*", "tbxark-*"},
}

// selectTargets picks the targets named by a comma-separated list of names,
// globs (mcpscript-*) and groups (all, mcpscript, peers), in catalog order.
func selectTargets(all []target, list string) ([]target, error) {
	var patterns []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if g, ok := targetGroups[item]; ok {
			patterns = append(patterns, g...)
			continue
		}
		found := false
		for _, t := range all {
			if ok, err := path.Match(item, t.name); err != nil {
				return nil, fmt.Errorf("-targets: bad pattern %q: %w", item, err)
			} else if ok {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("-targets: no target %q; the targets are %s, and the groups all, mcpscript, peers", item, targetNames(all))
		}
		patterns = append(patterns, item)
	}
	var out []target
	for _, t := range all {
		for _, p := range patterns {
			if ok, _ := path.Match(p, t.name); ok {
				out = append(out, t)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-targets: %q selects nothing", list)
	}
	return out, nil
}

func targetNames(all []target) string {
	names := make([]string, len(all))
	for i, t := range all {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

func mcpscriptTarget(name, label string, kind transportKind, urlPath, tool, config string) target {
	return target{
		name: name, label: label, kind: kind, path: urlPath, tool: tool,
		missing: func(env *benchEnv) string {
			if why := needMcpscript(env); why != "" {
				return why
			}
			return needConfigFiles(env, config)
		},
		start: func(env *benchEnv, port int) (*exec.Cmd, error) {
			cmd := exec.Command(env.mcpscript, "serve",
				"-c", filepath.Join(env.benchDir, config),
				"--listen", "127.0.0.1:"+strconv.Itoa(port))
			cmd.Env = withoutEnv(os.Environ(), "MCPSCRIPT_CONFIG", "MCPSCRIPT_LOG")
			return cmd, nil
		},
	}
}

func needMcpscript(env *benchEnv) string {
	if _, err := os.Stat(env.mcpscript); err != nil {
		return fmt.Sprintf("no mcpscript binary at %s (go build -o bin/mcpscript ./cmd/mcpscript)", env.mcpscript)
	}
	return ""
}

// needConfigFiles checks that a config in benchDir and the files it names
// (hooks, filters) exist.
func needConfigFiles(env *benchEnv, config string) string {
	file := filepath.Join(env.benchDir, config)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("no config %s", file)
	}
	var cfg struct {
		Scripts struct {
			Hooks []string `json:"hooks"`
		} `json:"scripts"`
		Filters []struct {
			Wasm string `json:"wasm"`
		} `json:"filters"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Sprintf("%s: %v", file, err)
	}
	for _, h := range cfg.Scripts.Hooks {
		if _, err := os.Stat(filepath.Join(env.benchDir, h)); err != nil {
			return fmt.Sprintf("%s: no hook %s", config, h)
		}
	}
	for _, f := range cfg.Filters {
		if _, err := os.Stat(filepath.Join(env.benchDir, f.Wasm)); err != nil {
			return fmt.Sprintf("%s: no filter %s (scripts/build-filters.sh builds it)", config, filepath.Clean(filepath.Join(env.benchDir, f.Wasm)))
		}
	}
	return ""
}

func needNodePackage(pkg, entry string) func(env *benchEnv) string {
	return func(env *benchEnv) string {
		if _, err := exec.LookPath(env.node); err != nil {
			return fmt.Sprintf("no node (%s) to run %s", env.node, pkg)
		}
		if _, err := os.Stat(filepath.Join(env.benchDir, "node_modules", pkg, entry)); err != nil {
			return fmt.Sprintf("%s is not installed (npm ci in %s; scripts/bench.sh does it)", pkg, env.benchDir)
		}
		return needMcpscript(env)
	}
}

func needTBXark(env *benchEnv) string {
	if env.tbxark == "" {
		return "no TBXark binary (set TBXARK=/path/to/mcp-proxy or -tbxark; docs/benchmarks.md says how to build it)"
	}
	if _, err := os.Stat(env.tbxark); err != nil {
		return fmt.Sprintf("no TBXark binary at %s", env.tbxark)
	}
	return needMcpscript(env)
}

// supergateway runs the npm supergateway in front of the echo server. It
// has no option to pick the listen address: it listens on every interface
// (the harness only ever connects to 127.0.0.1). Its per-message logging is
// turned off, as every proxy here runs with its default or quietest logs.
func supergateway(env *benchEnv, port int, extra ...string) (*exec.Cmd, error) {
	if strings.ContainsAny(env.mcpscript, " \t'\"$\\") {
		return nil, fmt.Errorf("supergateway runs its --stdio command through a shell: the mcpscript path %q must have no spaces or quotes", env.mcpscript)
	}
	args := []string{filepath.Join(env.benchDir, "node_modules", "supergateway", "dist", "index.js"),
		"--stdio", env.mcpscript + " demo-server", "--port", strconv.Itoa(port), "--logLevel", "none"}
	return exec.Command(env.node, append(args, extra...)...), nil
}

// punkpeye runs the npm mcp-proxy with one of its servers ("stream" or "sse").
func punkpeye(env *benchEnv, port int, server string) (*exec.Cmd, error) {
	return exec.Command(env.node, filepath.Join(env.benchDir, "node_modules", "mcp-proxy", "dist", "bin", "mcp-proxy.mjs"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--server", server,
		"--", env.mcpscript, "demo-server"), nil
}

// tbxark writes a TBXark config (its type, "sse" or "streamable-http", is
// for the whole proxy) and runs the binary on it.
func tbxark(env *benchEnv, port int, typ string) (*exec.Cmd, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := map[string]any{
		"mcpProxy": map[string]any{
			"baseURL": "http://" + addr, "addr": addr, "name": "tbxark", "version": "1", "type": typ,
		},
		"mcpServers": map[string]any{
			"demo": map[string]any{"command": env.mcpscript, "args": []string{"demo-server"}},
		},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(env.workDir, fmt.Sprintf("tbxark-%s-%d.json", typ, port))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return nil, fmt.Errorf("writing the TBXark config: %w", err)
	}
	return exec.Command(env.tbxark, "-config", file, "-expand-env=false"), nil
}

// withoutEnv drops the named variables from an environment.
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if k == n {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
