// Package procman runs and supervises OS processes on Linux: it spawns them
// in their own process group, logs their stderr, restarts them according to a
// supervisord-like policy, stops them with a graceful escalation and never
// leaves orphans behind.
//
// Programs that want the no-orphan guarantee even when they are killed with
// SIGKILL call [RunShimIfRequested] first thing in main; procman then starts
// every child under a small shim (the program itself) that kills the child's
// whole process group when the parent dies.
//
// A Process has at most one [Instance] (one run of the command) at a time.
// Every instance leads its own process group; stderr is logged line by line
// and its tail kept for error messages; stdin and stdout are left to the
// caller. Stop closes stdin, then sends SIGTERM and finally SIGKILL to the
// whole group, and whenever an instance's leader exits the rest of its group
// is killed too.
package procman

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RestartMode selects when a process that exited on its own is restarted.
// The semantics follow supervisord's autorestart.
type RestartMode string

const (
	// Never restarts: exit 0 ends in Stopped, any other end in Failed.
	Never RestartMode = "never"
	// OnFailure restarts after a non-zero exit or a death by a signal that
	// procman did not send; exit 0 ends in Stopped.
	OnFailure RestartMode = "on-failure"
	// Always restarts after any exit that procman did not ask for.
	Always RestartMode = "always"
)

// RestartPolicy decides what happens when a process exits without being
// asked to. A run that lasted at least MinUptime is a good start: the retry
// count is reset and the restart happens at once. A shorter run is a quick
// failure: the restart waits Backoff, doubled for every further consecutive
// quick failure up to MaxBackoff, and after MaxRetries consecutive quick
// failures the process is given up (state Failed).
type RestartPolicy struct {
	Mode       RestartMode   // zero value means OnFailure
	MinUptime  time.Duration // minimum run time of a good start (default 1s)
	MaxRetries int           // consecutive quick failures tolerated (default 5; negative = unlimited)
	Backoff    time.Duration // delay before the first retry after a quick failure (default 250ms)
	MaxBackoff time.Duration // cap of the doubling delay (default 30s)
}

// Spec describes a process to run.
type Spec struct {
	Name        string          // used in logs (server=NAME) and errors; defaults to the command's base name
	Command     string          // looked up in PATH (the parent's) if it has no slash
	Args        []string        // arguments, without the command itself
	Env         []string        // complete environment as KEY=VALUE; nil means os.Environ()
	Dir         string          // working directory; empty means the current one
	Restart     RestartPolicy   // what to do when the process exits on its own
	StopTimeout time.Duration   // wait per stop step (default 5s)
	TailBytes   int             // bytes of stderr tail kept for error messages (default 8 KiB)
	Logger      *slog.Logger    // nil means slog.Default()
	OnStart     func(*Instance) // called synchronously for every instance started, before Start returns for the first; must not block long nor call Start, Stop or Restart
	OnEvent     func(Event)     // called for every state change, in order; must not block nor call Start, Stop or Restart
}

// State is the supervision state of a [Process].
type State int

// The states of a Process. A new Process is Stopped.
const (
	Starting State = iota // spawning an instance
	Running               // an instance has been spawned and is being supervised
	Backoff               // waiting before the next restart
	Stopping              // Stop is running the stop sequence
	Stopped               // not running: never started, stopped, or exited cleanly
	Failed                // not running: gave up after failures
)

var stateNames = [...]string{"starting", "running", "backoff", "stopping", "stopped", "failed"}

// String returns the lower-case state name, e.g. "running".
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Event reports a state change of a [Process].
type Event struct {
	Name     string    // the server name
	State    State     // the new state
	PID      int       // the pid of the instance concerned, 0 if none
	Restarts int       // restarts so far in this supervision (since Start)
	Err      error     // why, when relevant: exit error, spawn error, restart cause
	Time     time.Time // when the change happened

	// returned marks the failure of a spawn whose error Start returns:
	// its caller reports it, so the log only notes it at info level.
	returned bool
}

// Process supervises one command: at most one instance runs at a time.
// Its methods are safe for concurrent use.
type Process struct {
	spec Spec
	log  *slog.Logger

	mu       sync.Mutex
	state    State
	inst     *Instance
	restarts int
	sess     *session
	pending  []Event // events waiting for delivery, in order
	emitting bool    // a goroutine is delivering pending events
}

