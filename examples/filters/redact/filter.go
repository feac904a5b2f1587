// Command redact is an example mcpscript WebAssembly filter, written with
// the Go guest SDK (github.com/mcpscript/mcpscript/scripting/wasm/guest).
//
//   - toolResult and response: replaces secrets (API keys, tokens, private
//     keys) with "[REDACTED]" in every text a result carries (guest.Redact):
//     text and embedded resources, structured content, resources/read
//     contents, prompts/get messages.
//   - toolCall: refuses a call whose path-like arguments ("path", "paths",
//     "source", "destination") point outside the configured folder.
//
// Config (the "config" member of the filter in mcpscript's configuration):
//
//	{
//	  "folder": "/tmp/mcp-demo",          // optional: paths must stay inside it
//	  "patterns": ["(?i)password=\\S+"],  // optional: more secrets, as Go regexps
//	  "replacement": "[REDACTED]",        // optional
//	  "pathKeys": ["path", "paths"]       // optional: replaces the default keys
//	}
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ../redact.wasm .
// (or scripts/build-filters.sh, which builds every example filter).
package main

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/mcpscript/mcpscript/scripting/wasm/guest"
)

// secretPatterns are redacted whatever the config says.
var secretPatterns = []string{
	`sk-[A-Za-z0-9_-]{20,}`,        // OpenAI / Anthropic style API keys
	`AKIA[0-9A-Z]{16}`,             // AWS access key ids
	`gh[pousr]_[A-Za-z0-9]{36,}`,   // GitHub tokens
	`github_pat_[A-Za-z0-9_]{22,}`, // GitHub fine-grained tokens
	`xox[abprs]-[A-Za-z0-9-]{10,}`, // Slack tokens
	`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`,
}

type config struct {
	Folder      string   `json:"folder"`
	Patterns    []string `json:"patterns"`
	Replacement string   `json:"replacement"`
	PathKeys    []string `json:"pathKeys"`
}

var (
	cfg     config
	secrets *regexp.Regexp // every pattern, for replacing
	scan    *scanner       // each pattern with its literals, to look first
)

// setup reads and checks the config (JSON) once per instance; an error
// here makes mcpscript refuse to load the filter, with this message.
func setup(raw []byte) error {
	cfg = config{}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if cfg.Replacement == "" {
		cfg.Replacement = "[REDACTED]"
	}
	if len(cfg.PathKeys) == 0 {
		cfg.PathKeys = []string{"path", "paths", "source", "destination"}
	}
	if cfg.Folder != "" {
		if !path.IsAbs(cfg.Folder) {
			return fmt.Errorf(`config: "folder" must be an absolute path, not %q`, cfg.Folder)
		}
		cfg.Folder = path.Clean(cfg.Folder)
	}
	all := append(append([]string{}, secretPatterns...), cfg.Patterns...)
	var patterns []pattern
	for _, p := range all {
		compiled, err := compilePattern(p)
		if err != nil {
			return fmt.Errorf("config: pattern %q: %w", p, err)
		}
		patterns = append(patterns, compiled)
	}
	scan = newScanner(patterns)
	secrets = regexp.MustCompile("(?:" + strings.Join(all, ")|(?:") + ")")
	return nil
}

func handle(in *guest.Input) (*guest.Decision, error) {
	switch in.Hook {
	case guest.ToolCall:
		return checkPaths(in)
	case guest.ToolResult, guest.Response:
		return redact(in)
	}
	return guest.Continue(), nil
}

// checkPaths denies a tools/call whose path arguments leave the folder.
// The arguments are split into members (guest.Members) rather than decoded
// into a map: a call with a long text argument then costs one quick pass
// over it. Every member with a path key is checked, duplicates included.
func checkPaths(in *guest.Input) (*guest.Decision, error) {
	if cfg.Folder == "" || len(in.Arguments) == 0 || string(in.Arguments) == "null" {
		return guest.Continue(), nil
	}
	members, err := guest.Members(in.Arguments)
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	for _, m := range members {
		if !slices.Contains(cfg.PathKeys, m.Key) {
			continue
		}
		var v any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return nil, fmt.Errorf("arguments: %q: %w", m.Key, err)
		}
		if v == nil {
			continue // null: no path
		}
		values, ok := v.([]any)
		if !ok {
			values = []any{v}
		}
		for _, v := range values {
			p, ok := v.(string)
			if !ok {
				return guest.Deny(fmt.Sprintf("argument %q must be a path string", m.Key)), nil
			}
			if !inside(p) {
				return guest.Deny(fmt.Sprintf("%s %q is outside the allowed folder %s", m.Key, p, cfg.Folder)), nil
			}
		}
	}
	return guest.Continue(), nil
}

// inside reports whether p stays in the folder once cleaned; relative paths
// count from the folder. "~" is refused: servers expand it to a home folder.
// (Symbolic links cannot be seen from here: the filter has no file access.)
func inside(p string) bool {
	if p == "" || strings.HasPrefix(p, "~") {
		return false
	}
	if !path.IsAbs(p) {
		p = path.Join(cfg.Folder, p)
	}
	p = path.Clean(p)
	return p == cfg.Folder || cfg.Folder == "/" || strings.HasPrefix(p, cfg.Folder+"/")
}

// redact replaces secrets in every text the result carries (text and
// embedded resources, structured content at any depth, resources/read
// contents, prompts/get messages): guest.Redact finds them all.
//
// The common case, a result without secrets, costs a few searches of its
// raw bytes (scanner.mayMatch) and nothing else: no decoding, no copy. Only
// a result in which a pattern's literal occurs, or an escape that could
// hide one (\u002d is "-"), is walked string by string.
func redact(in *guest.Input) (*guest.Decision, error) {
	if len(in.Result) == 0 || !scan.mayMatch(in.Result) {
		return guest.Continue(), nil
	}
	n := 0
	d, err := guest.RedactResult(in, func(s string) string {
		if !scan.match(s) {
			return s
		}
		return secrets.ReplaceAllStringFunc(s, func(string) string {
			n++
			return cfg.Replacement
		})
	})
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if n > 0 {
		guest.Logf(guest.LevelInfo, "redacted %d secret(s) from %s %s", n, in.Method, in.Tool)
	}
	return d, nil
}

// main is never called: a reactor module's work is done by its exports
// (main.go registers them).
func main() {}
