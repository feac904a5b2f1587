package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrParse is the Kind of an [*Error] for input that is not valid JSON
// (syntax errors, an empty file).
var ErrParse = errors.New("config: cannot parse")

// ErrInvalid is the Kind of an [*Error] for a configuration that is valid
// JSON (or a Go value) but breaks a rule of the format: unknown keys, wrong
// types, missing or out-of-range values, unset variables.
var ErrInvalid = errors.New("config: invalid")

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path locates the value in the user's terms, such as
	// `mcpServers.fetch.args[1]`, `sseProxy.port` or `mcpServers["my server"]`.
	// It is empty for problems with the file as a whole (syntax errors).
	Path string
	// Line and Col are the 1-based position in the source (Col counts
	// characters, not bytes). Both are 0 when the configuration was not read
	// from text, as with [Config.Validate].
	Line, Col int
	// Message says what is wrong, e.g. "expected a string, found a number".
	Message string
	// Hint, if not empty, says how to fix it, e.g. `did you mean "args"?`.
	Hint string
}

// String formats the problem as one line: "path: message (hint)", prefixed
// with "line:col: " when the position is known.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Col)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Hint != "" {
		b.WriteString(" (")
		b.WriteString(p.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Error lists every problem found in one configuration. It is what [Load],
// [Parse], [ParseWithOptions] and [Config.Validate] return when the
// configuration cannot be used.
type Error struct {
	// Source names the configuration: its file path, "<string>", or "" for a
	// Config built in Go.
	Source string
	// Problems are sorted by position in the source, then by discovery.
	Problems []Problem
	// Kind is ErrParse or ErrInvalid.
	Kind error
}

// Error formats one problem per line, e.g.
//
//	mcpscript.json:4:21: mcpServers.fetch.args[1]: expected a string, found a number
//	mcpscript.json:6:7: mcpServers.fetch.arg: unknown key "arg" (did you mean "args"?)
func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		if e.Kind != nil {
			return e.Kind.Error()
		}
		return "config: invalid"
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		line := p.String()
		if e.Source != "" {
			sep := ": "
			if p.Line > 0 {
				sep = ":"
			}
			line = e.Source + sep + line
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns Kind, so that errors.Is(err, ErrInvalid) and
// errors.Is(err, ErrParse) work.
func (e *Error) Unwrap() error { return e.Kind }

// collector gathers problems while a configuration is decoded or validated.
// When the configuration came from text, it knows where each path is so
// that problems get a line and column.
type collector struct {
	data     []byte         // source text; nil for Go values
	valuePos map[string]int // path -> byte offset of its value
	keyPos   map[string]int // path -> byte offset of its key
	done     map[string]bool
	problems []Problem

	lineStarts []int // offsets at which lines start, built when needed
}

func newCollector(data []byte) *collector {
	return &collector{
		data:     data,
		valuePos: map[string]int{},
		keyPos:   map[string]int{},
		done:     map[string]bool{},
	}
}

// addAt records a problem at a byte offset (or without a position when
// off < 0 or there is no source text), and marks path as reported so the
// shared validation rules do not report it again.
func (c *collector) addAt(off int, path, msg, hint string) {
	c.record(off, path, msg, hint)
	c.done[path] = true
}

// record records a problem like addAt without marking path as reported.
func (c *collector) record(off int, path, msg, hint string) {
	p := Problem{Path: path, Message: msg, Hint: hint}
	if c.data != nil && off >= 0 {
		p.Line, p.Col = c.position(off)
	}
	c.problems = append(c.problems, p)
}

// position is like the function position, with an index of line starts
// built once, so that many problems in a large file stay cheap.
func (c *collector) position(off int) (line, col int) {
	off = min(max(off, 0), len(c.data))
	if c.lineStarts == nil {
		c.lineStarts = []int{0}
		for i, b := range c.data {
			if b == '\n' {
				c.lineStarts = append(c.lineStarts, i+1)
			}
		}
	}
	i := sort.SearchInts(c.lineStarts, off+1) - 1 // last line start <= off
	return i + 1, utf8.RuneCount(c.data[c.lineStarts[i]:off]) + 1
}

// add records a problem at the value of path (or its nearest located
// ancestor), unless path or an ancestor already has a problem.
func (c *collector) add(path, msg, hint string) {
	c.addPos(c.valuePos, path, msg, hint)
}

// addKey is add, positioned at the key of path when it is known.
func (c *collector) addKey(path, msg, hint string) {
	c.addPos(c.keyPos, path, msg, hint)
}

func (c *collector) addPos(first map[string]int, path, msg, hint string) {
	prefixes := pathPrefixes(path)
	for _, p := range prefixes {
		if c.done[p] {
			return
		}
	}
	off := -1
	if o, ok := first[path]; ok {
		off = o
	} else {
		for i := len(prefixes) - 1; i >= 0; i-- {
			if o, ok := c.valuePos[prefixes[i]]; ok {
				off = o
				break
			}
		}
	}
	c.addAt(off, path, msg, hint)
}

// err returns the collected problems as an *Error, or nil if there are none.
func (c *collector) err(source string, kind error) error {
	if len(c.problems) == 0 {
		return nil
	}
	ps := append([]Problem(nil), c.problems...)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	return &Error{Source: source, Problems: ps, Kind: kind}
}

// position converts a byte offset into a 1-based line and column (in
// characters).
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line = 1
	start := 0
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCount(data[start:off]) + 1
}

// child returns the path of key inside the object at path: `a.key`, or
// `a["odd key"]` when key is not made of letters, digits, '_' and '-'.
func child(path, key string) string {
	if isPlainKey(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// index returns the path of element i of the array at path.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isPlainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// pathPrefixes returns the paths of path's ancestors followed by path
// itself: for `a.b[1]` it returns `a`, `a.b`, `a.b[1]`.
func pathPrefixes(path string) []string {
	var out []string
	i := 0
	for i < len(path) {
		switch path[i] {
		case '.':
			i++
			continue
		case '[':
			if i+1 < len(path) && path[i+1] == '"' {
				q, err := strconv.QuotedPrefix(path[i+1:])
				if err != nil {
					return append(out, path)
				}
				i += 1 + len(q)
			} else {
				for i < len(path) && path[i] != ']' {
					i++
				}
			}
			if i < len(path) && path[i] == ']' {
				i++
			}
		default:
			for i < len(path) && path[i] != '.' && path[i] != '[' {
				i++
			}
		}
		out = append(out, path[:i])
	}
	return out
}