// session is one supervision, from Start to Stopped or Failed.
type session struct {
	stopping bool          // guarded by Process.mu
	stop     chan struct{} // closed by Stop
	done     chan struct{} // closed when the supervisor has finished
}

// New validates spec, fills in defaults and returns a stopped Process.
func New(spec Spec) (*Process, error) {
	if strings.TrimSpace(spec.Command) == "" {
		if spec.Name != "" {
			return nil, fmt.Errorf("procman: server %q: empty command", spec.Name)
		}
		return nil, errors.New("procman: empty command")
	}
	if spec.Name == "" {
		spec.Name = filepath.Base(spec.Command)
	}
	r := &spec.Restart
	switch r.Mode {
	case "":
		r.Mode = OnFailure
	case Never, OnFailure, Always:
	default:
		return nil, fmt.Errorf("procman: server %q: unknown restart mode %q (want %q, %q or %q)",
			spec.Name, r.Mode, Never, OnFailure, Always)
	}
	if r.MinUptime <= 0 {
		r.MinUptime = time.Second
	}
	if r.MaxRetries == 0 {
		r.MaxRetries = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = 250 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	r.MaxBackoff = max(r.MaxBackoff, r.Backoff)
	if spec.StopTimeout <= 0 {
		spec.StopTimeout = 5 * time.Second
	}
	if spec.TailBytes <= 0 {
		spec.TailBytes = 8 << 10
	}
	spec.Args = append([]string(nil), spec.Args...)
	if spec.Env != nil {
		spec.Env = append([]string(nil), spec.Env...)
	}
	log := spec.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Process{spec: spec, log: log, state: Stopped}, nil
}

// Name returns the server name.
func (p *Process) Name() string { return p.spec.Name }

// State returns the current state.
func (p *Process) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Instance returns the current instance, or nil when none is running.
func (p *Process) Instance() *Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst
}

// Restarts returns the number of restarts since the last Start.
func (p *Process) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Start spawns the first instance and begins supervision. ctx bounds the
// spawn only, not the life of the process. Spawn errors (command not found,
// missing directory) are returned wrapped and leave the Process Failed.
// Start returns ErrAlreadyRunning while a supervision is active; it can be
// called again after Stop or Failed.
func (p *Process) Start(ctx context.Context) (*Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, p.errorf("start: %w", err)
	}
	p.mu.Lock()
	if p.sess != nil {
		p.mu.Unlock()
		return nil, p.errorf("start: %w", ErrAlreadyRunning)
	}
	s := &session{stop: make(chan struct{}), done: make(chan struct{})}
	p.sess = s
	p.restarts = 0
	p.setLocked(Starting, nil, nil)
	inst, err := p.spawn()
	if err != nil {
		p.sess = nil
		p.setLocked(Failed, nil, err)
		p.pending[len(p.pending)-1].returned = true
		close(s.done)
		p.mu.Unlock()
		p.flush()
		return nil, err
	}
	p.inst = inst
	p.mu.Unlock()
	p.flush()
	p.started(inst)
	go p.supervise(s, inst)
	return inst, nil
}

// Stop stops the process gracefully and cancels pending restarts: it closes
// stdin, waits StopTimeout, sends SIGTERM to the process group, waits
// StopTimeout again and then sends SIGKILL. It returns once the process and
// its group are gone and supervision has ended. When ctx ends first, the group
// is killed at once. Stop is idempotent: it returns nil when not running.
func (p *Process) Stop(ctx context.Context) error {
	p.mu.Lock()
	s := p.sess
	if s == nil {
		p.mu.Unlock()
		return nil
	}
	inst := p.inst
	if !s.stopping {
		s.stopping = true
		close(s.stop)
		p.setLocked(Stopping, inst, nil)
	}
	p.mu.Unlock()
	p.flush()
	if inst != nil {
		if err := inst.terminate(ctx, p.spec.StopTimeout); err != nil {
			return err
		}
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-t.C:
		return p.errorf("stop: %w", ctx.Err())
	}
}

