package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/procman"
)

// startFailure is a server's failure to start, told once: the engine's
// chain ("start server %q: initialize server %q: ...") names the server at
// every level, while the innermost StartError or ExitError already names
// it and says what happened. errors.Is and errors.As see the whole chain.
type startFailure struct{ err error }

func (e startFailure) Error() string { return describeStart(e.err) }
func (e startFailure) Unwrap() error { return e.err }

// describeStart words a start failure, one server per line for the joined
// errors of StartAll.
func describeStart(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		lines := make([]string, 0, len(j.Unwrap()))
		for _, e := range j.Unwrap() {
			lines = append(lines, describeStart(e))
		}
		return strings.Join(lines, "\n")
	}
	var se *procman.StartError
	if errors.As(err, &se) {
		return se.Error()
	}
	var re *engine.RemoteError
	if errors.As(err, &re) {
		return re.Error()
	}
	var xe *procman.ExitError
	if errors.As(err, &xe) {
		return xe.Error()
	}
	return err.Error()
}

// summary words a server's error for a table row, which already names the
// server: one line, with the most useful line of its stderr in place of
// the whole tail.
func summary(name string, err error) string {
	if err == nil {
		return ""
	}
	var se *procman.StartError
	if errors.As(err, &se) {
		return se.Reason()
	}
	var re *engine.RemoteError
	if errors.As(err, &re) {
		if re.GaveUp != "" {
			return fmt.Sprintf("%v (not reconnecting: %s)", re.Err, re.GaveUp)
		}
		return re.Err.Error()
	}
	var xe *procman.ExitError
	if errors.As(err, &xe) {
		// "server "x" (pid 7) exited with status 3 after 5ms; stderr tail: ..."
		head, _, _ := strings.Cut(xe.Error(), "; ")
		if _, after, ok := strings.Cut(head, ") "); ok {
			head = after
		}
		if line := usefulLine(xe.Tail); line != "" {
			return head + ": " + line
		}
		return head + ", no stderr output"
	}
	msg := strings.TrimPrefix(err.Error(), `start server "`+name+`": `)
	first, rest, _ := strings.Cut(msg, "\n")
	if head, ok := strings.CutSuffix(first, "; stderr tail:"); ok {
		if line := usefulLine(rest); line != "" {
			return head + ": " + line
		}
		return head
	}
	return first
}

// telling matches the stderr lines that usually say why a program failed.
var telling = regexp.MustCompile(`(?i)\b(error|fatal|panic|cannot|can't|could not|couldn't|not found|no such|missing|denied|invalid|refused|failed|unable|required|must)\b`)

// usefulLine picks the stderr line that best says why a server failed: the
// first that reads like an error, else the first that is not empty.
func usefulLine(tail string) string {
	first := ""
	for line := range strings.SplitSeq(tail, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if telling.MatchString(line) {
			return line
		}
		if first == "" {
			first = line
		}
	}
	return first
}
