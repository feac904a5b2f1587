package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// fdWriteModule writes, with one fd_write to fd, n bytes: text followed
// by fill bytes; then it writes {} and returns 0, or with trap it hits
// unreachable.
func fdWriteModule(fd int32, text string, fill byte, n int, trap bool) []byte {
	const at = 64 // iovec {at, n} at 0, nwritten at 8, "{}" at 16
	data := make([]byte, at+len(text))
	copy(data, le32(at))
	copy(data[4:], le32(uint32(n)))
	copy(data[16:], "{}")
	copy(data[at:], text)
	body := code(
		i32c(at+int32(len(text))), i32c(int32(fill)), i32c(int32(n-len(text))), []byte{0xfc, 11, 0}, // memory.fill
		i32c(fd), i32c(0), i32c(1), i32c(8), []byte{opCall, 1, opDrop}, // fd_write(fd, 0, 1, 8)
	)
	if trap {
		body = append(body, 0x00) // unreachable
	} else {
		body = code(body, i32c(16), i32c(2), []byte{opCall, 0}, i32c(0)) // output_write(16, 2); return 0
	}
	return bodyModule([]wimport{{"wasi_snapshot_preview1", "fd_write", 6}}, (at+n)>>16+1, data, body)
}

// recorder is a log handler that keeps the records at info and above.
type recorder struct{ recs chan slog.Record }

func newRecorder() *recorder { return &recorder{recs: make(chan slog.Record, 100000)} }

func (*recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler         { return r }
func (r *recorder) WithGroup(string) slog.Handler              { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	select {
	case r.recs <- rec.Clone():
	default:
	}
	return nil
}

// records returns the records so far, each as "LEVEL msg k=v ...".
func (r *recorder) records() []string {
	var out []string
	for {
		select {
		case rec := <-r.recs:
			s := rec.Level.String() + " " + rec.Message
			rec.Attrs(func(a slog.Attr) bool {
				if a.Key != "filter" {
					s += " " + a.String()
				}
				return true
			})
			out = append(out, s)
		default:
			return out
		}
	}
}

// A guest writing a flood to stdout or stderr costs the host time in
// proportion to what is logged, not to what was written: the call ends at
// its deadline, and the log says what was dropped.
func TestOutputFlood(t *testing.T) {
	lines := strings.Repeat("line\n", 300) + "panic: boom\n\ngoroutine 1 [running]:\n"
	cases := []struct {
		name string
		fd   int32
		text string
		fill byte
		n    int
		trap bool
		want []string // the records, each cut to its length
		err  string
	}{
		{"a 16 MiB line", 1, "", 'a', 16 << 20, false, []string{
			"INFO " + strings.Repeat("a", maxLine) + "… stream=stdout",
			"WARN wasm filter output truncated stream=stdout bytes=15728640 limit=1048576",
		}, ""},
		{"1 MiB of newlines", 1, "", '\n', 1 << 20, false, []string{
			"WARN wasm filter output dropped stream=stdout lines=1048376 limit=200",
		}, ""},
		// Past the limit, stderr is still read for the cause of a failure.
		{"a panic after 300 lines", 2, lines, '\n', len(lines) + 1000, true, append(
			slices.Repeat([]string{"WARN line stream=stderr"}, maxLines),
			fmt.Sprintf("WARN wasm filter output dropped stream=stderr lines=%d limit=200", strings.Count(lines, "\n")+1000-maxLines),
		), "wasm trap: unreachable (the guest panicked: panic: boom)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			f := load(t, writeModule(t, "flood.wasm", fdWriteModule(c.fd, c.text, c.fill, c.n, c.trap)), Options{Logger: slog.New(rec)})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := f.Call(ctx, toolCall("x", nil))
			if took := time.Since(start); took > time.Second {
				t.Errorf("the call took %v with a deadline of 100ms", took)
			}
			if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Errorf("error %v, want %q", err, c.err)
			}
			recs := rec.records()
			if len(recs) != len(c.want) {
				t.Fatalf("%d records, want %d; the last: %.200q", len(recs), len(c.want), recs[max(len(recs)-1, 0):])
			}
			for i, want := range c.want {
				if !strings.HasPrefix(recs[i], want) {
					t.Errorf("record %d: %.200q\nwant %.200q", i, recs[i], want)
				}
			}
		})
	}
}

// A guest calling log in a loop has maxLines messages, or maxLogBytes,
// logged per call, and one note of the rest.
func TestLogFlood(t *testing.T) {
	for _, c := range []struct {
		size, kept int
	}{
		{2, maxLines},
		{maxLogMessage, maxLogBytes / maxLogMessage},
	} {
		t.Run(fmt.Sprint(c.size), func(t *testing.T) {
			body := code([]byte{opLoop, opVoid}, i32c(8), i32c(0), i32c(int32(c.size)), []byte{opCall, 1, opBr, 0, opEnd}, i32c(0))
			rec := newRecorder()
			f := load(t, writeModule(t, "logs.wasm", bodyModule([]wimport{{"mcpscript", "log", 5}}, 2, nil, body)), Options{Logger: slog.New(rec)})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			// The error gives the time the instance had, which is the
			// 100 ms less what passed before it started (99ms on a busy
			// machine): what matters here is that the deadline stopped it.
			if _, err := f.Call(ctx, toolCall("x", nil)); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(fmt.Sprint(err), "deadline exceeded after ") {
				t.Errorf("error %v", err)
			}
			recs := rec.records()
			if len(recs) != c.kept+1 {
				t.Fatalf("%d records, want %d", len(recs), c.kept+1)
			}
			if want := "ERROR " + strings.Repeat("\x00", c.size) + " phase=toolCall"; recs[0] != want {
				t.Errorf("first record %.100q, want %.100q", recs[0], want)
			}
			if want := "WARN wasm filter log limit reached dropped="; !strings.HasPrefix(recs[c.kept], want) {
				t.Errorf("last record %.200q, want %q...", recs[c.kept], want)
			}
		})
	}
}

// fd_write takes at most maxIovecs buffers at once (wazero's own walks
// millions, past the deadline), writes only to stdout and stderr, and
// checks its buffers.
func TestFdWrite(t *testing.T) {
	for _, c := range []struct {
		name            string
		fd, iovs, count int32
		want            string // "" or the error
	}{
		{"one buffer", 1, 0, 1, ""},
		{"stderr", 2, 0, maxIovecs, ""},
		{"too many buffers", 1, 0, 64 << 17, "error code 28"}, // EINVAL, at once
		{"not a stream", 3, 0, 1, "error code 8"},             // EBADF
		{"iovecs outside memory", 1, -16, 4, "error code 21"}, // EFAULT
	} {
		t.Run(c.name, func(t *testing.T) {
			// iovecs of {0, 0}, nwritten at 8, "{}" at 16: output_write(16, 2), return fd_write's errno.
			body := code(i32c(16), i32c(2), []byte{opCall, 0},
				i32c(c.fd), i32c(c.iovs), i32c(c.count), i32c(8), []byte{opCall, 1})
			mod := bodyModule([]wimport{{"wasi_snapshot_preview1", "fd_write", 6}}, 64*16, []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00{}"), body)
			f := load(t, writeModule(t, "w.wasm", mod), Options{Logger: slog.New(slog.DiscardHandler)})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err := f.Call(ctx, toolCall("x", nil))
			if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}
