package procman_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/procman"
)

// --- helpers ---

func selfExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// childSpec runs the test binary in the child mode given by args.
func childSpec(t testing.TB, args ...string) procman.Spec {
	return procman.Spec{
		Name:        "child",
		Command:     selfExe(t),
		Args:        args,
		Env:         childEnviron(),
		Logger:      slog.New(slog.DiscardHandler),
		StopTimeout: 2 * time.Second,
	}
}

// recorder records events and started instances.
type recorder struct {
	mu     sync.Mutex
	events []procman.Event
	starts []*procman.Instance
}

func (r *recorder) hook(s *procman.Spec) {
	s.OnEvent = func(ev procman.Event) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	}
	s.OnStart = func(i *procman.Instance) {
		r.mu.Lock()
		r.starts = append(r.starts, i)
		r.mu.Unlock()
	}
}

func (r *recorder) Events() []procman.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]procman.Event(nil), r.events...)
}

func (r *recorder) Starts() []*procman.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*procman.Instance(nil), r.starts...)
}

func (r *recorder) last() procman.Event {
	evs := r.Events()
	if len(evs) == 0 {
		return procman.Event{State: -1}
	}
	return evs[len(evs)-1]
}

func newProcess(t *testing.T, spec procman.Spec) *procman.Process {
	t.Helper()
	p, err := procman.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
	})
	return p
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitFinal(t *testing.T, p *procman.Process, r *recorder) procman.Event {
	t.Helper()
	waitFor(t, "a final event", 20*time.Second, func() bool {
		st := r.last().State
		return st == procman.Stopped || st == procman.Failed
	})
	return r.last()
}

// readLine reads one line, failing the test after timeout.
func readLine(t *testing.T, r *bufio.Reader, timeout time.Duration) string {
	t.Helper()
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := r.ReadString('\n')
		ch <- result{s, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("read line: %v (got %q)", res.err, res.s)
		}
		return strings.TrimSuffix(res.s, "\n")
	case <-time.After(timeout):
		t.Fatalf("no line within %v", timeout)
		return ""
	}
}

func waitDone(t *testing.T, i *procman.Instance, timeout time.Duration) {
	t.Helper()
	select {
	case <-i.Done():
	case <-time.After(timeout):
		t.Fatalf("instance %d not done within %v", i.PID(), timeout)
	}
}

// gone reports whether pid no longer runs. A zombie counts as gone: PID 1 in
// a container may never reap orphans.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	st := b[i+2]
	return st == 'Z' || st == 'X'
}

func exitError(t *testing.T, err error) *procman.ExitError {
	t.Helper()
	ee, ok := errors.AsType[*procman.ExitError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *ExitError", err, err)
	}
	return ee
}

// shimModes runs f with and without the shim.
func shimModes(t *testing.T, f func(t *testing.T)) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "shim", false: "direct"}[on]
		t.Run(name, func(t *testing.T) {
			defer procman.UseShim(on)()
			f(t)
		})
	}
}

// --- tests ---

