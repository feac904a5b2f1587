package remote

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// event is one server-sent event, as the WHATWG event-stream format defines
// it. Events without data are reported too: MCP's priming events carry only
// an id, which is what a client needs to resume a stream.
type event struct {
	name  string        // the event type; "" means "message"
	data  []byte        // the data lines joined by "\n"
	id    string        // the last event id after this event ("" if none was ever set)
	retry time.Duration // the reconnection time the server asked for; 0 if this event set none
}

// errEventTooLarge means an event's data exceeded the reader's limit.
var errEventTooLarge = errors.New("event larger than the message size limit")

// eventReader parses a text/event-stream body. Lines may end in CRLF, LF
// or CR; a line or an event's data longer than max bytes is an error, so a
// hostile stream cannot make it buffer without bound.
type eventReader struct {
	sc     *bufio.Scanner
	max    int
	lastID string
	first  bool
}

// maxFieldOverhead is room for a field name and separator on a data line.
const maxFieldOverhead = 64

func newEventReader(r io.Reader, max int) *eventReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(max+maxFieldOverhead, 64<<10)), max+maxFieldOverhead)
	sc.Split(splitLines)
	return &eventReader{sc: sc, max: max, first: true}
}

// splitLines is bufio.ScanLines for the three line endings SSE allows.
func splitLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		// A CR: one line end by itself, or the first half of CRLF.
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // need one more byte to tell CR from CRLF
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// next returns the next event. io.EOF means the stream ended cleanly
// between events; an event cut off by the end of the stream is dropped, as
// the format says.
func (r *eventReader) next() (event, error) {
	var (
		ev      event
		hasData bool
		seen    bool // any field line, so a lone blank line is not an event
	)
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if r.first {
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
			r.first = false
		}
		if len(line) == 0 {
			if !seen {
				continue
			}
			ev.id = r.lastID
			return ev, nil
		}
		if line[0] == ':' {
			continue // a comment, e.g. a keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.name = string(value)
		case "data":
			size := len(ev.data) + len(value)
			if hasData {
				size++
			}
			if size > r.max {
				return event{}, fmt.Errorf("%w (%d bytes)", errEventTooLarge, r.max)
			}
			if hasData {
				ev.data = append(ev.data, '\n')
			}
			ev.data = append(ev.data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 31); err == nil && isDigits(value) {
				ev.retry = time.Duration(ms) * time.Millisecond
			}
		default:
			continue // unknown fields are ignored and do not start an event
		}
		seen = true
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return event{}, fmt.Errorf("%w (%d bytes)", errEventTooLarge, r.max)
		}
		return event{}, err
	}
	return event{}, io.EOF
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
