package config

import "slices"

// origin remembers, for a config parsed from text, where each value is in
// the text and which environment variables it was expanded from, so that
// problems found after parsing (a command missing from PATH, a weak token)
// can be reported like the parser's own.
type origin struct {
	data     []byte
	valuePos map[string]int      // path -> byte offset of its value
	vars     map[string][]string // path -> variables its references resolved
}

// Position returns the 1-based line and column (in characters) of the
// value at path, written as in [Problem.Path] (see [Path]), in the text the
// config was parsed from. It returns 0, 0 for a config built in Go or a
// path that is not in the text.
func (c *Config) Position(path string) (line, col int) {
	if c == nil || c.src == nil {
		return 0, 0
	}
	off, ok := c.src.valuePos[path]
	if !ok {
		return 0, 0
	}
	return position(c.src.data, off)
}

// Vars returns the environment variables the value at path was expanded
// from, in the order its ${VAR} references were resolved: ["MCP_PROXY_TOKEN"]
// for "${MCP_PROXY_TOKEN:-x}", ["A", "B"] for "${A:-${B}}" when A is unset.
// It returns nil for a value without references, a value not expanded
// (in a disabled server, scripts or filters), and a config built in Go.
func (c *Config) Vars(path string) []string {
	if c == nil || c.src == nil {
		return nil
	}
	return slices.Clone(c.src.vars[path])
}

// Path returns the path of a value as [Problem.Path] writes it, from the
// keys leading to it: Path("mcpServers", "fetch", "command") is
// `mcpServers.fetch.command`, and a key that is not made of letters,
// digits, '_' and '-' is quoted: `mcpServers["my.server"].cwd`.
func Path(keys ...string) string {
	p := ""
	for _, k := range keys {
		p = child(p, k)
	}
	return p
}

// Problem returns a Problem at path, positioned with [Config.Position].
func (c *Config) Problem(path, msg, hint string) Problem {
	line, col := c.Position(path)
	return Problem{Path: path, Line: line, Col: col, Message: msg, Hint: hint}
}