// Restart stops the current instance with the graceful sequence of Stop and
// treats its end as a failure caused by cause: the restart policy decides
// what happens next, and the events carry cause. It returns once the old
// instance is gone, without waiting for the next one. It returns
// ErrNotRunning when no instance is running.
func (p *Process) Restart(ctx context.Context, cause error) error {
	if cause == nil {
		cause = errors.New("restart requested")
	}
	p.mu.Lock()
	inst := p.inst
	if p.sess == nil || p.sess.stopping || inst == nil {
		p.mu.Unlock()
		return p.errorf("restart: %w", ErrNotRunning)
	}
	if inst.cause == nil {
		inst.cause = cause
	}
	p.mu.Unlock()
	return inst.terminate(ctx, p.spec.StopTimeout)
}

func (p *Process) errorf(format string, args ...any) error {
	return fmt.Errorf("procman: server %q: "+format, append([]any{p.spec.Name}, args...)...)
}

// started runs OnStart and then marks inst Running unless something else
// happened meanwhile.
func (p *Process) started(inst *Instance) {
	if f := p.spec.OnStart; f != nil {
		f(inst)
	}
	p.mu.Lock()
	if p.state == Starting && p.inst == inst {
		p.setLocked(Running, inst, nil)
	}
	p.mu.Unlock()
	p.flush()
}

// supervise is the one goroutine that reaps the instances of session s and
// makes the restart decisions.
func (p *Process) supervise(s *session, inst *Instance) {
	defer close(s.done)
	pol := p.spec.Restart
	retries := 0
	for {
		inst.wait()

		p.mu.Lock()
		p.inst = nil
		if s.stopping {
			p.finishLocked(Stopped, inst, nil)
			return
		}
		exit := inst.exit
		cause := inst.cause
		var why error = exit
		if cause != nil {
			why = fmt.Errorf("restart requested: %w; %w", cause, exit)
		}
		clean := exit.Code == 0 && cause == nil
		switch {
		case pol.Mode == Never && clean,
			pol.Mode == OnFailure && clean:
			p.finishLocked(Stopped, inst, nil)
			return
		case pol.Mode == Never:
			p.finishLocked(Failed, inst, why)
			return
		}

		var delay time.Duration
		if exit.Uptime >= pol.MinUptime {
			retries = 0
		} else {
			retries++
			delay = backoff(pol, retries)
		}
		for {
			if pol.MaxRetries >= 0 && retries > pol.MaxRetries {
				p.finishLocked(Failed, inst, why)
				return
			}
			if delay > 0 {
				p.setLocked(Backoff, inst, why)
				p.mu.Unlock()
				p.flush()
				p.log.Warn("restarting after backoff", "server", p.spec.Name, "delay", delay, "err", why)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-s.stop:
				}
				t.Stop()
				p.mu.Lock()
				if s.stopping {
					p.finishLocked(Stopped, nil, nil)
					return
				}
			}
			p.restarts++
			p.setLocked(Starting, nil, why)
			next, err := p.spawn()
			if err != nil {
				retries++
				delay = backoff(pol, retries)
				why = err
				continue
			}
			p.inst = next
			p.mu.Unlock()
			p.flush()
			p.started(next)
			inst = next
			break
		}
	}
}

// finishLocked ends the session with a final state; it unlocks p.mu.
func (p *Process) finishLocked(st State, inst *Instance, err error) {
	p.sess = nil
	p.setLocked(st, inst, err)
	p.mu.Unlock()
	p.flush()
}

// backoff returns the delay before retry number n (n >= 1).
func backoff(pol RestartPolicy, n int) time.Duration {
	d := pol.Backoff
	for ; n > 1 && d < pol.MaxBackoff; n-- {
		d *= 2
	}
	return min(d, pol.MaxBackoff)
}

// setLocked changes the state and queues the event; p.mu must be held.
// Call flush after unlocking.
func (p *Process) setLocked(st State, inst *Instance, err error) {
	p.state = st
	ev := Event{Name: p.spec.Name, State: st, Restarts: p.restarts, Err: err, Time: time.Now()}
	if inst != nil {
		ev.PID = inst.pid
	}
	p.pending = append(p.pending, ev)
}

// flush delivers queued events in order. If another goroutine is already
// delivering, it leaves the events to it, so OnEvent is never called
// concurrently and never with p.mu held.
func (p *Process) flush() {
	for {
		p.mu.Lock()
		if p.emitting || len(p.pending) == 0 {
			p.mu.Unlock()
			return
		}
		p.emitting = true
		evs := p.pending
		p.pending = nil
		p.mu.Unlock()

		for _, ev := range evs {
			p.logEvent(ev)
			if f := p.spec.OnEvent; f != nil {
				f(ev)
			}
		}

		p.mu.Lock()
		p.emitting = false
		p.mu.Unlock()
	}
}

