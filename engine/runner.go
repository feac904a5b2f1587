// Roots, sampling and logging are deprecated only from MCP 2026-07-28 on;
// in 2025-11-25, the version the client speaks, they are current.
//lint:file-ignore SA1019 see above

package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/suggest"
	"github.com/mcpscript/mcpscript/procman"
)

// State is where a server is in its life.
type State string

// The states of a server.
const (
	StateStopped    State = "stopped"    // not started, or stopped on request or by a clean exit
	StateStarting   State = "starting"   // process spawned, MCP handshake under way
	StateRunning    State = "running"    // handshake done; requests flow
	StateRestarting State = "restarting" // it died and the restart policy brings it back
	StateStopping   State = "stopping"   // the stop sequence is under way
	StateFailed     State = "failed"     // it could not start, or died and the policy gave up
	StateDisabled   State = "disabled"   // "disabled": true in the config
)

// ServerID identifies a server for the life of a Runner. Names identify
// servers too; IDs exist for callers that keep the reference library's API.
type ServerID string

// Status is a snapshot of one server.
type Status struct {
	Name            string
	ID              ServerID
	State           State
	PID             int       // 0 when no process runs
	Restarts        int       // restarts since the runner started it
	Since           time.Time // when State last changed
	Err             error     // why it failed or last restarted, if it did
	ServerInfo      *mcp.Implementation
	ProtocolVersion string // negotiated with the server
}

// Event is a change of a server's state.
type Event struct {
	Server   string    // the server's name
	ID       ServerID  // the server's ID
	State    State     // the new state
	PID      int       // the process, when one runs
	Restarts int       // restarts so far
	Err      error     // why, for failed and restarting
	Time     time.Time // when
}

// Options tunes a Runner. The zero value is ready to use.
type Options struct {
	// Logger receives lifecycle logs and servers' stderr; default slog.Default().
	Logger *slog.Logger
	// Commands maps a command name in the config to the executable to run
	// instead, e.g. {"mcpscript": os.Executable()} so that configs can start
	// the running binary's built-in servers.
	Commands map[string]string
	// ClientInfo is sent in initialize; default {Name: "mcpscript", Version: Version}.
	ClientInfo *mcp.Implementation
	// OnRequest answers servers' sampling and elicitation requests; see ClientOptions.
	OnRequest RequestHandler
	// Middleware wraps every request the runner's clients send, the first
	// outermost; see Middleware and Runner.Use.
	Middleware []Middleware
	// Observers watch every request outside the middleware, the first
	// outermost; see Runner.Observe.
	Observers []Middleware
	// TracerProvider, when set, makes the runner trace requests with
	// OpenTelemetry: a span for each request through Do and Through, one
	// for each call to a server (whose params._meta then carries its
	// traceparent), and one while a call waits for a restarting server.
	// Nil traces nothing and costs nothing.
	TracerProvider trace.TracerProvider
}

// Runner runs the MCP servers of a config: it starts them, keeps them alive
// under their restart policies, stops them, and gives out one Client per
// server. All methods are safe for concurrent use.
type Runner struct {
	cfg     *config.Config
	logger  *slog.Logger
	servers map[string]*server
	names   []string

	requestHandler atomic.Pointer[RequestHandler] // shared by every server's client
	opts           Options                        // as given to New, for private children

	// chain is the middleware composed around deliver, nil when there is
	// none, so that a runner without middleware pays nothing per request;
	// mw is the same middleware as a list, for Through.
	chain atomic.Pointer[Handler]
	mw    atomic.Pointer[[]Middleware]
	obs   atomic.Pointer[[]Middleware] // observers (Observe), outside mw
	all   atomic.Pointer[[]Middleware] // obs then mw, for Through
	mwMu  sync.Mutex

	tracer trace.Tracer // nil: no tracing

	twins twins // modern processes of dual-era servers (twin.go)

	mu     sync.Mutex
	subs   map[int]chan Event
	nextID int
}

