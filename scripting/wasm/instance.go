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
	"github.com/mcpscript/mcpscript/scripting/wasm/internal/interrupt"
)

// instance is one instantiated module. It is used by one goroutine at a
// time (the pool hands it out), so its per-call fields need no lock: the
// host functions run on the goroutine that called into the guest.
type instance struct {
	f      *Filter
	mod    api.Module
	filter api.Function
	flag   api.MutableGlobal // the interrupt flag; nil without instrumentation
	stdout *lineLogger
	stderr *lineLogger

	// Per call.
	phase scripting.Phase // "" while starting
	in    []byte          // the Input's JSON
	out   []byte          // what output_write wrote
	done  <-chan struct{} // the call's ctx.Done(), ends a guest's sleep
	fatal string          // the first panic or fatal error line on stderr
	last  string          // the last stderr line

	logs, logBytes, logDropped int // log calls made, their bytes, and those dropped
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
	if f.interruptible {
		flag, ok := mod.ExportedGlobal(interrupt.Export).(api.MutableGlobal)
		if !ok {
			return fail(fmt.Errorf("starting an instance: the instrumented module does not export %s", interrupt.Export))
		}
		inst.flag = flag
	}
	if f.hasInitialize {
		inst.begin(ctx, "", nil)
		_, err := inst.invoke(ctx, mod.ExportedFunction("_initialize"))
		inst.end()
		if err != nil {
			return fail(fmt.Errorf("starting an instance: %w", inst.describe(ctx, err, start)))
		}
	}
	if first {
		inst.begin(ctx, "", nil)
		res, err := inst.invoke(ctx, mod.ExportedFunction(ExportABIVersion))
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
		res, err := inst.invoke(ctx, mod.ExportedFunction(ExportInit))
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
	inst.stdout.reset()
	inst.stderr.reset()
	inst.logs, inst.logBytes, inst.logDropped = 0, 0, 0
}

// end flushes the guest's partial log lines after a call and says what
// was dropped.
func (inst *instance) end() {
	inst.in, inst.done = nil, nil
	inst.stdout.flush()
	inst.stderr.flush()
	if inst.logDropped > 0 {
		inst.f.logger.Warn("wasm filter log limit reached", "filter", inst.f.name, "dropped", inst.logDropped, "limit", fmt.Sprintf("%d messages or %d MiB per call", maxLines, maxLogBytes>>20))
		inst.logDropped = 0
	}
}

// call runs one phase; start is when the caller asked (before waiting
// for this instance), for errors.
func (inst *instance) call(ctx context.Context, p scripting.Phase, in []byte, start time.Time) (*scripting.Decision, error) {
	inst.begin(ctx, p, in)
	res, err := inst.invoke(ctx, inst.filter, uint64(len(in)))
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

// invoke calls fn in the instance, stopping it when ctx ends: through the
// interrupt flag, which the guest reads at every loop, or else through
// wazero's own check (WithCloseOnContextDone). An instance whose flag was
// set is never called again: the caller sees ctx ended and discards it.
func (inst *instance) invoke(ctx context.Context, fn api.Function, params ...uint64) ([]uint64, error) {
	if inst.flag != nil {
		flag := inst.flag
		defer context.AfterFunc(ctx, func() { flag.Set(1) })()
	}
	return fn.Call(context.WithValue(ctx, instKey{}, inst), params...)
}

// decodeDecision parses the guest's output strictly: one JSON object with
// only Decision's fields (a misspelt "deny" must not pass silently).
func decodeDecision(out []byte) (*scripting.Decision, error) {
	out = bytes.TrimSpace(out)
	if string(out) == "{}" {
		return new(scripting.Decision), nil // the common answer, without a decoder
	}
	if len(out) == 0 {
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
// time, cut short when the call's context ends (its deadline, or Close),
// so that a sleeping guest cannot outlive it.
func (inst *instance) nanosleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-inst.done:
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
	if dl, ok := ctx.Deadline(); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) && dl.After(start) {
		after = elapsed(dl.Sub(start)) // the time allowed, not when we noticed
	}
	select {
	case <-inst.f.done:
		return ErrClosed
	default:
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &deadlineError{after}
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("cancelled after %v (the instance was discarded): %w", after, context.Canceled)
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

// Log output, per call: lines of at most maxLine bytes (longer ones are
// cut), at most maxLines per stream and maxLines log calls (the rest are
// counted and dropped), and at most maxLogBytes read per stream and per
// log calls (the rest is dropped unread). The host does work in
// proportion to what it logs, and none beyond, in code that the call's
// deadline cannot interrupt.
const (
	maxLine     = 4096
	maxLines    = 200
	maxLogBytes = 1 << 20
)

// lineLogger turns a guest's stdout or stderr into log lines. Write and
// flush are linear in their input and bounded per call.
type lineLogger struct {
	inst   *instance
	stream string
	level  slog.Level
	buf    []byte // the partial last line, at most maxLine bytes
	cut    bool   // the partial line was longer: the rest of it is dropped

	// Per call.
	lines   int // lines seen, blank ones included
	read    int // bytes read
	dropped int // lines dropped
	unread  int // bytes dropped unread
}

// reset starts a call.
func (w *lineLogger) reset() {
	w.buf, w.cut = w.buf[:0], false
	w.lines, w.read, w.dropped, w.unread = 0, 0, 0, 0
}

// Write implements io.Writer for wazero's fd_write.
func (w *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	if left := maxLogBytes - w.read; len(p) > left {
		w.unread += len(p) - left
		p = p[:left]
	}
	w.read += len(p)
	for len(p) > 0 && w.lines < maxLines {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.add(p)
			return n, nil
		}
		w.add(p[:i])
		w.line()
		p = p[i+1:]
	}
	if len(p) > 0 {
		w.skip(p)
	}
	return n, nil
}

// add appends to the partial line, up to maxLine bytes.
func (w *lineLogger) add(p []byte) {
	if room := maxLine - len(w.buf); len(p) > room {
		p, w.cut = p[:room], true
	}
	w.buf = append(w.buf, p...)
}

// line ends the partial line.
func (w *lineLogger) line() {
	w.emit(w.buf, w.cut)
	w.buf, w.cut = w.buf[:0], false
}

// skip takes p once maxLines lines were seen: it counts the lines and
// drops them, but keeps noting stderr's (the last one, and a panic).
func (w *lineLogger) skip(p []byte) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		w.add(p)
		return
	}
	w.add(p[:i]) // the end of the partial line
	w.line()
	p = p[i+1:]
	if j := bytes.LastIndexByte(p, '\n'); j >= 0 {
		whole := p[:j] // whole lines
		w.dropped += bytes.Count(whole, []byte{'\n'}) + 1
		if w.stream == "stderr" {
			if w.inst.fatal == "" {
				w.inst.noteFatal(whole)
			}
			if t := bytes.TrimRight(whole, " \t\r\n"); len(t) > 0 {
				w.inst.note(excerptLine(t[bytes.LastIndexByte(t, '\n')+1:]))
			}
		}
		p = p[j+1:]
	}
	w.add(p)
}

// flush logs a partial last line and what was dropped at the end of a call.
func (w *lineLogger) flush() {
	if len(w.buf) > 0 {
		w.line()
	}
	if w.dropped > 0 {
		w.inst.f.logger.Warn("wasm filter output dropped", "filter", w.inst.f.name, "stream", w.stream, "lines", w.dropped, "limit", maxLines)
	}
	if w.unread > 0 {
		w.inst.f.logger.Warn("wasm filter output truncated", "filter", w.inst.f.name, "stream", w.stream, "bytes", w.unread, "limit", maxLogBytes)
	}
	w.dropped, w.unread = 0, 0
}

// emit logs a line (but a blank one), or counts it once maxLines lines
// were seen; cut says it was longer than maxLine.
func (w *lineLogger) emit(line []byte, cut bool) {
	if w.lines++; w.lines > maxLines {
		w.dropped++
	}
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if w.stream == "stderr" {
		w.inst.note(excerptLine(line))
	}
	if w.lines > maxLines {
		return
	}
	s := string(line)
	if cut {
		s += "…"
	}
	w.inst.f.logger.Log(context.Background(), w.level, s, "filter", w.inst.f.name, "stream", w.stream)
}

// excerptLine is a line's start, enough for note.
func excerptLine(line []byte) string {
	return string(line[:min(len(line), noteMax+1)])
}

// noteMax bounds the stderr lines kept for errors.
const noteMax = 300

// fatalPrefixes start the stderr lines that say why a guest died.
var fatalPrefixes = []string{"panic: ", "fatal error: ", "thread '", "memory allocation of"}

// note remembers stderr lines that explain a failure.
func (inst *instance) note(line string) {
	inst.last = excerptString(line, noteMax)
	if inst.fatal != "" {
		return
	}
	for _, p := range fatalPrefixes {
		if strings.HasPrefix(line, p) {
			inst.fatal = excerptString(line, noteMax)
			return
		}
	}
}

// noteFatal notes the first line of lines (whole lines, without the last
// newline) that says why the guest died, if any.
func (inst *instance) noteFatal(lines []byte) {
	first := -1
	for _, p := range fatalPrefixes {
		for off := 0; ; {
			k := bytes.Index(lines[off:], []byte(p))
			if k < 0 {
				break
			}
			k += off
			if k == 0 || lines[k-1] == '\n' {
				if first < 0 || k < first {
					first = k
				}
				break
			}
			off = k + 1
		}
	}
	if first < 0 {
		return
	}
	line := lines[first:]
	if e := bytes.IndexByte(line, '\n'); e >= 0 {
		line = line[:e]
	}
	inst.fatal = excerptString(excerptLine(bytes.TrimRight(line, "\r")), noteMax)
}