func TestEchoStop(t *testing.T) {
	shimModes(t, func(t *testing.T) {
		base := runtime.NumGoroutine()
		var r recorder
		spec := childSpec(t, "echo")
		r.hook(&spec)
		p := newProcess(t, spec)
		inst, err := p.Start(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if starts := r.Starts(); len(starts) != 1 || starts[0] != inst {
			t.Fatalf("OnStart not called with the instance before Start returned: %v", starts)
		}
		if p.State() != procman.Running || p.Instance() != inst || inst.PID() <= 0 {
			t.Fatalf("after Start: state %v, instance %v, pid %d", p.State(), p.Instance(), inst.PID())
		}
		if _, err := p.Start(t.Context()); !errors.Is(err, procman.ErrAlreadyRunning) {
			t.Fatalf("second Start: %v, want ErrAlreadyRunning", err)
		}
		out := bufio.NewReader(inst.Stdout())
		for _, msg := range []string{"hello", "world"} {
			if _, err := fmt.Fprintln(inst.Stdin(), msg); err != nil {
				t.Fatal(err)
			}
			if got := readLine(t, out, 10*time.Second); got != msg {
				t.Fatalf("echo: got %q, want %q", got, msg)
			}
		}
		if err := p.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-inst.Done():
		default:
			t.Fatal("Done not closed after Stop")
		}
		if err := inst.Err(); err != nil {
			t.Fatalf("Err after clean stop: %v", err)
		}
		if _, err := out.ReadString('\n'); err != io.EOF {
			t.Fatalf("stdout after stop: %v, want EOF", err)
		}
		if p.State() != procman.Stopped || p.Instance() != nil {
			t.Fatalf("after Stop: state %v, instance %v", p.State(), p.Instance())
		}
		if err := p.Stop(t.Context()); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		var states []string
		for _, ev := range r.Events() {
			states = append(states, ev.State.String())
		}
		if got, want := strings.Join(states, ","), "starting,running,stopping,stopped"; got != want {
			t.Errorf("events %s, want %s", got, want)
		}
		if !gone(inst.PID()) {
			t.Errorf("pid %d still alive", inst.PID())
		}
		waitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= base })

		// Start again after Stop.
		inst2, err := p.Start(t.Context())
		if err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		if inst2 == inst || inst2.PID() == inst.PID() {
			t.Fatal("Start after Stop returned the old instance")
		}
		if err := p.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStdoutReadableAfterExit(t *testing.T) {
	const n = 10000 // fits in the pipe buffer
	spec := childSpec(t, "stdout", fmt.Sprint(n))
	spec.Restart.Mode = procman.Never
	p := newProcess(t, spec)
	inst, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, inst, 10*time.Second)
	b, err := io.ReadAll(inst.Stdout())
	if err != nil || len(b) != n {
		t.Fatalf("read %d bytes, %v; want %d", len(b), err, n)
	}
}

func TestEnvAndDir(t *testing.T) {
	shimModes(t, func(t *testing.T) {
		dir := t.TempDir()
		spec := childSpec(t, "env", "MCPSCRIPT_PROCMAN_SHIM", "PROCMAN_FOO")
		spec.Env = append(spec.Env, "PROCMAN_FOO=bar baz")
		spec.Dir = dir
		spec.Restart.Mode = procman.Never
		p := newProcess(t, spec)
		inst, err := p.Start(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got := readLine(t, bufio.NewReader(inst.Stdout()), 10*time.Second)
		want := "cwd=" + dir + " MCPSCRIPT_PROCMAN_SHIM=<unset> PROCMAN_FOO=bar baz"
		if got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
		waitDone(t, inst, 10*time.Second)
		if err := inst.Err(); err != nil {
			t.Error(err)
		}
	})
}

func TestStartErrors(t *testing.T) {
	if _, err := procman.New(procman.Spec{Name: "x"}); err == nil || !strings.Contains(err.Error(), "empty command") {
		t.Errorf("New with empty command: %v", err)
	}
	if _, err := procman.New(procman.Spec{Command: "true", Restart: procman.RestartPolicy{Mode: "sometimes"}}); err == nil {
		t.Error("New with a bad restart mode: no error")
	}
	noexec := t.TempDir() + "/noexec"
	if err := os.WriteFile(noexec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (procman.Spec{Command: "sh", Dir: "/"}).Check(); err != nil {
		t.Errorf("Check of a good spec: %v", err)
	}
	tests := []struct {
		name   string
		spec   procman.Spec
		want   string
		target error
	}{
		{"not found", procman.Spec{Name: "x", Command: "no-such-command-procman"},
			`server "x": command "no-such-command-procman" not found on PATH; install it or fix mcpServers.x.command`, exec.ErrNotFound},
		{"missing path", procman.Spec{Command: "/no/such/procman"},
			`server "procman": command "/no/such/procman" does not exist; fix mcpServers.procman.command`, fs.ErrNotExist},
		{"missing relative path", procman.Spec{Name: "a.b", Command: "./bin/srv", Dir: "/"},
			`server "a.b": command "./bin/srv" does not exist in /; fix mcpServers["a.b"].command`, fs.ErrNotExist},
		{"not executable", procman.Spec{Name: "x", Command: noexec},
			fmt.Sprintf(`server "x": command %q is not executable; make it executable (chmod +x) or fix mcpServers.x.command`, noexec), fs.ErrPermission},
		{"a folder", procman.Spec{Name: "x", Command: "/tmp"},
			`server "x": command "/tmp" is a folder, not a program; fix mcpServers.x.command`, syscall.EISDIR},
		{"missing dir", procman.Spec{Name: "x", Command: "true", Dir: "/no/such/dir"},
			`server "x": working directory "/no/such/dir" does not exist; create it or fix mcpServers.x.cwd`, fs.ErrNotExist},
		{"dir is a file", procman.Spec{Name: "x", Command: "true", Dir: noexec},
			fmt.Sprintf(`server "x": working directory %q is not a folder; fix mcpServers.x.cwd`, noexec), syscall.ENOTDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Logger = slog.New(slog.DiscardHandler)
			var r recorder
			r.hook(&tt.spec)
			p := newProcess(t, tt.spec)
			_, err := p.Start(t.Context())
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want || !errors.Is(err, tt.target) {
				t.Fatalf("error %q: want %q, wrapping %v", err, tt.want, tt.target)
			}
			var se *procman.StartError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *StartError", err)
			}
			// Check finds the same problem without starting anything.
			if cerr := tt.spec.Check(); cerr == nil || cerr.Error() != tt.want {
				t.Fatalf("Check = %v, want %q", cerr, tt.want)
			}
			if p.State() != procman.Failed || len(r.Starts()) != 0 {
				t.Fatalf("state %v, %d starts", p.State(), len(r.Starts()))
			}
		})
	}
}

