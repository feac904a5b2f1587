package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/mcpscript/mcpscript/engine/config"
)

// Changes says what Reconfigure did to a Runner's servers.
type Changes struct {
	Added     []string // new in the config: created (and started)
	Removed   []string // gone from the config: stopped and dropped
	Changed   []string // configured differently: replaced by a new server (and started)
	Unchanged []string // left running as they were
}

// Affected reports whether name was added, removed or changed.
func (c Changes) Affected(name string) bool {
	return slices.Contains(c.Added, name) || slices.Contains(c.Removed, name) || slices.Contains(c.Changed, name)
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// OnReconfigure registers fn to learn what each Reconfigure changed. It
// runs once the new servers are in place (Client returns them) and before
// they start, so that a watcher such as a gateway can follow a new
// server's first events; it must not block for long. remove unregisters it.
func (r *Runner) OnReconfigure(fn func(Changes)) (remove func()) {
	return r.watchers.add(fn)
}

type reconfigureWatchers struct {
	mu   sync.Mutex
	fns  map[int]func(Changes)
	next int
}

func (w *reconfigureWatchers) add(fn func(Changes)) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(Changes){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

func (w *reconfigureWatchers) notify(ch Changes) {
	w.mu.Lock()
	fns := make([]func(Changes), 0, len(w.fns))
	for _, fn := range w.fns {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(ch)
	}
}

// Reconfigure applies a new config to a running Runner without touching
// the servers it configures the same way: servers that were added are
// created and started, removed ones stopped and dropped, and changed ones
// replaced (the new one is started, then the old one stopped, so that
// callers waiting for it find the new one). The config is validated first:
// an invalid one changes nothing and is returned as the error. Start
// failures of added or changed servers are joined in the error after
// everything was applied (the servers stay, failed, as with StartAll).
// Clients of changed or removed servers fail with ErrNotRunning once the
// old server stops: get the new Client by name.
func (r *Runner) Reconfigure(ctx context.Context, cfg *config.Config) (Changes, error) {
	var ch Changes
	if cfg == nil {
		return ch, fmt.Errorf("%w: no config", ErrConfigInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return ch, err
	}
	cfg = cfg.WithDefaults()
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()

	old := r.Config()
	var (
		fresh   []*server
		retired []*server
	)
	for _, name := range cfg.ServerNames() {
		sc := cfg.Servers[name]
		prev, had := old.Servers[name]
		switch {
		case had && reflect.DeepEqual(prev, sc):
			ch.Unchanged = append(ch.Unchanged, name)
			continue
		case had:
			ch.Changed = append(ch.Changed, name)
		default:
			ch.Added = append(ch.Added, name)
		}
		s, err := r.newServer(name, sc, &r.opts)
		if err != nil {
			return Changes{}, err
		}
		fresh = append(fresh, s)
	}
	for _, name := range old.ServerNames() {
		if _, ok := cfg.Servers[name]; !ok {
			ch.Removed = append(ch.Removed, name)
		}
	}

	// Swap: the new servers (and the new config) become visible at once.
	r.smu.Lock()
	for _, s := range fresh {
		if prev := r.servers[s.name]; prev != nil {
			retired = append(retired, prev)
		}
		r.servers[s.name] = s
	}
	for _, name := range ch.Removed {
		retired = append(retired, r.servers[name])
		delete(r.servers, name)
	}
	r.names = r.names[:0]
	for name := range r.servers {
		r.names = append(r.names, name)
	}
	slices.Sort(r.names)
	r.cfgp.Store(cfg)
	r.smu.Unlock()
	if !ch.Empty() {
		r.watchers.notify(ch)
	}
	if !r.curated.Load() && slices.ContainsFunc(fresh, func(s *server) bool { return s.tools != nil }) {
		r.installCuration()
	}

	// Start the new ones, then stop what they replace.
	var errs []error
	for _, s := range fresh {
		if s.cfg.Disabled || s.cfg.PerSession() {
			continue
		}
		if err := s.start(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range retired {
		_ = r.stopTwin(ctx, s.name)
		if err := s.stop(ctx); err != nil && !errors.Is(err, ErrNotRunning) {
			errs = append(errs, err)
		}
	}
	return ch, errors.Join(errs...)
}
