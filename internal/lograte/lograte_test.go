package lograte

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(burst int, window time.Duration) (*Limiter, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(burst, window)
	l.now = c.now
	return l, c
}

func TestAllow(t *testing.T) {
	tests := []struct {
		name        string
		burst       int
		steps       []time.Duration // advance the clock by this, then Allow
		wantOK      []bool
		wantDropped []int64
	}{
		{"under the burst", 3, []time.Duration{0, 0, 0}, []bool{true, true, true}, []int64{0, 0, 0}},
		{"over the burst", 2, []time.Duration{0, 0, 0, 0}, []bool{true, true, false, false}, []int64{0, 0, 0, 0}},
		{"the next window reports the dropped", 1, []time.Duration{0, time.Second, time.Second, 10 * time.Second},
			[]bool{true, false, false, true}, []int64{0, 0, 0, 2}},
		{"a window with nothing dropped reports nothing", 1, []time.Duration{0, 10 * time.Second, 10 * time.Second},
			[]bool{true, true, true}, []int64{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newTest(tt.burst, 10*time.Second)
			for i, d := range tt.steps {
				c.t = c.t.Add(d)
				ok, dropped, _ := l.Allow()
				if ok != tt.wantOK[i] || dropped != tt.wantDropped[i] {
					t.Errorf("step %d: Allow() = %v, %d; want %v, %d", i, ok, dropped, tt.wantOK[i], tt.wantDropped[i])
				}
			}
		})
	}
}

// attrs are the attributes of a record about line.
func attrs(line string) func() []slog.Attr {
	return func() []slog.Attr { return []slog.Attr{slog.String("server", "s"), slog.String("line", line)} }
}

func TestLogAndFlush(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l, c := newTest(2, 10*time.Second)
	ctx := context.Background()
	for range 1000 {
		l.Log(ctx, log, slog.LevelWarn, "lines", "noise", attrs("x"))
	}
	c.t = c.t.Add(11 * time.Second)
	l.Log(ctx, log, slog.LevelWarn, "lines", "noise", attrs("y"))
	for range 5 {
		l.Log(ctx, log, slog.LevelWarn, "lines", "noise", attrs("z"))
	}
	l.Flush(ctx, log, slog.LevelWarn, "lines", slog.String("server", "s"))
	l.Flush(ctx, log, slog.LevelWarn, "lines", slog.String("server", "s")) // nothing more
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"line=x", "line=x", "998 more lines dropped in the last 11s", "line=y", "line=z", "4 more lines dropped"}
	if len(lines) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("record %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[2], "server=s") || !strings.Contains(lines[2], "dropped=998") || strings.Contains(lines[2], "line=") {
		t.Errorf("summary %q: want server=s and dropped=998, no line", lines[2])
	}
}

func TestDisabledLevelCostsNoBudget(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, _ := newTest(1, time.Minute)
	ctx := context.Background()
	for range 10 {
		l.Log(ctx, log, slog.LevelInfo, "lines", "chatter", attrs("c"))
	}
	l.Log(ctx, log, slog.LevelWarn, "lines", "important", attrs("i"))
	if got := buf.String(); !strings.Contains(got, "important") || strings.Contains(got, "dropped") {
		t.Errorf("log = %q, want the warning and no summary", got)
	}
}

func BenchmarkLogDropped(b *testing.B) {
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	l := New(1, time.Hour)
	l.Allow() // the one record of the hour
	ctx := context.Background()
	for b.Loop() {
		l.Log(ctx, log, slog.LevelWarn, "lines", "noise", func() []slog.Attr { b.Fatal("formatted a dropped record"); return nil })
	}
}