func (p *Process) logEvent(ev Event) {
	attrs := []any{"server", ev.Name, "state", ev.State.String()}
	if ev.PID != 0 {
		attrs = append(attrs, "pid", ev.PID)
	}
	if ev.Restarts != 0 {
		attrs = append(attrs, "restarts", ev.Restarts)
	}
	if ev.Err != nil {
		attrs = append(attrs, "err", ev.Err)
	}
	switch {
	case ev.State == Failed && ev.returned:
		p.log.Info("process failed to start", attrs...)
	case ev.State == Failed:
		p.log.Warn("process failed", attrs...)
	case ev.State == Starting && ev.Err != nil:
		p.log.Warn("restarting process", attrs...)
	case ev.State == Backoff:
		// logged by the supervisor with the delay
	default:
		p.log.Info("process "+ev.State.String(), attrs...)
	}
}

// spawn starts a new instance; called with p.mu held.
func (p *Process) spawn() (inst *Instance, err error) {
	spec := &p.spec
	path, err := spec.resolve()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		return nil, &StartError{Name: spec.Name, Command: spec.Command, Dir: spec.Dir, Err: err}
	}

	var files []*os.File // all pipe ends, closed on failure
	defer func() {
		if err != nil {
			for _, f := range files {
				_ = f.Close()
			}
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return fail(err)
	}
	outR, outW, err := pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := pipe()
	if err != nil {
		return fail(err)
	}

	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{spec.Command}, spec.Args...),
		Env:         spec.Env,
		Dir:         spec.Dir,
		Stdin:       inR,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	if exe := shimExe.Load(); exe != nil {
		cmd.Path = *exe
		cmd.Args = append([]string{shimArgv0, path, spec.Command}, spec.Args...)
		cmd.Env = shimEnv(spec.Env)
		cmd.SysProcAttr.Pdeathsig = syscall.SIGUSR2
	}
	// Pdeathsig fires when the spawning thread exits (golang/go#27505).
	// Spawn from a fresh goroutine locked to its thread for the call: the
	// thread then goes back to the pool and stays, whatever the caller's
	// own thread does later.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- cmd.Start()
	}()
	err = <-errc
	_ = inR.Close()
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		return fail(err)
	}
	inst = &Instance{
		name:    spec.Name,
		pid:     cmd.Process.Pid,
		started: time.Now(),
		cmd:     cmd,
		stdin:   inW,
		stdout:  &outReader{f: outR},
		stderr:  errR,
		tail:    tailBuffer{max: spec.TailBytes},
		drained: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go inst.drain(p.log)
	return inst, nil
}

// resolveCommand finds the executable like os/exec does, so that "not found"
// is a spawn error even when a shim runs the command. Commands with a slash
// are returned unchanged (relative ones are relative to dir) after a check.
// Check reports what would stop a process of this spec from starting,
// without starting anything: a working directory that is missing or not a
// folder, a command not found on PATH (the parent's, as Start looks it up)
// or, when it has a slash, missing or not executable relative to Dir. It
// returns nil or the *StartError Start would return.
func (s Spec) Check() error {
	if s.Name == "" {
		s.Name = filepath.Base(s.Command)
	}
	_, err := s.resolve()
	return err
}

// resolve checks the working directory and finds the program to run, or
// returns a *StartError.
func (s *Spec) resolve() (string, error) {
	fail := func(field string, err error) (string, error) {
		return "", &StartError{Name: s.Name, Command: s.Command, Dir: s.Dir, Field: field, Err: err}
	}
	if s.Dir != "" {
		fi, err := os.Stat(s.Dir)
		if err != nil {
			return fail("cwd", err)
		}
		if !fi.IsDir() {
			return fail("cwd", syscall.ENOTDIR)
		}
	}
	path, err := resolveCommand(s.Command, s.Dir)
	if err != nil {
		return fail("command", err)
	}
	return path, nil
}

func resolveCommand(command, dir string) (string, error) {
	if !strings.Contains(command, "/") {
		return exec.LookPath(command)
	}
	check := command
	if dir != "" && !filepath.IsAbs(command) {
		check = filepath.Join(dir, command)
	}
	if _, err := exec.LookPath(check); err != nil {
		return "", err
	}
	return command, nil
}
