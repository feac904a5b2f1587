package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcpscript/mcpscript/engine/config"
)

// Eras of a server's processes.
//
// A server's process speaks one MCP era for its life: a go-sdk server that
// answered server/discover refuses initialize, and one that was
// initialized asks for input with legacy server→client requests. So with
// "protocol": "auto" (the default) the Runner's process of a server is
// initialized, as before the 2026-07-28 era, and serves the Go API, the
// CLI, workflows and legacy gateway sessions; a modern (2026-07-28)
// gateway client gets a second process of the same server, its twin,
// started on first demand and probed with server/discover. A server that
// does not pass the probe is legacy-only: the twin is stopped, the answer
// remembered, and the gateway bridges modern clients over the first
// process. With "protocol": "modern" the one process is probed and
// modern, and legacy callers are bridged by the Client (see sendModern);
// with "legacy" nothing is probed.

// probeTimeout bounds the start and server/discover probe of a twin: a
// server that takes longer is taken for legacy-only.
const probeTimeout = 10 * time.Second

// twins holds the modern twins of a Runner's servers.
type twins struct {
	mu      sync.Mutex
	running map[string]*server // started twins, by server name
	legacy  map[string]error   // servers found legacy-only, and why
	starts  map[string]*sync.Mutex
}

func (t *twins) lock(name string) *sync.Mutex {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.starts == nil {
		t.starts = map[string]*sync.Mutex{}
		t.running = map[string]*server{}
		t.legacy = map[string]error{}
	}
	m := t.starts[name]
	if m == nil {
		m = &sync.Mutex{}
		t.starts[name] = m
	}
	return m
}

// ModernClient returns the client of the named server's modern process:
// the server's own client when its config says "protocol": "modern", else
// its twin, started and probed on first use (ctx bounds the wait). It
// returns an error wrapping ErrLegacyOnly when the server does not speak
// 2026-07-28 (or its config says "legacy", or it has a child per session,
// or it is not a local process), and ErrNotRunning when the server is not
// running.
func (r *Runner) ModernClient(ctx context.Context, name string) (*Client, error) {
	s, err := r.server(name)
	if err != nil {
		return nil, err
	}
	switch {
	case s.cfg.Protocol == config.ProtocolModern:
		return s.client, nil
	case s.cfg.Protocol == config.ProtocolLegacy:
		return nil, fmt.Errorf("%w: server %q is configured with \"protocol\": \"legacy\"", ErrLegacyOnly, name)
	case s.cfg.PerSession():
		return nil, fmt.Errorf("%w: server %q has a child per session, which only legacy sessions have", ErrLegacyOnly, name)
	case s.cfg.Remote():
		return nil, fmt.Errorf("%w: server %q is a remote server, reached over one link", ErrLegacyOnly, name)
	}
	if !s.active() {
		st := s.status()
		return nil, fmt.Errorf("%w: server %q is %s", ErrNotRunning, name, st.State)
	}
	m := r.twins.lock(name)
	m.Lock()
	defer m.Unlock()
	r.twins.mu.Lock()
	t, legacy := r.twins.running[name], r.twins.legacy[name]
	r.twins.mu.Unlock()
	if t != nil {
		return t.client, nil
	}
	if legacy != nil {
		return nil, legacy
	}
	t, err = r.newServer(name, s.cfg, &r.opts)
	if err != nil {
		return nil, err
	}
	t.private = true
	t.client.opts.Modern = true
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := t.start(pctx); err != nil {
		if ctx.Err() != nil {
			return nil, err // the caller gave up: nothing learned
		}
		err = fmt.Errorf("%w: %w", ErrLegacyOnly, err)
		r.logger.Info("server speaks no 2026-07-28; modern clients are bridged", "server", name, "err", err)
		r.twins.mu.Lock()
		r.twins.legacy[name] = err
		r.twins.mu.Unlock()
		return nil, err
	}
	r.logger.Info("started a 2026-07-28 process of the server for modern clients", "server", name, "pid", t.status().PID)
	r.twins.mu.Lock()
	r.twins.running[name] = t
	r.twins.mu.Unlock()
	return t.client, nil
}

// stopTwin stops the named server's twin, if it has one; its clients get
// ErrNotRunning. A later ModernClient starts a new one.
func (r *Runner) stopTwin(ctx context.Context, name string) error {
	r.twins.mu.Lock()
	t := r.twins.running[name]
	delete(r.twins.running, name)
	r.twins.mu.Unlock()
	if t == nil {
		return nil
	}
	if err := t.stop(ctx); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return nil
}
