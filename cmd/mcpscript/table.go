package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// table aligns rows of cells in columns and cuts each line to the output's
// width (see width), so that long descriptions do not wrap.
type table struct {
	a    *app
	buf  bytes.Buffer
	tw   *tabwriter.Writer
	keep bool // never cut lines (URLs must stay whole)
}

func (a *app) newTable() *table {
	t := &table{a: a}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	return t
}

// row adds a row; cells are made single-line first.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		indent := c[:len(c)-len(strings.TrimLeft(c, " "))]
		cells[i] = indent + oneLine(c)
	}
	t.tw.Write([]byte(strings.Join(cells, "\t") + "\n"))
}

// flush writes the table to stdout.
func (t *table) flush() {
	t.tw.Flush()
	w := t.a.width()
	if t.keep {
		w = 0
	}
	for line := range strings.Lines(t.buf.String()) {
		line = strings.TrimRight(line, " \n")
		if w > 0 && runewidth.StringWidth(line) > w {
			line = runewidth.Truncate(line, w, "…")
		}
		t.a.stdout.Write([]byte(line + "\n"))
	}
	t.buf.Reset()
}

// width is how wide table lines may be: $COLUMNS when it is set to a
// number, else the terminal's width when stdout is a terminal, else 0 (no
// limit: piped output keeps whole lines for grep and friends).
func (a *app) width() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if n, _, err := term.GetSize(int(f.Fd())); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// oneLine is the first line of s, trimmed, with tabs as spaces.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.ReplaceAll(strings.TrimSpace(s), "\t", " ")
}

// printJSON writes v to stdout as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// plural is "1 tool" or "2 tools".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