// SetRequestHandler sets the handler of servers' sampling and elicitation
// requests, replacing Options.OnRequest. Whether a server is told the client
// supports them is decided at its handshake, so set it before starting
// servers (a gateway does this when it is created).
func (r *Runner) SetRequestHandler(h RequestHandler) {
	if h == nil {
		r.requestHandler.Store(nil)
		return
	}
	r.requestHandler.Store(&h)
}

// FromConfigFile loads a config file and returns a Runner for it. Nothing is
// started yet.
func FromConfigFile(path string) (*Runner, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return New(cfg, nil)
}

// FromConfigString parses a JSON config and returns a Runner for it.
func FromConfigString(s string) (*Runner, error) {
	cfg, err := config.Parse([]byte(s), "<string>")
	if err != nil {
		return nil, err
	}
	return New(cfg, nil)
}

// New returns a Runner for cfg, which it validates. opts may be nil.
func New(cfg *config.Config, opts *Options) (*Runner, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no config", ErrConfigInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Runner{cfg: cfg, logger: o.Logger, servers: map[string]*server{}, subs: map[int]chan Event{}, opts: o}
	r.SetRequestHandler(o.OnRequest)
	if o.TracerProvider != nil {
		r.tracer = o.TracerProvider.Tracer(tracerName, trace.WithInstrumentationVersion(Version))
	}
	r.Observe(o.Observers...)
	r.Use(o.Middleware...)
	for _, name := range cfg.ServerNames() {
		s, err := r.newServer(name, cfg.Servers[name], &o)
		if err != nil {
			return nil, err
		}
		r.servers[name] = s
		r.names = append(r.names, name)
	}
	return r, nil
}

// Config returns the runner's config, with defaults filled in. Treat it as
// read-only.
func (r *Runner) Config() *config.Config { return r.cfg }

// Servers returns the configured server names, sorted.
func (r *Runner) Servers() []string { return append([]string(nil), r.names...) }

