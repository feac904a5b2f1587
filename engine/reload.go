package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/mcpscript/mcpscript/engine/config"
)

// Changes says what Reconfigure did to a Runner's servers.
type Changes struct {
	Added     []string // new in the config: created (and started)
	Removed   []string // gone from the config: stopped and dropped
	Changed   []string // configured differently: replaced by a new server (and started)
	Unchanged []string // left running as they were
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

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
