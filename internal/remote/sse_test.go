package remote

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestEventReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []event
	}{
		{"one message", "event: message\ndata: {\"a\":1}\n\n", []event{{name: "message", data: []byte(`{"a":1}`)}}},
		{"unnamed, no space", "data:{}\n\n", []event{{data: []byte(`{}`)}}},
		{"multi-line data", "data: {\ndata: \"a\": 1}\n\n", []event{{data: []byte("{\n\"a\": 1}")}}},
		{"CRLF and CR endings", "data: a\r\n\r\ndata: b\r\rdata: c\n\n", []event{{data: []byte("a")}, {data: []byte("b")}, {data: []byte("c")}}},
		{"priming event and id carried on", "id: 7\ndata:\n\ndata: x\n\n", []event{{id: "7"}, {id: "7", data: []byte("x")}}},
		{"comments and blank lines skipped", ": keep-alive\n\n\n: again\ndata: x\n\n", []event{{data: []byte("x")}}},
		{"retry", "retry: 1500\ndata: x\n\n", []event{{data: []byte("x"), retry: 1500 * time.Millisecond}}},
		{"bad retry ignored", "retry: 1s\ndata: x\n\n", []event{{data: []byte("x")}}},
		{"id with NUL ignored", "id: a\x00b\ndata: x\n\n", []event{{data: []byte("x")}}},
		{"BOM stripped", "\xEF\xBB\xBFdata: x\n\n", []event{{data: []byte("x")}}},
		{"event cut off by EOF dropped", "data: x\n\ndata: partial", []event{{data: []byte("x")}}},
		{"endpoint event", "event: endpoint\ndata: /message?sessionId=1\n\n", []event{{name: "endpoint", data: []byte("/message?sessionId=1")}}},
		{"unknown field ignored", "foo: bar\ndata: x\n\n", []event{{data: []byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newEventReader(strings.NewReader(tt.stream), 1<<10)
			var got []event
			for {
				ev, err := r.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.name != w.name || string(g.data) != string(w.data) || g.id != w.id || g.retry != w.retry {
					t.Errorf("event %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestEventReaderLimit(t *testing.T) {
	tests := []struct {
		name   string
		stream string
	}{
		{"one long line", "data: " + strings.Repeat("x", 200) + "\n\n"},
		{"many short lines", strings.Repeat("data: "+strings.Repeat("x", 30)+"\n", 10) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newEventReader(strings.NewReader(tt.stream), 100).next()
			if !errors.Is(err, errEventTooLarge) {
				t.Fatalf("got %v, want errEventTooLarge", err)
			}
		})
	}
}

func FuzzEventReader(f *testing.F) {
	for _, s := range []string{"data: x\n\n", "id: 1\r\nevent: message\r\ndata: {}\r\n\r\n", "retry: 10\rdata:\r\r", ": c\n\ndata", "\xEF\xBB\xBFdata:x\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const max = 64
		r := newEventReader(strings.NewReader(s), max)
		for range len(s) + 1 {
			ev, err := r.next()
			if err != nil {
				return
			}
			if len(ev.data) > max {
				t.Fatalf("event of %d bytes passed a limit of %d", len(ev.data), max)
			}
		}
		t.Fatal("more events than bytes")
	})
}