func TestExitPolicies(t *testing.T) {
	tests := []struct {
		name      string
		mode      procman.RestartMode
		args      []string
		final     procman.State
		starts    int
		code      int // expected exit code in the final event's error; -2 = no error
		tailWants string
	}{
		{"never/exit 2", procman.Never, []string{"exit", "2", "fatal: bad config", "see docs"}, procman.Failed, 1, 2, "fatal: bad config\nsee docs"},
		{"never/exit 0", procman.Never, []string{"exit", "0"}, procman.Stopped, 1, -2, ""},
		{"on-failure/exit 0", procman.OnFailure, []string{"exit", "0"}, procman.Stopped, 1, -2, ""},
		{"on-failure/exit 3 until given up", procman.OnFailure, []string{"exit", "3", "boom"}, procman.Failed, 3, 3, "boom"},
		{"always/exit 0 until given up", procman.Always, []string{"exit", "0"}, procman.Failed, 3, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := childSpec(t, tt.args...)
			spec.Restart = procman.RestartPolicy{Mode: tt.mode, MaxRetries: 2, Backoff: 10 * time.Millisecond, MinUptime: 10 * time.Second}
			var r recorder
			r.hook(&spec)
			p := newProcess(t, spec)
			if _, err := p.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			ev := waitFinal(t, p, &r)
			if ev.State != tt.final {
				t.Fatalf("final state %v (err %v), want %v", ev.State, ev.Err, tt.final)
			}
			if p.State() != tt.final {
				t.Errorf("State() = %v", p.State())
			}
			starts := r.Starts()
			if len(starts) != tt.starts {
				t.Fatalf("%d starts, want %d", len(starts), tt.starts)
			}
			if p.Restarts() != tt.starts-1 {
				t.Errorf("Restarts() = %d, want %d", p.Restarts(), tt.starts-1)
			}
			pids := map[int]bool{}
			for _, inst := range starts {
				pids[inst.PID()] = true
			}
			if len(pids) != len(starts) {
				t.Errorf("pids not distinct: %v", pids)
			}
			if tt.code == -2 {
				if ev.Err != nil {
					t.Errorf("final event error: %v", ev.Err)
				}
				return
			}
			ee := exitError(t, ev.Err)
			if ee.Code != tt.code || ee.Tail != tt.tailWants || ee.Requested {
				t.Errorf("exit error %+v: want code %d, tail %q", ee, tt.code, tt.tailWants)
			}
			last := starts[len(starts)-1]
			if tt.code != 0 && last.Err() == nil {
				t.Error("last instance Err() is nil")
			}
			if tt.tailWants != "" && !strings.Contains(ev.Err.Error(), "stderr tail:\n    "+strings.Split(tt.tailWants, "\n")[0]) {
				t.Errorf("message does not show the indented tail:\n%v", ev.Err)
			}
		})
	}
}

