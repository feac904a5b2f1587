package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestReadFrame(t *testing.T) {
	long := strings.Repeat("a", 100_000) // spans several reads of the 64 KiB buffer
	tests := []struct {
		name, in string
		max      int
		want     []string
		err      error
	}{
		{"lines", "a\nbb\n", 10, []string{"a\n", "bb\n"}, io.EOF},
		{"last line without newline", "a\nbb", 10, []string{"a\n", "bb"}, io.EOF},
		{"exactly max", "abc\n", 3, []string{"abc\n"}, io.EOF},
		{"over max", "abcd\n", 3, nil, errFrameTooLarge},
		{"longer than the buffer", long + "\nx\n", 200_000, []string{long + "\n", "x\n"}, io.EOF},
		{"longer than max across buffers", long + "\n", 70_000, nil, errFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 64<<10)
			var got []string
			for {
				f, err := readFrame(br, tc.max)
				if err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("err = %v, want %v", err, tc.err)
					}
					break
				}
				got = append(got, string(f))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("frames = %.60q, want %.60q", got, tc.want)
			}
		})
	}
}

type discardCloser struct{ io.Writer }

func (discardCloser) Close() error { return nil }

// FuzzConnOutput feeds arbitrary server output to a connection with one
// request pending: whatever the bytes, the request gets exactly one outcome
// (a result, a JSON-RPC error, or the connection's error) and nothing panics.
func FuzzConnOutput(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{}}` + "\n",
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}` + "\n",
		"npm WARN something\n" + `{"jsonrpc":"2.0","id":1,"result":{"x":1}}` + "\n",
		`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"notifications/message","params":{}}]` + "\n",
		`{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{}}` + "\n",
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}` + "\n",
		`{"jsonrpc":"2.0","id":1.5,"result":{}}`,
		`{"jsonrpc":"1.0","id":1,"result":{}}` + "\n",
		"{not json\n",
		strings.Repeat("x", 5000) + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConn(strings.NewReader(string(data)), discardCloser{io.Discard}, connOptions{
			name: "fuzz", maxFrame: 4096, logger: slog.New(slog.DiscardHandler),
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.call(ctx, "ping", json.RawMessage(`{}`), func(json.RawMessage) {})
		if errors.Is(err, ErrTimeout) {
			t.Fatalf("the call hung although the output ended: %v", err)
		}
	})
}

// TestNoiseIsBounded floods a connection with lines that are not JSON-RPC:
// the request still gets its answer, the log holds noiseBurst warnings and
// one count of the rest, whatever the flood's size.
func TestNoiseIsBounded(t *testing.T) {
	const lines = 50_000
	var out strings.Builder
	for i := range lines {
		switch i % 3 {
		case 0:
			out.WriteString("garbage line\n")
		case 1:
			out.WriteString("{not json\n")
		default:
			out.WriteString(`{"jsonrpc":"1.0","id":7}` + "\n")
		}
	}
	out.WriteString(`{"jsonrpc":"2.0","id":1,"result":{"ok":true}}` + "\n")
	var log strings.Builder
	pr, pw := io.Pipe()
	c := newConn(pr, discardCloser{io.Discard}, connOptions{
		name: "noisy", maxFrame: 4096, logger: slog.New(slog.NewTextHandler(&log, nil)),
	})
	go func() {
		pw.Write([]byte(out.String()))
		// The pipe stays open until the answer was read: the summary then
		// comes from the end of the connection.
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.call(ctx, "ping", json.RawMessage(`{}`), nil)
	if err != nil || string(res) != `{"ok":true}` {
		t.Fatalf("call = %s, %v", res, err)
	}
	pw.Close()
	<-c.done
	text := log.String()
	records := strings.Count(text, "\n")
	if n := strings.Count(text, "ignoring "); n != noiseBurst {
		t.Errorf("%d warnings, want %d", n, noiseBurst)
	}
	want := fmt.Sprintf("… %d more malformed lines from the server dropped", lines-noiseBurst)
	if !strings.Contains(text, want) || records != noiseBurst+1 {
		t.Errorf("log of %d records, want %d and %q:\n%.2000s", records, noiseBurst+1, want, text)
	}
}

// TestWriteStall: a server that stops reading its input blocks a write;
// once the write's context has ended, the connection is closed
// writeStallGrace later (every call on it fails with a clear error), and
// not before: a deadline alone does not break a shared connection.
func TestWriteStall(t *testing.T) {
	out, _ := io.Pipe()         // the server's output: never written
	stdinR, stdinW := io.Pipe() // the server's input: never read
	defer stdinR.Close()
	c := newConn(out, stdinW, connOptions{name: "stuck", maxFrame: 1 << 20, logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.call(ctx, "tools/call", json.RawMessage(`{"name":"x"}`), nil)
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call on a stuck server: %v", err)
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if d := time.Since(start); d < writeStallGrace {
		t.Errorf("closed after %s, before the grace of %s", d, writeStallGrace)
	}
	if err := c.closedErr(); err == nil || !strings.Contains(err.Error(), "stopped reading its input") {
		t.Errorf("close reason %v", err)
	}
}
