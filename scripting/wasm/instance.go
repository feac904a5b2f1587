package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mcpscript/mcpscript/scripting"
)

// instance is one instantiated module. It is used by one goroutine at a
// time (the pool hands it out), so its per-call fields need no lock: the
// host functions run on the goroutine that called into the guest.
type instance struct {
	f      *Filter
	mod    api.Module
	filter api.Function
	stdout *lineLogger
	stderr *lineLogger

	// Per call.
	phase scripting.Phase // "" while starting
	in    []byte          // the Input's JSON
	out   []byte          // what output_write wrote
	done  <-chan struct{} // the call's ctx.Done(), ends a guest's sleep
	fatal string          // the first panic or fatal error line on stderr
	last  string          // the last stderr line
}

// instKey is the context key under which host functions find the instance
// being called.
type instKey struct{}

// newInstance instantiates the module, runs _initialize, checks the ABI
// version (first) and runs mcpscript_init.
func (f *Filter) newInstance(ctx context.Context, first bool) (*instance, error) {
	inst := &instance{f: f}
	inst.stdout = &lineLogger{inst: inst, stream: "stdout", level: slog.LevelInfo}
	inst.stderr = &lineLogger{inst: inst, stream: "stderr", level: slog.LevelWarn}
	cfg := f.modCfg.WithStdout(inst.stdout).WithStderr(inst.stderr).WithNanosleep(inst.nanosleep)
	ictx := context.WithValue(ctx, instKey{}, inst)
	inst.begin(ctx, "", nil)
	start := time.Now()
	mod, err := f.rt.InstantiateModule(ictx, f.compiled, cfg)
	inst.end()
	if err != nil {
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		return nil, fmt.Errorf("starting an instance: %w", inst.describe(ctx, err, start))
	}
	inst.mod = mod
	fail := func(err error) (*instance, error) {
		inst.close()
		return nil, err
	}
	if first {
		inst.begin(ctx, "", nil)
		res, err := mod.ExportedFunction(ExportABIVersion).Call(ictx)
		inst.end()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", ExportABIVersion, inst.describe(ctx, err, start)))
		}
		if v := int32(res[0]); v != ABIVersion {
			return fail(fmt.Errorf("the module implements ABI version %d, but this mcpscript supports version %d; see docs/wasm-abi.md", v, ABIVersion))
		}
	}
	if f.hasInit {
		inst.begin(ctx, "", nil)
		res, err := mod.ExportedFunction(ExportInit).Call(ictx)
		inst.end()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", ExportInit, inst.describe(ctx, err, start)))
		}
		if code := int32(res[0]); code != 0 {
			return fail(fmt.Errorf("the filter refused to start (%s returned %d): %s", ExportInit, code, message(inst.out)))
		}
	}
	if ctx.Err() != nil || mod.IsClosed() {
		// wazero closes the module when ctx ends during a call into it,
		// even just after the call returned.
		err := ErrClosed
		if ctx.Err() != nil {
			err = inst.describe(ctx, context.Cause(ctx), start)
		}
		return fail(fmt.Errorf("starting an instance: %w", err))
	}
	inst.filter = mod.ExportedFunction(ExportFilter)
	f.started.Add(1)
	return inst, nil
}

// begin sets the per-call state before a call into the guest.
func (inst *instance) begin(ctx context.Context, p scripting.Phase, in []byte) {
	inst.phase, inst.in, inst.out = p, in, inst.out[:0]
	inst.done = ctx.Done()
	inst.fatal, inst.last = "", ""
	inst.stdout.lines, inst.stderr.lines = 0, 0
}

// end flushes the guest's partial log lines after a call.
func (inst *instance) end() {
	inst.in, inst.done = nil, nil
	inst.stdout.flush()
	inst.stderr.flush()
}

// call runs one phase; start is when the caller asked (before waiting
// for this instance), for errors.
func (inst *instance) call(ctx context.Context, p scripting.Phase, in []byte, start time.Time) (*scripting.Decision, error) {
	inst.begin(ctx, p, in)
	res, err := inst.filter.Call(context.WithValue(ctx, instKey{}, inst), uint64(len(in)))
	inst.end()
	if err != nil {
		return nil, inst.describe(ctx, err, start)
	}
	if code := int32(res[0]); code != 0 {
		return nil, fmt.Errorf("the guest returned error code %d: %s", code, message(inst.out))
	}
	d, err := decodeDecision(inst.out)
	if cap(inst.out) > 1<<20 {
		inst.out = nil // keep no large buffer between calls
	}
	if err != nil {
		return nil, fmt.Errorf("malformed output: %w", err)
	}
	return d, nil
}

// decodeDecision parses the guest's output strictly: one JSON object with
// only Decision's fields (a misspelt "deny" must not pass silently).
func decodeDecision(out []byte) (*scripting.Decision, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, errors.New(`empty (the guest returned 0 without writing a decision; write {} to continue)`)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	d := new(scripting.Decision)
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("%v; output: %s", err, excerpt(out))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the decision object; output: %s", excerpt(out))
	}
	return d, nil
}

// close closes the module; a failed or surplus instance is never reused.
func (inst *instance) close() {
	if inst.mod != nil {
		_ = inst.mod.Close(context.Background())
	}
}

// nanosleep is the guest's sleep (WASI poll_oneoff with a clock): real
// time, cut short when the call's context ends, so that a sleeping guest
// cannot outlive its deadline, or when the filter is closed.
func (inst *instance) nanosleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-inst.done:
	case <-inst.f.done:
	}
}