func TestBackoffDoubles(t *testing.T) {
	const base = 20 * time.Millisecond
	spec := childSpec(t, "exit", "1")
	spec.Restart = procman.RestartPolicy{MaxRetries: 3, Backoff: base, MinUptime: 10 * time.Second}
	var r recorder
	r.hook(&spec)
	p := newProcess(t, spec)
	if _, err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ev := waitFinal(t, p, &r); ev.State != procman.Failed {
		t.Fatalf("final state %v", ev.State)
	}
	var backoffAt time.Time
	want := base
	n := 0
	for _, ev := range r.Events() {
		switch {
		case ev.State == procman.Backoff:
			backoffAt = ev.Time
			if exitError(t, ev.Err).Code != 1 {
				t.Errorf("backoff event error: %v", ev.Err)
			}
		case ev.State == procman.Starting && !backoffAt.IsZero():
			if gap := ev.Time.Sub(backoffAt); gap < want {
				t.Errorf("retry %d: waited %v, want at least %v", n+1, gap, want)
			}
			backoffAt = time.Time{}
			want *= 2
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d backoffs, want 3", n)
	}
}

func TestGoodRunRestartsAtOnce(t *testing.T) {
	// Each run lasts 100ms, more than MinUptime: restarts are immediate
	// although Backoff is long, and MaxRetries 1 is never reached.
	spec := childSpec(t, "sleepexit", "100", "1")
	spec.Restart = procman.RestartPolicy{MaxRetries: 1, Backoff: time.Hour, MinUptime: 50 * time.Millisecond}
	var r recorder
	r.hook(&spec)
	p := newProcess(t, spec)
	if _, err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 starts", 20*time.Second, func() bool { return len(r.Starts()) >= 3 })
	if err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, ev := range r.Events() {
		if ev.State == procman.Backoff || ev.State == procman.Failed {
			t.Errorf("unexpected %v event: %v", ev.State, ev.Err)
		}
	}
	if p.State() != procman.Stopped {
		t.Errorf("state %v", p.State())
	}
}

func TestRestartWithCause(t *testing.T) {
	cause := errors.New("protocol broken")
	for _, tt := range []struct {
		mode  procman.RestartMode
		final procman.State
	}{{procman.OnFailure, procman.Running}, {procman.Never, procman.Failed}} {
		t.Run(string(tt.mode), func(t *testing.T) {
			spec := childSpec(t, "echo")
			spec.Restart = procman.RestartPolicy{Mode: tt.mode, Backoff: 10 * time.Millisecond}
			var r recorder
			r.hook(&spec)
			p := newProcess(t, spec)
			if err := p.Restart(t.Context(), cause); !errors.Is(err, procman.ErrNotRunning) {
				t.Fatalf("Restart before Start: %v", err)
			}
			old, err := p.Start(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Restart(t.Context(), cause); err != nil {
				t.Fatal(err)
			}
			waitDone(t, old, time.Second)
			waitFor(t, "state "+tt.final.String(), 10*time.Second, func() bool {
				return r.last().State == tt.final && (tt.final != procman.Running || len(r.Starts()) == 2)
			})
			found := false
			for _, ev := range r.Events() {
				found = found || errors.Is(ev.Err, cause)
			}
			if !found {
				t.Errorf("no event carries the cause: %v", r.Events())
			}
			if tt.final != procman.Running {
				return
			}
			starts := r.Starts()
			if len(starts) != 2 || starts[1].PID() == old.PID() || p.Instance() != starts[1] {
				t.Fatalf("starts %v, old pid %d", starts, old.PID())
			}
			out := bufio.NewReader(starts[1].Stdout())
			fmt.Fprintln(starts[1].Stdin(), "again")
			if got := readLine(t, out, 10*time.Second); got != "again" {
				t.Fatalf("echo after restart: %q", got)
			}
			if p.Restarts() != 1 {
				t.Errorf("Restarts() = %d", p.Restarts())
			}
		})
	}
}

func TestStopDuringBackoff(t *testing.T) {
	spec := childSpec(t, "exit", "1")
	spec.Restart.Backoff = time.Hour
	var r recorder
	r.hook(&spec)
	p := newProcess(t, spec)
	if _, err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "backoff", 10*time.Second, func() bool { return p.State() == procman.Backoff })
	if p.Instance() != nil {
		t.Error("Instance() not nil during backoff")
	}
	if err := p.Restart(t.Context(), nil); !errors.Is(err, procman.ErrNotRunning) {
		t.Errorf("Restart during backoff: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := r.last(); ev.State != procman.Stopped || len(r.Starts()) != 1 {
		t.Errorf("last event %v, %d starts", ev.State, len(r.Starts()))
	}
}

func TestConcurrentStops(t *testing.T) {
	spec := childSpec(t, "echo")
	p := newProcess(t, spec)
	inst, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for k := range errs {
		wg.Go(func() { errs[k] = p.Stop(t.Context()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	waitDone(t, inst, time.Second)
	if p.State() != procman.Stopped {
		t.Errorf("state %v", p.State())
	}
}

func TestStopEscalates(t *testing.T) {
	const step = 100 * time.Millisecond
	tests := []struct {
		name    string
		timeout time.Duration // Stop ctx
		min     time.Duration
	}{
		{"StopTimeout", time.Minute, 2 * step},
		{"ctx", 50 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := childSpec(t, "stubborn")
			spec.StopTimeout = step
			if tt.name == "ctx" {
				spec.StopTimeout = time.Minute
			}
			p := newProcess(t, spec)
			inst, err := p.Start(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := readLine(t, bufio.NewReader(inst.Stdout()), 10*time.Second); got != "ready" {
				t.Fatalf("got %q", got)
			}
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			start := time.Now()
			if err := p.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < tt.min || el > 30*time.Second {
				t.Errorf("Stop took %v, want at least %v", el, tt.min)
			}
			ee := exitError(t, inst.Err())
			if ee.Signal != syscall.SIGKILL || ee.Code != -1 || !ee.Requested {
				t.Errorf("exit error %+v, want SIGKILL and Requested", ee)
			}
			if !strings.Contains(ee.Error(), "killed by signal 9") {
				t.Errorf("message: %v", ee)
			}
			if p.State() != procman.Stopped {
				t.Errorf("state %v", p.State())
			}
		})
	}
}

// lineHandler records the "line" attribute of stderr log records, and the
// messages of the others.
type lineHandler struct {
	mu     *sync.Mutex
	lines  *[]string
	others *[]string
}

func newLineHandler() lineHandler { return lineHandler{&sync.Mutex{}, new([]string), new([]string)} }

func (h lineHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h lineHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h lineHandler) WithGroup(string) slog.Handler            { return h }
func (h lineHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Message != "stderr" {
		*h.others = append(*h.others, r.Message)
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" {
			*h.lines = append(*h.lines, a.Value.String())
		}
		return true
	})
	return nil
}

func (h lineHandler) Lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), *h.lines...)
}

func (h lineHandler) Others() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), *h.others...)
}

