package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/joho/godotenv"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/procman"
)

// procSupervisor runs a stdio server as a process under procman, whose
// restart policy it maps onto the server's states.
type procSupervisor struct {
	s    *server
	proc *procman.Process
	// envErr is why the server's envFile could not be read: every start
	// fails with it (the runner is built all the same, so that the other
	// servers run and check can say where the problem is).
	envErr error
}

func newProcSupervisor(s *server, dir string, commands map[string]string) (*procSupervisor, error) {
	sc := s.cfg
	command := sc.Command
	if alias, ok := commands[command]; ok {
		command = alias
	}
	p := &procSupervisor{s: s}
	env := os.Environ()
	if path := sc.ResolvedEnvFile(dir); path != "" && !sc.Disabled {
		vars, err := readEnvFile(path)
		if err != nil {
			p.envErr = err
		}
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			env = append(env, k+"="+vars[k])
		}
	}
	for k, v := range sc.Env { // later entries win: env over envFile
		env = append(env, k+"="+v)
	}
	proc, err := procman.New(procman.Spec{
		Name:        s.name,
		Command:     command,
		Args:        sc.Args,
		Env:         env,
		Dir:         sc.ResolvedCwd(dir),
		Restart:     processPolicy(sc.Restart),
		StopTimeout: sc.StopTimeout.Duration,
		Logger:      s.logger,
		OnStart:     p.onStart,
		OnEvent:     p.onEvent,
	})
	if err != nil {
		return nil, err
	}
	p.proc = proc
	return p, nil
}

// processPolicy is a config's restart policy in procman's terms.
func processPolicy(rp config.Restart) procman.RestartPolicy {
	policy := procman.RestartPolicy{
		Mode:       procman.RestartMode(rp.Policy),
		MinUptime:  rp.MinUptime.Duration,
		Backoff:    rp.Backoff.Duration,
		MaxBackoff: rp.MaxBackoff.Duration,
	}
	if rp.MaxRetries != nil {
		policy.MaxRetries = *rp.MaxRetries
		if *rp.MaxRetries == 0 { // "maxRetries": 0 means no restarts; procman reads 0 as "default"
			policy.Mode = procman.Never
		}
	}
	return policy
}

func (p *procSupervisor) restarts() int { return p.proc.Restarts() }

func (p *procSupervisor) endpoint() (transport, url string) { return config.TypeStdio, "" }

// readEnvFile reads a .env file: KEY=VALUE lines, # comments, optional
// "export " and quotes, as VS Code's envFile and docker's --env-file take
// them.
func readEnvFile(path string) (map[string]string, error) {
	vars, err := godotenv.Read(path)
	if err != nil {
		return nil, fmt.Errorf("envFile %s: %w", path, err)
	}
	return vars, nil
}

func (p *procSupervisor) start(ctx context.Context) error {
	s := p.s
	if p.envErr != nil {
		return p.envErr
	}
	first := make(chan error, 1)
	s.mu.Lock()
	s.first = first
	s.mu.Unlock()
	inst, err := p.proc.Start(ctx)
	if err != nil {
		return err
	}
	// The handshake's own deadline and ours are the same startTimeout:
	// whichever fires first, say it the same way.
	handshakeTimeout := func() error {
		msg := fmt.Sprintf("server %q (pid %d) did not answer the MCP handshake (initialize) within startTimeout %s",
			s.name, inst.PID(), s.cfg.StartTimeout.Duration)
		if tail := inst.StderrTail(); tail != "" {
			msg += "; stderr tail:\n" + indent(tail)
		}
		return fmt.Errorf("%w: %s", ErrTimeout, msg)
	}
	select {
	case err := <-first:
		if errors.Is(err, ErrTimeout) {
			return handshakeTimeout()
		}
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return handshakeTimeout()
		}
		return ctx.Err()
	}
}

// abort kills what a failed start left, without a graceful stop: a user
// waiting for the error should not wait for stopTimeout too.
func (p *procSupervisor) abort() {
	stopCtx, cancel := context.WithTimeout(context.Background(), min(p.s.cfg.StopTimeout.Duration, time.Second))
	defer cancel()
	_ = p.proc.Stop(stopCtx)
}

func (p *procSupervisor) stop(ctx context.Context) error { return p.proc.Stop(ctx) }

// onStart runs for every process instance procman starts; the handshake runs
// on its own goroutine because procman's callback must not block.
func (p *procSupervisor) onStart(inst *procman.Instance) {
	go p.attach(inst)
}