// deadlineError is a call stopped by its context's deadline.
type deadlineError struct{ after time.Duration }

func (e *deadlineError) Error() string {
	return fmt.Sprintf("deadline exceeded after %v (the instance was discarded)", e.after)
}

// Unwrap makes errors.Is(err, context.DeadlineExceeded) true.
func (e *deadlineError) Unwrap() error { return context.DeadlineExceeded }

// describe turns an error from a call into the guest into one that says
// what happened, in the guest's terms.
func (inst *instance) describe(ctx context.Context, err error, start time.Time) error {
	after := elapsed(time.Since(start))
	if dl, ok := ctx.Deadline(); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		after = elapsed(dl.Sub(start)) // the time allowed, not when we noticed
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &deadlineError{after}
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("cancelled after %v (the instance was discarded): %w", after, context.Canceled)
		}
		select {
		case <-inst.f.done:
			return ErrClosed
		default:
		}
		return inst.withMemory(fmt.Errorf("the guest exited with code %d%s", exit.ExitCode(), inst.stderrNote()))
	}
	if ctx.Err() != nil {
		// The context ended while a host function ran; the guest stopped
		// at its next check.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &deadlineError{after}
		}
		return fmt.Errorf("cancelled after %v (the instance was discarded): %w", after, context.Cause(ctx))
	}
	msg, stack, _ := strings.Cut(err.Error(), "\n")
	if stack != "" {
		inst.f.logger.Debug("wasm filter failed", "filter", inst.f.name, "phase", inst.phase, "err", err)
	}
	if trap, ok := strings.CutPrefix(msg, "wasm error: "); ok {
		switch {
		case trap == "unreachable" && inst.fatal != "":
			msg = fmt.Sprintf("wasm trap: unreachable (the guest panicked: %s)", inst.fatal)
		case trap == "unreachable" && inst.last != "":
			msg = fmt.Sprintf("wasm trap: unreachable (the guest panicked or aborted; last stderr line: %s)", inst.last)
		case trap == "unreachable":
			msg = "wasm trap: unreachable (the guest panicked or aborted)"
		default:
			msg = "wasm trap: " + trap + inst.stderrNote()
		}
	} else {
		// A host function refused the guest's arguments.
		msg = "wasm trap: " + strings.TrimSuffix(msg, " (recovered by wazero)")
	}
	return inst.withMemory(errors.New(msg))
}

// withMemory says so when the instance's memory is at its limit (or the
// guest said it ran out), the likely cause of a failure.
func (inst *instance) withMemory(err error) error {
	oom := strings.Contains(inst.fatal, "out of memory") || strings.Contains(inst.fatal, "memory allocation of")
	if inst.mod != nil {
		if mem := inst.mod.Memory(); mem != nil && uint64(mem.Size())+1<<20 > uint64(inst.f.limitMiB)<<20 {
			oom = true
		}
	}
	if !oom {
		return err
	}
	return fmt.Errorf("memory limit of %d MiB reached: %w", inst.f.limitMiB, err)
}

// stderrNote quotes what the guest last said on stderr, if anything.
func (inst *instance) stderrNote() string {
	switch {
	case inst.fatal != "":
		return " (" + inst.fatal + ")"
	case inst.last != "":
		return " (last stderr line: " + inst.last + ")"
	}
	return ""
}

// message is a guest's error text, for errors.
func message(out []byte) string {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return "(no message)"
	}
	return excerptString(s, 500)
}

func excerpt(b []byte) string { return excerptString(string(b), 120) }

func excerptString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Log lines: at most maxLine bytes each (longer ones are split), at most
// maxLines per stream per call (the rest are counted and dropped).
const (
	maxLine  = 4096
	maxLines = 200
)

// lineLogger turns a guest's stdout or stderr into log lines.
type lineLogger struct {
	inst    *instance
	stream  string
	level   slog.Level
	buf     []byte
	lines   int // lines this call
	dropped int
}

// Write implements io.Writer for wazero's fd_write.
func (w *lineLogger) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		switch {
		case i >= 0 && i <= maxLine:
			w.emit(w.buf[:i])
			w.buf = w.buf[:copy(w.buf, w.buf[i+1:])]
		case len(w.buf) >= maxLine:
			w.emit(w.buf[:maxLine])
			w.buf = w.buf[:copy(w.buf, w.buf[maxLine:])]
		default:
			return len(p), nil
		}
	}
}

// flush logs a partial last line at the end of a call.
func (w *lineLogger) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	if cap(w.buf) > 2*maxLine {
		w.buf = nil
	}
	if w.dropped > 0 {
		w.inst.f.logger.Warn("wasm filter output dropped", "filter", w.inst.f.name, "stream", w.stream, "lines", w.dropped)
		w.dropped = 0
	}
}

func (w *lineLogger) emit(line []byte) {
	s := strings.TrimRight(string(line), "\r")
	if strings.TrimSpace(s) == "" {
		return
	}
	if w.stream == "stderr" {
		w.inst.note(s)
	}
	if w.lines++; w.lines > maxLines {
		w.dropped++
		return
	}
	w.inst.f.logger.Log(context.Background(), w.level, s, "filter", w.inst.f.name, "stream", w.stream)
}

// note remembers stderr lines that explain a failure.
func (inst *instance) note(line string) {
	inst.last = excerptString(line, 300)
	if inst.fatal != "" {
		return
	}
	for _, p := range []string{"panic: ", "fatal error: ", "thread '", "memory allocation of"} {
		if strings.HasPrefix(line, p) {
			inst.fatal = excerptString(line, 300)
			return
		}
	}
}