// TestStderrFlood floods stderr: the tail keeps the last lines, the log gets
// the first ones within its bound, and one record counts the rest.
func TestStderrFlood(t *testing.T) {
	const tail = 4096
	const size = 2 << 20
	h := newLineHandler()
	spec := childSpec(t, "flood", fmt.Sprint(size))
	spec.TailBytes = tail
	spec.Logger = slog.New(h)
	spec.Restart.Mode = procman.Never
	p := newProcess(t, spec)
	inst, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(inst.Stdin(), "ping")
	if got := readLine(t, bufio.NewReader(inst.Stdout()), 20*time.Second); got != "ping" {
		t.Fatalf("got %q", got)
	}
	waitFor(t, "the last line in the tail", 10*time.Second, func() bool {
		return strings.HasSuffix(inst.StderrTail(), "\nLAST LINE")
	})
	got := inst.StderrTail()
	if len(got) > tail || !strings.HasPrefix(got, "flood line ") {
		t.Errorf("tail of %d bytes starting %.20q, want <= %d bytes from a line start", len(got), got, tail)
	}
	if err := inst.Stdin().Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not exit after stdin closed")
	}
	lines := h.Lines()
	if len(lines) != procman.StderrBurst || !strings.HasPrefix(lines[0], "flood line 0000000 ") {
		t.Errorf("%d lines logged (first %.30q), want the first %d", len(lines), lines[0], procman.StderrBurst)
	}
	var summaries []string
	for _, m := range h.Others() {
		if strings.Contains(m, "more stderr lines dropped") {
			summaries = append(summaries, m)
		}
	}
	total := size/(len("flood line 0000000 ")+81) + 2 // flood lines and LAST LINE, rounded up
	if len(summaries) != 1 {
		t.Fatalf("summaries %q, want one", summaries)
	}
	var dropped int
	fmt.Sscanf(summaries[0], "… %d more", &dropped)
	if dropped < total-procman.StderrBurst-2 || dropped > total-procman.StderrBurst {
		t.Errorf("summary %q: want about %d dropped", summaries[0], total-procman.StderrBurst)
	}
}

