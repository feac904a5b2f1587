package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// deadlineMechanisms runs fn with guests stopped by the interrupt flag
// (package interrupt) and by wazero's WithCloseOnContextDone, the
// fallback for modules that cannot be instrumented.
func deadlineMechanisms(t *testing.T, fn func(t *testing.T, interruptible bool)) {
	for _, on := range []bool{true, false} {
		name := "interrupt"
		if !on {
			name = "wazero"
		}
		t.Run(name, func(t *testing.T) {
			useInterrupt = on
			t.Cleanup(func() { useInterrupt = true })
			fn(t, on)
		})
	}
}

// Either way, a guest is stopped at its deadline wherever it loops (its
// handler, its initialisation), cut short in its sleep, and stopped by
// Close; the next call gets a fresh instance.
func TestDeadlines(t *testing.T) {
	deadlineMechanisms(t, func(t *testing.T, interruptible bool) {
		f := load(t, guestWasm, Options{Name: "tg", Pool: 1}) // compiles it into the test cache
		if f.interruptible != interruptible {
			t.Fatalf("interruptible = %v", f.interruptible)
		}
		for _, tool := range []string{"loop", "sleep"} {
			ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
			start := time.Now()
			_, err := f.Call(ctx, toolCall(tool, map[string]any{"ms": 60000}))
			cancel()
			checkDeadline(t, err, 300*time.Millisecond)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s: stopped after %v", tool, took)
			}
			if _, err := f.Call(testCtx(t), toolCall("count", nil)); err != nil {
				t.Errorf("the call after %s: %v", tool, err)
			}
		}

		ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
		defer cancel()
		_, err := Load(ctx, guestWasm, Options{Name: "tg", Config: json.RawMessage(`{"mode": "initloop"}`), CacheDir: testCache, Logger: testLogger(t, nil)})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "mcpscript_init: deadline exceeded after ") {
			t.Errorf("a guest that loops in its init: %v", err)
		}

		errc := make(chan error, 1)
		go func() {
			_, err := f.Call(testCtx(t), toolCall("loop", nil))
			errc <- err
		}()
		waitBusy(t, f, 1)
		if err := f.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("the call in flight at Close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not stop the looping guest")
		}
	})
}

// A guest looping in native code does not hold up the garbage collector
// (which stops every goroutine) until its deadline: the instrumented loops
// give the Go runtime a chance to preempt it now and then.
func TestGCWhileGuestLoops(t *testing.T) {
	f := load(t, guestWasm, Options{Name: "tg", Pool: 1})
	if !f.interruptible {
		t.Skip("the module was not instrumented")
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := f.Call(ctx, toolCall("loop", nil))
		errc <- err
	}()
	waitBusy(t, f, 1)
	time.Sleep(50 * time.Millisecond) // into the loop
	for range 3 {
		done := make(chan struct{})
		start := time.Now()
		go func() {
			runtime.GC()
			close(done)
		}()
		select {
		case <-done:
			t.Logf("GC took %v", time.Since(start))
		case <-time.After(10 * time.Second):
			t.Fatal("a garbage collection waited 10s for the looping guest")
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("the looping call: %v", err)
	}
}

// checkDeadline checks that err is a call stopped by a deadline of
// allowed, as its message reports it: the time from the guest's start to
// the deadline. That is allowed itself unless the machine stalled between
// setting the deadline and starting the guest (seen under -race on two
// busy cores), so less is accepted (down to half), never more.
func checkDeadline(t *testing.T, err error, allowed time.Duration) {
	t.Helper()
	const prefix = "deadline exceeded after "
	msg := fmt.Sprint(err)
	_, rest, ok := strings.Cut(msg, prefix)
	if !errors.Is(err, context.DeadlineExceeded) || !ok {
		t.Errorf("want %q…, got %v", prefix, err)
		return
	}
	word, _, _ := strings.Cut(rest, " ")
	after, perr := time.ParseDuration(word)
	if perr != nil || after > allowed || after < allowed/2 {
		t.Errorf("%q reports %q, want at most %v and not much less", msg, word, allowed)
	}
}
