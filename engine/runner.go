// Roots, sampling and logging are deprecated only from MCP 2026-07-28 on;
// in 2025-11-25, the version the client speaks, they are current.
//lint:file-ignore SA1019 see above

package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/suggest"
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
	PID             int       // 0 when no process runs (always for a remote server)
	Restarts        int       // restarts since the runner started it
	Since           time.Time // when State last changed
	Err             error     // why it failed or last restarted, if it did
	ServerInfo      *mcp.Implementation
	ProtocolVersion string // negotiated with the server
	// Transport is how the server is reached: "stdio" for a program,
	// "http" (Streamable HTTP) or "sse" (legacy HTTP+SSE) for a remote
	// server ("" until a remote whose transport is detected connects).
	Transport string
	// URL is a remote server's endpoint, without user info and with query
	// values redacted; "" for a program.
	URL string
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
	cfgp     atomic.Pointer[config.Config] // replaced by Reconfigure
	reloadMu sync.Mutex                    // one Reconfigure at a time
	watchers reconfigureWatchers           // OnReconfigure
	curated  atomic.Bool                   // the curation middleware is installed
	logger   *slog.Logger

	// The servers, by name, and their names sorted. Reconfigure adds,
	// removes and replaces them at run time: it builds a server with
	// newServer, swaps it in under smu, and stops the one it replaced.
	// Everything that looks servers up goes through server() or snapshot().
	smu     sync.RWMutex
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
	r := &Runner{logger: o.Logger, servers: map[string]*server{}, subs: map[int]chan Event{}, opts: o}
	r.cfgp.Store(cfg)
	r.SetRequestHandler(o.OnRequest)
	if o.TracerProvider != nil {
		r.tracer = o.TracerProvider.Tracer(tracerName, trace.WithInstrumentationVersion(Version))
	}
	r.Observe(o.Observers...)
	curated := false
	for _, name := range cfg.ServerNames() {
		s, err := r.newServer(name, cfg.Servers[name], &o)
		if err != nil {
			return nil, err
		}
		r.servers[name] = s
		r.names = append(r.names, name)
		curated = curated || s.tools != nil
	}
	if curated {
		r.installCuration()
	}
	r.Use(o.Middleware...)
	return r, nil
}

// Config returns the runner's config, with defaults filled in. Treat it as
// read-only.
func (r *Runner) Config() *config.Config { return r.cfgp.Load() }

// Servers returns the configured server names, sorted.
func (r *Runner) Servers() []string {
	r.smu.RLock()
	defer r.smu.RUnlock()
	return append([]string(nil), r.names...)
}

func (r *Runner) server(name string) (*server, error) {
	r.smu.RLock()
	s, ok := r.servers[name]
	names := r.names
	r.smu.RUnlock()
	if ok {
		return s, nil
	}
	msg := fmt.Sprintf("%q", name)
	if s := suggest.Closest(name, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(names) > 0 {
		msg += fmt.Sprintf(" (configured: %v)", names)
	}
	return nil, fmt.Errorf("%w: %s", ErrServerNotFound, msg)
}

// snapshot returns the servers, sorted by name.
func (r *Runner) snapshot() []*server {
	r.smu.RLock()
	defer r.smu.RUnlock()
	out := make([]*server, len(r.names))
	for i, name := range r.names {
		out[i] = r.servers[name]
	}
	return out
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
	for _, s := range r.snapshot() {
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
	for _, s := range r.snapshot() {
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
	servers := r.snapshot()
	out := make([]Status, 0, len(servers))
	for _, s := range servers {
		out = append(out, s.status())
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