func TestLongStderrLineIsSplit(t *testing.T) {
	h := newLineHandler()
	spec := childSpec(t, "longline")
	spec.Restart.Mode = procman.Never
	spec.Logger = slog.New(h)
	p := newProcess(t, spec)
	inst, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, inst, 10*time.Second)
	ee := exitError(t, inst.Err())
	if ee.Code != 3 || ee.Tail != "END" {
		t.Errorf("exit code %d, tail of %d bytes ending %q", ee.Code, len(ee.Tail), ee.Tail[max(0, len(ee.Tail)-10):])
	}
	total := 0
	lines := h.Lines()
	for _, l := range lines {
		if len(l) > 64<<10 {
			t.Errorf("logged line of %d bytes", len(l))
		}
		total += len(l)
	}
	if total != 200<<10+3 || len(lines) < 4 {
		t.Errorf("%d lines, %d bytes logged", len(lines), total)
	}
}

// grandchildPIDs reads "child C grandchild G" from the child's stdout.
func grandchildPIDs(t *testing.T, r io.Reader) (child, grandchild int) {
	t.Helper()
	line := readLine(t, bufio.NewReader(r), 10*time.Second)
	if _, err := fmt.Sscanf(line, "child %d grandchild %d", &child, &grandchild); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return child, grandchild
}

func TestStopKillsGrandchild(t *testing.T) {
	shimModes(t, func(t *testing.T) {
		spec := childSpec(t, "grandchild")
		spec.StopTimeout = 100 * time.Millisecond
		p := newProcess(t, spec)
		inst, err := p.Start(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		child, gc := grandchildPIDs(t, inst.Stdout())
		if gone(gc) {
			t.Fatalf("grandchild %d not running", gc)
		}
		if err := p.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "child and grandchild to die", 5*time.Second, func() bool { return gone(child) && gone(gc) })
		if ee := exitError(t, inst.Err()); ee.Signal != syscall.SIGTERM || !ee.Requested {
			t.Errorf("exit error %+v, want SIGTERM", ee)
		}
	})
}