func (r *Runner) server(name string) (*server, error) {
	if s, ok := r.servers[name]; ok {
		return s, nil
	}
	msg := fmt.Sprintf("%q", name)
	if s := suggest.Closest(name, r.names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(r.names) > 0 {
		msg += fmt.Sprintf(" (configured: %v)", r.names)
	}
	return nil, fmt.Errorf("%w: %s", ErrServerNotFound, msg)
}

// ServerID returns the ID of the named server.
func (r *Runner) ServerID(name string) (ServerID, error) {
	s, err := r.server(name)
	if err != nil {
		return "", err
	}
	return s.id, nil
}

// ServerName returns the name of the server with that ID.
func (r *Runner) ServerName(id ServerID) (string, error) {
	for _, s := range r.servers {
		if s.id == id {
			return s.name, nil
		}
	}
	return "", fmt.Errorf("%w: no server has ID %q", ErrServerNotFound, id)
}

// Client returns the client of the named server: the same Client every time,
// valid across restarts. Calls on it fail with ErrNotRunning while the server
// is not running.
func (r *Runner) Client(name string) (*Client, error) {
	s, err := r.server(name)
	if err != nil {
		return nil, err
	}
	return s.client, nil
}

// StartAll starts every enabled server that is not running, in parallel, and
// waits until each is ready or has failed. Servers that start keep running
// when others fail; the error joins one error per failed server.
//
// Servers with "childModel": "per-session" are not started: they have no
// shared child (their status stays stopped); a Gateway starts a private
// child of theirs for each downstream session that uses them.
func (r *Runner) StartAll(ctx context.Context) error {
	return r.parallel(func(s *server) error {
		if s.cfg.Disabled || s.active() || s.cfg.PerSession() {
			return nil
		}
		if err := s.start(ctx); !errors.Is(err, ErrAlreadyRunning) {
			return err
		}
		return nil
	})
}

// parallel runs fn for every server at once and joins the errors, sorted
// so that messages are stable.
func (r *Runner) parallel(fn func(*server) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, name := range r.names {
		s := r.servers[name]
		wg.Go(func() {
			if err := fn(s); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// StartServer starts one server and waits until it is ready (its MCP
// handshake done) or has failed, within the server's startTimeout. A
// per-session server has no shared child: StartServer does nothing for it.
func (r *Runner) StartServer(ctx context.Context, name string) error {
	s, err := r.server(name)
	if err != nil {
		return err
	}
	if s.cfg.PerSession() {
		return nil
	}
	return s.start(ctx)
}

// SpawnPrivate starts a private instance of the named server's config: its
// own process and Client, with the same restart policy, timeouts and stderr
// handling, not registered with the runner (no events, no status). Its
// requests pass the runner's middleware. onRequest answers the instance's
// own requests (sampling, elicitation, roots when the config has none).
// stop stops the instance. A gateway gives each of its sessions such an
// instance of a server with "childModel": "per-session".
func (r *Runner) SpawnPrivate(ctx context.Context, name string, onRequest RequestHandler) (c *Client, stop func(context.Context) error, err error) {
	reg, err := r.server(name)
	if err != nil {
		return nil, nil, err
	}
	s, err := r.newServer(name, reg.cfg, &r.opts)
	if err != nil {
		return nil, nil, err
	}
	s.private = true
	s.client.shared = nil
	s.client.opts.OnRequest = onRequest
	if err := s.start(ctx); err != nil {
		return nil, nil, err
	}
	return s.client, func(ctx context.Context) error {
		if err := s.stop(ctx); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		return nil
	}, nil
}

// publish announces a state change, unless the server is a private child.
func (s *server) publish(e Event) {
	if !s.private {
		s.r.publish(e)
	}
}

// StopServer stops one server: requests in flight fail at once, then the
// process is asked to exit (stdin closed, then SIGTERM, then SIGKILL to its
// whole process group). ctx bounds the wait.
func (r *Runner) StopServer(ctx context.Context, name string) error {
	s, err := r.server(name)
	if err != nil {
		return err
	}
	terr := r.stopTwin(ctx, name)
	return errors.Join(s.stop(ctx), terr)
}

// StopAll stops every running server in parallel.
func (r *Runner) StopAll(ctx context.Context) error {
	return r.parallel(func(s *server) error {
		terr := r.stopTwin(ctx, s.name)
		if err := s.stop(ctx); !errors.Is(err, ErrNotRunning) {
			return errors.Join(err, terr)
		}
		return terr
	})
}

// Status returns the named server's status.
func (r *Runner) Status(name string) (Status, error) {
	s, err := r.server(name)
	if err != nil {
		return Status{}, err
	}
	return s.status(), nil
}

// Statuses returns every server's status, sorted by name.
func (r *Runner) Statuses() []Status {
	out := make([]Status, 0, len(r.names))
	for _, name := range r.names {
		out = append(out, r.servers[name].status())
	}
	return out
}

// AllTools lists the tools of every running server, in parallel. Servers that
// fail to answer are left out of the map and their errors joined.
func (r *Runner) AllTools(ctx context.Context) (map[string][]*mcp.Tool, error) {
	var mu sync.Mutex
	out := map[string][]*mcp.Tool{}
	err := r.parallel(func(s *server) error {
		if st := s.status(); st.State != StateRunning && st.State != StateRestarting {
			return nil
		}
		tools, err := s.client.ListTools(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		out[s.name] = tools
		mu.Unlock()
		return nil
	})
	return out, err
}

// Subscribe returns a channel of server state changes and a function that
// ends the subscription. The channel holds buffer events; a subscriber that
// falls further behind misses events (they are also logged).
func (r *Runner) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, max(buffer, 1))
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	r.subs[id] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.subs[id]; ok {
			delete(r.subs, id)
			close(ch)
		}
	}
}

func (r *Runner) publish(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.subs {
		select {
		case ch <- ev:
		default:
			r.logger.Debug("event subscriber is behind; dropped an event", "server", ev.Server, "state", ev.State)
		}
	}
}

// server is one configured server: its process, its client and its state.
type server struct {
	r      *Runner
	name   string
	id     ServerID
	cfg    *config.Server
	client *Client
	proc   *procman.Process
	logger *slog.Logger

	mu       sync.Mutex
	state    State
	since    time.Time
	err      error
	pid      int
	first    chan error // the first handshake's outcome, while start waits for it
	stopping bool
	private  bool // a per-session child: not in r.servers, publishes no events
}

func (r *Runner) newServer(name string, sc *config.Server, o *Options) (*server, error) {
	s := &server{r: r, name: name, id: newServerID(), cfg: sc, logger: o.Logger, state: StateStopped, since: time.Now()}
	if sc.Disabled {
		s.state = StateDisabled
	}
	roots := make([]*mcp.Root, len(sc.Roots))
	for i, rt := range sc.Roots {
		roots[i] = &mcp.Root{URI: rt.URI, Name: rt.Name}
	}
	s.client = newClient(ClientOptions{
		Name:           name,
		ClientInfo:     o.ClientInfo,
		RequestTimeout: sc.RequestTimeout.Duration,
		MaxFrameBytes:  int(sc.MaxFrameBytes),
		Roots:          roots,
		Logger:         o.Logger,
		Modern:         sc.Protocol == config.ProtocolModern,
		TracerProvider: o.TracerProvider,
	})
	s.client.shared = &r.requestHandler
	s.client.runner = r
	command := sc.Command
	if alias, ok := o.Commands[command]; ok {
		command = alias
	}
	env := os.Environ()
	for k, v := range sc.Env {
		env = append(env, k+"="+v)
	}
	rp := sc.Restart
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
	proc, err := procman.New(procman.Spec{
		Name:        name,
		Command:     command,
		Args:        sc.Args,
		Env:         env,
		Dir:         sc.ResolvedCwd(r.cfg.Dir),
		Restart:     policy,
		StopTimeout: sc.StopTimeout.Duration,
		Logger:      o.Logger,
		OnStart:     s.onStart,
		OnEvent:     s.onEvent,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: server %q: %w", ErrConfigInvalid, name, err)
	}
	s.proc = proc
	return s, nil
}

func newServerID() ServerID {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return ServerID(hex.EncodeToString(b))
}

func (s *server) active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case StateStarting, StateRunning, StateRestarting, StateStopping:
		return true
	}
	return false
}

func (s *server) start(ctx context.Context) error {
	if s.cfg.Disabled {
		return fmt.Errorf("%w: server %q is disabled in the config", ErrNotRunning, s.name)
	}
	first := make(chan error, 1)
	s.mu.Lock()
	switch s.state {
	case StateStarting, StateRunning, StateRestarting, StateStopping:
		st := s.state
		s.mu.Unlock()
		return fmt.Errorf("%w: server %q is %s", ErrAlreadyRunning, s.name, st)
	}
	s.first, s.stopping, s.err = first, false, nil
	s.mu.Unlock()
	s.setState(StateStarting, 0, nil)
	s.client.markStarting()

	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout.Duration)
	defer cancel()
	err := func() error {
		inst, err := s.proc.Start(ctx)
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
	}()
	if err == nil {
		return nil
	}
	s.mu.Lock()
	stoppedMeanwhile := s.stopping
	s.first, s.stopping = nil, true
	s.mu.Unlock()
	if stoppedMeanwhile { // StopServer won the race; it owns the state
		return fmt.Errorf("%w: server %q was stopped while starting", ErrNotRunning, s.name)
	}
	err = fmt.Errorf("start server %q: %w", s.name, err)
	// A server that failed its first handshake gets no graceful stop: a
	// user waiting for the error should not wait for stopTimeout too.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), min(s.cfg.StopTimeout.Duration, time.Second))
	defer cancelStop()
	_ = s.proc.Stop(stopCtx)
	s.client.detach(fmt.Errorf("%w: %w", ErrNotRunning, err), true)
	s.setState(StateFailed, 0, err)
	return err
}

// onStart runs for every process instance procman starts; the handshake runs
// on its own goroutine because procman's callback must not block.
func (s *server) onStart(inst *procman.Instance) {
	go s.attach(inst)
}

func (s *server) attach(inst *procman.Instance) {
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
	if err == nil && !stopping {
		s.mu.Unlock()
		// Running before start returns, so Status and AllTools see it.
		s.setState(StateRunning, inst.PID(), nil)
		attrs := []any{"server", s.name, "pid", inst.PID(), "protocol", init.ProtocolVersion}
		if init.ServerInfo != nil {
			attrs = append(attrs, "serverName", init.ServerInfo.Name, "serverVersion", init.ServerInfo.Version)
		}
		s.logger.Info("server ready", attrs...)
	} else {
		s.mu.Unlock()
	}
	if first != nil {
		first <- err
	}
	switch {
	case err == nil && stopping:
		cn.close(fmt.Errorf("%w: server %q was stopped", ErrNotRunning, s.name))
	case err == nil:
		go s.watch(inst, cn)
	case first == nil && !stopping:
		s.logger.Warn("restarted server failed its MCP handshake", "server", s.name, "pid", inst.PID(), "err", err)
		s.restart(inst, err)
	}
}

// watch ties a connection to its process. When the process exits, procman's
// restart policy takes over; the connection gets a moment to report the exit
// and is then closed (a grandchild may hold the output open). When the
// connection breaks while the process lives on (a frame over the limit,
// output closed, a stuck input), the process is restarted.
func (s *server) watch(inst *procman.Instance, cn *conn) {
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
	if s.client.down() {
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
	s.restart(inst, cn.closedErr())
}

// restart kills inst as a failure, unless it is no longer the current
// process or the server is being stopped.
func (s *server) restart(inst *procman.Instance, cause error) {
	s.mu.Lock()
	if s.stopping || s.proc.Instance() != inst {
		s.mu.Unlock()
		return
	}
	pub := s.transitionLocked(StateRestarting, inst.PID(), cause)
	s.mu.Unlock()
	for _, e := range pub {
		s.publish(e)
	}
	s.logger.Warn("connection to server broke; restarting it", "server", s.name, "pid", inst.PID(), "err", cause)
	_ = s.proc.Restart(context.Background(), cause)
}

// onEvent maps procman's process states onto the server's. While a stop or
// a first start is under way, those own the state and events only inform.
func (s *server) onEvent(ev procman.Event) {
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

func (s *server) stop(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case StateStopped, StateFailed, StateDisabled:
		st := s.state
		s.mu.Unlock()
		return fmt.Errorf("%w: server %q is %s", ErrNotRunning, s.name, st)
	}
	s.stopping = true
	s.mu.Unlock()
	s.client.detach(fmt.Errorf("%w: server %q was stopped", ErrNotRunning, s.name), true)
	if err := s.proc.Stop(ctx); err != nil {
		return fmt.Errorf("stop server %q: %w", s.name, err)
	}
	s.setState(StateStopped, 0, nil)
	return nil
}

func (s *server) setState(st State, pid int, err error) {
	s.mu.Lock()
	pub := s.transitionLocked(st, pid, err)
	s.mu.Unlock()
	for _, e := range pub {
		s.publish(e)
	}
}

// transitionLocked records a state change and returns the event to publish
// (none when nothing changed); the caller holds s.mu and publishes after
// unlocking.
func (s *server) transitionLocked(st State, pid int, err error) []Event {
	if s.state == st && s.pid == pid && err == nil {
		return nil
	}
	s.state, s.pid, s.since = st, pid, time.Now()
	if err != nil {
		s.err = err
	}
	return []Event{{Server: s.name, ID: s.id, State: st, PID: pid, Restarts: s.proc.Restarts(), Err: err, Time: s.since}}
}

func (s *server) status() Status {
	s.mu.Lock()
	st := Status{Name: s.name, ID: s.id, State: s.state, PID: s.pid, Since: s.since, Err: s.err}
	s.mu.Unlock()
	if s.proc != nil {
		st.Restarts = s.proc.Restarts()
	}
	if init := s.client.InitializeResult(); init != nil {
		st.ServerInfo, st.ProtocolVersion = init.ServerInfo, init.ProtocolVersion
	}
	return st
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
