// Package lograte bounds how many log records one noisy source may write:
// a child that floods its stdout or stderr must cost a bounded amount of
// log and CPU, and the log must still say how much was left out.
//
// A Limiter lets Burst records through in each Window; the rest are
// counted, and the count is logged as one record ("… 12345 more lines
// dropped in the last 10s") before the next record that gets through, or
// by Flush when the source ends.
package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of New.
const (
	DefaultBurst  = 100
	DefaultWindow = 10 * time.Second
)

// Limiter limits the records of one source. It is safe for concurrent use;
// the zero value is not: use New.
type Limiter struct {
	burst  int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	start   time.Time // of the current window
	n       int       // records let through in it
	dropped int64     // records dropped since the last summary
	since   time.Time // when the first of those was dropped
}

// New returns a limiter letting burst records through per window (the
// defaults when zero or negative).
func New(burst int, window time.Duration) *Limiter {
	if burst <= 0 {
		burst = DefaultBurst
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &Limiter{burst: burst, window: window, now: time.Now}
}

// Allow reports whether one more record may be written now. When it may
// and records were dropped before, dropped is their count and over the
// time they span: log that first (Log does).
func (l *Limiter) Allow() (ok bool, dropped int64, over time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		if l.dropped == 0 {
			l.since = now
		}
		l.dropped++
		return false, 0, 0
	}
	l.n++
	dropped, over = l.dropped, now.Sub(l.since)
	l.dropped = 0
	return true, dropped, over
}

// Dropped returns how many records were dropped since the last summary,
// and forgets them (for a summary at the end of the source).
func (l *Limiter) Dropped() (dropped int64, over time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	dropped, over = l.dropped, now.Sub(l.since)
	l.dropped = 0
	return dropped, over
}

// Log writes one record through the limiter: nothing when it is over its
// limit, else the summary of what was dropped (when something was) and
// the record. what names the records in the summary ("stderr lines").
// attrs is called only for a record that is written, so that a dropped
// one costs no formatting; the summary keeps its attributes but "line"
// and "err".
func (l *Limiter) Log(ctx context.Context, log *slog.Logger, level slog.Level, what, msg string, attrs func() []slog.Attr) {
	if !log.Enabled(ctx, level) {
		return // costs nothing, and leaves the limit to records that are written
	}
	ok, dropped, over := l.Allow()
	if !ok {
		return
	}
	a := attrs()
	if dropped > 0 {
		summary(ctx, log, level, what, dropped, over, a)
	}
	log.LogAttrs(ctx, level, msg, a...)
}

// Flush logs the summary of the records dropped since the last one, if
// any; call it when the source ends. attrs identify the source (the
// record's own attributes are not repeated).
func (l *Limiter) Flush(ctx context.Context, log *slog.Logger, level slog.Level, what string, attrs ...slog.Attr) {
	if dropped, over := l.Dropped(); dropped > 0 {
		summary(ctx, log, level, what, dropped, over, attrs)
	}
}

// summary logs how many records were dropped.
func summary(ctx context.Context, log *slog.Logger, level slog.Level, what string, dropped int64, over time.Duration, attrs []slog.Attr) {
	over = max(over, time.Millisecond).Round(time.Millisecond)
	a := make([]slog.Attr, 0, len(attrs)+2)
	for _, at := range attrs {
		if at.Key == "line" || at.Key == "err" {
			continue // the dropped records' own content
		}
		a = append(a, at)
	}
	a = append(a, slog.Int64("dropped", dropped), slog.Duration("over", over))
	log.LogAttrs(ctx, level, fmt.Sprintf("… %d more %s dropped in the last %s (too many to log)", dropped, what, over), a...)
}