func TestCrashKillsGrandchild(t *testing.T) {
	// The child dies on its own (SIGKILL from outside): its group is killed
	// anyway and the policy restarts it.
	spec := childSpec(t, "grandchild")
	spec.StopTimeout = 100 * time.Millisecond
	spec.Restart.Backoff = 10 * time.Millisecond
	var r recorder
	r.hook(&spec)
	p := newProcess(t, spec)
	inst, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	child, gc := grandchildPIDs(t, inst.Stdout())
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, inst, 10*time.Second)
	waitFor(t, "grandchild to die", 5*time.Second, func() bool { return gone(gc) })
	if ee := exitError(t, inst.Err()); ee.Signal != syscall.SIGKILL || ee.Requested {
		t.Errorf("exit error %+v, want unrequested SIGKILL", ee)
	}
	waitFor(t, "a restart", 10*time.Second, func() bool { return len(r.Starts()) == 2 && p.State() == procman.Running })
}

func TestParentSIGKILLLeavesNoOrphans(t *testing.T) {
	if !procman.ShimEnabled() {
		t.Fatal("shim not enabled in the test binary")
	}
	cmd := exec.Command(selfExe(t), "parent")
	cmd.Env = childEnviron()
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line := readLine(t, bufio.NewReader(out), 10*time.Second)
	var shim, child, gc int
	if _, err := fmt.Sscanf(line, "shim %d child %d grandchild %d", &shim, &child, &gc); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	for _, pid := range []int{shim, child, gc} {
		if gone(pid) {
			t.Fatalf("pid %d not running before the kill (%s)", pid, line)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, "shim, child and grandchild to die", 5*time.Second, func() bool {
		return gone(shim) && gone(child) && gone(gc)
	})
}

func TestExitErrorMessage(t *testing.T) {
	e := &procman.ExitError{Name: "fs", PID: 123, Code: 2, Uptime: 15 * time.Millisecond, Tail: "a\nb"}
	want := "server \"fs\" (pid 123) exited with status 2 after 15ms; stderr tail:\n    a\n    b"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	e = &procman.ExitError{Name: "fs", PID: 1, Code: -1, Signal: syscall.SIGTERM, Uptime: 2 * time.Second, Requested: true}
	if got := e.Error(); !strings.Contains(got, "killed by signal 15 (terminated) after 2s") || !strings.Contains(got, "no stderr output") {
		t.Errorf("got %q", got)
	}
}

// childEnviron is the environment of test children. The race runtime
// sleeps 1s at a clean exit unless told otherwise.
func childEnviron() []string {
	return append(os.Environ(), childEnv+"=1", "GORACE=atexit_sleep_ms=0")
}

func TestSignalledExitPropagates(t *testing.T) {
	shimModes(t, func(t *testing.T) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGSEGV, syscall.SIGKILL} {
			t.Run(sig.String(), func(t *testing.T) {
				p := newProcess(t, procman.Spec{
					Command: "sh",
					Args:    []string{"-c", fmt.Sprintf("echo dying >&2; kill -%d $$", int(sig))},
					Restart: procman.RestartPolicy{Mode: procman.Never},
					Logger:  slog.New(slog.DiscardHandler),
				})
				inst, err := p.Start(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				waitDone(t, inst, 10*time.Second)
				ee := exitError(t, inst.Err())
				if ee.Code != -1 || ee.Signal != sig || ee.Requested || ee.Tail != "dying" {
					t.Errorf("exit error %+v, want signal %v", ee, sig)
				}
				waitFor(t, "Failed", 5*time.Second, func() bool { return p.State() == procman.Failed })
			})
		}
	})
}
