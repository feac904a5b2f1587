// Roots are deprecated only from MCP 2026-07-28 on; in 2025-11-25, the
// version the client speaks, they are current.
//lint:file-ignore SA1019 see above

package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine/config"
)

// server is one configured server: what runs it (a process or a link to a
// remote server, see supervisor), its client and its state.
type server struct {
	r      *Runner
	name   string
	id     ServerID
	cfg    *config.Server
	client *Client
	sup    supervisor
	logger *slog.Logger
	tools  *toolCuration // nil when the config curates none of its tools

	mu       sync.Mutex
	state    State
	since    time.Time
	err      error
	pid      int
	first    chan error // a process's first handshake outcome, while start waits for it
	stopping bool
	private  bool // a per-session child: not in r.servers, publishes no events
}

// supervisor runs the instances of one server (processes, or links to a
// remote server) under the server's restart policy: it attaches each to
// the server's client, maps its life onto the server's state, and restarts
// it when it ends without being asked to.
type supervisor interface {
	// start brings up the first instance and runs its MCP handshake, within
	// ctx (bounded by startTimeout). On failure it leaves nothing running.
	start(ctx context.Context) error
	// abort ends whatever a failed start left behind, quickly.
	abort()
	// stop ends the instance and any restart under way, within ctx.
	stop(ctx context.Context) error
	// restarts counts the restarts since the server was last started. It
	// must not take server.mu.
	restarts() int
	// endpoint says how the server is reached, for its status.
	endpoint() (transport, url string)
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
	var err error
	if sc.Remote() {
		s.sup, err = newLinkSupervisor(s)
	} else {
		s.sup, err = newProcSupervisor(s, r.Config().Dir, o.Commands)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: server %q: %w", ErrConfigInvalid, name, err)
	}
	if sc.Tools != nil {
		s.tools = newCuration(name, sc.Tools, o.Logger)
		s.client.OnNotification("notifications/tools/list_changed", func(string, string, json.RawMessage) { s.tools.invalidate() })
	}
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

// isStopping reports whether a stop (or a failed start) owns the server.
func (s *server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *server) start(ctx context.Context) error {
	if s.cfg.Disabled {
		return fmt.Errorf("%w: server %q is disabled in the config", ErrNotRunning, s.name)
	}
	s.mu.Lock()
	switch s.state {
	case StateStarting, StateRunning, StateRestarting, StateStopping:
		st := s.state
		s.mu.Unlock()
		return fmt.Errorf("%w: server %q is %s", ErrAlreadyRunning, s.name, st)
	}
	s.stopping, s.err = false, nil
	s.mu.Unlock()
	s.setState(StateStarting, 0, nil)
	s.client.markStarting()

	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout.Duration)
	defer cancel()
	err := s.sup.start(ctx)
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
	s.sup.abort()
	s.client.detach(fmt.Errorf("%w: %w", ErrNotRunning, err), true)
	s.setState(StateFailed, 0, err)
	return err
}

// ready records that an instance completed its handshake.
func (s *server) ready(pid int, init *mcp.InitializeResult, attrs ...any) {
	s.setState(StateRunning, pid, nil)
	attrs = append([]any{"server", s.name}, attrs...)
	attrs = append(attrs, "protocol", init.ProtocolVersion)
	if init.ServerInfo != nil {
		attrs = append(attrs, "serverName", init.ServerInfo.Name, "serverVersion", init.ServerInfo.Version)
	}
	s.logger.Info("server ready", attrs...)
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
	if err := s.sup.stop(ctx); err != nil {
		return fmt.Errorf("stop server %q: %w", s.name, err)
	}
	s.setState(StateStopped, 0, nil)
	return nil
}

// publish announces a state change, unless the server is a private child.
func (s *server) publish(e Event) {
	if !s.private {
		s.r.publish(e)
	}
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
	return []Event{{Server: s.name, ID: s.id, State: st, PID: pid, Restarts: s.sup.restarts(), Err: err, Time: s.since}}
}

func (s *server) status() Status {
	s.mu.Lock()
	st := Status{Name: s.name, ID: s.id, State: s.state, PID: s.pid, Since: s.since, Err: s.err}
	s.mu.Unlock()
	st.Restarts = s.sup.restarts()
	st.Transport, st.URL = s.sup.endpoint()
	if init := s.client.InitializeResult(); init != nil {
		st.ServerInfo, st.ProtocolVersion = init.ServerInfo, init.ProtocolVersion
	}
	return st
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