func (p *procSupervisor) attach(inst *procman.Instance) {
	s := p.s
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StartTimeout.Duration)
	defer cancel()
	onEOF := func() error {
		// The output ended: the process is exiting. Wait a moment for its
		// exit status and stderr tail, which say far more than "EOF".
		select {
		case <-inst.Done():
			if err := inst.Err(); err != nil {
				return err
			}
			return fmt.Errorf("server %q (pid %d) exited with status 0; stderr tail:\n%s", s.name, inst.PID(), inst.StderrTail())
		case <-time.After(2 * time.Second):
			return fmt.Errorf("server %q (pid %d) closed its output", s.name, inst.PID())
		}
	}
	cn, init, err := s.client.attach(ctx, inst.Stdout(), inst.Stdin(), onEOF)

	s.mu.Lock()
	first := s.first
	s.first = nil
	stopping := s.stopping
	s.mu.Unlock()
	if err == nil && !stopping {
		// Running before start returns, so Status and AllTools see it.
		s.ready(inst.PID(), init, "pid", inst.PID())
	}
	if first != nil {
		first <- err
	}
	switch {
	case err == nil && stopping:
		cn.close(fmt.Errorf("%w: server %q was stopped", ErrNotRunning, s.name))
	case err == nil:
		go p.watch(inst, cn)
	case first == nil && !stopping:
		s.logger.Warn("restarted server failed its MCP handshake", "server", s.name, "pid", inst.PID(), "err", err)
		p.restart(inst, err)
	}
}

// watch ties a connection to its process. When the process exits, procman's
// restart policy takes over; the connection gets a moment to report the exit
// and is then closed (a grandchild may hold the output open). When the
// connection breaks while the process lives on (a frame over the limit,
// output closed, a stuck input), the process is restarted.
func (p *procSupervisor) watch(inst *procman.Instance, cn *conn) {
	const grace = 2 * time.Second
	select {
	case <-inst.Done():
		select {
		case <-cn.done:
		case <-time.After(grace):
			cn.close(inst.Err())
		}
		return
	case <-cn.done:
	}
	if p.s.client.down() {
		return // stopped or closed on purpose
	}
	if cn.endedByServer() {
		// The output ended: usually the process is exiting and procman's
		// policy takes over. One that lives on without output is stuck.
		select {
		case <-inst.Done():
			return
		case <-time.After(grace):
		}
	}
	p.restart(inst, cn.closedErr())
}

// restart kills inst as a failure, unless it is no longer the current
// process or the server is being stopped.
func (p *procSupervisor) restart(inst *procman.Instance, cause error) {
	s := p.s
	s.mu.Lock()
	if s.stopping || p.proc.Instance() != inst {
		s.mu.Unlock()
		return
	}
	pub := s.transitionLocked(StateRestarting, inst.PID(), cause)
	s.mu.Unlock()
	for _, e := range pub {
		s.publish(e)
	}
	s.logger.Warn("connection to server broke; restarting it", "server", s.name, "pid", inst.PID(), "err", cause)
	_ = p.proc.Restart(context.Background(), cause)
}

// onEvent maps procman's process states onto the server's. While a stop or
// a first start is under way, those own the state and events only inform.
func (p *procSupervisor) onEvent(ev procman.Event) {
	s := p.s
	s.mu.Lock()
	stopping, starting := s.stopping, s.state == StateStarting
	var pub []Event
	switch ev.State {
	case procman.Starting, procman.Backoff:
		if !stopping && !starting {
			pub = s.transitionLocked(StateRestarting, ev.PID, ev.Err)
		}
	case procman.Stopping:
		pub = s.transitionLocked(StateStopping, ev.PID, nil)
	case procman.Stopped:
		if !starting {
			pub = s.transitionLocked(StateStopped, 0, nil)
		}
	case procman.Failed:
		if !stopping && !starting {
			pub = s.transitionLocked(StateFailed, 0, ev.Err)
		}
	}
	s.mu.Unlock()
	for _, e := range pub {
		s.publish(e)
	}

	switch {
	case ev.State == procman.Backoff && !stopping && !starting:
		s.logger.Warn("server exited; restarting", "server", s.name, "restarts", ev.Restarts, "err", ev.Err)
	case ev.State == procman.Stopped && !stopping && !starting:
		s.client.detach(fmt.Errorf("%w: server %q exited", ErrNotRunning, s.name), false)
	case ev.State == procman.Failed && !stopping && !starting:
		err := ev.Err
		if err == nil {
			err = errors.New("failed")
		}
		s.client.detach(fmt.Errorf("%w: server %q failed: %w", ErrNotRunning, s.name, err), false)
		s.logger.Error("server failed; the restart policy gave up", "server", s.name, "restarts", ev.Restarts, "err", err)
	}
}
